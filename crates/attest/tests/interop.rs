//! Device evidence read by an independent DSSE implementation (securesystemslib 1.6).

mod common;

use std::process::Command;

use common::{NOW, World, on_soft, python, repo_root};
use shinrai_attest::Attester;
use shinrai_attest::evidence::EVIDENCE_PAYLOAD_TYPE;
use shinrai_envelope::keys::SslibKey;

fn sslib(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(python())
        .arg(repo_root().join("tests/interop/sslib.py"))
        .args(args)
        .output()
        .expect("run tests/interop/sslib.py")
}

#[test]
fn device_evidence_verifies_with_securesystemslib() {
    on_soft(|store| {
        let mut w = World::new(store);
        let cert = w.device("dev-1", "SN-0001");
        let ch = w.verifier.challenge(NOW).expect("challenge");
        let evidence = Attester::new(store, "dev-1", &cert)
            .expect("attester")
            .attest(&ch, &w.genuine_state(), NOW)
            .expect("evidence");
        let dir = tempfile::tempdir().expect("dir");
        let key = SslibKey::from_public_key(&store.public_key("dev-1").expect("pk")).expect("key");
        let pub_path = dir.path().join("device.pub.json");
        let env_path = dir.path().join("evidence.json");
        std::fs::write(&pub_path, key.to_json_bytes()).expect("write");
        std::fs::write(&env_path, &evidence).expect("write");
        let out = sslib(&[
            "verify".as_ref(),
            "--public".as_ref(),
            pub_path.as_os_str(),
            "--envelope".as_ref(),
            env_path.as_os_str(),
            "--payload-type".as_ref(),
            EVIDENCE_PAYLOAD_TYPE.as_ref(),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "securesystemslib rejected device evidence: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        let payload = hex::decode(stdout.trim()).expect("hex payload");
        let claims: serde_json::Value = serde_json::from_slice(&payload).expect("claims json");
        assert_eq!(claims["eat_profile"], "urn:shinrai:eat:device:v1");

        // A flipped byte in the payload is refused by securesystemslib too.
        let mut doc: serde_json::Value = serde_json::from_slice(&evidence).expect("json");
        doc["payload"] = serde_json::Value::String("e30=".into());
        std::fs::write(&env_path, serde_json::to_vec(&doc).expect("json")).expect("write");
        let out = sslib(&[
            "verify".as_ref(),
            "--public".as_ref(),
            pub_path.as_os_str(),
            "--envelope".as_ref(),
            env_path.as_os_str(),
        ]);
        assert!(
            !out.status.success(),
            "securesystemslib accepted an altered payload"
        );
    });
}
