//! The same behaviour tests on every key store backend (soft, and pkcs11 on a fresh SoftHSM2 token).
#![cfg(feature = "pkcs11")]

mod common;

use common::{Backend, Fixture, lines, on_every_backend, on_pkcs11, write_lines};
use shinrai_scu::audit::ProblemKind;
use shinrai_scu::{Algorithm, Assurance, Error, Purpose, UsagePolicy};

macro_rules! every_backend {
    ($name:ident, $body:expr) => {
        #[test]
        fn $name() {
            on_every_backend(stringify!($name), $body);
        }
    };
}

fn statements() -> UsagePolicy {
    UsagePolicy::new([Purpose::statement()]).expect("policy")
}

every_backend!(capabilities_report_backend_and_assurance, |fx: &Fixture| {
    let store = fx.open();
    let caps = store.capabilities();
    assert!(caps.algorithms.contains(&Algorithm::EcdsaP256), "{caps:?}");
    assert!(
        caps.algorithms.contains(&Algorithm::Ed25519),
        "Ed25519 missing (SoftHSM2 needs OpenSSL >= 1.1.1): {caps:?}"
    );
    match fx.backend {
        Backend::Soft => {
            assert_eq!(caps.backend, "soft");
            assert_eq!(caps.assurance, Assurance::Low);
            assert!(caps.exportable_keys);
        }
        Backend::Pkcs11 => {
            assert_eq!(caps.backend, "pkcs11");
            assert_eq!(caps.assurance, Assurance::Hardware);
            assert!(!caps.exportable_keys);
        }
    }
});

every_backend!(signs_and_verifies_with_both_algorithms, |fx: &Fixture| {
    let store = fx.open();
    for (label, alg) in [
        ("org", Algorithm::Ed25519),
        ("device", Algorithm::EcdsaP256),
    ] {
        let info = store.generate(label, alg, statements()).expect("generate");
        assert_eq!(info.algorithm, alg);
        assert_eq!(info.uses, 0);
        let public = store.public_key(label).expect("public key");
        assert_eq!(public, info.public_key);
        let message = b"in-toto statement bytes";
        let sig = store
            .sign(label, &Purpose::statement(), message)
            .expect("sign");
        assert_eq!(sig.algorithm, alg);
        assert_eq!(sig.bytes.len(), 64);
        public
            .verify(message, &sig.bytes)
            .expect("signature verifies");
        public
            .verify(message, &sig.to_der())
            .expect("DER form verifies");
        assert!(matches!(
            public.verify(b"another message", &sig.bytes),
            Err(Error::BadSignature)
        ));
    }
    let labels: Vec<String> = store
        .list()
        .expect("list")
        .into_iter()
        .map(|k| k.label)
        .collect();
    assert_eq!(labels, ["device", "org"]);
});

every_backend!(rejects_duplicate_label_and_bad_label, |fx: &Fixture| {
    let store = fx.open();
    store
        .generate("k", Algorithm::EcdsaP256, statements())
        .expect("generate");
    assert!(matches!(
        store.generate("k", Algorithm::Ed25519, statements()),
        Err(Error::KeyExists(_))
    ));
    assert!(matches!(
        store.generate("no spaces", Algorithm::Ed25519, statements()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        store.sign("missing", &Purpose::statement(), b"m"),
        Err(Error::KeyNotFound(_))
    ));
});

every_backend!(
    refuses_purpose_outside_policy_and_audits_it,
    |fx: &Fixture| {
        let store = fx.open();
        store
            .generate("k", Algorithm::Ed25519, statements())
            .expect("generate");
        let err = store
            .sign("k", &Purpose::checkpoint(), b"checkpoint")
            .expect_err("refused");
        assert!(matches!(err, Error::PolicyViolation { .. }), "{err}");
        assert!(err.to_string().contains("statement"), "{err}");
        let report = store.audit().expect("audit");
        assert!(report.is_intact(), "{:?}", report.problems);
        let last = report.records.last().expect("records");
        assert_eq!(last.operation, shinrai_scu::audit::Operation::Refused);
        assert_eq!(last.purpose.as_deref(), Some("checkpoint"));
    }
);

every_backend!(usage_limit_survives_reopening, |fx: &Fixture| {
    {
        let store = fx.open();
        store
            .generate(
                "limited",
                Algorithm::EcdsaP256,
                statements().with_max_uses(2),
            )
            .expect("generate");
        store
            .generate("free", Algorithm::Ed25519, statements())
            .expect("generate");
        for _ in 0..2 {
            store
                .sign("limited", &Purpose::statement(), b"m")
                .expect("within limit");
        }
        for _ in 0..3 {
            store
                .sign("free", &Purpose::statement(), b"m")
                .expect("unlimited");
        }
        assert!(matches!(
            store.sign("limited", &Purpose::statement(), b"m"),
            Err(Error::UsageLimitReached { max_uses: 2, .. })
        ));
    }
    let store = fx.open();
    let keys = store.list().expect("list");
    let uses = |l: &str| keys.iter().find(|k| k.label == l).expect("key").uses;
    assert_eq!(uses("limited"), 2);
    assert_eq!(uses("free"), 3);
    assert!(matches!(
        store.sign("limited", &Purpose::statement(), b"m"),
        Err(Error::UsageLimitReached { .. })
    ));
});

every_backend!(deleted_key_is_gone_after_reopening, |fx: &Fixture| {
    {
        let store = fx.open();
        store
            .generate("old", Algorithm::EcdsaP256, statements())
            .expect("generate");
        store
            .generate("keep", Algorithm::Ed25519, statements())
            .expect("generate");
        store.delete("old").expect("delete");
        assert!(matches!(store.delete("old"), Err(Error::KeyNotFound(_))));
        assert!(matches!(
            store.public_key("old"),
            Err(Error::KeyNotFound(_))
        ));
    }
    let store = fx.open();
    let labels: Vec<String> = store
        .list()
        .expect("list")
        .into_iter()
        .map(|k| k.label)
        .collect();
    assert_eq!(labels, ["keep"]);
    assert!(matches!(
        store.sign("old", &Purpose::statement(), b"m"),
        Err(Error::KeyNotFound(_))
    ));
    store
        .sign("keep", &Purpose::statement(), b"m")
        .expect("other key still signs");
});

every_backend!(rejects_wrong_pin, |fx: &Fixture| {
    drop(fx.open());
    let err = fx
        .open_with("not-the-secret")
        .map(|_| ())
        .expect_err("wrong PIN");
    assert!(matches!(err, Error::WrongPin), "{err}");
    drop(fx.open());
});

/// Builds a store whose log has 5 records: generate, then 4 signatures.
fn five_records(fx: &Fixture) -> Vec<String> {
    let store = fx.open();
    store
        .generate("k", Algorithm::Ed25519, statements())
        .expect("generate");
    for i in 0..4u8 {
        store.sign("k", &Purpose::statement(), &[i]).expect("sign");
    }
    let report = store.audit().expect("audit");
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(report.records_checked, 5);
    drop(store);
    let l = lines(&fx.audit_path());
    assert_eq!(l.len(), 5);
    l
}

fn audit_problems(fx: &Fixture) -> Vec<(u64, ProblemKind)> {
    let store = fx.open();
    let report = store.audit().expect("audit");
    report.problems.iter().map(|p| (p.line, p.kind)).collect()
}

every_backend!(
    audit_log_reports_edited_deleted_and_truncated_records,
    |fx: &Fixture| {
        let original = five_records(fx);
        let path = fx.audit_path();

        let mut edited = original.clone();
        edited[2] = edited[2].replace("\"ok\"", "\"ok, nothing to see\"");
        assert_ne!(edited[2], original[2]);
        write_lines(&path, &edited);
        assert_eq!(audit_problems(fx), [(3, ProblemKind::Edited)]);

        let mut deleted = original.clone();
        deleted.remove(2);
        write_lines(&path, &deleted);
        assert_eq!(audit_problems(fx), [(3, ProblemKind::Deleted)]);

        write_lines(&path, &original[..3]);
        assert_eq!(audit_problems(fx), [(4, ProblemKind::Truncated)]);

        let mut garbage = original.clone();
        garbage[1] = "{not json".into();
        write_lines(&path, &garbage);
        assert_eq!(audit_problems(fx)[0], (2, ProblemKind::Unparseable));

        let mut swapped = original.clone();
        swapped.swap(1, 2);
        write_lines(&path, &swapped);
        let problems = audit_problems(fx);
        assert!(!problems.is_empty());
        assert!(
            problems.iter().all(|(_, k)| *k == ProblemKind::Reordered),
            "{problems:?}"
        );

        write_lines(&path, &original);
        assert!(audit_problems(fx).is_empty());
    }
);

every_backend!(
    audit_log_with_recomputed_plain_hash_is_still_detected,
    |fx: &Fixture| {
        // An attacker who rewrites a record and recomputes a bare SHA-256 chain is caught: the chain
        // is keyed with a secret of the store.
        let original = five_records(fx);
        let mut forged = original.clone();
        let mut rec: serde_json::Value = serde_json::from_str(&forged[1]).expect("json");
        rec["outcome"] = "forged".into();
        rec["hash"] = "00".repeat(32).into();
        forged[1] = rec.to_string();
        write_lines(&fx.audit_path(), &forged);
        let problems = audit_problems(fx);
        assert!(problems.contains(&(2, ProblemKind::Edited)), "{problems:?}");
    }
);

every_backend!(audit_log_file_is_private, |fx: &Fixture| {
    use std::os::unix::fs::PermissionsExt;
    let store = fx.open();
    store
        .generate("k", Algorithm::Ed25519, statements())
        .expect("generate");
    let mode = std::fs::metadata(fx.audit_path())
        .expect("audit log")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
});

#[test]
fn pkcs11_private_keys_are_sensitive_and_not_extractable() {
    on_pkcs11(
        "pkcs11_private_keys_are_sensitive_and_not_extractable",
        |fx: &Fixture| {
            let store = fx.open_pkcs11_with(common::PIN).expect("open token");
            use shinrai_scu::KeyStore as _;
            for (label, alg) in [("ed", Algorithm::Ed25519), ("ec", Algorithm::EcdsaP256)] {
                store.generate(label, alg, statements()).expect("generate");
                assert_eq!(
                    store.private_key_protection(label).expect("attributes"),
                    (true, false),
                    "CKA_SENSITIVE must be true and CKA_EXTRACTABLE false"
                );
                assert!(store.try_read_private_value(label).is_err());
            }
        },
    );
}

#[test]
fn pkcs11_reports_unknown_token_and_missing_module_clearly() {
    on_pkcs11(
        "pkcs11_reports_unknown_token_and_missing_module_clearly",
        |fx: &Fixture| {
            let err = shinrai_scu::pkcs11::Pkcs11KeyStore::open_with_audit_log(
                common::module_path(),
                "no-such-token",
                common::PIN,
                fx.audit_path(),
            )
            .map(|_| ())
            .expect_err("unknown token");
            assert!(err.to_string().contains("no-such-token"), "{err}");
            let err = shinrai_scu::pkcs11::Pkcs11KeyStore::open(
                "/nonexistent/libpkcs11.so",
                common::TOKEN_LABEL,
                common::PIN,
            )
            .map(|_| ())
            .expect_err("missing module");
            assert!(matches!(err, Error::Pkcs11(_)), "{err}");
            assert!(
                err.to_string().contains("/nonexistent/libpkcs11.so"),
                "{err}"
            );
        },
    );
}

#[test]
fn pkcs11_keys_and_audit_key_survive_reopening() {
    on_pkcs11(
        "pkcs11_keys_and_audit_key_survive_reopening",
        |fx: &Fixture| {
            let public = {
                let store = fx.open();
                store
                    .generate("k", Algorithm::EcdsaP256, statements())
                    .expect("generate");
                store.public_key("k").expect("public")
            };
            let store = fx.open();
            let sig = store.sign("k", &Purpose::statement(), b"m").expect("sign");
            public
                .verify(b"m", &sig.bytes)
                .expect("same key after reopening");
            let report = store.audit().expect("audit");
            assert!(report.is_intact(), "{:?}", report.problems);
            assert_eq!(report.records_checked, 2);
        },
    );
}

#[test]
fn pkcs11_second_open_of_a_logged_in_token_is_refused_not_let_in_without_pin() {
    on_pkcs11(
        "pkcs11_second_open_of_a_logged_in_token_is_refused_not_let_in_without_pin",
        |fx: &Fixture| {
            let first = fx.open();
            let err = fx.open_with("wrong").map(|_| ()).expect_err("second open");
            assert!(err.to_string().contains("already open"), "{err}");
            drop(first);
            assert!(matches!(
                fx.open_with("wrong").map(|_| ()),
                Err(Error::WrongPin)
            ));
            drop(fx.open());
        },
    );
}

every_backend!(audit_problem_message_names_line_and_kind, |fx: &Fixture| {
    let mut l = five_records(fx);
    l.remove(3);
    write_lines(&fx.audit_path(), &l);
    let store = fx.open();
    let report = store.audit().expect("audit");
    let text: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert_eq!(text, ["line 4: deleted: record 4 is missing before line 4"]);
});

every_backend!(
    signs_from_many_threads_and_counts_every_use,
    |fx: &Fixture| {
        let store = fx.open();
        let info = store
            .generate("k", Algorithm::Ed25519, statements())
            .expect("generate");
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let store = &store;
                let public = &info.public_key;
                s.spawn(move || {
                    for i in 0..25u8 {
                        let msg = [t, i];
                        let sig = store.sign("k", &Purpose::statement(), &msg).expect("sign");
                        public.verify(&msg, &sig.bytes).expect("verifies");
                    }
                });
            }
        });
        assert_eq!(store.list().expect("list")[0].uses, 100);
        let report = store.audit().expect("audit");
        assert!(report.is_intact(), "{:?}", report.problems);
        assert_eq!(report.records_checked, 101);
    }
);
