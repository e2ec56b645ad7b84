//! The `shinrai monitor` CLI module, compiled here until the lead wires it into the binary.

#[path = "../../cli/src/cmd/monitor.rs"]
#[allow(dead_code)]
mod monitor;

mod common;

use clap::Parser;
use common::*;

#[derive(Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    cmd: monitor::MonitorCmd,
}

fn run(args: &[&str]) -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::try_parse_from(std::iter::once("monitor").chain(args.iter().copied()))?;
    monitor::run(cli.cmd)
}

#[test]
fn learn_then_detect_writes_eve_alert_lines_for_an_attack_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = |n: &str| dir.path().join(n).display().to_string();
    std::fs::write(p("train.pcap"), to_pcap(&normal(T0, 900, 0))).expect("write");
    let start = T0 + 900 * 1_000_000;
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
    std::fs::write(p("test.pcap"), to_pcap(&f)).expect("write");
    run(&[
        "learn",
        "--pcap",
        &p("train.pcap"),
        "--model",
        &p("model.json"),
        "--quiet",
    ])
    .expect("learn");
    run(&[
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
    ])
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
    let err = run(&[
        "detect",
        "--pcap",
        pcap.to_str().expect("p"),
        "--model",
        m.to_str().expect("p"),
        "--quiet",
    ])
    .expect_err("must fail");
    assert!(err.to_string().contains("model"), "{err}");
}

#[test]
fn bench_runs_on_a_small_capture() {
    let dir = tempfile::tempdir().expect("tmp");
    let j = dir.path().join("b.json");
    let args = BenchCli::try_parse_from([
        "bench",
        "--packets",
        "20000",
        "--json",
        j.to_str().expect("p"),
    ])
    .expect("args");
    monitor::bench(args.a).expect("bench");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&j).expect("r")).expect("json");
    assert_eq!(v["alerts"], 0);
    assert!(v["detect_pps"].as_f64().is_some_and(|x| x > 0.0));
}

#[derive(Parser, Debug)]
struct BenchCli {
    #[command(flatten)]
    a: monitor::BenchMonitorArgs,
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
    let (model, pin) = (p("model.dsse"), p("pin"));
    run(&[
        "learn",
        "--pcap",
        &p("train.pcap"),
        "--model",
        &model,
        "--sign-key",
        "analysis",
        "--keystore",
        &p("ks.json"),
        "--pin-file",
        &pin,
        "--quiet",
    ])
    .expect("learn and sign");
    let ok = [
        "detect",
        "--pcap",
        &p("train.pcap"),
        "--model",
        &p("model.dsse"),
        "--alerts",
        &p("a.jsonl"),
        "--quiet",
    ];
    let err = run(&ok).expect_err("a signed model needs --trusted-key");
    assert!(err.to_string().contains("trusted-key"), "{err}");
    let mut with_key = ok.to_vec();
    let key = p("pk.json");
    with_key.extend(["--trusted-key", key.as_str()]);
    run(&with_key).expect("verified model is used");
    let text = std::fs::read_to_string(p("model.dsse"))
        .expect("r")
        .replace("\"payload\":\"", "\"payload\":\"A");
    std::fs::write(p("model.dsse"), text).expect("w");
    assert!(run(&with_key).is_err(), "an altered envelope is refused");
}
