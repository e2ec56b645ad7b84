//! `shinrai monitor ...` through the binary: learn, detect, signed models, the bench, and
//! registering alerts in a live trust store.

mod common;
use common::*;

use shinrai_monitor::synth::*;
use std::process::Command;

/// Runs `shinrai ARGS` in `dir`: Ok(stdout) on exit 0, Err(stderr) otherwise.
fn run_in(dir: &std::path::Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_shinrai"))
        .args(args)
        .current_dir(dir)
        .env_remove("SHINRAI_BACKEND")
        .env_remove("RUST_LOG")
        .output()
        .expect("shinrai runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A capture of the synthetic plant with one unusual Modbus function code (0x5a) in it.
fn attack_capture(start: i64) -> Vec<u8> {
    let mut f = normal(start, 200, 900);
    f.push((
        start + 50_000_000,
        tcp(
            HMI_MAC,
            PLC_MAC,
            HMI,
            PLC,
            40000,
            502,
            &mb_req(5, 0x5a, 0, 4),
        ),
    ));
    to_pcap(&f)
}

#[test]
fn learn_then_detect_writes_eve_alert_lines_for_an_attack_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = |n: &str| dir.path().join(n).display().to_string();
    std::fs::write(p("train.pcap"), to_pcap(&normal(T0, 900, 0))).expect("write");
    std::fs::write(p("test.pcap"), attack_capture(T0 + 900 * 1_000_000)).expect("write");
    let d = dir.path();
    run_in(
        d,
        &[
            "monitor",
            "learn",
            "--pcap",
            &p("train.pcap"),
            "--model",
            &p("model.json"),
            "--quiet",
        ],
    )
    .expect("learn");
    run_in(
        d,
        &[
            "monitor",
            "detect",
            "--pcap",
            &p("test.pcap"),
            "--model",
            &p("model.json"),
            "--alerts",
            &p("alerts.jsonl"),
            "--summary",
            &p("summary.json"),
            "--quiet",
        ],
    )
    .expect("detect");
    let text = std::fs::read_to_string(p("alerts.jsonl")).expect("alerts");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let a = &lines[0];
    assert_eq!(a["event_type"], "anomaly");
    assert_eq!(
        a["pcap_cnt"], 103,
        "100 poll frames and one write pair come before it"
    );
    assert_eq!(a["src_ip"], "10.77.0.2");
    assert_eq!(a["dest_port"], 502);
    assert_eq!(a["proto"], "TCP");
    assert_eq!(a["anomaly"]["causes"][0], "not_standard_command");
    assert_eq!(a["anomaly"]["payload_offsets"][0], 7);
    assert!(a["anomaly"]["score"].as_f64().is_some_and(|s| s > 0.5));
    assert!(
        a["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with("+0000"))
    );
    assert!(
        a["payload"].is_string(),
        "the payload travels with the alert"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("summary.json")).expect("s"))
            .expect("json");
    assert_eq!(summary["alerts"], 1);
}

#[test]
fn detect_rejects_a_file_that_is_not_a_model() {
    let dir = tempfile::tempdir().expect("tmp");
    let m = dir.path().join("m.json");
    std::fs::write(&m, "{\"format\":\"other\"}").expect("w");
    let pcap = dir.path().join("t.pcap");
    std::fs::write(&pcap, to_pcap(&normal(T0, 5, 0))).expect("w");
    let err = run_in(
        dir.path(),
        &[
            "monitor",
            "detect",
            "--pcap",
            pcap.to_str().expect("p"),
            "--model",
            m.to_str().expect("p"),
            "--quiet",
        ],
    )
    .expect_err("must fail");
    assert!(err.contains("model"), "{err}");
}

#[test]
fn bench_runs_on_a_small_capture() {
    let dir = tempfile::tempdir().expect("tmp");
    let j = dir.path().join("b.json");
    run_in(
        dir.path(),
        &[
            "bench",
            "monitor",
            "--packets",
            "20000",
            "--json",
            j.to_str().expect("p"),
        ],
    )
    .expect("bench");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&j).expect("r")).expect("json");
    assert_eq!(v["alerts"], 0);
    assert!(v["detect_pps"].as_f64().is_some_and(|x| x > 0.0));
}

#[test]
fn signed_model_is_required_to_verify_with_the_trusted_key() {
    use shinrai_scu::{Algorithm, KeyStore, Purpose, UsagePolicy};
    let dir = tempfile::tempdir().expect("tmp");
    let p = |n: &str| dir.path().join(n).display().to_string();
    let store = shinrai_scu::soft::SoftKeyStore::create(p("ks.json"), "pw").expect("store");
    let policy =
        UsagePolicy::new([Purpose::new("monitor-model").expect("purpose")]).expect("policy");
    store
        .generate("analysis", Algorithm::Ed25519, policy)
        .expect("key");
    let pk = store.public_key("analysis").expect("pk");
    std::fs::write(p("pk.json"), serde_json::to_string(&pk).expect("json")).expect("w");
    drop(store);
    std::fs::write(p("train.pcap"), to_pcap(&normal(T0, 120, 0))).expect("write");
    std::fs::write(p("pin"), "pw\n").expect("w");
    let (model, pin, ks) = (p("model.dsse"), p("pin"), p("ks.json"));
    run_in(
        dir.path(),
        &[
            "monitor",
            "learn",
            "--pcap",
            &p("train.pcap"),
            "--model",
            &model,
            "--sign-key",
            "analysis",
            "--keystore",
            &ks,
            "--pin-file",
            &pin,
            "--quiet",
        ],
    )
    .expect("learn and sign");
    let ok = [
        "monitor",
        "detect",
        "--pcap",
        &p("train.pcap"),
        "--model",
        &model,
        "--alerts",
        &p("a.jsonl"),
        "--quiet",
    ];
    let err = run_in(dir.path(), &ok).expect_err("a signed model needs --trusted-key");
    assert!(err.contains("trusted-key"), "{err}");
    let mut with_key = ok.to_vec();
    let key = p("pk.json");
    with_key.extend(["--trusted-key", key.as_str()]);
    run_in(dir.path(), &with_key).expect("verified model is used");
    let text = std::fs::read_to_string(&model)
        .expect("r")
        .replace("\"payload\":\"", "\"payload\":\"A");
    std::fs::write(&model, text).expect("w");
    assert!(
        run_in(dir.path(), &with_key).is_err(),
        "an altered envelope is refused"
    );
}

#[test]
fn alerts_are_registered_in_the_trust_store_and_bad_input_registers_nothing() {
    let env = Env::new(Backend::Soft);
    let p = |n: &str| env.path(n).display().to_string();
    let public = env.key("ot-monitor", "ed25519");
    let init: serde_json::Value = serde_json::from_str(&env.ok(&[
        "init",
        "--data",
        "store",
        "--org",
        "ot-monitor",
        "--org-key",
        &public,
    ]))
    .expect("init prints JSON");
    let token = init["token"].as_str().expect("token").to_owned();
    let server = serve(&env, "store");

    std::fs::write(p("train.pcap"), to_pcap(&normal(T0, 900, 0))).expect("write");
    std::fs::write(p("test.pcap"), attack_capture(T0 + 900 * 1_000_000)).expect("write");
    env.ok(&[
        "monitor",
        "learn",
        "--pcap",
        &p("train.pcap"),
        "--model",
        &p("model.json"),
        "--quiet",
    ]);
    env.ok(&[
        "monitor",
        "detect",
        "--pcap",
        &p("test.pcap"),
        "--model",
        &p("model.json"),
        "--alerts",
        &p("alerts.jsonl"),
        "--quiet",
    ]);
    let register = |file: &str, token: &str| {
        env.run(&[
            "monitor",
            "register",
            "--alerts",
            file,
            "--key",
            "ot-monitor",
            "--server",
            &server.url,
            "--store-token",
            token,
        ])
    };
    let search = || -> Vec<serde_json::Value> {
        let out = env.ok(&[
            "search",
            "--server",
            &server.url,
            "--predicate-type",
            "https://shinrai.dev/attestation/monitor-alert/v1",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("search JSON");
        v["entries"].as_array().cloned().unwrap_or_default()
    };

    // A file with a malformed line registers nothing, not even its good lines.
    let good = std::fs::read_to_string(p("alerts.jsonl")).expect("alerts");
    std::fs::write(p("bad.jsonl"), format!("{good}{{\"not\": \"an alert\"}}\n")).expect("w");
    let (code, text) = outcome(&register(&p("bad.jsonl"), &token));
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("line 2"), "the bad line is named: {text}");
    // A wrong token is refused by the store.
    let (code, text) = outcome(&register(&p("alerts.jsonl"), "not-a-token"));
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("401"), "{text}");
    assert!(search().is_empty(), "nothing registered by failed runs");

    let out = register(&p("alerts.jsonl"), &token);
    assert!(out.status.success(), "{}", outcome(&out).1);
    let found = search();
    assert_eq!(found.len(), 1, "{found:?}");
    let id = found[0]["id"].as_str().expect("id").to_owned();
    let entry: serde_json::Value = serde_json::from_str(&env.ok(&[
        "get",
        &id,
        "--server",
        &server.url,
        "--out",
        "alert.dsse.json",
    ]))
    .expect("get JSON");
    assert_eq!(entry["issuer_org"], "ot-monitor", "{entry}");
    // The registered statement is the alert, about its link, and verifies with the org key.
    env.ok(&["verify", "alert.dsse.json", "--key", &public]);
    let envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("alert.dsse.json")).expect("r")).expect("json");
    use base64::Engine as _;
    let statement: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().expect("payload"))
            .expect("b64"),
    )
    .expect("statement");
    assert_eq!(
        statement["subject"][0]["name"],
        "urn:shinrai:link:10.77.0.2-10.77.0.11-tcp-502"
    );
    assert_eq!(
        statement["predicate"]["anomaly"]["causes"][0],
        "not_standard_command"
    );
    // Registering the same alerts again adds nothing (identical statements).
    let out = register(&p("alerts.jsonl"), &token);
    assert!(out.status.success(), "{}", outcome(&out).1);
    assert_eq!(search().len(), 1);
}
