//! # shinrai-envelope: signed statements
//!
//! Every arrow into the Shinrai trust store is a signed statement. This crate reads, writes,
//! signs and verifies them, with no IO (bytes in, values out):
//!
//! - [`dsse`]: DSSE envelopes (multi-signature; a signature's `keyid` is only a hint).
//! - [`statement`]: in-toto Statement v1 inside a DSSE envelope, and [`Verified`] results that
//!   only the verifier can build.
//! - [`keys`]: public keys in the securesystemslib JSON format (what Python in-toto reads), their
//!   keyids, and OLPC canonical JSON ([`keys::canonical_json`]).
//! - [`cose`]: COSE_Sign1 with CWT `iss`/`sub` in the protected header, for SCITT clients.
//! - [`Signer`]: what signs; [`ScuSigner`] signs with a key in an SCU [`shinrai_scu::KeyStore`].
//!
//! Signatures are always verified over the bytes received, never over a re-serialization.

pub mod cose;
pub mod dsse;
mod error;
pub mod keys;
mod signer;
pub mod statement;
mod verified;

#[cfg(test)]
pub(crate) mod test_support;

pub use error::Error;
pub use signer::{ScuSigner, Signer};
pub use verified::Verified;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The README's example, compiled and run as a doctest so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
