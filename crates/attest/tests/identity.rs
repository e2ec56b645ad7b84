//! Manufacturer CA and device certificates: issuance in the SCU and chain validation errors.

mod common;

use common::{MAKER, MODEL, NOW, World, on_every_backend, on_soft, policy};
use shinrai_attest::identity::{device_key_policy, pem_to_der};
use shinrai_attest::{
    CertificateInfo, Error, ManufacturerCa, RevocationList, Validity, validate_device_certificate,
};
use shinrai_scu::Algorithm;

macro_rules! every_backend {
    ($name:ident, $body:expr) => {
        #[test]
        fn $name() {
            on_every_backend(stringify!($name), $body);
        }
    };
}

every_backend!(device_certificate_chains_to_its_manufacturer, |store| {
    let w = World::new(store);
    let der = w.device("dev-1", "SN-0001");
    let dev = validate_device_certificate(&w.ca, &der, NOW, &RevocationList::new()).expect("valid");
    assert_eq!(dev.identity().maker, MAKER);
    assert_eq!(dev.identity().model, MODEL);
    assert_eq!(dev.identity().serial, "SN-0001");
    assert_eq!(dev.public_key(), &store.public_key("dev-1").expect("pk"));
    assert_eq!(dev.identity().ueid().len(), 33);
    assert_eq!(dev.identity().ueid()[0], 0x01);
    let ca = w.ca.info();
    assert!(ca.ca);
    assert!(!dev.certificate().ca);
});

every_backend!(certificate_from_another_ca_is_an_unknown_issuer, |store| {
    let w = World::new(store);
    let other = World::with_ca("other-ca", store, Algorithm::EcdsaP256, "Other Maker");
    let der = other.device("dev-1", "SN-0001");
    let err = validate_device_certificate(&w.ca, &der, NOW, &RevocationList::new())
        .expect_err("must be refused");
    assert!(matches!(err, Error::UnknownIssuer { .. }), "{err}");
    assert!(err.to_string().contains("counterfeit"));
});

every_backend!(
    certificate_signed_by_a_look_alike_ca_has_a_bad_signature,
    |store| {
        let w = World::new(store);
        let forger = World::with_ca("forger", store, Algorithm::EcdsaP256, MAKER);
        let der = forger.device("dev-1", "SN-0001");
        let err = validate_device_certificate(&w.ca, &der, NOW, &RevocationList::new())
            .expect_err("must be refused");
        assert!(
            matches!(err, Error::BadCertificateSignature { .. }),
            "{err}"
        );
    }
);

#[test]
fn expired_and_not_yet_valid_certificates_are_refused() {
    on_soft(|store| {
        let w = World::new(store);
        let der = w.device("dev-1", "SN-0001");
        let info = CertificateInfo::parse(&der).expect("parse");
        let none = RevocationList::new();
        let late = (info.not_after + 1) as u64;
        assert!(matches!(
            validate_device_certificate(&w.ca, &der, late, &none),
            Err(Error::CertificateExpired { .. })
        ));
        let early = (info.not_before - 1) as u64;
        assert!(matches!(
            validate_device_certificate(&w.ca, &der, early, &none),
            Err(Error::CertificateNotYetValid { .. })
        ));
    });
}

#[test]
fn revoked_certificate_is_refused_and_others_are_not() {
    on_soft(|store| {
        let w = World::new(store);
        let a = w.device("dev-a", "SN-A");
        let b = w.device("dev-b", "SN-B");
        let mut crl = RevocationList::new();
        crl.revoke(&CertificateInfo::parse(&a).expect("parse"));
        let err = validate_device_certificate(&w.ca, &a, NOW, &crl).expect_err("must be refused");
        assert!(matches!(err, Error::CertificateRevoked { .. }), "{err}");
        assert!(validate_device_certificate(&w.ca, &b, NOW, &crl).is_ok());
    });
}

#[test]
fn device_certificate_cannot_act_as_a_ca() {
    on_soft(|store| {
        let w = World::new(store);
        let der = w.device("dev-1", "SN-0001");
        assert!(matches!(
            ManufacturerCa::from_der(&der),
            Err(Error::NotACa { .. })
        ));
    });
}

#[test]
fn device_keys_must_be_p256_and_ca_keys_must_allow_certificates() {
    on_soft(|store| {
        let w = World::new(store);
        let ed = store
            .generate(
                "ed-dev",
                Algorithm::Ed25519,
                device_key_policy().expect("p"),
            )
            .expect("key");
        let err =
            w.ca.issue_device_certificate(
                store,
                &w.ca_label,
                MODEL,
                "SN-9",
                &ed.public_key,
                Validity::years_from(NOW, 1),
            )
            .expect_err("must be refused");
        assert!(matches!(err, Error::UnsupportedAlgorithm(_)), "{err}");

        // A key whose policy does not include "certificate" cannot make a CA.
        store
            .generate("stmt-only", Algorithm::EcdsaP256, policy("statement"))
            .expect("key");
        let err = ManufacturerCa::create(store, "stmt-only", MAKER, Validity::years_from(NOW, 1))
            .expect_err("must be refused");
        assert!(matches!(err, Error::Scu(_)), "{err}");

        // Serial numbers must be PrintableString.
        let dev = store
            .generate(
                "dev-x",
                Algorithm::EcdsaP256,
                device_key_policy().expect("p"),
            )
            .expect("key");
        let err =
            w.ca.issue_device_certificate(
                store,
                &w.ca_label,
                MODEL,
                "SN_0001",
                &dev.public_key,
                Validity::years_from(NOW, 1),
            )
            .expect_err("must be refused");
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    });
}

#[test]
fn garbage_and_truncated_certificates_are_malformed() {
    on_soft(|store| {
        let w = World::new(store);
        let der = w.device("dev-1", "SN-0001");
        for n in [0, 1, 10, der.len() / 2, der.len() - 1] {
            let err = CertificateInfo::parse(&der[..n]).expect_err("must be refused");
            assert!(
                matches!(err, Error::MalformedCertificate(_)),
                "prefix {n}: {err}"
            );
        }
        let mut flipped = der.clone();
        let last = flipped.len() - 5;
        flipped[last] ^= 0x55; // inside the signature
        let err = validate_device_certificate(&w.ca, &flipped, NOW, &RevocationList::new())
            .expect_err("must be refused");
        assert!(
            matches!(
                err,
                Error::BadCertificateSignature { .. } | Error::MalformedCertificate(_)
            ),
            "{err}"
        );
    });
}

#[test]
fn openssl_verifies_the_device_chain() {
    on_soft(|store| {
        let w = World::new(store);
        let der = w.device("dev-1", "SN-0001");
        let dir = tempfile::tempdir().expect("dir");
        let ca = dir.path().join("ca.pem");
        let dev = dir.path().join("dev.pem");
        std::fs::write(&ca, w.ca.certificate_pem()).expect("write");
        std::fs::write(&dev, shinrai_attest::identity::der_to_pem(&der)).expect("write");
        assert_eq!(
            pem_to_der(&w.ca.certificate_pem()).expect("pem"),
            w.ca.certificate_der()
        );
        let out = std::process::Command::new("openssl")
            .args(["verify", "-attime", &NOW.to_string(), "-CAfile"])
            .arg(&ca)
            .arg(&dev)
            .output()
            .expect("openssl is required for this interop test: apt-get install openssl");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "openssl verify failed: {text}");
        let out = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-subject", "-in"])
            .arg(&dev)
            .output()
            .expect("openssl");
        let subject = String::from_utf8_lossy(&out.stdout);
        assert!(subject.contains("serialNumber = SN-0001"), "{subject}");
        assert!(subject.contains("CN = TS-100"), "{subject}");
    });
}

every_backend!(
    manufacturer_crl_revokes_a_device_and_forged_or_stale_crls_are_refused,
    |store| {
        let mut w = World::new(store);
        let a = w.device("dev-a", "SN-A");
        let b = w.device("dev-b", "SN-B");
        let a_info = CertificateInfo::parse(&a).expect("parse");
        let crl =
            w.ca.issue_crl(
                store,
                &w.ca_label,
                std::slice::from_ref(&a_info),
                1,
                NOW - 60,
                NOW + 86_400,
            )
            .expect("issue crl");
        let list = RevocationList::from_crl(&w.ca, &crl, NOW).expect("read crl");
        assert!(list.is_revoked(&a_info));
        assert!(!list.is_revoked(&CertificateInfo::parse(&b).expect("parse")));
        assert!(matches!(
            validate_device_certificate(&w.ca, &a, NOW, &list),
            Err(Error::CertificateRevoked { .. })
        ));
        assert!(validate_device_certificate(&w.ca, &b, NOW, &list).is_ok());

        // The verifier uses it.
        w.verifier.set_revocation_list(list);
        let ear = w.attest("dev-a", &a, &w.genuine_state());
        assert!(
            ear.has(shinrai_attest::ReasonCode::CertificateRevoked),
            "{}",
            ear.explain()
        );

        // Stale (past nextUpdate) and not yet valid lists are refused.
        assert!(matches!(
            RevocationList::from_crl(&w.ca, &crl, NOW + 2 * 86_400),
            Err(Error::StaleRevocationList { .. })
        ));
        assert!(matches!(
            RevocationList::from_crl(&w.ca, &crl, NOW - 3600),
            Err(Error::StaleRevocationList { .. })
        ));
        // A look-alike CA cannot revoke (or un-revoke) the maker's devices.
        let forger = World::with_ca("forger", store, Algorithm::EcdsaP256, MAKER);
        let forged = forger
            .ca
            .issue_crl(store, "forger", &[], 2, NOW - 60, NOW + 86_400)
            .expect("forged crl");
        assert!(matches!(
            RevocationList::from_crl(&w.ca, &forged, NOW),
            Err(Error::BadCertificateSignature { .. })
        ));
        // A certificate from another CA cannot be put on this CA's list.
        let other = World::with_ca("other", store, Algorithm::EcdsaP256, "Other Maker");
        let foreign = CertificateInfo::parse(&other.device("dev-o", "SN-O")).expect("parse");
        assert!(matches!(
            w.ca.issue_crl(store, &w.ca_label, &[foreign], 3, NOW, NOW + 60),
            Err(Error::InvalidArgument(_))
        ));
        for bad in [&b""[..], b"crl", &crl[..crl.len() - 1]] {
            assert!(matches!(
                RevocationList::from_crl(&w.ca, bad, NOW),
                Err(Error::MalformedRevocationList(_))
            ));
        }
    }
);

#[test]
fn openssl_checks_the_manufacturer_crl() {
    on_soft(|store| {
        let w = World::new(store);
        let a = w.device("dev-a", "SN-A");
        let crl =
            w.ca.issue_crl(
                store,
                &w.ca_label,
                &[CertificateInfo::parse(&a).expect("parse")],
                7,
                NOW - 60,
                NOW + 86_400,
            )
            .expect("crl");
        let dir = tempfile::tempdir().expect("dir");
        let ca = dir.path().join("ca.pem");
        let crl_path = dir.path().join("crl.der");
        let dev = dir.path().join("dev.pem");
        std::fs::write(&ca, w.ca.certificate_pem()).expect("write");
        std::fs::write(&crl_path, &crl).expect("write");
        std::fs::write(&dev, shinrai_attest::identity::der_to_pem(&a)).expect("write");
        let out = std::process::Command::new("openssl")
            .args(["crl", "-inform", "DER", "-noout", "-CAfile"])
            .arg(&ca)
            .arg("-in")
            .arg(&crl_path)
            .output()
            .expect("openssl is required for this interop test: apt-get install openssl");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("verify OK"), "{text}");
        // openssl, given the CRL, refuses the revoked device certificate.
        let pem_crl = dir.path().join("crl.pem");
        let conv = std::process::Command::new("openssl")
            .args(["crl", "-inform", "DER", "-outform", "PEM", "-in"])
            .arg(&crl_path)
            .arg("-out")
            .arg(&pem_crl)
            .output()
            .expect("openssl");
        assert!(conv.status.success());
        let out = std::process::Command::new("openssl")
            .args([
                "verify",
                "-crl_check",
                "-attime",
                &NOW.to_string(),
                "-CAfile",
            ])
            .arg(&ca)
            .arg("-CRLfile")
            .arg(&pem_crl)
            .arg(&dev)
            .output()
            .expect("openssl");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && text.contains("revoked"), "{text}");
    });
}
