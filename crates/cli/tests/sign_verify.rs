//! End to end through the `shinrai` binary: keys, signing, verification and the failure paths a
//! user meets, on every SCU backend.

mod common;
use common::*;

fn sign(env: &Env, key: &str, subject: &str, out: &str) {
    env.ok(&[
        "sign",
        "--key",
        key,
        "--subject",
        subject,
        "--predicate-type",
        "https://example.com/step/v1",
        "--out",
        out,
    ]);
}

#[test]
fn signed_statement_verifies_on_every_backend_and_algorithm() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        for alg in ["ed25519", "ecdsa-p256"] {
            let key = format!("k-{alg}");
            let public = env.key(&key, alg);
            let part = env.write("part.bin", b"bracket A, lot 7");
            let envelope = env.path(&format!("{alg}.dsse.json")).display().to_string();
            sign(&env, &key, &part, &envelope);
            let out = env.ok(&["verify", &envelope, "--key", &public, "--subject", &part]);
            assert!(out.starts_with("OK:"), "{backend:?} {alg}: {out}");
        }
        let list = env.ok(&["key", "list"]);
        assert!(
            list.contains("k-ed25519") && list.contains("k-ecdsa-p256"),
            "{list}"
        );
    }
}

#[test]
fn verify_fails_with_reason_for_tampered_truncated_and_foreign_envelopes() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let public = env.key("org", "ed25519");
        let other = env.key("other", "ecdsa-p256");
        let part = env.write("part.bin", b"bracket A");
        let good = env.path("good.json").display().to_string();
        sign(&env, "org", &part, &good);
        let text = std::fs::read_to_string(&good).expect("envelope");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");

        // Tampered payload: change the predicate type inside the signed bytes.
        let payload = v["payload"].as_str().expect("payload");
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut decoded = b64.decode(payload).expect("b64");
        let pos = decoded.iter().position(|&b| b == b'e').expect("an e");
        decoded[pos] = b'E';
        let mut tampered = v.clone();
        tampered["payload"] = b64.encode(&decoded).into();
        let tampered_path = env.write("tampered.json", tampered.to_string().as_bytes());

        let mut wrong_type = v.clone();
        wrong_type["payloadType"] = "text/plain".into();
        let wrong_type_path = env.write("wrong-type.json", wrong_type.to_string().as_bytes());
        let truncated = env.write("truncated.json", &text.as_bytes()[..text.len() / 2]);
        let not_json = env.write("not-json.json", b"this is not an envelope");
        let other_file = env.write("other.bin", b"something else");

        let cases: [(&str, Vec<&str>, &str); 6] = [
            (
                "tampered payload",
                vec!["verify", &tampered_path, "--key", &public],
                "signature",
            ),
            (
                "truncated",
                vec!["verify", &truncated, "--key", &public],
                "truncated",
            ),
            (
                "not JSON",
                vec!["verify", &not_json, "--key", &public],
                "JSON",
            ),
            (
                "wrong payload type",
                vec!["verify", &wrong_type_path, "--key", &public],
                "payload type",
            ),
            (
                "unknown key",
                vec!["verify", &good, "--key", &other],
                "signature",
            ),
            (
                "other subject",
                vec!["verify", &good, "--key", &public, "--subject", &other_file],
                "does not cover",
            ),
        ];
        for (what, args, needle) in cases {
            let (code, text) = outcome(&env.run(&args));
            assert_eq!(
                code,
                Some(1),
                "{backend:?} {what}: expected exit 1, got {code:?}: {text}"
            );
            assert!(text.contains("FAILED"), "{backend:?} {what}: {text}");
            assert!(
                text.to_lowercase().contains(&needle.to_lowercase()),
                "{backend:?} {what}: reason should mention {needle:?}: {text}"
            );
        }
    }
}

#[test]
fn wrong_pin_is_refused_with_a_clear_error() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.key("org", "ed25519");
        let out = env
            .cmd()
            .env("SHINRAI_PIN", "not the pin")
            .args(["key", "list"])
            .output()
            .expect("runs");
        let (code, text) = outcome(&out);
        assert_eq!(code, Some(2), "{backend:?}: {text}");
        assert!(text.to_lowercase().contains("pin"), "{backend:?}: {text}");
    }
}

#[test]
fn signing_outside_the_key_policy_is_refused() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.ok(&[
            "key",
            "generate",
            "dev",
            "--algorithm",
            "ecdsa-p256",
            "--purpose",
            "device-evidence",
        ]);
        let part = env.write("part.bin", b"x");
        let out = env.run(&[
            "sign",
            "--key",
            "dev",
            "--subject",
            &part,
            "--out",
            "x.json",
        ]);
        let (code, text) = outcome(&out);
        assert_eq!(code, Some(2), "{backend:?}: {text}");
        assert!(
            text.contains("may not sign for purpose"),
            "{backend:?}: {text}"
        );
        assert!(
            !env.path("x.json").exists(),
            "{backend:?}: an envelope was written anyway"
        );

        env.ok(&["key", "generate", "once", "--max-uses", "1"]);
        env.ok(&[
            "sign",
            "--key",
            "once",
            "--subject",
            &part,
            "--out",
            "1.json",
        ]);
        let (code, text) = outcome(&env.run(&[
            "sign",
            "--key",
            "once",
            "--subject",
            &part,
            "--out",
            "2.json",
        ]));
        assert_eq!(code, Some(2), "{backend:?}: {text}");
        assert!(text.contains("usage limit"), "{backend:?}: {text}");
    }
}

#[test]
fn damaged_soft_key_store_is_a_clear_error() {
    let env = Env::new(Backend::Soft);
    env.key("org", "ed25519");
    let path = env.path("keystore.json");
    let good = std::fs::read(&path).expect("key store");
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    for (what, bytes) in [
        ("truncated", good[..good.len() / 3].to_vec()),
        ("flipped byte", flipped),
        ("not JSON", b"garbage".to_vec()),
        ("empty", Vec::new()),
    ] {
        std::fs::write(&path, &bytes).expect("write");
        let (code, text) = outcome(&env.run(&["key", "list"]));
        assert_eq!(code, Some(2), "{what}: {text}");
        assert!(!text.contains("panicked"), "{what}: {text}");
        assert!(
            text.contains("damaged") || text.contains("wrong PIN"),
            "{what}: the error should say the store is damaged: {text}"
        );
    }
}

#[test]
fn key_audit_reports_an_edited_or_deleted_record_with_its_position() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.key("org", "ed25519");
        let part = env.write("part.bin", b"x");
        for i in 0..4 {
            env.ok(&[
                "sign",
                "--key",
                "org",
                "--subject",
                &part,
                "--out",
                &format!("{i}.json"),
            ]);
        }
        let out = env.ok(&["key", "audit"]);
        assert!(!out.to_lowercase().contains("tamper"), "{backend:?}: {out}");

        let log = find_audit_log(&env);
        let original = std::fs::read_to_string(&log).expect("audit log");
        let lines: Vec<&str> = original.lines().collect();
        assert!(
            lines.len() >= 5,
            "{backend:?}: expected a record per use, got {}",
            lines.len()
        );

        // Edit the third record.
        let mut edited = lines.clone();
        let third = lines[2].replacen("org", "orh", 1);
        edited[2] = &third;
        std::fs::write(&log, edited.join("\n") + "\n").expect("write");
        let (code, text) = outcome(&env.run(&["key", "audit"]));
        assert_eq!(code, Some(1), "{backend:?} edit: {text}");
        assert!(
            text.contains('3'),
            "{backend:?} edit: position 3 not reported: {text}"
        );

        // Delete the second record.
        let mut deleted = lines.clone();
        deleted.remove(1);
        std::fs::write(&log, deleted.join("\n") + "\n").expect("write");
        let (code, text) = outcome(&env.run(&["key", "audit"]));
        assert_eq!(code, Some(1), "{backend:?} delete: {text}");
        assert!(
            text.contains('2'),
            "{backend:?} delete: position 2 not reported: {text}"
        );
    }
}

/// The audit log file of the environment's key store (the only `*audit*` file in the directory).
fn find_audit_log(env: &Env) -> std::path::PathBuf {
    std::fs::read_dir(env.dir.path())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains("audit"))
        })
        .expect("an audit log next to the key store")
}
