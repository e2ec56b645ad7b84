//! Interop with securesystemslib 1.6.0 (the DSSE implementation under Python in-toto), both
//! directions, for Ed25519 and ECDSA P-256. Drives `tests/interop/sslib.py` in the repo's venv:
//! `python3 -m venv .venv && .venv/bin/pip install -r tests/python-requirements.txt`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use shinrai_envelope::cose::{sign1, verify_sign1};
use shinrai_envelope::dsse::Envelope;
use shinrai_envelope::keys::SslibKey;
use shinrai_envelope::statement::{
    PAYLOAD_TYPE, Statement, Subject, sign_statement, verify_statement,
};
use shinrai_envelope::{Error, Signer};
use shinrai_scu::{Algorithm, PublicKey, Signature};

fn repo_root() -> PathBuf {
    // Canonical: a venv's python finds its pyvenv.cfg from the path it was started by.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&root).unwrap_or(root)
}

/// `$SHINRAI_PYTHON`, else `<repo>/.venv/bin/python`; fails (never skips) when neither exists.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("SHINRAI_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "interop tests need Python with securesystemslib 1.6.0: set SHINRAI_PYTHON or run \
         `python3 -m venv .venv && .venv/bin/pip install -r tests/python-requirements.txt` \
         in the repo root (looked for {})",
        venv.display()
    );
    venv
}

fn sslib(args: &[&str]) -> Output {
    run_script("sslib.py", args)
}

fn run_script(name: &str, args: &[&str]) -> Output {
    let script = repo_root().join("tests/interop").join(name);
    let python = python();
    Command::new(&python)
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} {} ({e}); set SHINRAI_PYTHON to a Python with \
                 tests/python-requirements.txt installed",
                python.display(),
                script.display()
            )
        })
}

fn sslib_ok(args: &[&str]) -> String {
    script_ok("sslib.py", args)
}

fn script_ok(name: &str, args: &[&str]) -> String {
    let out = run_script(name, args);
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned()
}

/// Runs sslib.py expecting a verification failure (exit 1 with securesystemslib's
/// `VerificationError`), not a crash or a missing module.
fn sslib_rejects(args: &[&str]) {
    let out = sslib(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "sslib.py {args:?} accepted: {stderr}"
    );
    assert!(
        stderr.contains("verify failed: VerificationError"),
        "sslib.py {args:?} failed for another reason: {stderr}"
    );
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf8 path")
}

/// A Rust signer on aws-lc-rs key pairs (stands in for an SCU key).
enum RustSigner {
    Ed(Ed25519KeyPair, PublicKey),
    Ec(EcdsaKeyPair, PublicKey),
}

impl RustSigner {
    fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Ed25519 => {
                let kp = Ed25519KeyPair::generate().expect("keygen");
                let pk = PublicKey::from_bytes(algorithm, kp.public_key().as_ref()).expect("pk");
                RustSigner::Ed(kp, pk)
            }
            Algorithm::EcdsaP256 => {
                let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("keygen");
                let pk = PublicKey::from_bytes(algorithm, kp.public_key().as_ref()).expect("pk");
                RustSigner::Ec(kp, pk)
            }
        }
    }
}

impl Signer for RustSigner {
    fn public_key(&self) -> &PublicKey {
        match self {
            RustSigner::Ed(_, pk) | RustSigner::Ec(_, pk) => pk,
        }
    }
    fn sign(&self, message: &[u8]) -> shinrai_envelope::Result<Signature> {
        let bytes = match self {
            RustSigner::Ed(kp, _) => kp.sign(message).as_ref().to_vec(),
            RustSigner::Ec(kp, _) => kp
                .sign(&SystemRandom::new(), message)
                .expect("sign")
                .as_ref()
                .to_vec(),
        };
        Ok(Signature {
            algorithm: self.public_key().algorithm,
            bytes,
        })
    }
}

const ALGS: [(Algorithm, &str); 2] = [
    (Algorithm::Ed25519, "ed25519"),
    (Algorithm::EcdsaP256, "ecdsa"),
];

fn statement() -> Statement {
    Statement::new(
        vec![Subject::for_content(
            "bolt-7.epcis.json",
            b"{\"eventID\":\"x\"}",
        )],
        "https://shinrai.example/torque/v1",
        serde_json::json!({"torqueMilliNm": 22500, "tool": "wrench \"7\" \\ A"}),
    )
    .expect("statement")
}

/// Replaces the payload of an envelope JSON while keeping its signatures.
fn tamper(envelope_json: &[u8]) -> Vec<u8> {
    let mut env = Envelope::parse(envelope_json).expect("parse");
    env.payload.extend_from_slice(b" ");
    env.to_json_bytes()
}

#[test]
fn envelope_signed_by_shinrai_verifies_with_securesystemslib() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (alg, name) in ALGS {
        let signer = RustSigner::new(alg);
        let env = sign_statement(&statement(), &[&signer]).expect("sign");
        let pub_path = dir.path().join(format!("{name}.pub.json"));
        let env_path = dir.path().join(format!("{name}.dsse.json"));
        std::fs::write(&pub_path, signer.sslib_key().expect("key").to_json_bytes()).expect("write");
        std::fs::write(&env_path, env.to_json_bytes()).expect("write");
        let payload_hex = sslib_ok(&[
            "verify",
            "--public",
            p(&pub_path),
            "--envelope",
            p(&env_path),
            "--payload-type",
            PAYLOAD_TYPE,
        ]);
        assert_eq!(payload_hex, hex::encode(&env.payload), "{name}");
    }
}

#[test]
fn envelope_signed_by_securesystemslib_verifies_with_shinrai() {
    let dir = tempfile::tempdir().expect("tempdir");
    let payload = statement().to_json_bytes().expect("json");
    let payload_path = dir.path().join("statement.json");
    std::fs::write(&payload_path, &payload).expect("write");
    for (_, name) in ALGS {
        let (priv_path, pub_path, env_path) = (
            dir.path().join(format!("{name}.pem")),
            dir.path().join(format!("{name}.pub.json")),
            dir.path().join(format!("{name}.dsse.json")),
        );
        let keyid = sslib_ok(&[
            "keygen",
            "--alg",
            name,
            "--out-private",
            p(&priv_path),
            "--out-public",
            p(&pub_path),
        ]);
        sslib_ok(&[
            "sign",
            "--private",
            p(&priv_path),
            "--payload-type",
            PAYLOAD_TYPE,
            "--payload",
            p(&payload_path),
            "--out",
            p(&env_path),
        ]);
        let key = SslibKey::parse(&std::fs::read(&pub_path).expect("read")).expect("python key");
        let verified = verify_statement(&std::fs::read(&env_path).expect("read"), &[key], 1)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.signer_keyids(), vec![keyid], "{name}");
        assert_eq!(verified.payload_bytes(), payload.as_slice());
        assert_eq!(*verified.value(), statement());
    }
}

#[test]
fn keyid_computed_by_shinrai_equals_securesystemslib_keyid() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (alg, name) in ALGS {
        // Rust key -> Python recomputes its keyid from the key material.
        let key = RustSigner::new(alg).sslib_key().expect("key");
        let pub_path = dir.path().join(format!("rust-{name}.pub.json"));
        std::fs::write(&pub_path, key.to_json_bytes()).expect("write");
        assert_eq!(
            sslib_ok(&["keyid", "--public", p(&pub_path)]),
            key.default_keyid(),
            "{name}"
        );
        // Python key -> Rust computes the keyid Python wrote, without reading it.
        let (priv_path, py_pub) = (
            dir.path().join(format!("py-{name}.pem")),
            dir.path().join(format!("py-{name}.pub.json")),
        );
        let py_keyid = sslib_ok(&[
            "keygen",
            "--alg",
            name,
            "--out-private",
            p(&priv_path),
            "--out-public",
            p(&py_pub),
        ]);
        let mut doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&py_pub).expect("read")).expect("json");
        doc.as_object_mut().expect("object").remove("keyid");
        let bare = SslibKey::parse(&serde_json::to_vec(&doc).expect("json")).expect("parse");
        assert_eq!(bare.default_keyid(), py_keyid, "{name}");
    }
}

#[test]
fn tampered_envelope_is_rejected_by_both_implementations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let payload_path = dir.path().join("statement.json");
    std::fs::write(&payload_path, statement().to_json_bytes().expect("json")).expect("write");
    for (alg, name) in ALGS {
        // Signed by shinrai, tampered, checked by both.
        let signer = RustSigner::new(alg);
        let key = signer.sslib_key().expect("key");
        let env = sign_statement(&statement(), &[&signer]).expect("sign");
        let bad = tamper(&env.to_json_bytes());
        let (pub_path, env_path) = (
            dir.path().join(format!("{name}.pub.json")),
            dir.path().join(format!("{name}.bad.json")),
        );
        std::fs::write(&pub_path, key.to_json_bytes()).expect("write");
        std::fs::write(&env_path, &bad).expect("write");
        sslib_rejects(&[
            "verify",
            "--public",
            p(&pub_path),
            "--envelope",
            p(&env_path),
        ]);
        assert!(matches!(
            verify_statement(&bad, std::slice::from_ref(&key), 1),
            Err(Error::BadSignature { .. })
        ));

        // Signed by securesystemslib, tampered, checked by both.
        let (priv_path, py_pub, py_env) = (
            dir.path().join(format!("py-{name}.pem")),
            dir.path().join(format!("py-{name}.pub.json")),
            dir.path().join(format!("py-{name}.dsse.json")),
        );
        sslib_ok(&[
            "keygen",
            "--alg",
            name,
            "--out-private",
            p(&priv_path),
            "--out-public",
            p(&py_pub),
        ]);
        sslib_ok(&[
            "sign",
            "--private",
            p(&priv_path),
            "--payload-type",
            PAYLOAD_TYPE,
            "--payload",
            p(&payload_path),
            "--out",
            p(&py_env),
        ]);
        let py_bad = tamper(&std::fs::read(&py_env).expect("read"));
        std::fs::write(&py_env, &py_bad).expect("write");
        sslib_rejects(&["verify", "--public", p(&py_pub), "--envelope", p(&py_env)]);
        let py_key = SslibKey::parse(&std::fs::read(&py_pub).expect("read")).expect("key");
        assert!(matches!(
            verify_statement(&py_bad, &[py_key], 1),
            Err(Error::BadSignature { .. })
        ));
    }
}

#[test]
fn envelope_by_an_unknown_key_is_rejected_by_both_implementations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let signer = RustSigner::new(Algorithm::Ed25519);
    let stranger = RustSigner::new(Algorithm::Ed25519)
        .sslib_key()
        .expect("key");
    let env = sign_statement(&statement(), &[&signer])
        .expect("sign")
        .to_json_bytes();
    let (pub_path, env_path) = (
        dir.path().join("stranger.json"),
        dir.path().join("env.json"),
    );
    std::fs::write(&pub_path, stranger.to_json_bytes()).expect("write");
    std::fs::write(&env_path, &env).expect("write");
    sslib_rejects(&[
        "verify",
        "--public",
        p(&pub_path),
        "--envelope",
        p(&env_path),
    ]);
    assert!(matches!(
        verify_statement(&env, &[stranger], 1),
        Err(Error::UnknownSigner { .. })
    ));
}

#[test]
fn cose_sign1_by_shinrai_verifies_with_pycose() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (alg, name) in ALGS {
        let signer = RustSigner::new(alg);
        let key = signer.sslib_key().expect("key");
        let msg = sign1(
            b"{\"a\":1}",
            "application/json",
            "org:acme",
            "lot-1",
            &signer,
        )
        .expect("sign");
        let (pub_path, msg_path) = (
            dir.path().join(format!("{name}.pub.json")),
            dir.path().join(format!("{name}.cose")),
        );
        std::fs::write(&pub_path, key.to_json_bytes()).expect("write");
        std::fs::write(&msg_path, &msg).expect("write");
        let out = script_ok(
            "cose_sign1.py",
            &[
                "verify",
                "--public",
                p(&pub_path),
                "--message",
                p(&msg_path),
            ],
        );
        let got: serde_json::Value = serde_json::from_str(&out).expect("json");
        let want_alg = if alg == Algorithm::Ed25519 { -8 } else { -7 };
        assert_eq!(
            got,
            serde_json::json!({
                "alg": want_alg, "kid": key.keyid(), "content_type": "application/json",
                "iss": "org:acme", "sub": "lot-1", "payload_hex": hex::encode(b"{\"a\":1}"),
            }),
            "{name}"
        );
    }
}

#[test]
fn cose_sign1_by_pycose_verifies_with_shinrai() {
    let dir = tempfile::tempdir().expect("tempdir");
    let payload_path = dir.path().join("payload.json");
    std::fs::write(&payload_path, b"{\"b\":2}").expect("write");
    for (_, name) in ALGS {
        let (pub_path, msg_path) = (
            dir.path().join(format!("{name}.pub.json")),
            dir.path().join(format!("{name}.cose")),
        );
        let keyid = script_ok(
            "cose_sign1.py",
            &[
                "sign",
                "--alg",
                name,
                "--out-public",
                p(&pub_path),
                "--payload",
                p(&payload_path),
                "--content-type",
                "application/json",
                "--iss",
                "org:py",
                "--sub",
                "lot-2",
                "--out",
                p(&msg_path),
            ],
        );
        let key = SslibKey::parse(&std::fs::read(&pub_path).expect("read")).expect("key");
        let msg = std::fs::read(&msg_path).expect("read");
        let v = verify_sign1(&msg, std::slice::from_ref(&key))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.value().iss, "org:py");
        assert_eq!(v.value().sub, "lot-2");
        assert_eq!(v.payload_bytes(), b"{\"b\":2}");
        assert_eq!(v.payload_type(), "application/json");
        assert_eq!(v.signer_keyids(), vec![keyid]);
        // Flipping a payload byte breaks the signature for shinrai too.
        let pos = msg
            .windows(7)
            .position(|w| w == b"{\"b\":2}")
            .expect("payload in message");
        let mut bad = msg.clone();
        bad[pos + 5] = b'3';
        assert!(matches!(
            verify_sign1(&bad, &[key]),
            Err(Error::BadSignature { .. })
        ));
    }
}

#[test]
fn canonical_json_matches_securesystemslib_encode_canonical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let docs = [
        r#"{"b": 1, "a": [true, false, null, -7, 18446744073709551615], "A": {}}"#,
        r#"{"quote\"key": "back\\slash", "ctl": "tab\tnl\nbell\u0007", "é": "ünï", "z": "😀", "\u00e9a": 1}"#,
        r#"[{"keyval": {"public": "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n"}}, [], ""]"#,
    ];
    for (i, doc) in docs.iter().enumerate() {
        let path = dir.path().join(format!("doc{i}.json"));
        std::fs::write(&path, doc).expect("write");
        let value: serde_json::Value = serde_json::from_str(doc).expect("json");
        let ours = shinrai_envelope::keys::canonical_json(&value).expect("canonical");
        let theirs = sslib_ok(&["canonical", "--json", p(&path)]);
        assert_eq!(hex::encode(ours), theirs, "document {i}: {doc}");
    }
}
