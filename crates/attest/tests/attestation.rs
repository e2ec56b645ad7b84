//! Appraisal of genuine, counterfeit, cloned, tampered, replayed, revoked and updated devices,
//! on every SCU backend.

mod common;

use common::{NOW, World, composition, on_every_backend, on_soft};
use shinrai_attest::evidence::{Claims, sign_claims};
use shinrai_attest::identity::device_key_policy;
use shinrai_attest::{
    Attester, DeviceState, Error, ReasonCode, ReferenceValues, Sha256, Status, Tier, TrustClaim,
    Verifier,
};
use shinrai_scu::{Algorithm, KeyStore};

macro_rules! every_backend {
    ($name:ident, $body:expr) => {
        #[test]
        fn $name() {
            on_every_backend(stringify!($name), $body);
        }
    };
}

every_backend!(genuine_device_is_affirmed_on_every_claim, |store| {
    let mut w = World::new(store);
    let cert = w.device("dev-1", "SN-0001");
    let ear = w.attest("dev-1", &cert, &w.genuine_state());
    assert_eq!(ear.status(), Status::Affirming, "{}", ear.explain());
    let v = ear.trust_vector();
    for c in [
        TrustClaim::InstanceIdentity,
        TrustClaim::Hardware,
        TrustClaim::Executables,
        TrustClaim::Configuration,
    ] {
        assert_eq!(v.get(c), Tier::AFFIRMING, "{c:?}");
    }
    assert!(ear.has(ReasonCode::GenuineIdentity));
    assert_eq!(
        ear.appraisal().and_then(|a| a.reference_version.as_deref()),
        Some("1.0")
    );
    let dev = ear.device().expect("device summary");
    assert_eq!(
        (dev.model.as_str(), dev.serial.as_str()),
        ("TS-100", "SN-0001")
    );
    assert!(ear.explain().starts_with("PASS"));
    // EAR JSON uses the standard claim names.
    let json: serde_json::Value = serde_json::from_slice(&ear.to_json()).expect("json");
    assert_eq!(json["eat_profile"], "tag:github.com,2023:veraison/ear");
    assert_eq!(json["submods"]["device"]["ear.status"], "affirming");
    assert_eq!(
        json["submods"]["device"]["ear.trustworthiness-vector"]["instance-identity"],
        2
    );
});

every_backend!(
    counterfeit_device_with_its_own_ca_is_contraindicated,
    |store| {
        let mut w = World::new(store);
        // A counterfeiter makes a CA of its own, with the same organisation name.
        let fake = World::with_ca("fake-ca", store, Algorithm::EcdsaP256, "Acme Sensors Ltd");
        let cert = fake.device("fake-dev", "SN-0001");
        let ear = w.attest("fake-dev", &cert, &w.genuine_state());
        assert_eq!(ear.status(), Status::Contraindicated);
        assert!(
            ear.has(ReasonCode::UnknownManufacturer),
            "{}",
            ear.explain()
        );
        assert_eq!(ear.trust_vector().instance_identity, Tier::CONTRAINDICATED);
        assert!(ear.explain().contains("counterfeit"), "{}", ear.explain());
    }
);

every_backend!(
    certificate_forged_in_the_makers_name_is_counterfeit,
    |store| {
        let mut w = World::new(store);
        // Same subject name as the real CA, different key: the signature gives it away.
        let forger = World::with_ca("forged-ca", store, Algorithm::EcdsaP256, common::MAKER);
        let cert = forger.device("forged-dev", "SN-0002");
        let ear = w.attest("forged-dev", &cert, &w.genuine_state());
        assert_eq!(ear.status(), Status::Contraindicated);
        assert!(
            ear.has(ReasonCode::CounterfeitCertificate),
            "{}",
            ear.explain()
        );
        assert!(ear.explain().contains("forged"), "{}", ear.explain());
    }
);

every_backend!(copied_certificate_without_its_key_is_counterfeit, |store| {
    let mut w = World::new(store);
    let genuine_cert = w.device("dev-1", "SN-0001");
    // The counterfeit has its own (uncertified) key but presents the genuine certificate.
    store
        .generate(
            "clone-key",
            Algorithm::EcdsaP256,
            device_key_policy().expect("policy"),
        )
        .expect("key");
    let id = Attester::new(store, "dev-1", &genuine_cert)
        .expect("attester")
        .identity()
        .clone();
    let ch = w.verifier.challenge(NOW).expect("challenge");
    let claims = Claims::new(&id, &ch, &w.genuine_state(), NOW);
    let evidence = sign_claims(store, "clone-key", &claims).expect("sign");
    let ear = w
        .verifier
        .appraise(&evidence, &genuine_cert, NOW)
        .expect("appraise");
    assert_eq!(ear.status(), Status::Contraindicated);
    assert!(ear.has(ReasonCode::KeyNotCertified), "{}", ear.explain());
    // The uncertified attempt does not pollute the genuine device's history.
    assert!(w.verifier.history(&id.ueid()).is_empty());
});

every_backend!(
    cloned_device_answering_with_the_same_certificate_and_key_is_detected,
    |store| {
        let mut w = World::new(store);
        let cert = w.device("dev-1", "SN-0001");
        let original = w.genuine_state();
        // A clone: same certificate and key (extracted), booted separately: same count, other seed.
        let mut clone = original.clone();
        clone.bootseed = [7u8; 32];
        let first = w.attest("dev-1", &cert, &original);
        assert_eq!(first.status(), Status::Affirming, "{}", first.explain());
        let second = w.attest("dev-1", &cert, &clone);
        assert_eq!(second.status(), Status::Contraindicated);
        assert!(second.has(ReasonCode::ClonedDevice), "{}", second.explain());
        assert!(second.explain().contains("cloned"));
    }
);

every_backend!(same_device_id_with_a_different_key_is_detected, |store| {
    let mut w = World::new(store);
    let a = w.device("dev-a", "SN-0042");
    let b = w.device("dev-b", "SN-0042");
    let state = w.genuine_state();
    assert_eq!(w.attest("dev-a", &a, &state).status(), Status::Affirming);
    let ear = w.attest("dev-b", &b, &state);
    assert_eq!(ear.status(), Status::Contraindicated);
    assert!(ear.has(ReasonCode::DuplicateDeviceId), "{}", ear.explain());
});

every_backend!(
    tampered_firmware_is_contraindicated_with_a_readable_reason,
    |store| {
        let mut w = World::new(store);
        let cert = w.device("dev-1", "SN-0003");
        let mut state = w.genuine_state();
        state.set_measurement("main-firmware", Sha256::of(b"firmware 1.0 with a backdoor"));
        let ear = w.attest("dev-1", &cert, &state);
        assert_eq!(ear.status(), Status::Contraindicated);
        assert!(ear.has(ReasonCode::FirmwareModified), "{}", ear.explain());
        let v = ear.trust_vector();
        assert_eq!(v.executables, Tier::CONTRAINDICATED);
        assert_eq!(
            v.instance_identity,
            Tier::AFFIRMING,
            "identity itself is fine"
        );
        assert_eq!(v.hardware, Tier::AFFIRMING);
        assert!(
            ear.explain().contains("\"main-firmware\""),
            "{}",
            ear.explain()
        );
        assert!(ear.explain().contains("tampered"), "{}", ear.explain());
    }
);

every_backend!(replayed_evidence_fails_as_stale, |store| {
    let mut w = World::new(store);
    let cert = w.device("dev-1", "SN-0004");
    let ch = w.verifier.challenge(NOW).expect("challenge");
    let evidence = Attester::new(store, "dev-1", &cert)
        .expect("attester")
        .attest(&ch, &w.genuine_state(), NOW)
        .expect("evidence");
    let first = w
        .verifier
        .appraise(&evidence, &cert, NOW + 1)
        .expect("appraise");
    assert_eq!(first.status(), Status::Affirming, "{}", first.explain());
    let replay = w
        .verifier
        .appraise(&evidence, &cert, NOW + 2)
        .expect("appraise");
    assert_eq!(replay.status(), Status::Contraindicated);
    assert!(
        replay.has(ReasonCode::NonceReplayed),
        "{}",
        replay.explain()
    );
    assert!(replay.explain().contains("replay"));
});

every_backend!(evidence_answering_an_expired_nonce_fails, |store| {
    let mut w = World::new(store);
    let cert = w.device("dev-1", "SN-0005");
    let ch = w.verifier.challenge(NOW).expect("challenge");
    let evidence = Attester::new(store, "dev-1", &cert)
        .expect("attester")
        .attest(&ch, &w.genuine_state(), NOW)
        .expect("evidence");
    let late = ch.expires_at + 1;
    let ear = w
        .verifier
        .appraise(&evidence, &cert, late)
        .expect("appraise");
    assert_eq!(ear.status(), Status::Contraindicated);
    assert!(ear.has(ReasonCode::NonceExpired), "{}", ear.explain());
});

every_backend!(revoked_device_certificate_fails, |store| {
    let mut w = World::new(store);
    let cert = w.device("dev-1", "SN-0006");
    let info = shinrai_attest::CertificateInfo::parse(&cert).expect("parse");
    w.verifier.revoke(&info);
    let ear = w.attest("dev-1", &cert, &w.genuine_state());
    assert_eq!(ear.status(), Status::Contraindicated);
    assert!(ear.has(ReasonCode::CertificateRevoked), "{}", ear.explain());
    assert!(ear.explain().contains("revoked"));
});

every_backend!(
    legitimately_updated_device_passes_and_history_is_kept,
    |store| {
        let mut w = World::new(store);
        let cert = w.device("dev-1", "SN-0007");
        let mut state = w.genuine_state();
        let before = w.attest("dev-1", &cert, &state);
        assert_eq!(before.status(), Status::Affirming);

        // The device installs release 1.1 before the maker registered it: tampered, as far as anyone knows.
        let v11 = composition("1.1", b"firmware 1.1");
        state.apply_update(&v11).expect("update");
        let early = w.attest("dev-1", &cert, &state);
        assert_eq!(
            early.status(),
            Status::Contraindicated,
            "{}",
            early.explain()
        );

        // Once the maker registers 1.1, the same device passes, on release 1.1.
        w.verifier
            .register_reference_values(ReferenceValues::from_composition(&v11).expect("rv"))
            .expect("register");
        let after = w.attest("dev-1", &cert, &state);
        assert_eq!(after.status(), Status::Affirming, "{}", after.explain());
        assert_eq!(
            after
                .appraisal()
                .and_then(|a| a.reference_version.as_deref()),
            Some("1.1")
        );

        let ueid = Attester::new(store, "dev-1", &cert)
            .expect("a")
            .identity()
            .ueid();
        let h = w.verifier.history(&ueid);
        let seen: Vec<(Status, Option<&str>)> = h
            .iter()
            .map(|e| (e.status, e.reference_version.as_deref()))
            .collect();
        assert_eq!(
            seen,
            vec![
                (Status::Affirming, Some("1.0")),
                (Status::Contraindicated, Some("1.0")),
                (Status::Affirming, Some("1.1")),
            ]
        );
    }
);

every_backend!(
    firmware_rolled_back_to_an_older_release_is_detected,
    |store| {
        let mut w = World::new(store);
        let v11 = composition("1.1", b"firmware 1.1");
        w.verifier
            .register_reference_values(ReferenceValues::from_composition(&v11).expect("rv"))
            .expect("register");
        let cert = w.device("dev-1", "SN-0008");
        let mut state = w.genuine_state();
        state.apply_update(&v11).expect("update");
        assert_eq!(w.attest("dev-1", &cert, &state).status(), Status::Affirming);
        // Flash 1.0 back with the update counter reset.
        let mut old = DeviceState::from_composition(&w.v1).expect("state");
        old.bootcount = state.bootcount + 1;
        let ear = w.attest("dev-1", &cert, &old);
        assert!(ear.has(ReasonCode::Rollback), "{}", ear.explain());
        assert_eq!(ear.status(), Status::Contraindicated);
    }
);

every_backend!(device_of_an_unregistered_model_is_not_affirmed, |store| {
    let mut w = World::new(store);
    let cert = w.device("dev-1", "SN-0009");
    w.verifier
        .withdraw_reference_values(common::MAKER, common::MODEL, "1.0");
    let ear = w.attest("dev-1", &cert, &w.genuine_state());
    assert_eq!(ear.status(), Status::Contraindicated);
    assert!(ear.has(ReasonCode::UnknownModel), "{}", ear.explain());
});

#[test]
fn added_component_and_wrong_composition_are_reported() {
    on_soft(|store| {
        let mut w = World::new(store);
        let cert = w.device("dev-1", "SN-0010");
        let mut state = w.genuine_state();
        state.set_measurement("extra-logger", Sha256::of(b"implant"));
        state.composition_digest = Sha256::of(b"another bom");
        let ear = w.attest("dev-1", &cert, &state);
        assert!(
            ear.has(ReasonCode::UnexpectedComponent),
            "{}",
            ear.explain()
        );
        assert!(ear.has(ReasonCode::CompositionMismatch));
        assert_eq!(ear.trust_vector().configuration, Tier::CONTRAINDICATED);
        assert_eq!(ear.trust_vector().executables, Tier::AFFIRMING);
    });
}

#[test]
fn missing_hardware_part_is_reported_on_the_hardware_claim() {
    on_soft(|store| {
        let mut w = World::new(store);
        let cert = w.device("dev-1", "SN-0011");
        let mut state = w.genuine_state();
        state.set_measurement("radio-module", Sha256::of(b"cheaper radio"));
        let ear = w.attest("dev-1", &cert, &state);
        assert!(ear.has(ReasonCode::HardwareModified), "{}", ear.explain());
        assert_eq!(ear.trust_vector().hardware, Tier::CONTRAINDICATED);
    });
}

#[test]
fn ed25519_manufacturer_ca_issues_devices_that_pass() {
    on_soft(|store| {
        let mut w = World::with_ca("acme-ed", store, Algorithm::Ed25519, common::MAKER);
        let cert = w.device("dev-1", "SN-0012");
        let ear = w.attest("dev-1", &cert, &w.genuine_state());
        assert_eq!(ear.status(), Status::Affirming, "{}", ear.explain());
    });
}

#[test]
fn malformed_and_truncated_evidence_is_a_clear_error() {
    on_soft(|store| {
        let mut w = World::new(store);
        let cert = w.device("dev-1", "SN-0013");
        let ch = w.verifier.challenge(NOW).expect("challenge");
        let evidence = Attester::new(store, "dev-1", &cert)
            .expect("attester")
            .attest(&ch, &w.genuine_state(), NOW)
            .expect("evidence");
        for n in [0, 1, evidence.len() / 2, evidence.len() - 1] {
            let err = w
                .verifier
                .appraise(&evidence[..n], &cert, NOW)
                .expect_err("must be refused");
            assert!(
                matches!(err, Error::MalformedEvidence(_)),
                "prefix {n}: {err}"
            );
            assert!(err.to_string().contains("malformed evidence"));
        }
        let not_claims = br#"{"payloadType":"application/eat-ucs+json","payload":"e30=","signatures":[{"keyid":"","sig":"AA=="}]}"#;
        let err = w
            .verifier
            .appraise(not_claims, &cert, NOW)
            .expect_err("must be refused");
        assert!(err.to_string().contains("EAT claims"), "{err}");
        let wrong_type =
            br#"{"payloadType":"text/plain","payload":"e30=","signatures":[{"sig":"AA=="}]}"#;
        assert!(matches!(
            w.verifier.appraise(wrong_type, &cert, NOW),
            Err(Error::MalformedEvidence(_))
        ));
        let unsigned =
            br#"{"payloadType":"application/eat-ucs+json","payload":"e30=","signatures":[]}"#;
        assert!(w.verifier.appraise(unsigned, &cert, NOW).is_err());
        // Certificate bytes that are not a certificate, or truncated.
        for bad in [&b"hello"[..], &cert[..cert.len() - 3], &[]] {
            let err = w
                .verifier
                .appraise(&evidence, bad, NOW)
                .expect_err("must be refused");
            assert!(matches!(err, Error::MalformedCertificate(_)), "{err}");
        }
        // Trailing garbage after a certificate is refused too.
        let mut long = cert.clone();
        long.push(0);
        assert!(matches!(
            w.verifier.appraise(&evidence, &long, NOW),
            Err(Error::MalformedCertificate(_))
        ));
    });
}

#[test]
fn signed_attestation_result_verifies_with_the_verifier_key_only() {
    on_soft(|store| {
        let mut w = World::new(store);
        let cert = w.device("dev-1", "SN-0014");
        let ear = w.attest("dev-1", &cert, &w.genuine_state());
        let key = store
            .generate("verifier", Algorithm::Ed25519, common::policy("statement"))
            .expect("key")
            .public_key;
        let signed = ear
            .sign(store, "verifier", &shinrai_scu::Purpose::statement())
            .expect("sign");
        let back = shinrai_attest::AttestationResult::verify_signed(&signed, &key).expect("verify");
        assert_eq!(back, ear);
        let other = store
            .generate("other", Algorithm::Ed25519, common::policy("statement"))
            .expect("key")
            .public_key;
        assert!(shinrai_attest::AttestationResult::verify_signed(&signed, &other).is_err());
    });
}

#[test]
fn fresh_verifier_without_manufacturers_refuses_reference_values() {
    let mut v = Verifier::new();
    let rv = ReferenceValues::from_composition(&composition("1.0", b"fw")).expect("rv");
    assert!(matches!(
        v.register_reference_values(rv),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn nonces_are_32_random_bytes_and_single_use() {
    let mut v = Verifier::new();
    let a = v.challenge(NOW).expect("a");
    let b = v.challenge(NOW).expect("b");
    assert_ne!(a.nonce, b.nonce);
    assert_eq!(a.nonce.len(), 32);
    assert!(a.expires_at > NOW);
}

// Keep the unused-import lint quiet when a backend-specific block is compiled out.
#[allow(dead_code)]
fn _uses(_: &dyn KeyStore) {}

#[test]
fn verifier_state_survives_a_save_and_restore() {
    on_soft(|store| {
        let mut w = World::new(store);
        let cert = w.device("dev-1", "SN-0020");
        let state = w.genuine_state();
        assert_eq!(w.attest("dev-1", &cert, &state).status(), Status::Affirming);
        // A challenge issued before the save is answered after the restore.
        let ch = w.verifier.challenge(NOW).expect("challenge");
        let saved = w.verifier.export_state().to_json();
        let mut restored =
            Verifier::from_state(shinrai_attest::VerifierState::from_json(&saved).expect("json"))
                .expect("restore");
        assert_eq!(restored.export_state().to_json(), saved);
        let evidence = Attester::new(store, "dev-1", &cert)
            .expect("attester")
            .attest(&ch, &state, NOW)
            .expect("evidence");
        let ear = restored
            .appraise(&evidence, &cert, NOW + 1)
            .expect("appraise");
        assert_eq!(ear.status(), Status::Affirming, "{}", ear.explain());
        // Clone memory came along: the same count with another boot seed is a clone.
        let mut clone = state.clone();
        clone.bootseed = [9u8; 32];
        let ch = restored.challenge(NOW).expect("challenge");
        let evidence = Attester::new(store, "dev-1", &cert)
            .expect("attester")
            .attest(&ch, &clone, NOW)
            .expect("evidence");
        let ear = restored
            .appraise(&evidence, &cert, NOW + 1)
            .expect("appraise");
        assert!(ear.has(ReasonCode::ClonedDevice), "{}", ear.explain());
        let ueid = Attester::new(store, "dev-1", &cert)
            .expect("a")
            .identity()
            .ueid();
        assert_eq!(restored.history(&ueid).len(), 3);
        let mut future = restored.export_state();
        future.version = 2;
        assert!(Verifier::from_state(future).is_err());
        assert!(shinrai_attest::VerifierState::from_json(b"{}").is_err());
    });
}

every_backend!(device_claiming_another_devices_id_is_refused, |store| {
    let mut w = World::new(store);
    let cert = w.device("dev-1", "SN-0030");
    // Certified as SN-0030, but the claims say it is SN-0031.
    let other = shinrai_attest::DeviceIdentity {
        maker: common::MAKER.into(),
        model: common::MODEL.into(),
        serial: "SN-0031".into(),
    };
    let ch = w.verifier.challenge(NOW).expect("challenge");
    let claims = Claims::new(&other, &ch, &w.genuine_state(), NOW);
    let evidence = sign_claims(store, "dev-1", &claims).expect("sign");
    let ear = w
        .verifier
        .appraise(&evidence, &cert, NOW)
        .expect("appraise");
    assert_eq!(ear.status(), Status::Contraindicated);
    assert!(ear.has(ReasonCode::IdentityMismatch), "{}", ear.explain());
});

#[test]
fn verifier_can_be_shared_between_threads_behind_a_mutex() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Verifier>();
    send_sync::<shinrai_attest::AttestationResult>();
}
