//! Interop with Python securesystemslib 1.6.0, the reference DSSE implementation of in-toto:
//! what `shinrai sign` makes, securesystemslib verifies with the key `shinrai key export` wrote;
//! what securesystemslib signs, `shinrai verify` accepts. Ed25519 and P-256, both backends.

mod common;
use common::*;
use std::process::Command;

fn sslib(args: &[&str]) -> std::process::Output {
    Command::new(python())
        .arg(sslib_script())
        .args(args)
        .output()
        .expect("python runs the securesystemslib script")
}

#[test]
fn securesystemslib_verifies_what_shinrai_signs() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        for alg in ["ed25519", "ecdsa-p256"] {
            let label = format!("k-{alg}");
            let public = env.key(&label, alg);
            let part = env.write("part.bin", b"interop payload");
            let envelope = env.path(&format!("{alg}.json")).display().to_string();
            env.ok(&[
                "sign",
                "--key",
                &label,
                "--subject",
                &part,
                "--out",
                &envelope,
            ]);

            let out = sslib(&[
                "verify",
                "--public",
                &public,
                "--envelope",
                &envelope,
                "--payload-type",
                "application/vnd.in-toto+json",
            ]);
            assert!(
                out.status.success(),
                "{backend:?} {alg}: securesystemslib rejected shinrai's envelope: {}",
                String::from_utf8_lossy(&out.stderr)
            );

            // The keyid shinrai exported is the one securesystemslib computes for the key.
            let out = sslib(&["keyid", "--public", &public]);
            let theirs = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let ours: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&public).expect("key")).expect("json");
            assert_eq!(
                ours["keyid"].as_str(),
                Some(theirs.as_str()),
                "{backend:?} {alg}"
            );

            // And securesystemslib refuses a tampered copy (the check can fail).
            let mut v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&envelope).expect("env")).expect("json");
            v["payloadType"] = "application/vnd.other+json".into();
            let bad = env.write("bad.json", v.to_string().as_bytes());
            let out = sslib(&["verify", "--public", &public, "--envelope", &bad]);
            assert!(
                !out.status.success(),
                "{backend:?} {alg}: tampered envelope accepted"
            );
        }
    }
}

#[test]
fn shinrai_verifies_what_securesystemslib_signs() {
    let env = Env::new(Backend::Soft);
    for alg in ["ed25519", "ecdsa"] {
        let private = env.path(&format!("{alg}.pem")).display().to_string();
        let public = env.path(&format!("{alg}.pub.json")).display().to_string();
        let out = sslib(&[
            "keygen",
            "--alg",
            alg,
            "--out-private",
            &private,
            "--out-public",
            &public,
        ]);
        assert!(
            out.status.success(),
            "keygen: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "part.bin", "digest": {"sha256": "a".repeat(64)}}],
            "predicateType": "https://example.com/step/v1",
            "predicate": {"made_by": "python"}
        });
        let payload = env.write("statement.json", statement.to_string().as_bytes());
        let envelope = env.path(&format!("{alg}.dsse.json")).display().to_string();
        let out = sslib(&[
            "sign",
            "--private",
            &private,
            "--payload-type",
            "application/vnd.in-toto+json",
            "--payload",
            &payload,
            "--out",
            &envelope,
        ]);
        assert!(
            out.status.success(),
            "sign: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let stdout = env.ok(&["verify", &envelope, "--key", &public]);
        assert!(stdout.starts_with("OK:"), "{alg}: {stdout}");

        // A key securesystemslib did not sign with is refused.
        let other = env.key(&format!("other-{alg}"), "ed25519");
        let (code, text) = outcome(&env.run(&["verify", &envelope, "--key", &other]));
        assert_eq!(code, Some(1), "{alg}: {text}");
    }
}
