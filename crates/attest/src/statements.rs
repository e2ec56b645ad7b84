//! Device data as in-toto Statement v1 in DSSE, for registration in the trust store.
//!
//! The trust store takes signed in-toto statements (payload type
//! `application/vnd.in-toto+json`). Each kind of device data gets its own predicate type, and a
//! subject whose SHA-256 lets the store's index find it:
//!
//! | predicate type | subject (name, sha256 of) | predicate |
//! |---|---|---|
//! | [`MAKER_CA_PREDICATE_TYPE`] | `maker-ca:<maker>`, CA certificate DER | `maker`, `certificate` (PEM) |
//! | [`REFERENCE_PREDICATE_TYPE`] | `<maker>/<model>@<version>`, composition digest | `referenceValues`, `cyclonedx` (the CycloneDX 1.6 document) |
//! | [`CRL_PREDICATE_TYPE`] | `crl:<maker>`, CRL DER | `maker`, `crl` (base64 DER) |
//! | [`RESULT_PREDICATE_TYPE`] | `device:<maker>/<model>/<serial>`, device certificate DER | the EAR |
//!
//! Statements are signed through an SCU key (purpose `statement`) with
//! [`shinrai_envelope::statement::sign_statement`], and read back only through
//! [`shinrai_envelope::statement::verify_statement`] (signatures checked over the received bytes
//! before the payload is parsed).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use shinrai_envelope::ScuSigner;
use shinrai_envelope::keys::SslibKey;
use shinrai_envelope::statement::{Statement, Subject, sign_statement, verify_statement};
use shinrai_scu::{KeyStore, Purpose};

use crate::{
    AttestationResult, CertificateInfo, Composition, Error, ManufacturerCa, ReferenceValues,
    Result, Sha256,
};

/// Predicate type of a signed attestation result (the predicate is the EAR).
pub const RESULT_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/device-result/v1";
/// Predicate type of a manufacturer's CA certificate.
pub const MAKER_CA_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/device-maker-ca/v1";
/// Predicate type of a model release's reference values and CycloneDX composition.
pub const REFERENCE_PREDICATE_TYPE: &str =
    "https://shinrai.dev/attestation/device-reference-values/v1";
/// Predicate type of a manufacturer's certificate revocation list.
pub const CRL_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/device-crl/v1";

fn statement(
    name: &str,
    digest: &Sha256,
    predicate_type: &str,
    predicate: Value,
) -> Result<Statement> {
    let subject = Subject::new(name, &digest.to_hex())
        .map_err(|e| Error::InvalidArgument(format!("statement subject: {e}")))?;
    Statement::new(vec![subject], predicate_type, predicate)
        .map_err(|e| Error::InvalidArgument(format!("statement: {e}")))
}

/// The statement registering a manufacturer's CA certificate.
pub fn maker_ca_statement(ca: &ManufacturerCa) -> Result<Statement> {
    statement(
        &format!("maker-ca:{}", ca.organisation()),
        &Sha256::of(ca.certificate_der()),
        MAKER_CA_PREDICATE_TYPE,
        json!({"maker": ca.organisation(), "certificate": ca.certificate_pem()}),
    )
}

/// The statement registering a model release: its reference values and its CycloneDX 1.6
/// composition. The subject digest is the composition digest devices report.
pub fn reference_statement(composition: &Composition) -> Result<Statement> {
    let rv = ReferenceValues::from_composition(composition)?;
    let cdx: Value = serde_json::from_slice(&composition.to_cyclonedx()?)
        .map_err(|e| Error::InvalidArgument(format!("CycloneDX is not JSON: {e}")))?;
    let rv_json: Value = serde_json::from_slice(&rv.to_json())
        .map_err(|e| Error::InvalidArgument(format!("reference values are not JSON: {e}")))?;
    statement(
        &format!(
            "{}/{}@{}",
            composition.maker, composition.model, composition.version
        ),
        &rv.composition_digest,
        REFERENCE_PREDICATE_TYPE,
        json!({"referenceValues": rv_json, "cyclonedx": cdx}),
    )
}

/// The statement registering a manufacturer's CRL (DER, from [`ManufacturerCa::issue_crl`]).
pub fn crl_statement(ca: &ManufacturerCa, crl_der: &[u8]) -> Result<Statement> {
    statement(
        &format!("crl:{}", ca.organisation()),
        &Sha256::of(crl_der),
        CRL_PREDICATE_TYPE,
        json!({"maker": ca.organisation(), "crl": B64.encode(crl_der)}),
    )
}

/// The statement carrying an attestation result about the device with certificate
/// `certificate_der`; its subject is that certificate, so the store finds every result about a
/// device by the certificate's digest.
pub fn result_statement(ear: &AttestationResult, certificate_der: &[u8]) -> Result<Statement> {
    let cert = CertificateInfo::parse(certificate_der)?;
    let id = cert.device_identity().ok_or_else(|| {
        Error::MalformedCertificate("the certificate names no device (model, serial)".into())
    })?;
    if let Some(d) = ear.device()
        && d.certificate_sha256 != Sha256::of(certificate_der)
    {
        return Err(Error::InvalidArgument(
            "the attestation result is about another certificate".into(),
        ));
    }
    let predicate: Value = serde_json::from_slice(&ear.to_json())
        .map_err(|e| Error::InvalidArgument(format!("attestation result is not JSON: {e}")))?;
    statement(
        &format!("device:{}/{}/{}", id.maker, id.model, id.serial),
        &Sha256::of(certificate_der),
        RESULT_PREDICATE_TYPE,
        predicate,
    )
}

/// Signs `statement` with key `label` of `store` (purpose `statement`): DSSE JSON bytes.
pub fn sign(store: &dyn KeyStore, label: &str, statement: &Statement) -> Result<Vec<u8>> {
    let err = |e: shinrai_envelope::Error| match e {
        shinrai_envelope::Error::Signing(scu) => Error::Scu(scu),
        other => Error::InvalidArgument(format!("could not sign the statement: {other}")),
    };
    let signer = ScuSigner::new(store, label, Purpose::statement()).map_err(err)?;
    let env = sign_statement(statement, &[&signer]).map_err(err)?;
    Ok(env.to_json_bytes())
}

/// A signed attestation result read back and checked: signed by one of `trusted`, of
/// [`RESULT_PREDICATE_TYPE`], about the certificate whose SHA-256 is `certificate_sha256`.
#[derive(Debug, Clone)]
pub struct SignedResult {
    /// The attestation result.
    pub result: AttestationResult,
    /// Key ids (securesystemslib) of the keys whose signatures verified.
    pub signers: Vec<String>,
}

/// Reads a signed attestation result (DSSE bytes as registered), verifying the signature with
/// `trusted` keys over the received bytes first, then the predicate type and subject.
pub fn verify_result(
    envelope: &[u8],
    trusted: &[SslibKey],
    certificate_sha256: &Sha256,
) -> Result<SignedResult> {
    let verified = verify_statement(envelope, trusted, 1)
        .map_err(|e| Error::MalformedEvidence(format!("signed attestation result refused: {e}")))?;
    let signers = verified.signer_keyids();
    let st = verified.into_value();
    if st.predicate_type != RESULT_PREDICATE_TYPE {
        return Err(Error::MalformedEvidence(format!(
            "predicate type {:?} is not an attestation result",
            st.predicate_type
        )));
    }
    let want = certificate_sha256.to_hex();
    if !st.subject.iter().any(|s| s.sha256() == Some(want.as_str())) {
        return Err(Error::MalformedEvidence(
            "the signed attestation result is about another device certificate".into(),
        ));
    }
    let result = AttestationResult::from_json(st.predicate.to_string().as_bytes())?;
    if result
        .device()
        .is_some_and(|d| d.certificate_sha256 != *certificate_sha256)
    {
        return Err(Error::MalformedEvidence(
            "the attestation result inside names another device certificate".into(),
        ));
    }
    Ok(SignedResult { result, signers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{device_key_policy, manufacturer_key_policy};
    use crate::{Attester, Component, ComponentKind, DeviceState, Status, Validity, Verifier};
    use shinrai_scu::soft::{KdfParams, SoftKeyStore};
    use shinrai_scu::{Algorithm, UsagePolicy};

    struct Fixture {
        _dir: tempfile::TempDir,
        scu: SoftKeyStore,
        ca: ManufacturerCa,
        cert: Vec<u8>,
        release: Composition,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let scu = SoftKeyStore::create_with(
            dir.path().join("k.scu"),
            "pw",
            KdfParams::insecure_fast_for_tests(),
        )
        .expect("store");
        let now = crate::now_secs();
        scu.generate(
            "ca",
            Algorithm::EcdsaP256,
            manufacturer_key_policy().expect("p"),
        )
        .expect("ca key");
        let ca = ManufacturerCa::create(&scu, "ca", "Acme", Validity::years_from(now - 60, 5))
            .expect("ca");
        let dev = scu
            .generate("dev", Algorithm::EcdsaP256, device_key_policy().expect("p"))
            .expect("dev key");
        let cert = ca
            .issue_device_certificate(
                &scu,
                "ca",
                "M1",
                "S1",
                &dev.public_key,
                Validity::years_from(now - 60, 5),
            )
            .expect("cert");
        scu.generate(
            "verifier",
            Algorithm::Ed25519,
            UsagePolicy::new([Purpose::statement()]).expect("p"),
        )
        .expect("verifier key");
        let release = Composition {
            maker: "Acme".into(),
            model: "M1".into(),
            version: "1.0".into(),
            timestamp: now,
            components: vec![Component {
                name: "fw".into(),
                version: "1.0".into(),
                kind: ComponentKind::Firmware,
                supplier: None,
                sha256: Sha256::of(b"fw"),
            }],
        };
        Fixture {
            _dir: dir,
            scu,
            ca,
            cert,
            release,
        }
    }

    fn appraised(f: &Fixture) -> AttestationResult {
        let now = crate::now_secs();
        let mut v = Verifier::new();
        v.register_manufacturer(f.ca.clone());
        v.register_reference_values(ReferenceValues::from_composition(&f.release).expect("rv"))
            .expect("register");
        let ch = v.challenge(now).expect("challenge");
        let ev = Attester::new(&f.scu, "dev", &f.cert)
            .expect("attester")
            .attest(
                &ch,
                &DeviceState::from_composition(&f.release).expect("state"),
                now,
            )
            .expect("evidence");
        v.appraise(&ev, &f.cert, now).expect("appraise")
    }

    fn verifier_key(f: &Fixture) -> SslibKey {
        SslibKey::from_public_key(&f.scu.public_key("verifier").expect("pk")).expect("sslib")
    }

    #[test]
    fn signed_result_reads_back_with_the_verifier_key() {
        let f = fixture();
        let ear = appraised(&f);
        assert_eq!(ear.status(), Status::Affirming);
        let st = result_statement(&ear, &f.cert).expect("statement");
        let signed = sign(&f.scu, "verifier", &st).expect("sign");
        let back =
            verify_result(&signed, &[verifier_key(&f)], &Sha256::of(&f.cert)).expect("verifies");
        assert_eq!(back.result, ear);
        assert_eq!(back.signers, vec![verifier_key(&f).keyid()]);
    }

    #[test]
    fn rejects_result_signed_by_another_key_or_about_another_device() {
        let f = fixture();
        let ear = appraised(&f);
        let signed = sign(
            &f.scu,
            "verifier",
            &result_statement(&ear, &f.cert).expect("st"),
        )
        .expect("sign");
        let other = SslibKey::from_public_key(&f.ca.public_key().clone()).expect("sslib");
        assert!(verify_result(&signed, &[other], &Sha256::of(&f.cert)).is_err());
        let e = verify_result(&signed, &[verifier_key(&f)], &Sha256::of(b"another"))
            .expect_err("other device");
        assert!(e.to_string().contains("another device"), "{e}");
        // Any change to the signed bytes breaks the signature.
        let tampered = String::from_utf8(signed).expect("utf8").replacen(
            "\"payload\":\"",
            "\"payload\":\"A",
            1,
        );
        assert!(
            verify_result(
                tampered.as_bytes(),
                &[verifier_key(&f)],
                &Sha256::of(&f.cert)
            )
            .is_err()
        );
    }

    #[test]
    fn reference_statement_subject_is_the_composition_digest_devices_report() {
        let f = fixture();
        let st = reference_statement(&f.release).expect("statement");
        assert_eq!(
            st.subject[0].sha256(),
            Some(f.release.digest().expect("digest").to_hex().as_str())
        );
        let cdx = st.predicate["cyclonedx"].to_string();
        let back = Composition::from_cyclonedx(cdx.as_bytes()).expect("cyclonedx");
        assert_eq!(back.digest().expect("d"), f.release.digest().expect("d"));
        assert_eq!(st.subject[0].name, "Acme/M1@1.0");
    }

    #[test]
    fn maker_ca_and_crl_statements_name_the_maker() {
        let f = fixture();
        let st = maker_ca_statement(&f.ca).expect("ca");
        assert_eq!(st.predicate["maker"], "Acme");
        assert_eq!(st.subject[0].name, "maker-ca:Acme");
        let now = crate::now_secs();
        let crl =
            f.ca.issue_crl(
                &f.scu,
                "ca",
                &[CertificateInfo::parse(&f.cert).expect("parse")],
                1,
                now - 60,
                now + 3600,
            )
            .expect("crl");
        let st = crl_statement(&f.ca, &crl).expect("crl statement");
        let der = B64
            .decode(st.predicate["crl"].as_str().expect("crl"))
            .expect("b64");
        assert_eq!(der, crl);
    }
}
