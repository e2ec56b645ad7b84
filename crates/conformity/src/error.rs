//! The one error type of this crate.

/// What can go wrong while building, signing or reading order specifications and results.
///
/// A conformity verification that finds evidence missing, unauthorized or out of
/// specification does **not** return an error: it returns a FAILED result with reasons. Errors
/// are for inputs that cannot be read at all, signatures that do not verify on the
/// specification itself, and caller mistakes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The order specification is not well formed (unknown step in a rule, bad artifact rule,
    /// CEL expression that does not parse, threshold 0, unknown keyid, ...).
    #[error("invalid order specification: {0}")]
    InvalidSpec(String),
    /// A statement is not the kind expected here (wrong predicate type, bad predicate shape).
    #[error("invalid statement: {0}")]
    InvalidStatement(String),
    /// A verification summary was made against another order specification than the one given.
    #[error(
        "the VSA's policy digest {found} is not the digest {expected} of this order specification"
    )]
    PolicyMismatch {
        /// SHA-256 of the signed specification envelope the caller holds.
        expected: String,
        /// The digest the VSA names.
        found: String,
    },
    /// A timestamp could not be read or written.
    #[error("invalid time: {0}")]
    InvalidTime(String),
    /// A signature, key or statement error from `shinrai-envelope` (includes a specification
    /// whose signature does not verify: tampered after signing, or signed by another party).
    #[error(transparent)]
    Envelope(#[from] shinrai_envelope::Error),
    /// An evidence error from `shinrai-evidence`.
    #[error(transparent)]
    Evidence(#[from] shinrai_evidence::Error),
}
