//! The store's receipts (checkpoint notes and inclusion proofs read from its SQLite tiles) are
//! checked through `shinrai-tlog`'s public verifiers, as an independent client would check them
//! (`shinrai-tlog` is itself checked against the transparency-dev test vectors).

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;
use shinrai_scu::soft::KdfParams;
use shinrai_store::statement::{pae, parse_sslib_key, sslib_ed25519_key};
use shinrai_store::{Config, InitOptions, Store};

#[test]
fn receipts_verify_with_shinrai_tlog_at_every_tree_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = Ed25519KeyPair::generate().expect("key");
    let key_json = sslib_ed25519_key(key.public_key().as_ref());
    let (keyid, _) = parse_sslib_key(key_json.as_bytes()).expect("key");
    let init = Store::init(
        dir.path(),
        InitOptions {
            config: Config::default(),
            org: "acme".into(),
            org_key_json: key_json.into_bytes(),
            passphrase: Some("pw".into()),
            kdf: KdfParams::insecure_fast_for_tests(),
        },
    )
    .expect("init");
    let store = Store::open_with_passphrase(dir.path(), "pw").expect("open");
    let verifier =
        shinrai_tlog::NoteVerifier::parse(&init.log_key).expect("tlog reads the log key");
    let origin = store.config().origin.clone();
    let mut entries = Vec::new();
    for i in 0..300u64 {
        let stmt = json!({"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "x", "digest": {"sha256": format!("{i:064x}")}}],
            "predicateType": "p", "predicate": {}});
        let payload = serde_json::to_vec(&stmt).expect("json");
        let ty = "application/vnd.in-toto+json";
        let sig = key.sign(&pae(ty, &payload));
        let env = serde_json::to_vec(&json!({"payloadType": ty, "payload": B64.encode(&payload),
            "signatures": [{"keyid": keyid, "sig": B64.encode(sig.as_ref())}]}))
        .expect("json");
        let reg = store.register_blocking(&env, "acme").expect("registered");
        entries.push(env);
        // The receipt issued at this size verifies with tlog.
        let cp = shinrai_tlog::verify_checkpoint(
            reg.receipt.checkpoint.as_bytes(),
            &origin,
            std::slice::from_ref(&verifier),
        )
        .expect("tlog verifies the checkpoint");
        let proof: Vec<shinrai_tlog::Hash> = reg
            .receipt
            .inclusion_proof
            .iter()
            .map(|h| B64.decode(h).expect("b64").try_into().expect("32 bytes"))
            .collect();
        shinrai_tlog::verify_inclusion(
            reg.log_index,
            cp.checkpoint().size,
            &shinrai_tlog::leaf_hash(&entries[reg.log_index as usize]),
            &proof,
            &cp.checkpoint().root,
        )
        .expect("tlog verifies the inclusion proof");
    }
    // Receipts for old entries against the final tree verify too.
    for index in [0u64, 1, 127, 255, 256, 299] {
        let r = store.receipt(index).expect("receipt");
        let cp = shinrai_tlog::verify_checkpoint(
            r.checkpoint.as_bytes(),
            &origin,
            std::slice::from_ref(&verifier),
        )
        .expect("checkpoint");
        let proof: Vec<shinrai_tlog::Hash> = r
            .inclusion_proof
            .iter()
            .map(|h| B64.decode(h).expect("b64").try_into().expect("32"))
            .collect();
        shinrai_tlog::verify_inclusion(
            index,
            300,
            &shinrai_tlog::leaf_hash(&entries[index as usize]),
            &proof,
            &cp.checkpoint().root,
        )
        .expect("old entry proof");
    }
}
