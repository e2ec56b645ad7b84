//! Checkpoints in C2SP signed notes and tlog-cosignature witness cosignatures: round trips,
//! interop with the Go `sumdb/note` reference example, and rejection of modified notes, wrong
//! keys, missing signatures and malformed input.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use shinrai_tlog::{
    Checkpoint, Error, KeyAlg, Note, NoteSigner, NoteVerifier, add_signature, cosign, key_hash,
    leaf_hash, sign_checkpoint, sign_note, verify_checkpoint, verify_note,
};

/// A test signer holding an Ed25519 key in memory (in Shinrai the SCU does this).
struct TestSigner {
    name: String,
    alg: KeyAlg,
    key: Ed25519KeyPair,
}

impl TestSigner {
    fn new(name: &str, alg: KeyAlg, seed: &[u8]) -> Self {
        Self {
            name: name.to_owned(),
            alg,
            key: Ed25519KeyPair::from_seed_unchecked(seed).expect("seed"),
        }
    }

    fn public_key(&self) -> [u8; 32] {
        self.key.public_key().as_ref().try_into().expect("32 bytes")
    }

    fn verifier(&self) -> NoteVerifier {
        NoteVerifier::new(self.name.clone(), self.alg, self.public_key()).expect("verifier")
    }
}

impl NoteSigner for TestSigner {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_hash(&self) -> [u8; 4] {
        key_hash(&self.name, self.alg, &self.public_key())
    }
    fn sign(&self, msg: &[u8]) -> shinrai_tlog::Result<[u8; 64]> {
        Ok(self.key.sign(msg).as_ref().try_into().expect("64 bytes"))
    }
}

fn log_signer() -> TestSigner {
    TestSigner::new("shinrai.example/log", KeyAlg::Ed25519, &[7u8; 32])
}

fn checkpoint() -> Checkpoint {
    Checkpoint::new("shinrai.example/log", 20852163, leaf_hash(b"root"))
}

// From golang.org/x/mod/sumdb/note (package documentation example).
const GO_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n\
                       \n\
                       \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn signs_the_go_reference_note_byte_for_byte_and_verifies_it() {
    let key = STANDARD
        .decode(GO_SKEY.splitn(5, '+').nth(4).expect("key"))
        .expect("base64");
    assert_eq!(key[0], 0x01);
    let signer = TestSigner::new("PeterNeumann", KeyAlg::Ed25519, &key[1..]);
    let verifier = NoteVerifier::parse(GO_VKEY).expect("Go vkey parses");
    assert_eq!(verifier, signer.verifier());
    assert_eq!(verifier.to_string(), GO_VKEY);
    assert_eq!(sign_note(GO_TEXT, &signer).expect("sign"), GO_NOTE);
    let v = verify_note(GO_NOTE.as_bytes(), &[verifier]).expect("verifies");
    assert_eq!(v.text(), GO_TEXT);
    assert_eq!(v.verified()[0].name, "PeterNeumann");
}

#[test]
fn parses_verifier_keys_of_other_implementations() {
    // transparency-dev/formats tests: a base64 key containing '+', and a cosignature key.
    let plus = NoteVerifier::parse("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
        .expect("plus key");
    assert_eq!(plus.alg(), KeyAlg::Ed25519);
    let cosig =
        NoteVerifier::parse("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
            .expect("cosignature key");
    assert_eq!(cosig.alg(), KeyAlg::CosignatureV1);
    assert_eq!(hex::encode(cosig.key_hash()), "da77ade7");
}

#[test]
fn rejects_malformed_verifier_keys() {
    for bad in [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",
        "PeterNeumann+c74f20a3+AhpcQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWAA==",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ] {
        assert!(NoteVerifier::parse(bad).is_err(), "accepted {bad:?}");
    }
}

#[test]
fn checkpoint_round_trips_through_a_signed_note() {
    let signer = log_signer();
    let mut cp = checkpoint();
    cp.extensions.push("Timestamp: 1700000000".into());
    let note = sign_checkpoint(&cp, &signer).expect("sign");
    assert!(note.starts_with(&format!(
        "shinrai.example/log\n20852163\n{}\nTimestamp: 1700000000\n\n\u{2014} shinrai.example/log ",
        STANDARD.encode(cp.root)
    )));
    let v = verify_checkpoint(note.as_bytes(), "shinrai.example/log", &[signer.verifier()])
        .expect("verifies");
    assert_eq!(v.checkpoint(), &cp);
    assert_eq!(
        Checkpoint::parse(&cp.to_body().expect("body")).expect("parse"),
        cp
    );
}

#[test]
fn rejects_a_modified_checkpoint_note() {
    let signer = log_signer();
    let note = sign_checkpoint(&checkpoint(), &signer).expect("sign");
    let tampered = note.replace("20852163", "20852164");
    assert!(matches!(
        verify_note(tampered.as_bytes(), &[signer.verifier()]),
        Err(Error::BadSignature { .. })
    ));
    // Flip one bit of the signature itself.
    let (text, sig_line) = note.rsplit_once(' ').expect("line");
    let mut sig = STANDARD.decode(sig_line.trim_end()).expect("b64");
    sig[10] ^= 1;
    let forged = format!("{text} {}\n", STANDARD.encode(sig));
    assert!(matches!(
        verify_note(forged.as_bytes(), &[signer.verifier()]),
        Err(Error::BadSignature { .. })
    ));
}

#[test]
fn rejects_a_note_signed_by_an_unknown_key() {
    let note = sign_checkpoint(&checkpoint(), &log_signer()).expect("sign");
    let other = TestSigner::new("shinrai.example/log", KeyAlg::Ed25519, &[8u8; 32]);
    assert!(matches!(
        verify_note(note.as_bytes(), &[other.verifier()]),
        Err(Error::NoKnownSignature)
    ));
    assert!(matches!(
        verify_note(note.as_bytes(), &[]),
        Err(Error::NoKnownSignature)
    ));
    assert!(matches!(
        verify_checkpoint(
            note.as_bytes(),
            "other.example/log",
            &[log_signer().verifier()]
        ),
        Err(Error::OriginMismatch { .. })
    ));
}

#[test]
fn rejects_a_note_without_signatures_and_malformed_notes() {
    let body = checkpoint().to_body().expect("body");
    let v = [log_signer().verifier()];
    let good = sign_checkpoint(&checkpoint(), &log_signer()).expect("sign");
    let sig_line = good.rsplit_once("\n\n").expect("split").1;
    for bad in [
        body.clone(),
        format!("{body}\n"),
        format!("{body}\n\n"),
        format!("{}\n{sig_line}", body.trim_end()),
        format!("{body}\n{}", sig_line.trim_end()),
        format!("{body}\n{}\n\n", sig_line.trim_end()),
        format!("{body}\n{}", sig_line.replace('\u{2014}', "-")),
        format!("{body}\n{}", sig_line.replace("\u{2014} ", "\u{2014}")),
        format!("{body}\n\u{2014} shinrai.example/log !!!notbase64\n"),
        format!("{body}\n\u{2014} shinrai.example/log AAAA\n"),
        format!("{body}\n\u{2014}  AAAAAAAA\n"),
        format!("a\u{0007}b\n\n{sig_line}"),
    ] {
        assert!(
            matches!(
                verify_note(bad.as_bytes(), &v),
                Err(Error::MalformedNote(_))
            ),
            "accepted {bad:?}"
        );
    }
    assert!(matches!(
        verify_note(b"\xff\xfe\n\n", &v),
        Err(Error::MalformedNote(_))
    ));
    let mut many = good.clone();
    for _ in 0..100 {
        many.push_str(sig_line);
    }
    assert!(matches!(
        verify_note(many.as_bytes(), &v),
        Err(Error::MalformedNote(_))
    ));
    assert!(sign_note("no final newline", &log_signer()).is_err());
}

#[test]
fn ignores_signatures_by_unknown_keys_next_to_a_known_one() {
    let signer = log_signer();
    let note = sign_checkpoint(&checkpoint(), &signer).expect("sign");
    let stranger = TestSigner::new("stranger.example", KeyAlg::Ed25519, &[9u8; 32]);
    let mut parsed = Note::parse(note.as_bytes()).expect("parse");
    let extra =
        Note::parse(sign_note(&parsed.text, &stranger).expect("sign").as_bytes()).expect("parse");
    parsed.signatures.insert(0, extra.signatures[0].clone());
    let both = parsed.to_text();
    let v = verify_note(both.as_bytes(), &[signer.verifier()]).expect("verifies");
    assert_eq!(v.verified().len(), 1);
    assert_eq!(v.note().signatures.len(), 2);
}

#[test]
fn rejects_malformed_checkpoint_bodies() {
    let root = STANDARD.encode([1u8; 32]);
    for bad in [
        String::new(),
        "origin\n".to_owned(),
        "origin\n5\n".to_owned(),
        format!("origin\n5\n{root}"),
        format!("\n5\n{root}\n"),
        format!("origin\n05\n{root}\n"),
        format!("origin\n-5\n{root}\n"),
        format!("origin\n+5\n{root}\n"),
        format!("origin\n18446744073709551616\n{root}\n"),
        format!("origin\n5\n{}\n", STANDARD.encode([1u8; 31])),
        format!("origin\n5\n{}\n", root.trim_end_matches('=')),
        format!("origin\n5\n{root}\n\n"),
        format!("origin\n5\n{root}\next\n\n"),
        format!("ori\tgin\n5\n{root}\n"),
    ] {
        assert!(
            matches!(Checkpoint::parse(&bad), Err(Error::MalformedCheckpoint(_))),
            "accepted {bad:?}"
        );
    }
    assert!(Checkpoint::parse(&format!("origin\n0\n{root}\n")).is_ok());
    let mut cp = checkpoint();
    cp.origin = "two\nlines".into();
    assert!(cp.to_body().is_err());
}

#[test]
fn witness_cosignatures_verify_and_carry_their_timestamp() {
    let log = log_signer();
    let witness = TestSigner::new("witness.example/w1", KeyAlg::CosignatureV1, &[3u8; 32]);
    let note = sign_checkpoint(&checkpoint(), &log).expect("sign");
    let text = checkpoint().to_body().expect("body");
    let cosig = cosign(&text, 1_679_315_147, &witness).expect("cosign");
    assert_eq!(cosig.signature.len(), 8 + 64);
    let note = add_signature(note.as_bytes(), &cosig).expect("add");
    let v = verify_note(note.as_bytes(), &[log.verifier(), witness.verifier()]).expect("ok");
    assert_eq!(v.verified().len(), 2);
    assert_eq!(v.verified()[1].timestamp, Some(1_679_315_147));
    assert!(v.is_signed_by("witness.example/w1", witness.key_hash()));
    // A cosignature is not a valid plain note signature, and vice versa (domain separation).
    let as_plain = NoteVerifier::new("witness.example/w1", KeyAlg::Ed25519, witness.public_key())
        .expect("verifier");
    assert!(matches!(
        verify_note(note.as_bytes(), &[as_plain]),
        Err(Error::NoKnownSignature)
    ));
    // Changing the timestamp breaks the cosignature.
    let mut bad = cosig.clone();
    bad.signature[7] ^= 1;
    let note2 = add_signature(
        sign_checkpoint(&checkpoint(), &log)
            .expect("sign")
            .as_bytes(),
        &bad,
    )
    .expect("add");
    assert!(matches!(
        verify_note(note2.as_bytes(), &[witness.verifier()]),
        Err(Error::BadSignature { .. })
    ));
    assert!(cosign(&text, u64::MAX, &witness).is_err());
}
