//! The one error type of this crate.

/// Everything that can go wrong while reading, signing or verifying a signed statement.
///
/// Variants up to [`Error::ThresholdNotMet`] describe bad input from an untrusted source (an
/// envelope, key file or COSE message received from elsewhere); [`Error::InvalidArgument`] is a
/// caller mistake; [`Error::Signing`] and [`Error::Internal`] come from the key store or a bug.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not valid JSON/CBOR, is truncated, or lacks a required field.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being read (`DSSE envelope`, `key`, `COSE_Sign1`, `in-toto statement`).
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The input is larger than the limit the caller set.
    #[error("{what} is {size} bytes, larger than the limit of {limit} bytes")]
    TooLarge {
        /// What was being read.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A key's type or scheme is not one this crate supports.
    #[error(
        "unsupported key type {keytype:?} with scheme {scheme:?}; supported: ed25519/ed25519 and ecdsa/ecdsa-sha2-nistp256"
    )]
    UnsupportedKey {
        /// The key's `keytype`.
        keytype: String,
        /// The key's `scheme`.
        scheme: String,
    },
    /// A key's public value cannot be decoded.
    #[error("invalid public key: {0}")]
    InvalidKey(String),
    /// The envelope carries another payload type than the one expected.
    #[error("wrong payload type {found:?}; expected {expected:?}")]
    WrongPayloadType {
        /// The type expected by the caller.
        expected: String,
        /// The type found in the envelope.
        found: String,
    },
    /// The payload is not a valid in-toto Statement v1.
    #[error("invalid in-toto statement: {0}")]
    InvalidStatement(String),
    /// The statement's predicate type is not the one the caller asked for.
    #[error("wrong predicate type {found:?}; expected {expected:?}")]
    WrongPredicateType {
        /// The predicate type expected.
        expected: String,
        /// The predicate type found.
        found: String,
    },
    /// A COSE message uses an algorithm other than ES256 or EdDSA, or one that does not match
    /// the key.
    #[error("unsupported or mismatched COSE algorithm: {0}; use ES256 (-7) or EdDSA (-8)")]
    UnsupportedAlgorithm(String),
    /// A signature that names a trusted key does not verify over the bytes received: the
    /// payload or payload type was altered, or the signature is damaged.
    #[error(
        "signature claiming trusted key {keyid} does not verify over the received payload (payload or payload type altered, or signature damaged)"
    )]
    BadSignature {
        /// The keyid hint of the signature.
        keyid: String,
    },
    /// No trusted key verifies any signature: the statement was signed by an unknown key.
    #[error(
        "no trusted key verifies the signature(s) (keyid hints: {keyids}); signed by an unknown or untrusted key"
    )]
    UnknownSigner {
        /// The keyid hints of the signatures, comma separated (`-` when absent).
        keyids: String,
    },
    /// Some trusted keys signed, but fewer than the threshold.
    #[error("only {found} distinct trusted key(s) signed; {required} required")]
    ThresholdNotMet {
        /// Distinct trusted keys whose signatures verified.
        found: usize,
        /// The threshold.
        required: usize,
    },
    /// The caller passed a bad value (threshold 0, no signers, float in canonical JSON).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The key store refused or failed to sign.
    #[error("signing failed: {0}")]
    Signing(#[source] shinrai_scu::Error),
    /// An encoder failed on well-formed data (a bug).
    #[error("internal error: {0}")]
    Internal(String),
}
