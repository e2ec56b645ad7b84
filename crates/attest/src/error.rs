//! The one error type of this crate.

/// Everything that can go wrong in `shinrai-attest`.
///
/// Variants are grouped: bad input from an untrusted source (malformed certificate, evidence,
/// composition or voucher), failed checks (certificate chain, voucher chain, lifecycle rules),
/// and failures of the key store or of certificate generation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key store refused or failed an operation (wrong purpose, missing key, token error).
    #[error("key store: {0}")]
    Scu(#[from] shinrai_scu::Error),

    /// A certificate could not be generated (bad parameters or a signing failure).
    #[error("could not issue certificate: {0}")]
    CertificateBuild(String),

    /// Bytes given as an X.509 certificate are not one (or carry something this crate refuses).
    #[error("malformed certificate: {0}")]
    MalformedCertificate(String),

    /// The device certificate names an issuer that is not a registered manufacturer CA.
    #[error(
        "the device certificate was issued by {issuer:?}, which is not a registered manufacturer: the device may be counterfeit"
    )]
    UnknownIssuer {
        /// The issuer's distinguished name as written in the certificate.
        issuer: String,
    },

    /// A certificate's signature does not verify with the issuer's public key.
    #[error(
        "the certificate of {subject:?} does not carry a valid signature of {issuer:?}: it was not issued by that manufacturer (counterfeit or altered)"
    )]
    BadCertificateSignature {
        /// Subject of the certificate whose signature failed.
        subject: String,
        /// The issuer whose key was used to check it.
        issuer: String,
    },

    /// A certificate is used before its validity period starts.
    #[error("the certificate of {subject:?} is not valid before {not_before} (Unix time)")]
    CertificateNotYetValid {
        /// Subject of the certificate.
        subject: String,
        /// Start of its validity period, seconds since the Unix epoch.
        not_before: i64,
    },

    /// A certificate is used after its validity period ended.
    #[error("the certificate of {subject:?} expired at {not_after} (Unix time)")]
    CertificateExpired {
        /// Subject of the certificate.
        subject: String,
        /// End of its validity period, seconds since the Unix epoch.
        not_after: i64,
    },

    /// A certificate used as an issuer is not a CA (no basicConstraints cA=TRUE or no keyCertSign).
    #[error(
        "the certificate of {subject:?} is not a CA certificate and cannot issue device certificates"
    )]
    NotACa {
        /// Subject of the certificate.
        subject: String,
    },

    /// A device certificate claims to be a CA: device identities must be leaf certificates.
    #[error(
        "the device certificate of {subject:?} is a CA certificate; a device identity must be a leaf"
    )]
    DeviceCertificateIsCa {
        /// Subject of the certificate.
        subject: String,
    },

    /// The device certificate is on the manufacturer's revocation list.
    #[error("the device certificate {serial} of {subject:?} has been revoked by its manufacturer")]
    CertificateRevoked {
        /// Certificate serial number, lowercase hex.
        serial: String,
        /// Subject of the certificate.
        subject: String,
    },

    /// Bytes given as a certificate revocation list are not one.
    #[error("malformed revocation list: {0}")]
    MalformedRevocationList(String),

    /// A revocation list is not current: a newer one must be fetched from the manufacturer.
    #[error(
        "the revocation list is not current (valid from {this_update} to {next_update}, Unix time): fetch the manufacturer's latest"
    )]
    StaleRevocationList {
        /// Its `thisUpdate`, Unix seconds.
        this_update: i64,
        /// Its `nextUpdate`, Unix seconds (0 when absent).
        next_update: i64,
    },

    /// A key or signature algorithm this crate does not accept.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),

    /// Evidence bytes are not a well-formed signed EAT claims set.
    #[error("malformed evidence: {0}")]
    MalformedEvidence(String),

    /// A CycloneDX document or reference values could not be read.
    #[error("malformed composition: {0}")]
    MalformedComposition(String),

    /// An ownership voucher could not be read.
    #[error("malformed ownership voucher: {0}")]
    MalformedVoucher(String),

    /// An ownership voucher's chain is broken at entry `index`.
    #[error("ownership voucher chain broken at entry {index}: {reason}")]
    VoucherChainBroken {
        /// Index of the first bad entry (0 = the manufacturer's entry).
        index: usize,
        /// What is wrong, in words.
        reason: String,
    },

    /// An ownership voucher is for another device or from another manufacturer than expected.
    #[error("ownership voucher does not match: {0}")]
    VoucherMismatch(String),

    /// A lifecycle step was refused (wrong state, failing attestation result, wrong owner).
    #[error("lifecycle step refused: {0}")]
    Lifecycle(String),

    /// A caller passed a value that makes no sense (empty name, bad validity period).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}
