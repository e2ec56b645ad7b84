//! Handler tests: the router driven with `oneshot`, against a real store in a temp directory.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt;
use serde_json::Value;
use shinrai_server::{AppState, app};
use shinrai_store::{Receipt, Store, verify_receipt};
use tower::ServiceExt;

use common::*;

async fn call(store: &Store, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = app(AppState::new(store.clone()))
        .oneshot(req)
        .await
        .expect("response");
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, body)
}

fn post(token: &str, ct: &str, body: Vec<u8>) -> Request<Body> {
    Request::post("/entries")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", ct)
        .body(Body::from(body))
        .expect("request")
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

fn json(b: &[u8]) -> Value {
    serde_json::from_slice(b).expect("json body")
}

#[tokio::test(flavor = "multi_thread")]
async fn registers_statement_and_receipt_verifies_offline_with_the_log_key() {
    let log = TestLog::new();
    let store = log.open();
    let entry = log.org.sign(&statement("fw.bin", &hex_of(1), &[]));
    let (status, body) = call(&store, post(&log.token, "application/json", entry.clone())).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let reg = json(&body);
    let receipt: Receipt = serde_json::from_value(reg["receipt"].clone()).expect("receipt");
    let (_, key) = call(&store, get("/log/key")).await;
    let key = String::from_utf8(key).expect("utf8");
    assert_eq!(key.trim(), log.log_key);
    let cp = verify_receipt(&entry, &receipt, key.trim()).expect("receipt verifies");
    assert_eq!(cp.size, 1);

    // The receipt endpoint and entry endpoint agree.
    let id = reg["id"].as_str().expect("id");
    let (status, body) = call(&store, get(&format!("/entries/{id}/receipt"))).await;
    assert_eq!(status, StatusCode::OK);
    let again: Receipt = serde_json::from_slice(&body).expect("receipt");
    verify_receipt(&entry, &again, &log.log_key).expect("verifies");
    let (status, body) = call(&store, get(&format!("/entries/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    let e = json(&body);
    assert_eq!(e["issuer_org"], "acme");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(e["entry"].as_str().expect("entry"))
        .expect("b64");
    assert_eq!(bytes, entry);

    // A tampered statement does not verify against the receipt.
    let mut other = entry.clone();
    let n = other.len();
    other[n - 3] ^= 1;
    assert!(verify_receipt(&other, &receipt, &log.log_key).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_registration_returns_the_existing_entry() {
    let log = TestLog::new();
    let store = log.open();
    let entry = log.org.sign(&statement("a", &hex_of(2), &[]));
    let (s1, b1) = call(&store, post(&log.token, "application/json", entry.clone())).await;
    let (s2, b2) = call(&store, post(&log.token, "application/json", entry)).await;
    assert_eq!(s1, StatusCode::CREATED);
    assert_eq!(s2, StatusCode::OK);
    assert_eq!(json(&b1)["log_index"], json(&b2)["log_index"]);
    assert_eq!(json(&b2)["existing"], true);
    assert_eq!(store.checkpoint().size, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_4xx_and_nothing_is_stored() {
    let log = TestLog::new();
    let store = log.open();
    let good = log.org.sign(&statement("a", &hex_of(3), &[]));
    let stranger = Org::new().sign(&statement("a", &hex_of(3), &[]));
    let mut forged: Value = serde_json::from_slice(&good).expect("json");
    forged["signatures"][0]["sig"] =
        Value::String(base64::engine::general_purpose::STANDARD.encode([7u8; 64]));
    let forged = serde_json::to_vec(&forged).expect("json");
    let big = vec![b' '; 70_000];
    let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = vec![
        (
            "non-JSON",
            post(&log.token, "application/json", b"not json".to_vec()),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "truncated envelope",
            post(&log.token, "application/json", good[..good.len() / 2].to_vec()),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "envelope without signatures",
            post(
                &log.token,
                "application/json",
                br#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}"#
                    .to_vec(),
            ),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "wrong content type",
            post(&log.token, "text/plain", good.clone()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "unknown signer",
            post(&log.token, "application/json", stranger),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_signer",
        ),
        (
            "bad signature",
            post(&log.token, "application/json", forged),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_signature",
        ),
        (
            "oversized body",
            post(&log.token, "application/json", big),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "unknown token",
            post("shinrai_nope", "application/json", good.clone()),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
    ];
    for (what, req, want, code) in cases {
        let (status, body) = call(&store, req).await;
        assert_eq!(status, want, "{what}: {}", String::from_utf8_lossy(&body));
        let v = json(&body);
        assert_eq!(v["error"], code, "{what}");
        assert!(
            !v["reason"].as_str().unwrap_or_default().is_empty(),
            "{what} has a reason"
        );
    }
    let missing = Request::post("/entries")
        .header("content-type", "application/json")
        .body(Body::from(good))
        .expect("req");
    assert_eq!(call(&store, missing).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(store.checkpoint().size, 0);
    assert!(
        store
            .backend()
            .read_entries(0, 10)
            .expect("read")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_paginates_and_trace_follows_materials_both_ways() {
    let log = TestLog::new();
    let store = log.open();
    // chain: 10 -> 11 -> 12 (material -> product), plus unrelated 20..25
    for (name, d, m) in [("p11", 11u64, vec![10u64]), ("p12", 12, vec![11])] {
        let mats: Vec<String> = m.iter().map(|x| hex_of(*x)).collect();
        let refs: Vec<&str> = mats.iter().map(String::as_str).collect();
        let e = log.org.sign(&statement(name, &hex_of(d), &refs));
        assert_eq!(
            call(&store, post(&log.token, "application/json", e))
                .await
                .0,
            StatusCode::CREATED
        );
    }
    for i in 20..25u64 {
        let e = log.org.sign(&statement("lot", &hex_of(i), &[]));
        assert_eq!(
            call(&store, post(&log.token, "application/json", e))
                .await
                .0,
            StatusCode::CREATED
        );
    }
    let (s, b) = call(
        &store,
        get(&format!("/search?subject_digest=sha256:{}", hex_of(12))),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    assert_eq!(v["entries"].as_array().expect("array").len(), 1);
    assert_eq!(v["entries"][0]["subjects"][0]["name"], "p12");

    let (_, b) = call(&store, get("/search?subject_name=lot&limit=2")).await;
    let p1 = json(&b);
    assert_eq!(p1["entries"].as_array().expect("array").len(), 2);
    let next = p1["next"].as_u64().expect("next");
    let (_, b) = call(
        &store,
        get(&format!("/search?subject_name=lot&limit=2&after={next}")),
    )
    .await;
    let p2 = json(&b);
    assert_ne!(p2["entries"][0]["index"], p1["entries"][0]["index"]);
    let (_, b) = call(
        &store,
        get(&format!("/search?issuer={}&limit=1000", log.org.keyid)),
    )
    .await;
    assert_eq!(json(&b)["entries"].as_array().expect("array").len(), 7);
    let (_, b) = call(&store, get("/search?issuer=acme&since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z&predicate_type=https://in-toto.io/attestation/link/v0.3")).await;
    assert_eq!(json(&b)["entries"].as_array().expect("array").len(), 7);
    let (_, b) = call(&store, get("/search?since=2999-01-01T00:00:00Z")).await;
    assert_eq!(json(&b)["entries"].as_array().expect("array").len(), 0);
    assert_eq!(
        call(&store, get("/search?since=yesterday")).await.0,
        StatusCode::BAD_REQUEST
    );

    let (s, b) = call(
        &store,
        get(&format!(
            "/trace/sha256:{}?direction=up&depth=5",
            hex_of(12)
        )),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let t = json(&b);
    let ids: Vec<&str> = t["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().unwrap_or_default())
        .collect();
    assert!(
        ids.contains(&format!("sha256:{}", hex_of(10)).as_str()),
        "{ids:?}"
    );
    let (_, b) = call(
        &store,
        get(&format!("/trace/{}?direction=up&depth=1", hex_of(12))),
    )
    .await;
    assert_eq!(
        json(&b)["nodes"].as_array().expect("nodes").len(),
        2,
        "depth limit holds"
    );
    let (_, b) = call(
        &store,
        get(&format!("/trace/sha256:{}?direction=down", hex_of(10))),
    )
    .await;
    let t = json(&b);
    let ids: Vec<&str> = t["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().unwrap_or_default())
        .collect();
    assert!(
        ids.contains(&format!("sha256:{}", hex_of(12)).as_str()),
        "{ids:?}"
    );
    assert_eq!(
        call(&store, get("/trace/x?direction=sideways")).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tiles_and_entry_bundles_follow_tlog_tiles() {
    let log = TestLog::new();
    let store = log.open();
    let mut entries = Vec::new();
    for i in 0..3u64 {
        let e = log.org.sign(&statement("t", &hex_of(100 + i), &[]));
        call(&store, post(&log.token, "application/json", e.clone())).await;
        entries.push(e);
    }
    let (s, b) = call(&store, get("/log/tile/0/000.p/3")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b.len(), 96);
    assert_eq!(&b[..32], &shinrai_store::merkle::leaf_hash(&entries[0])[..]);
    let (s, b) = call(&store, get("/log/tile/entries/000.p/3")).await;
    assert_eq!(s, StatusCode::OK);
    let parsed = shinrai_store::audit::parse_bundle(&b).expect("bundle");
    assert_eq!(
        parsed,
        entries.iter().map(Vec::as_slice).collect::<Vec<_>>()
    );
    assert_eq!(
        call(&store, get("/log/tile/0/000")).await.0,
        StatusCode::NOT_FOUND,
        "no full tile yet"
    );
    assert_eq!(
        call(&store, get("/log/tile/0/000.p/4")).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, b) = call(&store, get("/log/checkpoint")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&b).contains("\n3\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_describes_every_route_and_health_answers() {
    let log = TestLog::new();
    let store = log.open();
    let (s, b) = call(&store, get("/openapi.json")).await;
    assert_eq!(s, StatusCode::OK);
    let doc = json(&b);
    for p in [
        "/entries",
        "/entries/{id}",
        "/entries/{id}/receipt",
        "/log/checkpoint",
        "/log/key",
        "/search",
        "/trace/{node}",
        "/healthz",
        "/openapi.json",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} documented");
    }
    let (s, b) = call(&store, get("/healthz")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(json(&b)["tree_size"], 0);
}

fn python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("SHINRAI_PYTHON") {
        return p.into();
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        venv.exists(),
        "no Python for the pycose interop check: set SHINRAI_PYTHON or create .venv with tests/python-requirements.txt"
    );
    venv
}

#[tokio::test(flavor = "multi_thread")]
async fn cose_receipt_verifies_here_and_with_pycose() {
    let log = TestLog::new();
    let store = log.open();
    let mut entries = Vec::new();
    for i in 0..5u64 {
        let e = log.org.sign(&statement("c", &hex_of(500 + i), &[]));
        assert_eq!(
            call(&store, post(&log.token, "application/json", e.clone()))
                .await
                .0,
            StatusCode::CREATED
        );
        entries.push(e);
    }
    let (s, cose) = call(&store, get("/entries/3/receipt?format=cose")).await;
    assert_eq!(s, StatusCode::OK);
    let inc = shinrai_store::cose::verify_cose_receipt(&entries[3], &cose, &store.log_public_key())
        .expect("COSE receipt verifies");
    assert_eq!((inc.leaf_index, inc.tree_size), (3, 5));
    assert!(
        shinrai_store::cose::verify_cose_receipt(&entries[2], &cose, &store.log_public_key())
            .is_err()
    );
    let accept = Request::get("/entries/3/receipt")
        .header("accept", "application/cose")
        .body(Body::empty())
        .expect("req");
    assert_eq!(call(&store, accept).await.1, cose);

    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("entry"), &entries[3]).expect("write");
    std::fs::write(dir.path().join("receipt.cose"), &cose).expect("write");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cose_receipt.py");
    let run = |entry: &str| {
        std::process::Command::new(python())
            .arg(script)
            .arg(dir.path().join(entry))
            .arg(dir.path().join("receipt.cose"))
            .arg(hex::encode(store.log_public_key()))
            .output()
            .expect("python runs")
    };
    let out = run("entry");
    assert!(
        out.status.success(),
        "pycose rejects: {} {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.path().join("other"), &entries[2]).expect("write");
    assert!(
        !run("other").status.success(),
        "pycose accepts a receipt for another entry"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_or_malformed_read_parameters_are_4xx_not_server_errors() {
    let log = TestLog::new();
    let store = log.open();
    for uri in [
        "/log/tile/0/x999/x999/x999/x999/x999/x999/999",
        "/log/tile/entries/x018/x446/x744/x073/x709/x551/615",
        "/log/tile/63/000.p/1",
        "/log/tile/0/000.p/999",
        "/entries/99999999999999999999",
        "/entries/18446744073709551615/receipt",
        "/entries/zz",
        "/entries/0/receipt?format=xml",
        "/search?after=18446744073709551615",
        "/search?limit=0",
        "/search?after=-1",
        "/trace/x?depth=100000",
        "/trace/x?depth=-1",
    ] {
        let (s, b) = call(&store, get(uri)).await;
        assert!(s.is_client_error(), "{uri}: {s}");
        assert!(json(&b)["reason"].is_string(), "{uri} has a JSON reason");
    }
}

struct CoseSigner<'a> {
    key: &'a aws_lc_rs::signature::Ed25519KeyPair,
    public: shinrai_scu::PublicKey,
}

impl shinrai_envelope::Signer for CoseSigner<'_> {
    fn public_key(&self) -> &shinrai_scu::PublicKey {
        &self.public
    }
    fn sign(&self, message: &[u8]) -> Result<shinrai_scu::Signature, shinrai_envelope::Error> {
        Ok(shinrai_scu::Signature {
            algorithm: shinrai_scu::Algorithm::Ed25519,
            bytes: self.key.sign(message).as_ref().to_vec(),
        })
    }
}

fn cose_signer(org: &Org) -> CoseSigner<'_> {
    use aws_lc_rs::signature::KeyPair;
    CoseSigner {
        key: &org.key,
        public: shinrai_scu::PublicKey::from_bytes(
            shinrai_scu::Algorithm::Ed25519,
            org.key.public_key().as_ref(),
        )
        .expect("key"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn registers_cose_sign1_statements_from_scitt_clients() {
    let log = TestLog::new();
    let store = log.open();
    let stmt =
        serde_json::to_vec(&statement("scitt", &hex_of(900), &[&hex_of(899)])).expect("json");
    let signer = cose_signer(&log.org);
    let cose = shinrai_envelope::cose::sign1(
        &stmt,
        "application/vnd.in-toto+json",
        "acme",
        "scitt",
        &signer,
    )
    .expect("sign");
    let (s, b) = call(&store, post(&log.token, "application/cose", cose.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let receipt: Receipt = serde_json::from_value(json(&b)["receipt"].clone()).expect("receipt");
    verify_receipt(&cose, &receipt, &log.log_key).expect("receipt verifies");
    let (_, b) = call(
        &store,
        get(&format!("/search?subject_digest={}", hex_of(900))),
    )
    .await;
    assert_eq!(json(&b)["entries"][0]["issuer_org"], "acme");
    let (_, b) = call(&store, get(&format!("/trace/{}?direction=up", hex_of(900)))).await;
    assert_eq!(json(&b)["edges"].as_array().map(Vec::len), Some(1));

    // Other content types are refused by the default policy; unknown or forged signers too.
    let other = shinrai_envelope::cose::sign1(b"{}", "application/json", "acme", "x", &signer)
        .expect("sign");
    let (s, b) = call(&store, post(&log.token, "application/cose", other)).await;
    assert_eq!(
        (s, json(&b)["error"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, "policy".into())
    );
    let stranger = Org::new();
    let unknown = shinrai_envelope::cose::sign1(
        &stmt,
        "application/vnd.in-toto+json",
        "x",
        "y",
        &cose_signer(&stranger),
    )
    .expect("sign");
    let (s, b) = call(&store, post(&log.token, "application/cose", unknown)).await;
    assert_eq!(
        (s, json(&b)["error"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_signer".into())
    );
    let mut forged = cose.clone();
    let n = forged.len();
    forged[n - 1] ^= 1;
    let (s, b) = call(&store, post(&log.token, "application/cose", forged)).await;
    assert_eq!(
        (s, json(&b)["error"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, "bad_signature".into())
    );
    let (s, _) = call(
        &store,
        post(&log.token, "application/cose", vec![0xd2, 0x84, 0x40]),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(store.checkpoint().size, 1);
    assert_eq!(store.rebuild_index().expect("rebuild"), 1);
    let (_, b) = call(
        &store,
        get(&format!("/search?subject_digest={}", hex_of(900))),
    )
    .await;
    assert_eq!(json(&b)["entries"].as_array().map(Vec::len), Some(1));
}
