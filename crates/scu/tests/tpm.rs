//! The `tpm` backend against a real TPM: swtpm.
//!
//! With `SHINRAI_TPM_TCTI` set (CI starts swtpm and sets it), every test uses that TPM and FAILS if
//! it cannot be reached. Without it, each test starts its own swtpm (Debian `swtpm`) on free
//! loopback ports and stops it afterwards; only when swtpm is not installed either do the tests
//! skip, saying so.
#![cfg(feature = "tpm")]

use std::path::{Path, PathBuf};
use std::process::Command;

use shinrai_scu::tpm::{Swtpm, TCTI_ENV, TpmKeyStore};
use shinrai_scu::tpm_quote::{ParsedQuote, PcrValue, TpmQuote, replay};
use shinrai_scu::{Algorithm, Assurance, Error, KeyStore, Purpose, UsagePolicy};

const PIN: &str = "1234-tpm";

/// A TPM for one test: the shared one named by `SHINRAI_TPM_TCTI`, or a private swtpm.
struct Tpm {
    tcti: String,
    _private: Option<Swtpm>,
}

/// The TPM to test against, or `None` (test skipped) when none is configured or installed.
fn tpm() -> Option<Tpm> {
    if let Ok(tcti) = std::env::var(TCTI_ENV) {
        return Some(Tpm {
            tcti,
            _private: None,
        });
    }
    match Swtpm::start() {
        Ok(s) => Some(Tpm {
            tcti: s.tcti(),
            _private: Some(s),
        }),
        Err(e) if e.to_string().contains("cannot run swtpm") => {
            eprintln!("SKIPPED: no TPM: {TCTI_ENV} is not set and {e}");
            None
        }
        Err(e) => panic!("swtpm is installed but failed: {e}"),
    }
}

macro_rules! need_tpm {
    () => {
        match tpm() {
            Some(t) => t,
            None => return,
        }
    };
}

fn statements() -> UsagePolicy {
    UsagePolicy::new([Purpose::statement()]).expect("policy")
}

fn store(tpm: &Tpm, dir: &Path) -> TpmKeyStore {
    TpmKeyStore::open_or_create(&tpm.tcti, dir, PIN).expect("open TPM key store")
}

fn nonce_hash(nonce: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, nonce)
        .as_ref()
        .to_vec()
}

#[test]
fn capabilities_say_hardware_p256_only_and_ed25519_is_refused() {
    let tpm = need_tpm!();
    let dir = tempfile::tempdir().expect("dir");
    let s = store(&tpm, dir.path());
    let caps = s.capabilities();
    assert_eq!(caps.backend, "tpm");
    assert_eq!(caps.assurance, Assurance::Hardware);
    assert!(!caps.exportable_keys);
    assert_eq!(caps.algorithms, vec![Algorithm::EcdsaP256]);
    assert!(caps.detail.contains("Ed25519"), "{}", caps.detail);
    match s.generate("org", Algorithm::Ed25519, statements()) {
        Err(Error::Unsupported(m)) => assert!(m.contains("Ed25519"), "{m}"),
        other => panic!("Ed25519 on a TPM: {other:?}"),
    }
}

#[test]
fn tpm_key_signs_and_the_public_key_verifies() {
    let tpm = need_tpm!();
    let dir = tempfile::tempdir().expect("dir");
    let s = store(&tpm, dir.path());
    let info = s
        .generate("device", Algorithm::EcdsaP256, statements())
        .expect("generate");
    assert_eq!(info.public_key.bytes.len(), 65);
    let msg = b"in-toto statement bytes";
    let sig = s.sign("device", &Purpose::statement(), msg).expect("sign");
    assert_eq!(sig.bytes.len(), 64);
    info.public_key.verify(msg, &sig.bytes).expect("verifies");
    info.public_key
        .verify(msg, &sig.to_der())
        .expect("DER form verifies");
    assert!(matches!(
        info.public_key.verify(b"other message", &sig.bytes),
        Err(Error::BadSignature)
    ));
    // Policy: another purpose is refused, and audited.
    assert!(matches!(
        s.sign("device", &Purpose::checkpoint(), msg),
        Err(Error::PolicyViolation { .. })
    ));
    let report = s.audit().expect("audit");
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(report.records_checked, 3, "generate, sign, refused");
}

#[test]
fn keys_and_use_counts_survive_reopening() {
    let tpm = need_tpm!();
    let dir = tempfile::tempdir().expect("dir");
    let public = {
        let s = store(&tpm, dir.path());
        let p = UsagePolicy::new([Purpose::statement()])
            .expect("policy")
            .with_max_uses(2);
        let info = s.generate("limited", Algorithm::EcdsaP256, p).expect("gen");
        s.sign("limited", &Purpose::statement(), b"one")
            .expect("sign 1");
        info.public_key
    };
    let s = TpmKeyStore::open(&tpm.tcti, dir.path(), PIN).expect("reopen");
    assert_eq!(s.public_key("limited").expect("public"), public);
    assert_eq!(s.list().expect("list")[0].uses, 1);
    let sig = s
        .sign("limited", &Purpose::statement(), b"two")
        .expect("sign 2");
    public
        .verify(b"two", &sig.bytes)
        .expect("same key after reopen");
    assert!(matches!(
        s.sign("limited", &Purpose::statement(), b"three"),
        Err(Error::UsageLimitReached { .. })
    ));
    drop(s);
    assert!(matches!(
        TpmKeyStore::open(&tpm.tcti, dir.path(), "wrong pin"),
        Err(Error::WrongPin)
    ));
}

#[test]
fn an_edited_key_record_is_refused_on_open() {
    let tpm = need_tpm!();
    let dir = tempfile::tempdir().expect("dir");
    {
        let s = store(&tpm, dir.path());
        let p = UsagePolicy::new([Purpose::statement()])
            .expect("policy")
            .with_max_uses(1);
        s.generate("k", Algorithm::EcdsaP256, p).expect("gen");
    }
    let path = dir.path().join("keys/k.key");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, text.replace("\"max_uses\":1", "\"max_uses\":1000")).expect("write");
    match TpmKeyStore::open(&tpm.tcti, dir.path(), PIN) {
        Err(Error::Damaged(m)) => assert!(m.contains("edited"), "{m}"),
        other => panic!("edited record accepted: {other:?}"),
    }
}

#[test]
fn more_keys_than_transient_slots_all_sign() {
    let tpm = need_tpm!();
    let dir = tempfile::tempdir().expect("dir");
    let s = store(&tpm, dir.path());
    let keys: Vec<_> = (0..6)
        .map(|i| {
            s.generate(&format!("k{i}"), Algorithm::EcdsaP256, statements())
                .expect("generate")
        })
        .collect();
    // Twice round, interleaved: every use loads, signs and flushes.
    for round in 0..2 {
        for k in &keys {
            let msg = format!("{} round {round}", k.label);
            let sig = s
                .sign(&k.label, &Purpose::statement(), msg.as_bytes())
                .expect("sign");
            k.public_key
                .verify(msg.as_bytes(), &sig.bytes)
                .expect("verify");
        }
    }
    // A quote on top still finds a free slot.
    s.quote(&nonce_hash(b"n"), &[16])
        .expect("quote after many keys");
}

#[test]
fn pcr_extend_matches_the_software_replay() {
    let tpm = need_tpm!();
    let dir = tempfile::tempdir().expect("dir");
    let s = store(&tpm, dir.path());
    let m = [[1u8; 32], [2u8; 32]];
    let v = s.pcr_sequence(23, true, &m).expect("reset and extend");
    assert_eq!(v, replay(&m));
    let e = s.pcr_reset(5).expect_err("PCR 5 is not resettable");
    assert!(e.to_string().contains("16 or 23"), "{e}");
}

#[test]
fn quote_verifies_and_tampering_fails() {
    let tpm = need_tpm!();
    let dir = tempfile::tempdir().expect("dir");
    let s = store(&tpm, dir.path());
    let measurements = [[0xa1u8; 32], [0xb2u8; 32], [0xc3u8; 32]];
    let nonce = nonce_hash(b"fresh verifier nonce");
    let q = s
        .measure_and_quote(23, &measurements, &nonce)
        .expect("quote");
    assert_eq!(q.ak, s.attestation_key().expect("ak"), "AK is stable");

    // Good quote: signature, nonce, PCR selection and digest all check.
    let verified = q.quote.verify(&q.ak, &nonce).expect("quote verifies");
    assert_eq!(verified.pcrs[&23], replay(&measurements));

    // Wrong nonce.
    match q.quote.verify(&q.ak, &nonce_hash(b"another nonce")) {
        Err(Error::QuoteMismatch(m)) => assert!(m.contains("challenge"), "{m}"),
        other => panic!("wrong nonce accepted: {other:?}"),
    }
    // Claimed PCR values that are not what the TPM quoted.
    let mut lying = q.quote.clone();
    lying.pcrs.insert(23, replay(&measurements[..2]));
    match lying.verify(&q.ak, &nonce) {
        Err(Error::QuoteMismatch(m)) => assert!(m.contains("pcrDigest"), "{m}"),
        other => panic!("wrong PCR values accepted: {other:?}"),
    }
    // Claiming an extra PCR.
    let mut extra = q.quote.clone();
    extra.pcrs.insert(16, PcrValue([0; 32]));
    assert!(matches!(
        extra.verify(&q.ak, &nonce),
        Err(Error::QuoteMismatch(_))
    ));
    // Every single-bit flip of the signed bytes is caught (signature or parse).
    for i in 0..q.quote.attest.len() {
        let mut t = q.quote.clone();
        t.attest[i] ^= 0x01;
        assert!(
            t.verify(&q.ak, &nonce).is_err(),
            "flip at byte {i} accepted"
        );
    }
    // Another AK (another store on the same TPM) did not sign it.
    let other_dir = tempfile::tempdir().expect("dir");
    let other = store(&tpm, other_dir.path());
    match q
        .quote
        .verify(&other.attestation_key().expect("ak"), &nonce)
    {
        Err(Error::QuoteMismatch(m)) => assert!(m.contains("not signed"), "{m}"),
        other => panic!("foreign AK accepted: {other:?}"),
    }
    // Truncated quotes: a clear "malformed" error, never a panic.
    for n in [0, 3, 10, q.quote.attest.len() - 1] {
        let mut t = q.quote.clone();
        t.attest.truncate(n);
        match ParsedQuote::parse(&t) {
            Err(Error::MalformedQuote(m)) => assert!(!m.is_empty()),
            other => panic!("truncated to {n} accepted: {other:?}"),
        }
    }
    let mut t = q.quote.clone();
    t.signature.truncate(10);
    assert!(matches!(
        ParsedQuote::parse(&t),
        Err(Error::MalformedQuote(_))
    ));

    // The JSON form round-trips.
    let json = serde_json::to_string(&q.quote).expect("json");
    let back: TpmQuote = serde_json::from_str(&json).expect("parse json");
    back.verify(&q.ak, &nonce)
        .expect("round-tripped quote verifies");
    let audit = s.audit().expect("audit");
    assert!(audit.is_intact(), "{:?}", audit.problems);
}

#[test]
fn tpm2_checkquote_accepts_our_quote() {
    // An independent implementation (tpm2-tools) checks the same bytes.
    let tpm = need_tpm!();
    if Command::new("tpm2_checkquote")
        .arg("--help")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os(TCTI_ENV).is_none(),
            "tpm2_checkquote missing: apt-get install tpm2-tools"
        );
        eprintln!("SKIPPED: tpm2_checkquote not installed (apt-get install tpm2-tools)");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let s = store(&tpm, dir.path());
    let nonce = nonce_hash(b"interop nonce");
    let q = s
        .measure_and_quote(23, &[[7u8; 32]], &nonce)
        .expect("quote");
    let w = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        p
    };
    // AK public key as PEM SubjectPublicKeyInfo.
    let mut spki = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    spki.extend_from_slice(&q.ak.bytes);
    use base64::Engine;
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&spki)
    );
    let ak = w("ak.pem", pem.as_bytes());
    let msg = w("quote.msg", &q.quote.attest);
    let sig = w("quote.sig", &q.quote.signature);
    let pcrs: Vec<u8> = q.quote.pcrs.values().flat_map(|v| v.0).collect();
    let pcr_file = w("quote.pcrs", &pcrs);
    let check = |nonce: &[u8]| {
        Command::new("tpm2_checkquote")
            .arg("-u")
            .arg(&ak)
            .arg("-m")
            .arg(&msg)
            .arg("-s")
            .arg(&sig)
            .arg("-f")
            .arg(&pcr_file)
            .args(["-g", "sha256", "-l", "sha256:23", "-q", &hex::encode(nonce)])
            .output()
            .expect("run tpm2_checkquote")
    };
    let ok = check(&nonce);
    assert!(
        ok.status.success(),
        "tpm2_checkquote refused our quote: {}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        !check(&nonce_hash(b"other")).status.success(),
        "wrong nonce accepted by tpm2_checkquote"
    );
}
