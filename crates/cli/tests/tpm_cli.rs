//! The `shinrai` binary on the TPM backend (`--features tpm`): keys made in swtpm sign
//! statements that verify, Ed25519 and a wrong PIN are refused clearly, `bench tpm` runs.
//! Uses `$SHINRAI_TPM_TCTI` when set (and fails if it is unreachable), else a private swtpm.
#![cfg(feature = "tpm")]

mod common;
use common::*;

#[test]
fn tpm_key_signs_a_statement_that_verifies() {
    let env = Env::new(Backend::Tpm);
    let public = env.key("device", "ecdsa-p256");
    let part = env.write("part.bin", b"bracket A, lot 7");
    let envelope = env.path("s.dsse.json").display().to_string();
    env.ok(&[
        "sign",
        "--key",
        "device",
        "--subject",
        &part,
        "--predicate-type",
        "https://example.com/step/v1",
        "--out",
        &envelope,
    ]);
    let out = env.ok(&["verify", &envelope, "--key", &public, "--subject", &part]);
    assert!(out.starts_with("OK:"), "{out}");
    // The key lives on: a new process lists it and the blob folder holds it.
    let list = env.ok(&["key", "list"]);
    assert!(list.contains("device"), "{list}");
    assert!(env.path("tpm/keys/device.key").exists());
}

#[test]
fn ed25519_and_a_wrong_pin_are_refused_with_reasons() {
    let env = Env::new(Backend::Tpm);
    env.key("device", "ecdsa-p256");
    let (code, text) = outcome(&env.run(&["key", "generate", "org", "--algorithm", "ed25519"]));
    assert_ne!(code, Some(0));
    assert!(text.contains("Ed25519"), "{text}");
    let out = env
        .cmd()
        .env("SHINRAI_PIN", "not the pin")
        .args(["key", "list"])
        .output()
        .expect("run");
    let (code, text) = outcome(&out);
    assert_ne!(code, Some(0));
    assert!(text.contains("wrong PIN"), "{text}");
}

#[test]
fn an_unreachable_tpm_is_a_clear_error() {
    let env = Env::new(Backend::Tpm);
    let out = env
        .cmd()
        .env("SHINRAI_TPM_TCTI", "swtpm:host=127.0.0.1,port=1")
        .args(["key", "generate", "k", "--algorithm", "ecdsa-p256"])
        .output()
        .expect("run");
    let (code, text) = outcome(&out);
    assert_ne!(code, Some(0));
    assert!(text.contains("cannot connect to the TPM"), "{text}");
}

#[test]
fn bench_tpm_reports_every_operation() {
    let env = Env::new(Backend::Tpm);
    let out = env.ok(&["bench", "tpm", "--iterations", "2", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    for k in ["create", "sign", "pcr_extend", "quote", "verify_quote"] {
        let r = &v["results"][k];
        assert!(r["mean_ms"].as_f64().is_some_and(|m| m > 0.0), "{k}: {v}");
    }
}
