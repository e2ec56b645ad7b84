//! The one error type of the SCU.

/// Everything that can go wrong in a key store. Messages say what to do about it and never carry
/// secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The PIN or passphrase did not open the key store.
    #[error("wrong PIN or passphrase for the key store")]
    WrongPin,
    /// The key store file or token content is damaged or not a key store.
    #[error("key store is damaged or not a Shinrai key store: {0}")]
    Damaged(String),
    /// No key with this label.
    #[error("no key named {0:?} in the key store (see `shinrai key list`)")]
    KeyNotFound(String),
    /// A key with this label exists already.
    #[error("a key named {0:?} already exists")]
    KeyExists(String),
    /// The key's usage policy does not allow this purpose.
    #[error("key {label:?} may not sign for purpose {purpose:?} (its policy allows: {allowed})")]
    PolicyViolation {
        /// Key label.
        label: String,
        /// The purpose asked for.
        purpose: String,
        /// The purposes allowed, comma separated.
        allowed: String,
    },
    /// The key has made all the signatures its policy allows.
    #[error("key {label:?} has reached its usage limit of {max_uses} signatures")]
    UsageLimitReached {
        /// Key label.
        label: String,
        /// The limit.
        max_uses: u64,
    },
    /// The backend cannot do this (algorithm, operation).
    #[error("not supported by this backend: {0}")]
    Unsupported(String),
    /// A caller passed a bad value (label, purpose, algorithm name).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Malformed public key bytes.
    #[error("invalid public key: {0}")]
    InvalidKey(String),
    /// A signature did not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// Some signatures of a batch did not verify.
    #[error("{} signature(s) in the batch do not verify (positions {invalid:?})", invalid.len())]
    BatchFailed {
        /// Zero-based positions of the invalid items.
        invalid: Vec<usize>,
    },
    /// The audit log could not be read or written.
    #[error("audit log {path}: {reason}")]
    Audit {
        /// Path of the audit log.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The PKCS#11 module or token failed.
    #[error("PKCS#11: {0}")]
    Pkcs11(String),
    /// The TPM or its connection failed (TCTI unreachable, command refused, blob not loadable).
    #[error("TPM: {0}")]
    Tpm(String),
    /// TPM quote bytes are truncated or not a quote (untrusted input).
    #[error("malformed TPM quote: {0}")]
    MalformedQuote(String),
    /// A TPM quote does not prove what it is claimed to prove (signature, nonce, PCRs).
    #[error("TPM quote check failed: {0}")]
    QuoteMismatch(String),
    /// File system error, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A cryptographic primitive failed unexpectedly (a bug or a broken library).
    #[error("internal cryptographic failure: {0}")]
    Crypto(String),
}
