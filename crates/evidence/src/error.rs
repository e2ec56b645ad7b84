//! The one error type of this crate.

/// Everything that can go wrong while building, reading or hashing evidence.
///
/// [`Error::Malformed`], [`Error::InvalidEvent`] and [`Error::Unsupported`] describe bad input
/// (an event or statement received from elsewhere, or built with bad values);
/// [`Error::Envelope`] wraps a signing or statement error from `shinrai-envelope`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not valid JSON, is truncated, or has a field of the wrong shape.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being read (`EPCIS event`, `step record`, ...).
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The event breaks an EPCIS 2.0 rule (a field not allowed for its type, a bad timestamp,
    /// offset or unit).
    #[error("invalid EPCIS event: {0}")]
    InvalidEvent(String),
    /// The event uses something whose CBV 2.0 hash this crate cannot compute the way the
    /// reference does (EPC URNs, infinite numbers); the message says what to use instead.
    #[error("unsupported in an event hash: {0}")]
    Unsupported(String),
    /// A statement's predicate is not the evidence type expected, or does not parse as one.
    #[error("invalid evidence statement: {0}")]
    InvalidStatement(String),
    /// Signing or reading the surrounding in-toto statement failed.
    #[error(transparent)]
    Envelope(#[from] shinrai_envelope::Error),
}
