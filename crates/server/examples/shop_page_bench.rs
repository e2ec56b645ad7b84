//! Shop-page latency with many shops in the store: builds a store of `SHOPS` shops (profile,
//! `HOURS` hourly CO2 events and a PASSED certificate each, all signed and registered), serves it
//! on 127.0.0.1, then fetches `/shops/{id}` for random shops over HTTP and prints p50/p99/max.
//!
//! ```sh
//! cargo run --release -p shinrai-server --example shop_page_bench -- [SHOPS] [HOURS] [REQUESTS]
//! ```
//! Defaults: 10000 shops, 24 hours, 5000 requests from 4 concurrent clients.

use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use shinrai_scu::soft::KdfParams;
use shinrai_server::{AppState, serve};
use shinrai_store::statement::{pae, parse_sslib_key, sslib_ed25519_key};
use shinrai_store::{Config, InitOptions, Store};

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(digest(&SHA256, b).as_ref())
}

struct Signer {
    key: Ed25519KeyPair,
    keyid: String,
}

impl Signer {
    fn sign(&self, st: &Value) -> Vec<u8> {
        let payload = serde_json::to_vec(st).expect("json");
        let ty = "application/vnd.in-toto+json";
        let sig = self.key.sign(&pae(ty, &payload));
        serde_json::to_vec(&json!({"payloadType": ty, "payload": B64.encode(&payload),
            "signatures": [{"keyid": self.keyid, "sig": B64.encode(sig.as_ref())}]}))
        .expect("json")
    }
}

fn shop_statements(i: usize, hours: usize, now: time::OffsetDateTime) -> Vec<Value> {
    let id = format!("shop-{i}");
    let name = format!("urn:shinrai:shop:{id}");
    let subject = json!({"name": name, "digest": {"sha256": sha256_hex(name.as_bytes())}});
    let st = |pt: &str, p: Value| {
        json!({"_type": "https://in-toto.io/Statement/v1", "subject": [subject.clone()],
            "predicateType": pt, "predicate": p})
    };
    let fmt = |t: time::OffsetDateTime| {
        t.replace_nanosecond(0)
            .expect("ns")
            .format(&time::format_description::well_known::Rfc3339)
            .expect("fmt")
    };
    let mut out = vec![st(
        "https://shinrai.dev/attestation/shop/v1",
        json!({"id": id, "name": format!("Shop {i}"), "address": "Bahnhofstrasse 1", "publishReadings": i.is_multiple_of(2)}),
    )];
    for h in 0..hours {
        let t = now - Duration::from_secs(((hours - h) * 3600) as u64);
        let v = 500.0 + ((i * 7 + h * 13) % 400) as f64;
        out.push(st(
            "https://shinrai.dev/attestation/epcis-event/v1",
            json!({"type": "ObjectEvent", "eventTime": fmt(t), "action": "OBSERVE",
                "sensorElementList": [{"sensorMetadata": {"deviceID": format!("urn:dev:{i}")},
                  "sensorReport": [{"type": "gs1:MT-CO2", "minValue": v - 100.0, "maxValue": v, "meanValue": v - 50.0}]}]}),
        ));
    }
    out.push(st(
        "https://slsa.dev/verification_summary/v1",
        json!({"verifier": {"id": "https://certifier.example"}, "timeVerified": fmt(now),
            "resourceUri": name, "policy": {"uri": "spec", "digest": {"sha256": sha256_hex(b"spec")}},
            "inputAttestations": [], "verificationResult": "PASSED", "verifiedLevels": ["SHINRAI_CONFORMITY_PASSED"],
            "validity": {"notBefore": fmt(now - Duration::from_secs(3600)), "notAfter": fmt(now + Duration::from_secs(86400 * 30))},
            "period": {"start": fmt(now - Duration::from_secs((hours * 3600) as u64)), "end": fmt(now)}}),
    ));
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let shops: usize = args.get(1).map_or(Ok(10_000), |s| s.parse())?;
    let hours: usize = args.get(2).map_or(Ok(24), |s| s.parse())?;
    let requests: usize = args.get(3).map_or(Ok(5_000), |s| s.parse())?;

    let dir = tempfile::tempdir()?;
    let key = Ed25519KeyPair::generate()?;
    let key_json = sslib_ed25519_key(key.public_key().as_ref());
    let (keyid, _) = parse_sslib_key(key_json.as_bytes())?;
    Store::init(
        dir.path(),
        InitOptions {
            config: Config::default(),
            org: "certifier".into(),
            org_key_json: key_json.into_bytes(),
            passphrase: None,
            kdf: KdfParams::insecure_fast_for_tests(),
        },
    )?;
    let store = Store::open(dir.path())?;
    let signer = Signer { key, keyid };
    let now = time::OffsetDateTime::now_utc();
    let t0 = Instant::now();
    let mut entries = 0usize;
    for chunk in (0..shops).collect::<Vec<_>>().chunks(500) {
        let mut pending = Vec::new();
        for &i in chunk {
            for st in shop_statements(i, hours, now) {
                pending.push(store.register(&signer.sign(&st), "certifier")?);
            }
        }
        entries += pending.len();
        for p in pending {
            p.wait_blocking()?;
        }
    }
    let load = t0.elapsed();
    eprintln!("loaded {shops} shops, {entries} entries in {load:.1?}");

    let rt = tokio::runtime::Runtime::new()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(serve(AppState::new(store), listener, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let mut lat = rt.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..4usize {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                // A cheap deterministic spread over the shops (no rand dependency).
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ w as u64;
                for _ in 0..requests / 4 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let i = (x % shops as u64) as usize;
                    let t = Instant::now();
                    let r = client
                        .get(format!("http://{addr}/shops/shop-{i}"))
                        .send()
                        .await
                        .expect("request");
                    assert!(r.status().is_success(), "shop-{i}: {}", r.status());
                    let body = r.text().await.expect("body");
                    assert!(body.contains("data-status=\"valid\""), "shop-{i} not valid");
                    lat.push(t.elapsed());
                }
                lat
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("task"));
        }
        all
    });
    lat.sort();
    let _ = stop.send(());
    rt.block_on(server)??;
    println!(
        "{}",
        json!({
            "shops": shops, "hours_per_shop": hours, "entries": entries,
            "load_seconds": load.as_secs_f64(),
            "requests": lat.len(), "concurrency": 4,
            "p50_ms": percentile(&lat, 0.50).as_secs_f64() * 1e3,
            "p99_ms": percentile(&lat, 0.99).as_secs_f64() * 1e3,
            "max_ms": lat.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        })
    );
    Ok(())
}
