//! Store-level registration behaviour: batch signature verification, duplicates in one batch,
//! index rebuild.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;
use shinrai_scu::soft::KdfParams;
use shinrai_store::statement::{pae, parse_sslib_key, sslib_ed25519_key};
use shinrai_store::storage::SearchQuery;
use shinrai_store::{Config, Error, InitOptions, Store, verify_receipt};

fn setup() -> (tempfile::TempDir, Store, Ed25519KeyPair, String, String) {
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
            passphrase: Some("test passphrase".into()),
            kdf: KdfParams::insecure_fast_for_tests(),
        },
    )
    .expect("init");
    let store = Store::open_with_passphrase(dir.path(), "test passphrase").expect("open");
    (dir, store, key, keyid, init.log_key)
}

fn envelope(key: &Ed25519KeyPair, keyid: &str, i: u64, forge: bool) -> Vec<u8> {
    let stmt = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": format!("item-{i}"), "digest": {"sha256": format!("{i:064x}")}}],
        "predicateType": "https://example.com/p/v1",
        "predicate": {"materials": [{"digest": {"sha256": format!("{:064x}", i + 1000)}}]}
    });
    let payload = serde_json::to_vec(&stmt).expect("json");
    let ty = "application/vnd.in-toto+json";
    let mut sig = key.sign(&pae(ty, &payload)).as_ref().to_vec();
    if forge {
        sig[5] ^= 1;
    }
    serde_json::to_vec(&json!({"payloadType": ty, "payload": B64.encode(&payload),
        "signatures": [{"keyid": keyid, "sig": B64.encode(&sig)}]}))
    .expect("json")
}

#[test]
fn batch_with_forged_signatures_registers_only_the_valid_entries() {
    let (_dir, store, key, keyid, log_key) = setup();
    let pending: Vec<_> = (0..60u64)
        .map(|i| {
            let e = envelope(&key, &keyid, i, i % 10 == 3);
            (i, e.clone(), store.register(&e, "acme").expect("queued"))
        })
        .collect();
    let mut good = 0;
    for (i, e, p) in pending {
        match p.wait_blocking() {
            Ok(reg) => {
                assert_ne!(i % 10, 3, "forged entry {i} was registered");
                verify_receipt(&e, &reg.receipt, &log_key).expect("receipt");
                good += 1;
            }
            Err(Error::BadSignature(k)) => {
                assert_eq!(i % 10, 3);
                assert_eq!(k, keyid);
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(good, 54);
    assert_eq!(store.checkpoint().size, 54);
}

#[test]
fn duplicates_in_one_batch_share_one_entry() {
    let (_dir, store, key, keyid, _) = setup();
    let e = envelope(&key, &keyid, 7, false);
    let a = store.register(&e, "acme").expect("queued");
    let b = store.register(&e, "acme").expect("queued");
    let (a, b) = (a.wait_blocking().expect("a"), b.wait_blocking().expect("b"));
    assert_eq!(a.log_index, b.log_index);
    assert!(a.existing != b.existing || a.existing);
    assert_eq!(store.checkpoint().size, 1);
}

#[test]
fn index_rebuilt_from_the_log_answers_the_same_searches() {
    let (_dir, store, key, keyid, _) = setup();
    for i in 0..20u64 {
        store
            .register_blocking(&envelope(&key, &keyid, i, false), "acme")
            .expect("registered");
    }
    let q = |d: u64| SearchQuery {
        subject_digest: Some(format!("{d:064x}")),
        limit: 10,
        ..Default::default()
    };
    let before = store.search(q(5)).expect("search").entries;
    let up = store
        .trace(
            &format!("{:064x}", 5),
            shinrai_store::storage::Direction::Up,
            3,
        )
        .expect("trace");
    assert_eq!(store.rebuild_index().expect("rebuild"), 20);
    let after = store.search(q(5)).expect("search").entries;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].index, after[0].index);
    let up2 = store
        .trace(
            &format!("{:064x}", 5),
            shinrai_store::storage::Direction::Up,
            3,
        )
        .expect("trace");
    assert_eq!(up.edges, up2.edges);
    assert_eq!(up.edges.len(), 1);
}

#[test]
fn entry_bytes_and_inclusion_proofs_by_id_match_the_full_entry_and_receipt() {
    let (_dir, store, key, keyid, _) = setup();
    let mut ids = Vec::new();
    for i in 0..300 {
        let e = envelope(&key, &keyid, i, false);
        ids.push((store.register(&e, "acme").expect("queued"), e));
    }
    let ids: Vec<_> = ids
        .into_iter()
        .map(|(p, e)| (p.wait_blocking().expect("registered"), e))
        .collect();
    for (r, bytes) in ids.iter().step_by(37) {
        let got = store
            .entry_bytes_by_id(&r.id)
            .expect("read")
            .expect("present");
        assert_eq!(got.index, r.log_index);
        assert_eq!(got.issuer_org, "acme");
        assert_eq!(&got.bytes, bytes);
        let receipt = store.receipt(r.log_index).expect("receipt");
        let (proof, cp) = store.inclusion_proof(r.log_index).expect("proof");
        assert_eq!(cp.size, receipt.tree_size);
        let encoded: Vec<String> = proof.iter().map(|h| B64.encode(h)).collect();
        assert_eq!(encoded, receipt.inclusion_proof);
    }
    assert_eq!(
        store.entry_bytes_by_id(&"ab".repeat(32)).expect("read"),
        None,
        "an unknown id is absent, not an error"
    );
    assert!(matches!(
        store.entry_bytes_by_id("not hex"),
        Err(shinrai_store::Error::InvalidRequest(_))
    ));
    assert!(store.inclusion_proof(10_000).is_err());
    // By subject digest and predicate type, with the bytes.
    let about = store
        .entries_about(&format!("{:064x}", 37), "https://example.com/p/v1", 10)
        .expect("about");
    assert_eq!(about.len(), 1);
    assert_eq!(about[0].bytes, ids[37].1);
    assert_eq!(about[0].index, ids[37].0.log_index);
    assert!(
        store
            .entries_about(
                &format!("sha256:{:064x}", 37),
                "https://example.com/other",
                10
            )
            .expect("about")
            .is_empty(),
        "another predicate type is not returned"
    );
}
