//! Shop trust through the `shinrai` binary and a real Mosquitto broker: signed readings ->
//! `ingest mqtt` -> hourly evidence in the trust store; forged, unknown-device, malformed and
//! oversized messages refused and counted; QoS 1 readings sent while the broker restarts all
//! arrive; certification passes and fails with a reason; revocation; `demo shop`.
//!
//! Needs `mosquitto` and `mosquitto_pub` (Debian `mosquitto`, `mosquitto-clients`) and the
//! system broker on 127.0.0.1:1883 (the restart test starts its own broker).

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

const SYSTEM_BROKER: &str = "127.0.0.1:1883";

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET `path` from the server at `base` (http://host:port) and parse the JSON body.
fn get_json(base: &str, path: &str) -> serde_json::Value {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read");
    let text = String::from_utf8_lossy(&resp);
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    // Chunked bodies: take the JSON between the first '{' and the last '}'.
    let start = body.find('{').expect("json body");
    let end = body.rfind('}').expect("json body");
    serde_json::from_str(&body[start..=end]).expect("json")
}

/// The statements (decoded payloads) about `shop` of predicate type `pt`.
fn statements(base: &str, shop: &str, pt: &str) -> Vec<(String, serde_json::Value)> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let enc = |s: &str| s.replace(':', "%3A").replace('/', "%2F");
    let v = get_json(
        base,
        &format!(
            "/search?subject_name={}&predicate_type={}&limit=1000",
            enc(&format!("urn:shinrai:shop:{shop}")),
            enc(pt)
        ),
    );
    v["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let id = e["id"].as_str().expect("id").to_owned();
            let full = get_json(base, &format!("/entries/{id}"));
            let env: serde_json::Value = serde_json::from_slice(
                &b64.decode(full["entry"].as_str().expect("entry"))
                    .expect("b64"),
            )
            .expect("envelope");
            let st: serde_json::Value = serde_json::from_slice(
                &b64.decode(env["payload"].as_str().expect("payload"))
                    .expect("b64"),
            )
            .expect("statement");
            (id, st)
        })
        .collect()
}

/// A trust store with organisations for the ingester, two shops and the certifier.
struct World {
    env: Env,
    _server: Server,
    url: String,
    tokens: std::collections::BTreeMap<String, String>,
}

fn world() -> World {
    let env = Env::new(Backend::Soft);
    let ingest = env.key("ingest", "ed25519");
    let init: serde_json::Value = serde_json::from_str(&env.ok(&[
        "init",
        "--data",
        "store",
        "--org",
        "ingest",
        "--org-key",
        &ingest,
    ]))
    .expect("init json");
    let mut tokens = std::collections::BTreeMap::new();
    tokens.insert(
        "ingest".to_owned(),
        init["token"].as_str().expect("token").to_owned(),
    );
    for org in ["roma", "paris", "certifier"] {
        let key = env.key(org, "ed25519");
        let out: serde_json::Value =
            serde_json::from_str(&env.ok(&["org", "add", "--data", "store", org, "--key", &key]))
                .expect("org json");
        tokens.insert(
            org.to_owned(),
            out["token"].as_str().expect("token").to_owned(),
        );
    }
    let server = serve(&env, "store");
    let url = server.url.clone();
    World {
        env,
        _server: server,
        url,
        tokens,
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Starts `ingest mqtt` and waits until it has subscribed.
fn start_ingest(w: &World, broker: &str, topic: &str, client_id: &str, stop: &[&str]) -> Child {
    let mut cmd = w.env.cmd();
    cmd.args([
        "ingest",
        "mqtt",
        "--broker",
        broker,
        "--topic",
        topic,
        "--client-id",
        client_id,
        "--registry",
        "registry.json",
        "--lateness-secs",
        "0",
        "--server",
        &w.url,
        "--token",
        &w.tokens["ingest"],
        "--key",
        "ingest",
    ])
    .args(stop)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("ingest starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("subscribed to") => break,
            Some(Ok(_)) => continue,
            _ => {
                let out = child.wait_with_output().expect("ingest output");
                panic!(
                    "ingest exited before subscribing: {}",
                    String::from_utf8_lossy(&out.stdout)
                );
            }
        }
    }
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    child
}

fn finish(child: Child) -> serde_json::Value {
    let out = child.wait_with_output().expect("ingest output");
    assert!(
        out.status.success(),
        "ingest failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("ingest prints its counts as JSON")
}

fn sensors(w: &World, broker: &str, prefix: &str, extra: &[&str]) -> serde_json::Value {
    let out = w.env.ok(&[
        &[
            "demo",
            "sensors",
            "--broker",
            broker,
            "--topic-prefix",
            prefix,
            "--registry",
            "registry.json",
            "--client-id",
            &unique("sensors"),
            "--start",
            "2026-11-20T00:00:00Z",
        ][..],
        extra,
    ]
    .concat());
    serde_json::from_str(out.trim()).expect("demo sensors prints JSON")
}

#[test]
fn ingests_signed_readings_refuses_forgeries_and_certifies_passing_and_failing_shops() {
    let w = world();
    let prefix = unique("shinrai-test");
    // The first run writes the registry and device keys and publishes nothing.
    sensors(&w, SYSTEM_BROKER, &prefix, &["--hours", "0"]);
    let topic = format!("{prefix}/shops/+/sensors");
    // 4 shops x 3 hours x 60 samples x 3 readings / 30 per message = 72 signed messages,
    // + a forged one + one from an unknown device + a malformed one + an oversized one.
    let ingest = start_ingest(
        &w,
        SYSTEM_BROKER,
        &topic,
        &unique("ingest"),
        &["--max-messages", "76"],
    );
    let published = sensors(
        &w,
        SYSTEM_BROKER,
        &prefix,
        &[
            "--hours",
            "3",
            "--failure-hours",
            "1..3",
            "--with-forgeries",
        ],
    );
    assert_eq!(published["messages"], 74);
    let roma_topic = format!("{prefix}/shops/trattoria-roma/sensors");
    let big = w.env.write("big.json", &vec![b'x'; 70 * 1024]);
    for args in [vec!["-m", "{\"payload\": 1"], vec!["-f", big.as_str()]] {
        let st = Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                "1883",
                "-q",
                "1",
                "-t",
                &roma_topic,
            ])
            .args(args)
            .status()
            .expect("mosquitto_pub runs");
        assert!(st.success());
    }
    let stats = finish(ingest);
    assert_eq!(stats["messages"], 76, "{stats}");
    assert_eq!(stats["messages_accepted"], 72, "{stats}");
    assert_eq!(stats["readings_accepted"], 2160, "{stats}");
    assert_eq!(stats["refused_bad_signature"], 1, "{stats}");
    assert_eq!(stats["refused_unknown_device"], 1, "{stats}");
    assert_eq!(stats["refused_malformed"], 1, "{stats}");
    assert_eq!(stats["refused_oversized"], 1, "{stats}");
    assert_eq!(stats["events_registered"], 12, "{stats}");
    assert_eq!(stats["readings_registered"], 2160, "{stats}");

    // The published raw readings of trattoria-roma give the figures the evidence must carry.
    let hours = statements(
        &w.url,
        "trattoria-roma",
        "https://shinrai.dev/attestation/epcis-event/v1",
    );
    assert_eq!(hours.len(), 3);
    for (_, st) in &hours {
        let p = &st["predicate"];
        let raw = p["readings"].as_array().expect("published readings");
        assert_eq!(
            raw.len(),
            180,
            "60 samples x 3 quantities; the forged reading is absent"
        );
        for s in p["series"].as_array().expect("series") {
            let vals: Vec<f64> = raw
                .iter()
                .filter(|r| r["type"] == s["type"])
                .map(|r| r["value"].as_f64().expect("value"))
                .collect();
            let min = vals.iter().cloned().fold(f64::INFINITY, f64::min);
            let max = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let mean = ((vals.iter().sum::<f64>() / vals.len() as f64) * 1000.0).round() / 1000.0;
            assert_eq!(s["count"], 60);
            assert_eq!(s["min"].as_f64(), Some(min));
            assert_eq!(s["max"].as_f64(), Some(max));
            assert_eq!(s["mean"].as_f64(), Some(mean));
            let el = p["event"]["sensorElementList"]
                .as_array()
                .expect("EPCIS sensor elements")
                .iter()
                .find(|e| {
                    e["sensorMetadata"]["deviceID"] == s["device"]
                        && e["sensorReport"][0]["maxValue"].as_f64() == Some(max)
                })
                .expect("the EPCIS event carries the same maximum");
            assert_eq!(el["sensorReport"][0]["minValue"].as_f64(), Some(min));
        }
        assert_eq!(st["subject"][0]["name"], "urn:shinrai:shop:trattoria-roma");
    }
    // Shops that do not publish get aggregates only.
    let paris = statements(
        &w.url,
        "bistro-paris",
        "https://shinrai.dev/attestation/epcis-event/v1",
    );
    assert_eq!(paris.len(), 3);
    assert!(
        paris
            .iter()
            .all(|(_, st)| st["predicate"].get("readings").is_none())
    );

    // Hygiene records, the certifier's spec, certification.
    for (org, shop) in [("roma", "trattoria-roma"), ("paris", "bistro-paris")] {
        w.env.ok(&[
            "shop",
            "hygiene",
            "--shop",
            shop,
            "--date",
            "2026-11-20",
            "--done",
            "handwash-stations,fridge-temperatures,surfaces-sanitised,pest-control",
            "--by",
            "staff-2",
            "--server",
            &w.url,
            "--token",
            &w.tokens[org],
            "--key",
            org,
        ]);
    }
    w.env.ok(&[
        "shop",
        "spec",
        "--ingester-key",
        "ingest.pub.json",
        "--shop-key",
        "trattoria-roma=roma.pub.json",
        "--shop-key",
        "bistro-paris=paris.pub.json",
        "--key",
        "certifier",
        "--out",
        "spec.dsse.json",
    ]);
    let certify = |shop: &str| {
        w.env.run(&[
            "shop",
            "certify",
            "--shop",
            shop,
            "--spec",
            "spec.dsse.json",
            "--from",
            "2026-11-20T00:00:00Z",
            "--to",
            "2026-11-20T03:00:00Z",
            "--server",
            &w.url,
            "--token",
            &w.tokens["certifier"],
            "--key",
            "certifier",
        ])
    };
    let pass = certify("trattoria-roma");
    let (code, text) = outcome(&pass);
    assert_eq!(code, Some(0), "{text}");
    let pass: serde_json::Value = serde_json::from_slice(&pass.stdout).expect("json");
    assert_eq!(pass["result"], "PASSED");
    let cert_id = pass["certificate"]
        .as_str()
        .expect("certificate id")
        .to_owned();

    let fail = certify("bistro-paris");
    let (code, text) = outcome(&fail);
    assert_eq!(code, Some(1), "a failing period exits 1: {text}");
    let fail: serde_json::Value = serde_json::from_slice(&fail.stdout).expect("json");
    assert_eq!(fail["result"], "FAILED");
    assert!(fail["certificate"].is_null());
    let reasons = fail["reasons"].to_string();
    assert!(
        reasons.contains("co2-hourly-max") && reasons.contains("ppm"),
        "{reasons}"
    );

    // No hygiene record and a key the spec does not know: FAILED with the hygiene reason.
    let (code, text) = outcome(&certify("sushi-kyoto"));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("hygiene-daily") && text.contains("no hygiene record"),
        "{text}"
    );

    let vsas = statements(
        &w.url,
        "trattoria-roma",
        "https://slsa.dev/verification_summary/v1",
    );
    let (_, cert) = vsas
        .iter()
        .find(|(id, _)| id == &cert_id)
        .expect("certificate registered");
    assert_eq!(cert["predicate"]["verificationResult"], "PASSED");
    assert!(cert["predicate"]["validity"]["notAfter"].is_string());
    assert_eq!(cert["predicate"]["period"]["start"], "2026-11-20T00:00:00Z");
    let failed = statements(
        &w.url,
        "bistro-paris",
        "https://slsa.dev/verification_summary/v1",
    );
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].1["predicate"]["verificationResult"], "FAILED");
    assert!(failed[0].1["predicate"].get("validity").is_none());

    // Revocation: only the certifier's key revokes.
    let (code, text) = outcome(&w.env.run(&[
        "shop",
        "revoke",
        "--certificate",
        &cert_id,
        "--reason",
        "x",
        "--server",
        &w.url,
        "--token",
        &w.tokens["ingest"],
        "--key",
        "ingest",
    ]));
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.contains("not a VSA signed by this certifier"),
        "{text}"
    );
    w.env.ok(&[
        "shop",
        "revoke",
        "--certificate",
        &cert_id,
        "--reason",
        "ventilation inspection failed",
        "--server",
        &w.url,
        "--token",
        &w.tokens["certifier"],
        "--key",
        "certifier",
    ]);
    let revs = statements(
        &w.url,
        "trattoria-roma",
        "https://shinrai.dev/attestation/revocation/v1",
    );
    assert_eq!(revs.len(), 1);
    assert_eq!(revs[0].1["predicate"]["revokes"], cert_id.as_str());
}

/// A Mosquitto broker of this test, with persistence, on a free port.
struct Broker {
    proc: Option<Proc>,
    port: u16,
    conf: std::path::PathBuf,
}

impl Broker {
    fn start(dir: &std::path::Path) -> Broker {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let data = dir.join("mosquitto-data");
        std::fs::create_dir_all(&data).expect("dir");
        let conf = dir.join("mosquitto.conf");
        // Started as root, mosquitto drops to user `mosquitto`, which cannot write into our
        // private temp dir (persistence would silently fail): keep the current user.
        let me = Command::new("id").arg("-un").output().expect("id runs");
        let me = String::from_utf8_lossy(&me.stdout).trim().to_owned();
        std::fs::write(
            &conf,
            format!(
                "user {me}\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {}/\nautosave_interval 1\nmax_queued_messages 100000\n",
                data.display()
            ),
        )
        .expect("conf");
        let mut b = Broker {
            proc: None,
            port,
            conf,
        };
        b.restart();
        b
    }

    fn restart(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts (apt-get install mosquitto)");
        self.proc = Some(Proc(child));
        // Wait until it accepts connections.
        for _ in 0..500 {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("mosquitto did not start on port {}", self.port);
    }

    /// Stops the broker with SIGTERM (it saves its persistence database) and waits.
    fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let pid = p.0.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let _ = p.0.wait();
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

#[test]
fn qos1_readings_sent_during_a_broker_restart_all_arrive() {
    let w = world();
    let mut broker = Broker::start(w.env.dir.path());
    let prefix = unique("shinrai-restart");
    sensors(
        &w,
        &broker.addr(),
        &prefix,
        &["--hours", "0", "--shops", "2"],
    );
    // 2 shops x 6 hours x 60 samples x 3 readings = 2160 readings in 72 messages.
    let ingest = start_ingest(
        &w,
        &broker.addr(),
        &format!("{prefix}/shops/+/sensors"),
        &unique("ingest"),
        &["--max-readings", "2160"],
    );
    let publisher = w
        .env
        .cmd()
        .args([
            "demo",
            "sensors",
            "--broker",
            &broker.addr(),
            "--topic-prefix",
            &prefix,
            "--registry",
            "registry.json",
            "--client-id",
            &unique("sensors"),
            "--start",
            "2026-11-20T00:00:00Z",
            "--hours",
            "6",
            "--pause-every",
            "4",
            "--pause-ms",
            "100",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("publisher starts");
    // Restart the broker while the publisher is mid-stream (it needs about 1.8 s in all).
    std::thread::sleep(std::time::Duration::from_millis(400));
    broker.stop();
    std::thread::sleep(std::time::Duration::from_millis(300));
    broker.restart();
    let out = publisher.wait_with_output().expect("publisher output");
    assert!(out.status.success(), "publisher failed");
    let published: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(published["acknowledged"], 72);
    let stats = finish(ingest);
    assert_eq!(stats["readings_accepted"], 2160, "{stats}");
    assert_eq!(stats["readings_registered"], 2160, "{stats}");
    assert_eq!(stats["events_registered"], 12, "{stats}");
    assert_eq!(stats["refused_bad_signature"], 0, "{stats}");
    broker.stop();
}

#[test]
fn bad_input_gives_clear_errors() {
    let env = Env::new(Backend::Soft);
    env.write(
        "registry.json",
        b"{\"shops\": [{\"id\": \"Bad Id\", \"name\": \"x\"}]}",
    );
    let (code, text) = outcome(&env.run(&[
        "ingest",
        "mqtt",
        "--registry",
        "registry.json",
        "--server",
        "http://127.0.0.1:9",
        "--token",
        "t",
        "--key",
        "k",
    ]));
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.contains("device registry") && !text.contains("panicked"),
        "{text}"
    );
    let (code, text) = outcome(&env.run(&[
        "shop",
        "hygiene",
        "--shop",
        "roma",
        "--date",
        "2026-13-40",
        "--done",
        "a",
        "--server",
        "http://127.0.0.1:9",
        "--token",
        "t",
        "--key",
        "k",
    ]));
    assert_ne!(code, Some(0));
    assert!(
        text.contains("YYYY-MM-DD") && !text.contains("panicked"),
        "{text}"
    );
    let (code, text) = outcome(&env.run(&[
        "shop",
        "certify",
        "--shop",
        "roma",
        "--spec",
        "missing.json",
        "--from",
        "2026-11-20",
        "--to",
        "2026-11-19",
        "--server",
        "http://127.0.0.1:9",
        "--token",
        "t",
        "--key",
        "k",
    ]));
    assert_ne!(code, Some(0));
    assert!(
        text.contains("missing.json") && !text.contains("panicked"),
        "{text}"
    );
}

#[test]
fn demo_shop_prints_the_urls_of_a_certified_and_the_failing_shop() {
    let env = Env::new(Backend::Soft);
    let out = env.ok(&["demo", "shop", "--hours", "24"]);
    assert!(out.contains("certified shop: http://127.0.0.1:"), "{out}");
    assert!(out.contains("/shops/bistro-paris"), "{out}");
    assert!(out.contains("bistro-paris: FAILED"), "{out}");
    assert!(out.contains("PASSED, certificate"), "{out}");
}
