//! `shinrai demo devices` and the `shinrai device` commands, driven through the binary: the
//! lifecycle (ship, install, update, history), revocation, signed results and registration in a
//! live trust store, on every key store backend.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{BACKENDS, Backend, Env, outcome, serve};

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
        ("installed SN-0002", "PASS"),
    ] {
        let line = format!("[{case}] {verdict} (expected {verdict})");
        assert!(out.contains(&line), "missing {line:?} in:\n{out}");
    }
    assert!(
        out.contains("All 11 cases got the expected verdict."),
        "{out}"
    );
    assert!(!out.contains("UNEXPECTED"), "{out}");
    assert!(out.contains("cloned"), "{out}");
}

fn composition(firmware: &[u8]) -> Vec<u8> {
    release("1.0", firmware)
}

fn release(version: &str, firmware: &[u8]) -> Vec<u8> {
    Composition {
        maker: "Acme Sensors".into(),
        model: "TS-100".into(),
        version: version.into(),
        timestamp: 1_790_000_000,
        components: vec![Component {
            name: "main-firmware".into(),
            version: version.into(),
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
    assert!(text(&o).contains("appraisals: 3"), "{}", text(&o));

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

/// One device lab on a backend: a maker (CA key), a verifier (statement key), an operator
/// (voucher key), all in the environment's key store, and the state directory `lab`.
struct Lab {
    env: Env,
    dir: String,
}

impl Lab {
    fn new(backend: Backend) -> Lab {
        let env = Env::new(backend);
        let dir = env.path("lab").display().to_string();
        env.write("v1.cdx.json", &release("1.0", b"firmware 1.0"));
        env.write("v11.cdx.json", &release("1.1", b"firmware 1.1"));
        env.write("tampered.cdx.json", &release("1.0", b"patched firmware"));
        Lab { env, dir }
    }

    fn p(&self, name: &str) -> String {
        self.env.path(name).display().to_string()
    }

    fn cert(&self, serial: &str) -> String {
        format!("{}/{serial}.crt.pem", self.dir)
    }

    fn provision(&self, serial: &str) {
        self.env.ok(&[
            "device",
            "provision",
            "--dir",
            &self.dir,
            "--maker",
            "Acme Sensors",
            "--model",
            "TS-100",
            "--serial",
            serial,
            "--device-label",
            &format!("dev-{serial}"),
        ]);
    }

    /// A fresh challenge answered by device `serial` running `cdx`; returns the evidence path.
    fn attest(&self, serial: &str, cdx: &str, name: &str) -> String {
        let ch = self.p(&format!("{name}.challenge.json"));
        let ev = self.p(&format!("{name}.evidence.json"));
        self.env
            .ok(&["device", "challenge", "--dir", &self.dir, "--out", &ch]);
        self.env.ok(&[
            "device",
            "attest",
            "--challenge",
            &ch,
            "--certificate",
            &self.cert(serial),
            "--composition",
            &self.p(cdx),
            "--device-label",
            &format!("dev-{serial}"),
            "--out",
            &ev,
        ]);
        // On the TPM backend the evidence carries a TPM quote; elsewhere there is none.
        let envelope: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&ev).expect("evidence written")).expect("JSON");
        use base64::Engine as _;
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(envelope["payload"].as_str().expect("payload"))
                .expect("base64"),
        )
        .expect("claims JSON");
        #[cfg(feature = "tpm")]
        let tpm = self.env.backend == Backend::Tpm;
        #[cfg(not(feature = "tpm"))]
        let tpm = false;
        assert_eq!(
            claims.get("tpm_quote").is_some_and(|q| !q.is_null()),
            tpm,
            "quote in the evidence exactly on the tpm backend"
        );
        ev
    }

    fn run(&self, args: &[&str]) -> (Option<i32>, String) {
        outcome(&self.env.run(args))
    }
}

#[test]
fn device_lifecycle_install_update_revoke_and_bad_input_on_every_backend() {
    for backend in BACKENDS {
        let lab = Lab::new(backend);
        let env = &lab.env;
        let dir = lab.dir.as_str();
        lab.provision("SN-1");
        lab.provision("SN-2");
        lab.provision("SN-3");
        let verifier_pub = env.key("verifier", "ecdsa-p256");
        env.ok(&[
            "device",
            "register",
            "--dir",
            dir,
            "--composition",
            &lab.p("v1.cdx.json"),
        ]);
        env.ok(&[
            "device",
            "voucher",
            "owner-key",
            "--label",
            "operator",
            "--out",
            &lab.p("operator.pub.json"),
        ]);
        env.ok(&[
            "device",
            "voucher",
            "owner-key",
            "--label",
            "distributor",
            "--out",
            &lab.p("distributor.pub.json"),
        ]);
        let voucher = |serial: &str| {
            let out = lab.p(&format!("{serial}.voucher.json"));
            env.ok(&[
                "device",
                "voucher",
                "create",
                "--dir",
                dir,
                "--certificate",
                &lab.cert(serial),
                "--to-key",
                &lab.p("distributor.pub.json"),
                "--to-name",
                "Distributor GmbH",
                "--out",
                &out,
            ]);
            env.ok(&[
                "device",
                "voucher",
                "transfer",
                "--voucher",
                &out,
                "--label",
                "distributor",
                "--to-key",
                &lab.p("operator.pub.json"),
                "--to-name",
                "Plant Operator",
            ]);
            out
        };
        let step = |cmd: &str, serial: &str, evidence: &str, extra: &[&str]| {
            let cert = lab.cert(serial);
            let mut args = vec![
                "device",
                cmd,
                "--dir",
                dir,
                "--evidence",
                evidence,
                "--certificate",
                &cert,
                "--sign-key",
                "verifier",
            ];
            args.extend_from_slice(extra);
            lab.run(&args)
        };

        // Shipping: the maker proves the configuration.
        let ev = lab.attest("SN-1", "v1.cdx.json", "ship1");
        let (code, out) = step("ship", "SN-1", &ev, &[]);
        assert_eq!(code, Some(0), "{backend:?}: {out}");
        assert!(
            out.contains("SHIPPED") && out.contains("release 1.0"),
            "{out}"
        );

        // Installation: the operator's fresh attestation and a voucher naming it as owner.
        let v1 = voucher("SN-1");
        let ev = lab.attest("SN-1", "v1.cdx.json", "install1");
        let install_args = [
            "--voucher",
            v1.as_str(),
            "--operator-label",
            "operator",
            "--site",
            "Plant 1, line 3",
        ];
        let (code, out) = step("install", "SN-1", &ev, &install_args);
        assert_eq!(code, Some(0), "{backend:?}: {out}");
        assert!(out.contains("INSTALLED"), "{out}");
        assert!(out.contains("Plant Operator"), "{out}");

        // A stale nonce: the installation evidence sent again is a replay.
        let (code, out) = lab.run(&[
            "device",
            "appraise",
            "--dir",
            dir,
            "--evidence",
            &ev,
            "--certificate",
            &lab.cert("SN-1"),
        ]);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("FAIL") && out.contains("replay"), "{out}");

        // Firmware update: the vendor's release 1.1, the device updates and re-attests.
        let ev = lab.attest("SN-1", "v11.cdx.json", "update1");
        let v11 = lab.p("v11.cdx.json");
        let (code, out) = step("update", "SN-1", &ev, &["--composition", &v11]);
        assert_eq!(code, Some(0), "{backend:?}: {out}");
        assert!(
            out.contains("UPDATED") && out.contains("from release 1.0 to 1.1"),
            "{out}"
        );

        // Tampered firmware after installation: refused, and the record is unchanged.
        let ev = lab.attest("SN-1", "tampered.cdx.json", "tampered1");
        let (code, out) = step("update", "SN-1", &ev, &[]);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("re-attestation refused"), "{out}");

        let out = env.ok(&[
            "device",
            "history",
            "--dir",
            dir,
            "--certificate",
            &lab.cert("SN-1"),
        ]);
        assert!(out.contains("lifecycle: Installed, release 1.1"), "{out}");
        let shipped = out.find("shipped by \"Acme Sensors\" with release 1.0");
        let installed = out.find("installed by \"Plant Operator\" at \"Plant 1, line 3\"");
        let updated = out.find("updated from release 1.0 to 1.1");
        assert!(
            shipped.is_some() && shipped < installed && installed < updated,
            "{out}"
        );
        assert!(out.contains("appraisals: 5"), "{out}");

        // Every signed result verifies with the verifier's key.
        let results = std::fs::read_dir(env.path("lab/results"))
            .expect("results written")
            .count();
        assert_eq!(
            results, 4,
            "one signed result per appraisal with --sign-key"
        );

        // Revocation: the maker revokes SN-2; its next appraisal fails with the reason.
        let (code, out) = lab.run(&[
            "device",
            "revoke",
            "--dir",
            dir,
            "--certificate",
            &lab.cert("SN-2"),
        ]);
        assert_eq!(code, Some(0), "{backend:?}: {out}");
        assert!(out.contains("CRL number 1"), "{out}");
        let ev = lab.attest("SN-2", "v1.cdx.json", "revoked2");
        let (code, out) = step("ship", "SN-2", &ev, &[]);
        assert_eq!(code, Some(1), "{out}");
        assert!(
            out.contains("has revoked the certificate of device SN-2"),
            "{out}"
        );
        assert!(out.contains("shipping refused"), "{out}");

        // A broken voucher chain: the distributor's transfer rewritten to another buyer.
        let ev = lab.attest("SN-3", "v1.cdx.json", "ship3");
        let (code, out) = step("ship", "SN-3", &ev, &[]);
        assert_eq!(code, Some(0), "{out}");
        let v3 = voucher("SN-3");
        let text3 = std::fs::read_to_string(&v3)
            .expect("voucher")
            .replace("Plant Operator", "Grey Market Ltd");
        std::fs::write(&v3, text3).expect("rewrite voucher");
        let ev = lab.attest("SN-3", "v1.cdx.json", "install3");
        let broken = [
            "--voucher",
            v3.as_str(),
            "--operator-label",
            "operator",
            "--site",
            "Plant 2",
        ];
        let (code, out) = step("install", "SN-3", &ev, &broken);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("voucher chain broken"), "{out}");
        // SN-1's voucher does not make anyone the owner of SN-3.
        let (code, out) = step("install", "SN-3", &ev, &install_args);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("FAIL: installation refused"), "{out}");

        // Malformed evidence and a certificate that is no certificate: exit 2 with a message.
        let junk = env.write("junk.json", b"{\"payloadType\": 1");
        let (code, out) = step("update", "SN-1", &junk, &[]);
        assert_eq!(code, Some(2), "{out}");
        assert!(out.contains("malformed evidence"), "{out}");
        let pem = std::fs::read_to_string(lab.cert("SN-1")).expect("pem");
        let cut = env.write("cut.crt.pem", &pem.as_bytes()[..pem.len() / 2]);
        let ev = lab.attest("SN-1", "v11.cdx.json", "cut1");
        let (code, out) = lab.run(&[
            "device",
            "appraise",
            "--dir",
            dir,
            "--evidence",
            &ev,
            "--certificate",
            &cut,
        ]);
        assert_eq!(code, Some(2), "{out}");
        assert!(
            out.starts_with("error:") || out.contains("error: "),
            "{out}"
        );
        assert!(out.to_lowercase().contains("certificate"), "{out}");
        // Evidence from SN-1 presented with SN-3's certificate: the chain does not match the key.
        let (code, out) = lab.run(&[
            "device",
            "appraise",
            "--dir",
            dir,
            "--evidence",
            &ev,
            "--certificate",
            &lab.cert("SN-3"),
        ]);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("FAIL"), "{out}");
        let _ = verifier_pub;
    }
}

#[test]
fn maker_data_crl_and_signed_results_register_in_a_live_store_and_read_back() {
    for backend in BACKENDS {
        let lab = Lab::new(backend);
        let env = &lab.env;
        let dir = lab.dir.as_str();
        lab.provision("SN-1");
        lab.provision("SN-2");
        let maker_pub = env.key("maker-org", "ecdsa-p256");
        let verifier_pub = env.key("verifier", "ecdsa-p256");
        env.key("stranger", "ecdsa-p256");
        let init: serde_json::Value = serde_json::from_str(&env.ok(&[
            "init",
            "--data",
            "store",
            "--org",
            "Acme Sensors",
            "--org-key",
            &maker_pub,
        ]))
        .expect("init prints JSON");
        let maker_token = init["token"].as_str().expect("token").to_owned();
        let added: serde_json::Value = serde_json::from_str(&env.ok(&[
            "org",
            "add",
            "--data",
            "store",
            "Plant Verifier",
            "--key",
            &verifier_pub,
        ]))
        .expect("org add prints JSON");
        let verifier_token = added["token"].as_str().expect("token").to_owned();
        let server = serve(env, "store");

        // The maker registers its CA and the release's reference values and CycloneDX.
        let out = env.ok(&[
            "device",
            "register",
            "--dir",
            dir,
            "--composition",
            &lab.p("v1.cdx.json"),
            "--sign-key",
            "maker-org",
            "--server",
            &server.url,
            "--store-token",
            &maker_token,
        ]);
        assert!(
            out.contains("registered the maker CA in the trust store"),
            "{out}"
        );
        assert!(
            out.contains("registered the reference values in the trust store"),
            "{out}"
        );

        // The verifier's signed result goes to the store.
        let ev = lab.attest("SN-1", "v1.cdx.json", "a1");
        let out = env.ok(&[
            "device",
            "appraise",
            "--dir",
            dir,
            "--evidence",
            &ev,
            "--certificate",
            &lab.cert("SN-1"),
            "--sign-key",
            "verifier",
            "--signed-out",
            &lab.p("a1.ear.dsse.json"),
            "--server",
            &server.url,
            "--store-token",
            &verifier_token,
        ]);
        assert!(out.contains("PASS"), "{out}");
        assert!(out.contains("registered the attestation result"), "{out}");
        assert!(env.path("a1.ear.dsse.json.receipt.json").exists());

        // The maker's CRL too; a result signed by a key no organisation registered is refused.
        let out = env.ok(&[
            "device",
            "revoke",
            "--dir",
            dir,
            "--certificate",
            &lab.cert("SN-2"),
            "--sign-key",
            "maker-org",
            "--server",
            &server.url,
            "--store-token",
            &maker_token,
        ]);
        assert!(
            out.contains("registered the CRL in the trust store"),
            "{out}"
        );
        let ev = lab.attest("SN-1", "v1.cdx.json", "a2");
        let (code, out) = lab.run(&[
            "device",
            "appraise",
            "--dir",
            dir,
            "--evidence",
            &ev,
            "--certificate",
            &lab.cert("SN-1"),
            "--sign-key",
            "stranger",
            "--server",
            &server.url,
            "--store-token",
            &verifier_token,
        ]);
        assert_eq!(code, Some(2), "{out}");
        assert!(out.contains("the trust store answered"), "{out}");

        for (pt, n) in [
            ("https://shinrai.dev/attestation/device-maker-ca/v1", 1),
            (
                "https://shinrai.dev/attestation/device-reference-values/v1",
                1,
            ),
            ("https://shinrai.dev/attestation/device-crl/v1", 1),
            ("https://shinrai.dev/attestation/device-result/v1", 1),
        ] {
            let found: serde_json::Value = serde_json::from_str(&env.ok(&[
                "search",
                "--server",
                &server.url,
                "--predicate-type",
                pt,
            ]))
            .expect("search JSON");
            assert_eq!(
                found["entries"].as_array().map(Vec::len),
                Some(n),
                "{pt}: {found}"
            );
        }

        // Read back: the registered result, checked with the verifier's key.
        let history = [
            "device",
            "history",
            "--dir",
            dir,
            "--certificate",
            &lab.cert("SN-1"),
            "--server",
            &server.url,
            "--trust-key",
        ];
        let mut args = history.to_vec();
        args.push(&verifier_pub);
        let out = env.ok(&args);
        assert!(out.contains("registered results in"), "{out}");
        assert!(out.contains(": 1\n"), "{out}");
        assert!(out.contains("affirming"), "{out}");
        // The same entries do not verify with the maker's key.
        let mut args = history.to_vec();
        args.push(&maker_pub);
        let (code, out) = lab.run(&args);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("REFUSED"), "{out}");
    }
}
