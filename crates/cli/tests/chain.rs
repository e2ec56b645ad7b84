//! Chain of trust through the `shinrai` binary: `demo manufacturing` (six organisations, specs
//! downstream-up, evidence and VSAs over HTTP), then `shinrai serve` on the demo's store and
//! `shinrai chain verify` / `shinrai trace --where-used` against it, for the good chain and for
//! each failure path of issue 4 (`demo manufacturing --fault ...` injects it into lot A-1, which
//! BODY-1 uses).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{Server, serve_with};

const BIN: &str = env!("CARGO_BIN_EXE_shinrai");
const GOOD: &str = "urn:shinrai:body:BODY-1";
const AFFECTED: &str = "urn:shinrai:body:BODY-2";
const BAD_LOT: &str = "urn:shinrai:lot:part:B-2";

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("shinrai runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The scenario with `fault`, its store served: directory (out/, store/) and the server.
struct Scenario {
    dir: tempfile::TempDir,
    server: Server,
    demo_output: String,
}

impl Scenario {
    fn new(fault: &str) -> Scenario {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("store");
        let out = dir.path().join("out");
        let o = run(&[
            "demo",
            "manufacturing",
            "--data",
            data.to_str().expect("path"),
            "--out",
            out.to_str().expect("path"),
            "--fault",
            fault,
        ]);
        let demo_output = text(&o);
        assert!(
            o.status.success(),
            "demo manufacturing --fault {fault} must end with every verdict as expected:\n{demo_output}"
        );
        let server = serve_with(Command::new(BIN), data.to_str().expect("path"));
        Scenario {
            dir,
            server,
            demo_output,
        }
    }

    fn out(&self, file: &str) -> String {
        let p: PathBuf = self.dir.path().join("out").join(file);
        p.to_str().expect("path").to_owned()
    }

    /// `chain verify PRODUCT` with the demo's trust file and log key; (exit code, output).
    fn verify(&self, product: &str, extra: &[&str]) -> (i32, String) {
        let keys = self.out("trust.json");
        let log_key = self.out("log-key.txt");
        let mut args = vec![
            "chain",
            "verify",
            product,
            "--server",
            &self.server.url,
            "--keys",
            &keys,
        ];
        if !extra.contains(&"--log-key") {
            args.extend(["--log-key", &log_key]);
        }
        args.extend_from_slice(extra);
        let o = run(&args);
        (o.status.code().unwrap_or(-1), text(&o))
    }

    fn verify_json(&self, product: &str) -> (i32, Value) {
        let (code, out) = self.verify(product, &["--json"]);
        let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
        (code, v)
    }
}

/// Every node of a JSON report, depth first.
fn nodes(v: &Value) -> Vec<&Value> {
    fn walk<'a>(n: &'a Value, out: &mut Vec<&'a Value>) {
        out.push(n);
        for i in n["inputs"].as_array().into_iter().flatten() {
            walk(i, out);
        }
    }
    let mut out = Vec::new();
    for r in v["roots"].as_array().into_iter().flatten() {
        walk(r, &mut out);
    }
    out
}

fn node<'a>(v: &'a Value, name: &str) -> &'a Value {
    nodes(v)
        .into_iter()
        .find(|n| n["name"] == name && n["repeated"] == false)
        .unwrap_or_else(|| panic!("no node {name} in {v:#}"))
}

/// The failure path: BODY-1 fails, and lot A-1 carries `reason`.
fn body_1_fails_at_a1_because(fault: &str, reason: &str) {
    let s = Scenario::new(fault);
    let (code, out) = s.verify(GOOD, &[]);
    assert_eq!(
        code, 1,
        "a chain with a fault ({fault}) must not pass:\n{out}"
    );
    assert!(out.contains(reason), "expected {reason:?} in:\n{out}");
    let (code, v) = s.verify_json(GOOD);
    assert_eq!(code, 1);
    assert_eq!(v["overall"], "failed", "{v:#}");
    let a1 = node(&v, "urn:shinrai:lot:part:A-1");
    assert_eq!(a1["status"], "failed", "{a1:#}");
    let reasons = a1["reasons"].to_string();
    assert!(
        reasons.contains(reason),
        "A-1's reasons {reasons} lack {reason:?}"
    );
    // The rest of BODY-1's chain is still checked and passes.
    assert_eq!(node(&v, "urn:shinrai:lot:part:C-1")["status"], "passed");
}

#[test]
fn demo_manufacturing_catches_the_out_of_spec_lot_and_traces_it_to_the_bodies() {
    let o = run(&["demo", "manufacturing"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("urn:shinrai:lot:part:B-2     verified by car-body-maker  FAILED: rule:torque-in-range Torque=27.3"),
        "the out-of-spec lot is caught at verification:\n{out}"
    );
    assert!(out.contains("path: urn:shinrai:lot:part:B-2 -> urn:shinrai:body:BODY-2"));
    assert!(out.contains("path: urn:shinrai:lot:part:B-2 -> urn:shinrai:body:BODY-3"));
    assert!(out.contains("chain of urn:shinrai:body:BODY-1: PASSED"));
    assert!(out.contains("chain of urn:shinrai:body:BODY-2: FAILED"));
    assert!(out.contains("done: all 18 verdicts as expected."));
}

#[test]
fn chain_verify_passes_the_good_body_and_fails_an_affected_one_naming_the_torque() {
    let s = Scenario::new("none");
    let (code, out) = s.verify(GOOD, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("PASSED (7 products: 7 passed, 0 failed, 0 not evaluated)"),
        "{out}"
    );
    let (code, v) = s.verify_json(GOOD);
    assert_eq!(code, 0);
    assert_eq!(v["overall"], "passed");
    assert_eq!(v["summary"]["products"], 7);
    let root = &v["roots"][0];
    assert_eq!(root["vsa"]["verifier_org"], "dealer");
    assert_eq!(root["vsa"]["ordering_party"], "dealer");
    assert_eq!(root["performed_by"][0], "car-body-maker");
    assert!(
        root["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .all(|c| c["ok"] == true),
        "{root:#}"
    );
    let steel = node(&v, "urn:shinrai:lot:steel:S-A");
    assert_eq!(steel["vsa"]["ordering_party"], "parts-maker-a");
    assert_eq!(steel["depth"], 2);

    let (code, out) = s.verify(AFFECTED, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Torque=27.3"), "{out}");
    let (_, v) = s.verify_json(AFFECTED);
    assert_eq!(v["overall"], "failed");
    let b2 = node(&v, BAD_LOT);
    assert_eq!(b2["status"], "failed");
    assert_eq!(b2["failures"][0]["check"], "rule:torque-in-range");
    // The body's own tier passed; its chain did not.
    assert_eq!(v["roots"][0]["status"], "passed");
    assert_eq!(v["roots"][0]["chain_status"], "failed");

    // The same from the store's own registry of organisation keys.
    let data = s.dir.path().join("store");
    let o = run(&[
        "chain",
        "verify",
        GOOD,
        "--server",
        &s.server.url,
        "--data",
        data.to_str().expect("path"),
        "--log-key",
        &s.out("log-key.txt"),
    ]);
    assert!(o.status.success(), "{}", text(&o));

    // A product the store knows nothing of is not a pass.
    let (code, out) = s.verify("urn:shinrai:body:BODY-99", &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NOT EVALUATED"), "{out}");

    // Depth limit: not walked is not passed.
    let (code, out) = s.verify(GOOD, &["--depth", "1"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("depth limit 1 reached"), "{out}");
}

#[test]
fn chain_verify_refuses_receipts_under_another_log_key() {
    let s = Scenario::new("none");
    let real = std::fs::read_to_string(s.out("log-key.txt")).expect("log key");
    let name = real.split('+').next().expect("key name");
    // Same log name, another key: the checkpoints' signatures do not verify under it.
    let other = shinrai_tlog::NoteVerifier::new(name, shinrai_tlog::KeyAlg::Ed25519, [7u8; 32])
        .expect("verifier key")
        .to_string();
    let (code, out) = s.verify(GOOD, &["--log-key", &other]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("receipt"), "{out}");
}

#[test]
fn where_used_lists_every_body_made_with_the_bad_lot_with_its_path() {
    let s = Scenario::new("none");
    let o = run(&[
        "trace",
        "--where-used",
        BAD_LOT,
        "--server",
        &s.server.url,
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let names: Vec<&str> = v["downstream"]
        .as_array()
        .expect("downstream")
        .iter()
        .map(|d| d["name"].as_str().unwrap_or_default())
        .collect();
    assert!(names.contains(&"urn:shinrai:body:BODY-2"), "{v:#}");
    assert!(names.contains(&"urn:shinrai:body:BODY-3"), "{v:#}");
    assert!(!names.contains(&GOOD), "{v:#}");
    let d = &v["downstream"][0];
    assert_eq!(d["path_names"][0], BAD_LOT);
    assert_eq!(d["depth"], 1);
    // Text form, from the steel lot: every part and body made from it.
    let o = run(&[
        "trace",
        "--where-used",
        "urn:shinrai:lot:steel:S-B",
        "--server",
        &s.server.url,
    ]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains(
            "path: urn:shinrai:lot:steel:S-B -> urn:shinrai:lot:part:B-2 -> urn:shinrai:body:BODY-3"
        ),
        "{out}"
    );
}

#[test]
fn out_of_spec_value_fails_the_lot_with_the_value() {
    let s = Scenario::new("none");
    let (_, v) = s.verify_json(AFFECTED);
    let b2 = node(&v, BAD_LOT);
    let reasons = b2["reasons"].to_string();
    assert!(
        reasons.contains("Torque=27.3 NU, Torque=26.8 NU"),
        "{reasons}"
    );
}

#[test]
fn evidence_signed_by_the_wrong_device_fails_the_chain() {
    body_1_fails_at_a1_because(
        "wrong-device",
        "is not signed by a key of the order specification",
    );
}

#[test]
fn evidence_missing_from_the_store_fails_the_chain() {
    body_1_fails_at_a1_because("evidence-missing", "missing evidence");
}

#[test]
fn spec_tampered_after_signing_is_refused_and_a_resigned_one_fails_the_chain() {
    let s = Scenario::new("spec-tampered");
    assert!(
        s.demo_output
            .contains("keeping the body maker's signature: the store answers HTTP 422"),
        "{}",
        s.demo_output
    );
    drop(s);
    body_1_fails_at_a1_because("spec-tampered", "specifications are issued by the customer");
}

#[test]
fn a_vsa_for_a_different_spec_fails_the_chain() {
    body_1_fails_at_a1_because("other-spec", "the VSA is for a different specification");
}

#[test]
fn a_broken_link_between_tiers_fails_the_chain() {
    let s = Scenario::new("broken-link");
    let (code, v) = s.verify_json(GOOD);
    assert_eq!(code, 1);
    let a1 = nodes(&v)
        .into_iter()
        .find(|n| n["name"] == "urn:shinrai:lot:part:A-1")
        .expect("A-1 node");
    assert_eq!(a1["status"], "failed", "{a1:#}");
    assert!(
        a1["reasons"][0]
            .as_str()
            .unwrap_or_default()
            .starts_with("broken link: the tier above consumed"),
        "{a1:#}"
    );
}
