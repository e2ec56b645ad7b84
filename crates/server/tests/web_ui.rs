//! The web UI in a real browser: headless Chromium (Debian `chromium`) opens the pages served by
//! the server over a real store and we read the DOM after the pages' scripts ran
//! (`--dump-dom`), i.e. what a consumer sees, including the in-browser verification result.
//!
//! The store holds a certified shop, a failing shop (no certificate, reasons shown), a revoked
//! one, a shop whose certificate bytes were altered in the database after registration (must show
//! "not verified"), a small supply chain with verification summaries, a device's attestation
//! results and monitor alerts. Screenshots go to `docs/screenshots/`.
//!
//! Chromium is `$SHINRAI_CHROMIUM` or `chromium` on the PATH; the test fails (not skips) without.

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use shinrai_server::{AppState, serve};
use shinrai_store::Store;

use common::*;

const VSA: &str = "https://slsa.dev/verification_summary/v1";

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(digest(&SHA256, b).as_ref())
}

fn shop_subject(id: &str) -> Value {
    let name = format!("urn:shinrai:shop:{id}");
    json!({"name": name, "digest": {"sha256": sha256_hex(name.as_bytes())}})
}

fn stmt(subjects: Vec<Value>, predicate_type: &str, predicate: Value) -> Value {
    json!({"_type": "https://in-toto.io/Statement/v1", "subject": subjects,
        "predicateType": predicate_type, "predicate": predicate})
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .expect("ns")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

struct World {
    store: Store,
    log: TestLog,
    shop_org: Org,
    certifier: Org,
    monitor_org: Org,
    tampered_index: u64,
}

/// Registers `entry` as `org` and returns its log index.
fn register(store: &Store, entry: &[u8], org: &str) -> u64 {
    store
        .register_blocking(entry, org)
        .unwrap_or_else(|e| panic!("register as {org}: {e}"))
        .log_index
}

/// Hourly CO2 and temperature evidence built with the ingestion's own types
/// (`shinrai_evidence::shop::HourlyEvidence`), three failing hours from `peak_at`.
fn hourly_events(shop: &str, hours: u32, peak_at: Option<u32>, publish: bool) -> Vec<Value> {
    use shinrai_evidence::sensor::{HourWindow, Quantity, Reading, Stats};
    use shinrai_evidence::shop::HourlyEvidence;
    const HOUR_MS: i64 = 3_600_000;
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let first = (now_ms / HOUR_MS - i64::from(hours)) * HOUR_MS;
    let device = format!("urn:shinrai:device:{shop}-co2-1");
    (0..hours)
        .map(|h| {
            let start = first + i64::from(h) * HOUR_MS;
            let base = 520.0 + 180.0 * ((f64::from(h) / 24.0) * std::f64::consts::TAU).sin().abs();
            let max = match peak_at {
                Some(p) if (p..p + 3).contains(&h) => 1380.0 + f64::from(h - p) * 40.0,
                _ => base + 90.0,
            };
            let mut series = std::collections::BTreeMap::new();
            series.insert(
                (device.clone(), Quantity::Co2),
                Stats {
                    min: base - 80.0,
                    max,
                    sum: base * 60.0,
                    count: 60,
                },
            );
            series.insert(
                (device.clone(), Quantity::Temperature),
                Stats {
                    min: 20.5,
                    max: 22.0,
                    sum: 21.2 * 60.0,
                    count: 60,
                },
            );
            let readings = if publish {
                vec![(
                    device.clone(),
                    Reading {
                        t: start + 1_800_000,
                        kind: Quantity::Co2,
                        value: max,
                    },
                )]
            } else {
                Vec::new()
            };
            let w = HourWindow {
                shop: shop.to_owned(),
                start_ms: start,
                series,
                readings,
            };
            let st = HourlyEvidence::from_window(&w)
                .and_then(|e| e.to_statement())
                .expect("hourly evidence");
            serde_json::to_value(&st).expect("json")
        })
        .collect()
}

fn vsa(shop: &str, spec_id: &str, passed: bool, failures: Value) -> Value {
    let now = time::OffsetDateTime::now_utc();
    stmt(
        vec![shop_subject(shop)],
        VSA,
        json!({
            "verifier": {"id": "https://certifier.example/shinrai"},
            "timeVerified": rfc3339(now),
            "resourceUri": format!("urn:shinrai:shop:{shop}"),
            "policy": {"uri": "https://certifier.example/specs/restaurant-air-hygiene/v1", "digest": {"sha256": spec_id}},
            "inputAttestations": [],
            "verificationResult": if passed { "PASSED" } else { "FAILED" },
            "verifiedLevels": if passed { json!(["SHINRAI_CONFORMITY_PASSED"]) } else { json!([]) },
            "failures": failures,
            "validity": {"notBefore": rfc3339(now - Duration::from_secs(3600)),
                         "notAfter": rfc3339(now + Duration::from_secs(30 * 86400))},
            "period": {"start": rfc3339(now - Duration::from_secs(72 * 3600)), "end": rfc3339(now)}
        }),
    )
}

fn profile(id: &str, name: &str, publish: bool) -> Value {
    let p = shinrai_evidence::shop::ShopProfile {
        id: id.to_owned(),
        name: name.to_owned(),
        address: "Marktgasse 3, 3011 Bern".to_owned(),
        publish_readings: publish,
    };
    serde_json::to_value(p.to_statement().expect("profile")).expect("json")
}

fn build_world() -> World {
    let log = TestLog::new();
    let shop_org = Org::new();
    let certifier = Org::new();
    let monitor_org = Org::new();
    {
        let admin = shinrai_store::Admin::open(log.dir.path()).expect("admin");
        admin
            .add_org("gastro", Some(shop_org.key_json.as_bytes()))
            .expect("org");
        admin
            .add_org("certifier", Some(certifier.key_json.as_bytes()))
            .expect("org");
        admin
            .add_org("ot-monitor", Some(monitor_org.key_json.as_bytes()))
            .expect("org");
    }
    let store = log.open();

    // The certifier's specification (its digest is what the certificates name).
    let spec = certifier.sign(&stmt(
        vec![json!({"name": "restaurant-air-hygiene", "digest": {"sha256": sha256_hex(b"spec")}})],
        "https://shinrai.dev/attestation/order-spec/v1",
        json!({"name": "restaurant-air-hygiene", "rules": [
            {"name": "co2-hourly-max", "cel": "events.all(e, e.co2.max < params.co2MaxPpm)"},
            {"name": "hygiene-daily", "cel": "days.all(d, d.hygiene.complete)"}],
            "params": {"co2MaxPpm": 1000}}),
    ));
    register(&store, &spec, "certifier");
    let spec_id = sha256_hex(&spec);

    // Certified shop: readings published.
    register(
        &store,
        &shop_org.sign(&profile("trattoria-verde", "Trattoria Verde", true)),
        "gastro",
    );
    for e in hourly_events("trattoria-verde", 72, None, true) {
        register(&store, &certifier.sign(&e), "certifier");
    }
    for d in 0..3 {
        let rec = stmt(
            vec![shop_subject("trattoria-verde")],
            "https://shinrai.dev/attestation/hygiene-record/v1",
            json!({"shop": "trattoria-verde", "date": format!("2026-11-{:02}", 20 + d),
                   "checks": [{"item": "fridge below 5 C", "done": true, "by": "mr", "at": "08:00"}]}),
        );
        register(&store, &shop_org.sign(&rec), "gastro");
    }
    register(
        &store,
        &certifier.sign(&vsa("trattoria-verde", &spec_id, true, json!([]))),
        "certifier",
    );

    // Failing shop: ventilation failed for three hours; FAILED verdict with reasons.
    register(
        &store,
        &shop_org.sign(&profile("bistro-grau", "Bistro Grau", false)),
        "gastro",
    );
    for e in hourly_events("bistro-grau", 72, Some(40), false) {
        register(&store, &certifier.sign(&e), "certifier");
    }
    let failures = json!([{"check": "rule:co2-hourly-max", "evidence": ["hour 40"],
        "value": "CO2 max=1460 ppm", "reason": "CO2 hourly maximum above 1000 ppm for 3 hours"}]);
    register(
        &store,
        &certifier.sign(&vsa("bistro-grau", &spec_id, false, failures)),
        "certifier",
    );

    // Revoked certificate.
    register(
        &store,
        &shop_org.sign(&profile("kebab-ost", "Kebab Ost", false)),
        "gastro",
    );
    let cert = certifier.sign(&vsa("kebab-ost", &spec_id, true, json!([])));
    register(&store, &cert, "certifier");
    let revocation = stmt(
        vec![
            shop_subject("kebab-ost"),
            json!({"name": "certificate", "digest": {"sha256": sha256_hex(&cert)}}),
        ],
        "https://shinrai.dev/attestation/revocation/v1",
        json!({"revokes": sha256_hex(&cert), "reason": "hygiene inspection failed on 2026-11-25"}),
    );
    register(&store, &certifier.sign(&revocation), "certifier");

    // A certificate that will be altered in the database after registration.
    register(
        &store,
        &shop_org.sign(&profile("cafe-blau", "Café Blau", false)),
        "gastro",
    );
    for e in hourly_events("cafe-blau", 24, None, false) {
        register(&store, &certifier.sign(&e), "certifier");
    }
    let tampered_index = register(
        &store,
        &certifier.sign(&vsa("cafe-blau", &spec_id, true, json!([]))),
        "certifier",
    );

    // A supply chain: product <- (part-a <- raw-c), part-b; summaries PASSED, PASSED, FAILED.
    let (p, a, b, c) = (hex_of(100), hex_of(101), hex_of(102), hex_of(103));
    register(
        &store,
        &log.org.sign(&statement("product", &p, &[&a, &b])),
        "acme",
    );
    register(
        &store,
        &log.org.sign(&statement("part-a", &a, &[&c])),
        "acme",
    );
    for (name, d, ok) in [
        ("product", &p, true),
        ("part-a", &a, true),
        ("part-b", &b, false),
    ] {
        let v = stmt(
            vec![json!({"name": name, "digest": {"sha256": d}})],
            VSA,
            json!({"verifier": {"id": "https://certifier.example/shinrai"}, "timeVerified": "2026-11-25T10:00:00Z",
                "resourceUri": name, "policy": {"uri": "spec", "digest": {"sha256": spec_id}},
                "inputAttestations": [], "verificationResult": if ok { "PASSED" } else { "FAILED" },
                "verifiedLevels": []}),
        );
        register(&store, &certifier.sign(&v), "certifier");
    }

    // A device's attestation results.
    for (i, status) in ["affirming", "affirming", "contraindicated"]
        .iter()
        .enumerate()
    {
        let r = stmt(
            vec![json!({"name": "device:acme/gw-1/0001", "digest": {"sha256": hex_of(200)}})],
            "https://shinrai.dev/attestation/device-result/v1",
            json!({"eat_profile": "tag:github.com,2023:veraison/ear", "iat": 1_764_000_000 + i as i64 * 3600,
                "ear.verifier-id": {"build": "shinrai", "developer": "shinrai"},
                "submods": {"gw-1": {"ear.status": status}}}),
        );
        register(&store, &log.org.sign(&r), "acme");
    }

    // Monitor alerts (EVE JSON) on two links and a configuration change.
    let alerts = [
        (
            "2026-11-26T10:00:01.250000+0000",
            "10.77.0.2",
            0.42,
            "timing",
            vec![],
            None,
        ),
        (
            "2026-11-26T10:05:00.000000+0000",
            "10.77.0.2",
            0.81,
            "not_standard_command",
            vec![7u32],
            Some(vec![0u8, 1, 0, 0, 0, 6, 1, 0x2b, 0, 0, 0, 2]),
        ),
        (
            "2026-11-26T10:07:30.000000+0000",
            "10.77.0.3",
            0.65,
            "unusual_value",
            vec![9, 10],
            Some(vec![0u8, 2, 0, 0, 0, 6, 1, 6, 0, 1, 0x27, 0x10]),
        ),
        (
            "2026-11-26T10:12:00.000000+0000",
            "10.77.0.2",
            0.93,
            "not_in_work_plan",
            vec![7],
            None,
        ),
    ];
    for (ts, src, score, cause, offsets, payload) in alerts {
        let mut a = json!({"timestamp": ts, "event_type": "anomaly", "src_ip": src, "src_port": 40112,
            "dest_ip": "10.77.0.11", "dest_port": 502, "proto": "TCP",
            "anomaly": {"score": score, "causes": [cause], "payload_offsets": offsets,
              "detail": format!("{cause} on Modbus/TCP"), "link": format!("{src} -> 10.77.0.11 tcp/502"),
              "violations": offsets.iter().map(|o| json!({"offset": o, "name": "function code", "expected": "{0x03,0x06}", "seen": "0x2b"})).collect::<Vec<_>>()}});
        if let Some(p) = payload {
            a["payload"] = json!(B64.encode(p));
        }
        let link = format!("urn:shinrai:link:{src}-10.77.0.11-tcp-502");
        let s = stmt(
            vec![json!({"name": link, "digest": {"sha256": sha256_hex(link.as_bytes())}})],
            "https://shinrai.dev/attestation/monitor-alert/v1",
            a,
        );
        register(&store, &monitor_org.sign(&s), "ot-monitor");
    }
    let change = json!({"timestamp": "2026-11-26T10:09:00.000000+0000", "event_type": "config_change",
        "src_ip": "10.77.0.9", "dest_ip": "10.77.0.11", "dest_port": 502, "proto": "TCP",
        "config_change": {"score": 1.0, "causes": ["new_device"], "payload_offsets": [],
          "detail": "new device 10.77.0.9 (02:00:00:00:00:09)", "link": "10.77.0.9 -> 10.77.0.11 tcp/502"}});
    let s = stmt(
        vec![json!({"name": "urn:shinrai:link:10.77.0.9", "digest": {"sha256": hex_of(300)}})],
        "https://shinrai.dev/attestation/monitor-alert/v1",
        change,
    );
    register(&store, &monitor_org.sign(&s), "ot-monitor");
    World {
        store,
        log,
        shop_org,
        certifier,
        monitor_org,
        tampered_index,
    }
}

/// Alters the stored bytes of the entry at `index` the way an attacker with database access
/// would: the certificate's validity is extended by a year, the envelope stays well-formed.
fn tamper(dir: &Path, index: u64) {
    let db = rusqlite::Connection::open(dir.join("store.db")).expect("db");
    let body: Vec<u8> = db
        .query_row(
            "SELECT body FROM entries WHERE idx = ?1",
            [index as i64],
            |r| r.get(0),
        )
        .expect("entry");
    let mut env: Value = serde_json::from_slice(&body).expect("envelope");
    let payload = B64
        .decode(env["payload"].as_str().expect("payload"))
        .expect("b64");
    let mut st: Value = serde_json::from_slice(&payload).expect("statement");
    let na = st["predicate"]["validity"]["notAfter"]
        .as_str()
        .expect("notAfter")
        .to_owned();
    let year: i32 = na[..4].parse().expect("year");
    st["predicate"]["validity"]["notAfter"] = json!(format!("{}{}", year + 1, &na[4..]));
    env["payload"] = json!(B64.encode(serde_json::to_vec(&st).expect("json")));
    let altered = serde_json::to_vec(&env).expect("json");
    let n = db
        .execute(
            "UPDATE entries SET body = ?1 WHERE idx = ?2",
            rusqlite::params![altered, index as i64],
        )
        .expect("update");
    assert_eq!(n, 1);
}

fn chromium() -> String {
    let bin = std::env::var("SHINRAI_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let ok = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "headless Chromium is needed: apt-get install chromium (or set SHINRAI_CHROMIUM)"
    );
    bin
}

/// Runs headless Chromium on `url` with `extra` arguments; returns stdout. A guard kills a
/// browser that hangs (not a timing assertion: the budget is generous).
fn run_chromium(url: &str, extra: &[String]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish with {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().expect("reader")
}

fn dump_dom(url: &str) -> String {
    run_chromium(url, &["--dump-dom".into()])
}

fn screenshot(url: &str, name: &str, height: u32) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots dir");
    let file = dir.join(name);
    let _ = std::fs::remove_file(&file);
    run_chromium(
        url,
        &[
            format!("--screenshot={}", file.display()),
            format!("--window-size=1280,{height}"),
        ],
    );
    let png = std::fs::read(&file).unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
}

/// The start of a dumped page, for failure messages (without the long SVG paths).
fn excerpt(dom: &str) -> String {
    let cut = dom.find("id=\"qr\"").map_or(0, |q| q + 3);
    let rest = &dom[cut..];
    let rest = rest.find("</svg>").map_or(rest, |e| &rest[e..]);
    rest.chars().take(4000).collect()
}

/// The text of the element with `id` in dumped HTML (tags stripped).
fn text_of(dom: &str, id: &str) -> String {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element #{id} in:\n{}", excerpt(dom)));
    let open_end = start + dom[start..].find('>').expect("tag end") + 1;
    let tag_start = dom[..start].rfind('<').expect("tag start");
    let tag: String = dom[tag_start + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    // Good enough for the leaf-ish elements checked here: up to the matching close tag.
    let mut depth = 1;
    let mut i = open_end;
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    while depth > 0 {
        let next_open = dom[i..].find(&open).map(|p| p + i);
        let next_close = dom[i..].find(&close).map(|p| p + i).expect("close tag");
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                i = o + open.len();
            }
            _ => {
                depth -= 1;
                i = next_close + close.len();
            }
        }
    }
    let inner = &dom[open_end..i - close.len()];
    let mut out = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn pages_verify_in_a_real_browser() {
    let world = build_world();
    tamper(world.log.dir.path(), world.tampered_index);
    let _ = (&world.shop_org, &world.certifier, &world.monitor_org);
    let store = world.store.clone();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(serve(AppState::new(store), listener, async {
        let _ = stop_rx.await;
    }));
    let base = format!("http://{addr}");

    // Certified shop: valid, verified in the browser, chart, readings published, QR code.
    let dom = dump_dom(&format!("{base}/shops/trattoria-verde"));
    assert_eq!(text_of(&dom, "shop-name"), "Trattoria Verde");
    assert_eq!(text_of(&dom, "status"), "valid", "{}", excerpt(&dom));
    assert_eq!(
        text_of(&dom, "verify"),
        "Verified in your browser: signature ✓, receipt ✓"
    );
    assert!(dom.contains("data-verified=\"true\""));
    let steps = text_of(&dom, "verify-log");
    assert!(steps.contains("inclusion proof"), "{steps}");
    assert!(
        steps.contains("checkpoint signed by the log key"),
        "{steps}"
    );
    assert!(dom.contains("id=\"chart\""), "chart drawn");
    assert_eq!(dom.matches("<polyline").count(), 2);
    assert!(dom.contains("https://certifier.example/specs/restaurant-air-hygiene/v1"));
    assert!(text_of(&dom, "readings").contains("urn:shinrai:device:trattoria-verde-co2-1"));
    assert!(dom.contains("id=\"qr\""));
    assert!(dom.contains(&format!(
        "aria-label=\"QR code: {base}/shops/trattoria-verde\""
    )));

    // Failing shop: no certificate, the certifier's reason shown, the FAILED verdict verified,
    // readings not published.
    let dom = dump_dom(&format!("{base}/shops/bistro-grau"));
    assert_eq!(text_of(&dom, "status"), "none");
    assert!(
        text_of(&dom, "status-reason")
            .contains("CO2 hourly maximum above 1000 ppm for 3 hours (CO2 max=1460 ppm)")
    );
    assert_eq!(
        text_of(&dom, "verify"),
        "Verified in your browser: signature ✓, receipt ✓"
    );
    assert!(dom.contains("id=\"readings-private\""));
    assert!(
        dom.contains("peak 1460 ppm"),
        "the failing hours are in the chart"
    );

    // Revoked.
    let dom = dump_dom(&format!("{base}/shops/kebab-ost"));
    assert_eq!(text_of(&dom, "status"), "revoked");
    assert!(text_of(&dom, "status-reason").contains("hygiene inspection failed"));

    // Tampered certificate: the server's index still says PASSED, the browser says no.
    let dom = dump_dom(&format!("{base}/shops/cafe-blau"));
    assert_eq!(text_of(&dom, "status"), "not verified", "{}", excerpt(&dom));
    let v = text_of(&dom, "verify");
    assert!(
        v.starts_with("Not verified (signature ✗, receipt ✗)"),
        "{v}"
    );
    assert!(dom.contains("data-verified=\"false\""));

    // Unknown and malformed shops.
    let dom = dump_dom(&format!("{base}/shops/nobody-here"));
    assert!(text_of(&dom, "not-found").contains("holds nothing about shop"));

    // Explorer: a search by issuer lists the certifier's entries with links to entry pages.
    let dom = dump_dom(&format!(
        "{base}/ui/?issuer=certifier&predicate_type={}",
        "https%3A%2F%2Fslsa.dev%2Fverification_summary%2Fv1"
    ));
    let summary = text_of(&dom, "summary");
    assert!(summary.starts_with("7 entries"), "{summary}");
    assert!(dom.contains("href=\"/ui/entry/"));

    // Entry page: statement pretty-printed, signer, receipt, checks passed; the tampered one fails.
    let dom = dump_dom(&format!("{base}/ui/entry/0"));
    assert_eq!(
        text_of(&dom, "verify"),
        "Verified in your browser: signature ✓, receipt ✓"
    );
    assert!(
        text_of(&dom, "statement")
            .contains("\"predicateType\": \"https://shinrai.dev/attestation/order-spec/v1\"")
    );
    assert!(text_of(&dom, "meta").contains("certifier: ed25519"));
    assert!(text_of(&dom, "receipt").contains("inclusion_proof"));
    let dom = dump_dom(&format!("{base}/ui/entry/{}", world.tampered_index));
    assert!(text_of(&dom, "verify").starts_with("Not verified"));

    // Chain view: product <- part-a <- raw, part-b; coloured by verified summaries.
    let chain_url = format!("{base}/ui/chain?digest=sha256:{}", hex_of(100));
    let dom = dump_dom(&chain_url);
    let s = text_of(&dom, "chain-summary");
    assert_eq!(
        s,
        "4 nodes, 3 edges: 2 verified PASSED, 1 failed or not verified",
        "{}",
        excerpt(&dom)
    );
    assert_eq!(dom.matches("data-state=\"ok\"").count(), 2);
    assert_eq!(dom.matches("data-state=\"fail\"").count(), 1);
    assert_eq!(dom.matches("data-state=\"unknown\"").count(), 1);

    // Device page: three results, newest first, each verified.
    let dom = dump_dom(&format!("{base}/ui/device?subject=device:acme/gw-1/0001"));
    assert_eq!(
        text_of(&dom, "device-summary"),
        "3 statements about device:acme/gw-1/0001, 3 attestation results"
    );
    let t = text_of(&dom, "device-table");
    assert_eq!(t.matches("✓ signature, receipt").count(), 3, "{t}");
    assert!(t.contains("contraindicated"));

    // Dashboard: alerts per link, causes and highlighted bytes, the configuration change.
    let dom = dump_dom(&format!("{base}/ui/monitor"));
    assert_eq!(
        text_of(&dom, "monitor-summary"),
        "4 alerts and 1 configuration changes on 3 links, from the trust store"
    );
    assert_eq!(
        dom.matches("<polyline").count(),
        2,
        "one score line per link"
    );
    let alerts = text_of(&dom, "alerts-table");
    assert!(alerts.contains("not_standard_command"));
    assert!(dom.contains("<span class=\"hl\" title=\"offset 7\">2b</span>"));
    assert!(text_of(&dom, "config-changes").contains("new device 10.77.0.9"));

    // No page loads anything from elsewhere: every script and style is same-origin.
    for page in ["/shops/trattoria-verde", "/ui/", "/ui/monitor", "/ui/chain"] {
        let html = rt.block_on(async {
            reqwest::get(format!("{base}{page}"))
                .await
                .expect("get")
                .text()
                .await
                .expect("text")
        });
        assert!(
            !html.contains("src=\"http"),
            "{page} loads an external script"
        );
        assert!(
            !html.contains("href=\"http") || page.starts_with("/shops"),
            "{page}"
        );
        assert!(!html.contains("//cdn"), "{page}");
    }

    // Screenshots for the README.
    screenshot(
        &format!("{base}/shops/trattoria-verde"),
        "shop-certified.png",
        1500,
    );
    screenshot(&format!("{base}/shops/cafe-blau"), "shop-tampered.png", 900);
    screenshot(
        &format!("{base}/shops/bistro-grau"),
        "shop-failing.png",
        1100,
    );
    screenshot(&chain_url, "chain.png", 900);
    screenshot(&format!("{base}/ui/monitor"), "dashboard.png", 1300);

    let _ = stop_tx.send(());
    rt.block_on(server).expect("join").expect("serve");
}
