//! # shinrai-scu: the Secure Cryptographic Unit
//!
//! The root of trust of every Shinrai device and organisation (MISSION.md part A1). Callers hold a
//! [`KeyStore`] and never learn which backend keeps the keys: a sealed file ([`soft`]), a PKCS#11
//! token such as an HSM or SoftHSM2 (`pkcs11`), or a TPM 2.0 (`tpm`, cargo feature `tpm`;
//! quotes are checked without a TPM by [`tpm_quote`]).
//!
//! Every key carries a [`UsagePolicy`]; a use outside it is refused with [`Error::PolicyViolation`]
//! or [`Error::UsageLimitReached`]. Every use is appended to a hash-chained audit log ([`audit`]).
//!
//! Public keys and signatures are plain values ([`PublicKey`], [`Signature`]) that anyone can
//! verify with [`PublicKey::verify`] without a key store.

mod types;
pub use types::*;

pub mod audit;
pub mod batch;
pub mod error;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
pub mod soft;
#[cfg(feature = "tpm")]
pub mod tpm;
pub mod tpm_quote;

pub use error::Error;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A store of private keys that never hands them out: the one interface every backend implements.
///
/// Implementations MUST check the key's [`UsagePolicy`] before every signature, MUST append an
/// audit record for every use (allowed or refused) and MUST NOT log secrets.
pub trait KeyStore: Send + Sync {
    /// What this backend can do and how much assurance it gives.
    fn capabilities(&self) -> Capabilities;
    /// Creates a new key named `label` (unique in the store) with `policy`.
    fn generate(&self, label: &str, algorithm: Algorithm, policy: UsagePolicy) -> Result<KeyInfo>;
    /// All keys in the store, sorted by label.
    fn list(&self) -> Result<Vec<KeyInfo>>;
    /// The public half of key `label`.
    fn public_key(&self, label: &str) -> Result<PublicKey>;
    /// Signs `message` with key `label` for `purpose`, after checking the key's policy.
    ///
    /// Ed25519 signs the message itself; ECDSA P-256 signs its SHA-256 digest and returns the
    /// fixed-size `r || s` form (see [`Signature::to_der`] for DSSE).
    fn sign(&self, label: &str, purpose: &Purpose, message: &[u8]) -> Result<Signature>;
    /// Destroys key `label`.
    fn delete(&self, label: &str) -> Result<()>;
    /// Checks this store's key-use audit log; see [`audit::AuditReport`].
    fn audit(&self) -> Result<audit::AuditReport>;
}
