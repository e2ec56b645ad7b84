//! `shinrai demo devices` and the `shinrai device` commands, driven through the binary.

use std::path::Path;
use std::process::{Command, Output};

use shinrai_attest::{Component, ComponentKind, Composition, Sha256};

fn shinrai(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shinrai"))
        .args(args)
        .env("SHINRAI_PIN", "device-test-passphrase")
        .env_remove("SHINRAI_BACKEND")
        .env_remove("SHINRAI_KEYSTORE")
        .output()
        .expect("running the shinrai binary")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn demo_devices_tells_genuine_and_updated_devices_from_every_bad_case() {
    let dir = tempfile::tempdir().expect("test setup");
    let o = shinrai(&[
        "demo",
        "devices",
        "--dir",
        dir.path().to_str().expect("test setup"),
    ]);
    let out = text(&o);
    assert!(o.status.success(), "demo failed:\n{out}");
    for (case, verdict) in [
        ("genuine SN-0001", "PASS"),
        ("genuine SN-0002", "PASS"),
        ("counterfeit", "FAIL"),
        ("cloned", "FAIL"),
        ("tampered", "FAIL"),
        ("stale-nonce replay", "FAIL"),
        ("revoked certificate", "FAIL"),
        ("updated to 1.1", "PASS"),
        ("voucher chain", "PASS"),
        ("broken voucher chain", "FAIL"),
    ] {
        let line = format!("[{case}] {verdict} (expected {verdict})");
        assert!(out.contains(&line), "missing {line:?} in:\n{out}");
    }
    assert!(
        out.contains("All 10 cases got the expected verdict."),
        "{out}"
    );
    assert!(!out.contains("UNEXPECTED"), "{out}");
    assert!(out.contains("cloned"), "{out}");
}

fn composition(firmware: &[u8]) -> Vec<u8> {
    Composition {
        maker: "Acme Sensors".into(),
        model: "TS-100".into(),
        version: "1.0".into(),
        timestamp: 1_790_000_000,
        components: vec![Component {
            name: "main-firmware".into(),
            version: "1.0".into(),
            kind: ComponentKind::Firmware,
            supplier: None,
            sha256: Sha256::of(firmware),
        }],
    }
    .to_cyclonedx()
    .expect("test setup")
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().expect("test setup").to_owned()
}

#[test]
fn device_commands_affirm_a_genuine_device_and_refuse_replay_and_tampering() {
    let tmp = tempfile::tempdir().expect("test setup");
    let d = tmp.path();
    std::fs::write(d.join("release.cdx.json"), composition(b"firmware 1.0")).expect("test setup");
    std::fs::write(d.join("tampered.cdx.json"), composition(b"patched")).expect("test setup");
    let dir = d.to_str().expect("test setup");
    let ks = p(d, "keys.json");
    let cert = p(d, "SN-1.crt.pem");

    let o = shinrai(&[
        "device",
        "provision",
        "--dir",
        dir,
        "--maker",
        "Acme Sensors",
        "--model",
        "TS-100",
        "--serial",
        "SN-1",
        "--device-label",
        "dev1",
        "--keystore",
        &ks,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = shinrai(&[
        "device",
        "register",
        "--dir",
        dir,
        "--composition",
        &p(d, "release.cdx.json"),
    ]);
    assert!(o.status.success(), "{}", text(&o));

    let attest = |cdx: &str, ch: &str, ev: &str| {
        let o = shinrai(&["device", "challenge", "--dir", dir, "--out", &p(d, ch)]);
        assert!(o.status.success(), "{}", text(&o));
        let o = shinrai(&[
            "device",
            "attest",
            "--challenge",
            &p(d, ch),
            "--certificate",
            &cert,
            "--composition",
            &p(d, cdx),
            "--device-label",
            "dev1",
            "--out",
            &p(d, ev),
            "--keystore",
            &ks,
        ]);
        assert!(o.status.success(), "{}", text(&o));
    };
    let appraise = |ev: &str| {
        shinrai(&[
            "device",
            "appraise",
            "--dir",
            dir,
            "--evidence",
            &p(d, ev),
            "--certificate",
            &cert,
            "--out",
            &p(d, "ear.json"),
        ])
    };

    attest("release.cdx.json", "ch1.json", "ev1.json");
    let o = appraise("ev1.json");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("PASS"), "{}", text(&o));
    let ear = std::fs::read(d.join("ear.json")).expect("test setup");
    assert_eq!(
        shinrai_attest::AttestationResult::from_json(&ear)
            .expect("test setup")
            .status(),
        shinrai_attest::Status::Affirming
    );

    // The same evidence again is a replay.
    let o = appraise("ev1.json");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("replay"), "{}", text(&o));

    // Firmware that does not match the registered reference values.
    attest("tampered.cdx.json", "ch2.json", "ev2.json");
    let o = appraise("ev2.json");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL"), "{}", text(&o));

    let o = shinrai(&["device", "history", "--dir", dir, "--certificate", &cert]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        3,
        "{}",
        text(&o)
    );

    // Malformed evidence: a clear error, not a verdict.
    std::fs::write(d.join("junk.json"), b"{not evidence").expect("test setup");
    let o = appraise("junk.json");
    assert!(!o.status.success());
    assert!(text(&o).contains("cannot be read"), "{}", text(&o));
}

#[test]
fn voucher_chain_from_maker_to_operator_verifies_and_a_rewritten_one_is_refused() {
    let tmp = tempfile::tempdir().expect("test setup");
    let d = tmp.path();
    let dir = d.to_str().expect("test setup");
    let maker = p(d, "maker.json");
    let dist = p(d, "distributor.json");
    let op = p(d, "operator.json");
    let cert = p(d, "SN-9.crt.pem");
    let voucher = p(d, "SN-9.voucher.json");
    let ok = |args: &[&str]| {
        let o = shinrai(args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        o
    };
    ok(&[
        "device",
        "provision",
        "--dir",
        dir,
        "--maker",
        "Acme Sensors",
        "--model",
        "TS-100",
        "--serial",
        "SN-9",
        "--device-label",
        "dev9",
        "--keystore",
        &maker,
    ]);
    ok(&[
        "device",
        "voucher",
        "owner-key",
        "--label",
        "dist",
        "--out",
        &p(d, "dist.pub.json"),
        "--keystore",
        &dist,
    ]);
    ok(&[
        "device",
        "voucher",
        "owner-key",
        "--label",
        "op",
        "--out",
        &p(d, "op.pub.json"),
        "--keystore",
        &op,
    ]);
    ok(&[
        "device",
        "voucher",
        "create",
        "--dir",
        dir,
        "--certificate",
        &cert,
        "--to-key",
        &p(d, "dist.pub.json"),
        "--to-name",
        "Distributor GmbH",
        "--out",
        &voucher,
        "--keystore",
        &maker,
    ]);
    ok(&[
        "device",
        "voucher",
        "transfer",
        "--voucher",
        &voucher,
        "--label",
        "dist",
        "--to-key",
        &p(d, "op.pub.json"),
        "--to-name",
        "Plant Operator",
        "--keystore",
        &dist,
    ]);
    let verify = [
        "device",
        "voucher",
        "verify",
        "--dir",
        dir,
        "--voucher",
        &voucher,
        "--certificate",
        &cert,
    ];
    let o = ok(&verify);
    assert!(text(&o).contains("Plant Operator"), "{}", text(&o));

    // Only the current owner can transfer: the distributor cannot sell the device twice.
    let o = shinrai(&[
        "device",
        "voucher",
        "transfer",
        "--voucher",
        &voucher,
        "--label",
        "dist",
        "--to-key",
        &p(d, "dist.pub.json"),
        "--to-name",
        "Someone Else",
        "--keystore",
        &dist,
    ]);
    assert!(!o.status.success(), "{}", text(&o));

    let rewritten = std::fs::read_to_string(&voucher)
        .expect("test setup")
        .replace("Plant Operator", "Grey Market Ltd");
    std::fs::write(&voucher, rewritten).expect("test setup");
    let o = shinrai(&verify);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL"), "{}", text(&o));
}
