//! Parsers of untrusted input never panic: every truncation and many single-byte changes of
//! valid inputs (DSSE envelope, statement, COSE receipt, checkpoint note, entry bundle) return a
//! value or an error.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use shinrai_envelope::dsse::Envelope;
use shinrai_store::audit::parse_bundle;
use shinrai_store::cose::{log_kid, receipt, tree_head_tbs, verify_cose_receipt};
use shinrai_store::merkle::leaf_hash;
use shinrai_store::note::{Checkpoint, NoteSigner, NoteVerifier, key_hash, verifier_key};
use shinrai_store::statement::index_record;

fn mutations(valid: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for n in 0..valid.len() {
        out.push(valid[..n].to_vec());
    }
    for i in 0..valid.len() {
        for b in [0x00u8, 0xff, b'"', b'{', b'[', b'0', 0x80, 0x9f] {
            let mut m = valid.to_vec();
            m[i] = b;
            out.push(m);
        }
    }
    out
}

struct Key(Ed25519KeyPair);
impl Key {
    fn public_key(&self) -> [u8; 32] {
        self.0.public_key().as_ref().try_into().expect("32 bytes")
    }
}
impl NoteSigner for Key {
    fn name(&self) -> &str {
        "example.com/log"
    }
    fn key_hash(&self) -> [u8; 4] {
        key_hash("example.com/log", &self.public_key())
    }
    fn sign(&self, m: &[u8]) -> shinrai_tlog::Result<[u8; 64]> {
        Ok(self.0.sign(m).as_ref().try_into().expect("64 bytes"))
    }
}

#[test]
fn envelope_and_statement_parsers_never_panic_on_mutated_input() {
    let stmt = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "a", "digest": {"sha256": "ab"}}],
        "predicateType": "p",
        "predicate": {"materials": {"m": {"sha256": "cd"}}, "parentID": "x", "childEPCs": ["y"]}
    })
    .to_string();
    for m in mutations(stmt.as_bytes()) {
        let _ = index_record("t", &m);
    }
    let env = serde_json::json!({"payloadType": "t", "payload": B64.encode(&stmt),
        "signatures": [{"keyid": "k", "sig": B64.encode([1u8; 64])}]})
    .to_string();
    for m in mutations(env.as_bytes()) {
        if let Ok(e) = Envelope::parse(&m) {
            let _ = index_record(&e.payload_type, &e.payload);
        }
    }
}

#[test]
fn receipt_note_and_bundle_parsers_never_panic_on_mutated_input() {
    let key = Key(Ed25519KeyPair::generate().expect("key"));
    let mut tree = shinrai_tlog::MemoryTree::new();
    for i in 0..5u8 {
        tree.append_leaf_hash(leaf_hash(&[i]));
    }
    let root = tree.root();
    let proof = tree.inclusion_proof(2, 5).expect("proof");
    let kid = log_kid(&key.public_key());
    let sig = NoteSigner::sign(&key, &tree_head_tbs(&root, &kid)).expect("sign");
    let cose = receipt(&kid, &sig, 5, 2, &proof).expect("receipt");
    verify_cose_receipt(&[2], &cose, &key.public_key()).expect("valid receipt verifies");
    for m in mutations(&cose) {
        assert!(
            m == cose || verify_cose_receipt(&[2], &m, &key.public_key()).is_err(),
            "a changed receipt verified"
        );
    }
    let note = shinrai_tlog::sign_checkpoint(&Checkpoint::new("example.com/log", 5, root), &key)
        .expect("note");
    let vkey = verifier_key("example.com/log", &key.public_key()).expect("vkey");
    let v = NoteVerifier::parse(&vkey).expect("vkey");
    for m in mutations(note.as_bytes()) {
        if let Ok(s) = std::str::from_utf8(&m) {
            let _ = v.verify(s);
            let _ = Checkpoint::parse(s);
            let _ = NoteVerifier::parse(s);
        }
    }
    let bundle = [0u8, 2, b'h', b'i', 0, 0, 0, 1, b'x'];
    for m in mutations(&bundle) {
        let _ = parse_bundle(&m);
    }
}
