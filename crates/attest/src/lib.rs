//! # shinrai-attest: device authenticity and composition
//!
//! Tells a genuine device from a counterfeit, cloned or tampered one, and keeps proof of what a
//! device is made of through its life (MISSION.md part A2). The roles follow IETF RATS (RFC 9334):
//!
//! * **Endorser** (the manufacturer): a [`ManufacturerCa`] issues 802.1AR-style device certificates
//!   ([`ManufacturerCa::issue_device_certificate`]) and publishes [`ReferenceValues`] and a CycloneDX
//!   1.6 [`Composition`] per model.
//! * **Attester** (the device): [`Attester::attest`] answers a verifier's [`Challenge`] with signed
//!   [`Claims`] (EAT, RFC 9711 claim names) made with the device key in its SCU.
//! * **Verifier**: [`Verifier::appraise`] checks the evidence against the certificate chain, the
//!   reference values and its nonce store and returns an [`AttestationResult`] (EAR with an AR4SI
//!   trust vector and reasons a non-expert can read).
//! * **Supply chain**: [`OwnershipVoucher`] (FDO style) passes ownership from the maker to the
//!   operator; [`DeviceRecord`] keeps the lifecycle (shipped, installed, updated) and its history.
//!
//! Private keys never leave the SCU: certificates, evidence and vouchers are signed through
//! [`shinrai_scu::KeyStore::sign`]. The crate does no IO.

mod digest;
mod dsse;
mod error;

pub mod composition;
pub mod ear;
pub mod evidence;
pub mod identity;
pub mod lifecycle;
pub mod statements;
pub mod verifier;
pub mod voucher;

pub use composition::{
    Component, ComponentKind, Composition, ReferenceMeasurement, ReferenceValues,
};
pub use digest::Sha256;
pub use dsse::MAX_SIGNED_BYTES;
pub use ear::{AttestationResult, Reason, ReasonCode, Status, Tier, TrustClaim, TrustVector};
pub use error::Error;
pub use evidence::{Attester, Challenge, Claims, DeviceState, Measurement, NonceStore};
pub use identity::{
    CertificateInfo, DeviceIdentity, ManufacturerCa, RevocationList, Validity, VerifiedDevice,
    validate_device_certificate,
};
pub use lifecycle::{DeviceRecord, LifecycleEvent, LifecycleState};
pub use verifier::{DeviceMemory, HistoryEntry, Verifier, VerifierState};
pub use voucher::{OwnershipVoucher, VerifiedOwnership};

/// The README's example, compiled and run as a doctest so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks a signature with aws-lc-rs. `der` selects DER (X.509, DSSE) rather than fixed `r || s`
/// for ECDSA; Ed25519 signatures are always raw.
pub(crate) fn verify_signature(
    key: &shinrai_scu::PublicKey,
    message: &[u8],
    signature: &[u8],
    der: bool,
) -> bool {
    use aws_lc_rs::signature as sig;
    let alg: &dyn sig::VerificationAlgorithm = match key.algorithm {
        shinrai_scu::Algorithm::Ed25519 => &sig::ED25519,
        shinrai_scu::Algorithm::EcdsaP256 if der => &sig::ECDSA_P256_SHA256_ASN1,
        shinrai_scu::Algorithm::EcdsaP256 => &sig::ECDSA_P256_SHA256_FIXED,
    };
    sig::UnparsedPublicKey::new(alg, &key.bytes)
        .verify(message, signature)
        .is_ok()
}

/// Seconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
