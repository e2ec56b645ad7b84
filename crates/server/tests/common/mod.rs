//! Shared test fixtures: a fresh store with one organisation and helpers to sign statements.
#![allow(dead_code)]

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use shinrai_scu::soft::KdfParams;
use shinrai_store::statement::{pae, parse_sslib_key, sslib_ed25519_key};
use shinrai_store::{Config, InitOptions, Store};

pub struct Org {
    pub key: Ed25519KeyPair,
    pub keyid: String,
    pub key_json: String,
}

impl Org {
    pub fn new() -> Self {
        let key = Ed25519KeyPair::generate().expect("key");
        let key_json = sslib_ed25519_key(key.public_key().as_ref());
        let (keyid, _) = parse_sslib_key(key_json.as_bytes()).expect("parse");
        Org {
            key,
            keyid,
            key_json,
        }
    }

    pub fn sign(&self, statement: &Value) -> Vec<u8> {
        let payload = serde_json::to_vec(statement).expect("json");
        let ty = "application/vnd.in-toto+json";
        let sig = self.key.sign(&pae(ty, &payload));
        serde_json::to_vec(&json!({
            "payloadType": ty,
            "payload": B64.encode(&payload),
            "signatures": [{"keyid": self.keyid, "sig": B64.encode(sig.as_ref())}]
        }))
        .expect("json")
    }
}

pub fn statement(name: &str, digest: &str, materials: &[&str]) -> Value {
    let mats: Vec<Value> = materials
        .iter()
        .map(|m| json!({"uri": format!("m/{m}"), "digest": {"sha256": m}}))
        .collect();
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": digest}}],
        "predicateType": "https://in-toto.io/attestation/link/v0.3",
        "predicate": {"name": "step", "materials": mats}
    })
}

pub fn hex_of(i: u64) -> String {
    format!("{:064x}", i)
}

pub struct TestLog {
    pub dir: tempfile::TempDir,
    pub org: Org,
    pub token: String,
    pub log_key: String,
}

impl TestLog {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let org = Org::new();
        let report = Store::init(
            dir.path(),
            InitOptions {
                config: Config::default(),
                org: "acme".into(),
                org_key_json: org.key_json.clone().into_bytes(),
                passphrase: None,
                kdf: KdfParams::insecure_fast_for_tests(),
            },
        )
        .expect("init");
        TestLog {
            dir,
            org,
            token: report.token,
            log_key: report.log_key,
        }
    }

    pub fn open(&self) -> Store {
        Store::open(self.dir.path()).expect("open")
    }
}
