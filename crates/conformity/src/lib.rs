//! # shinrai-conformity: was it made as ordered?
//!
//! Order specifications and conformity verification (MISSION.md parts A3, B1, C1), with no IO:
//!
//! - [`spec`]: an [`spec::OrderSpec`] has in-toto layout v1.0 semantics (steps, functionary
//!   keys, thresholds, expiry, artifact rules) plus CEL rules on evidence values and per-order
//!   parameters; the ordering party signs it (DSSE); [`spec::verify_spec`] gives the only form
//!   the verifier accepts, [`spec::VerifiedSpec`].
//! - [`verify`]: [`verify::verify_conformity`] turns evidence envelopes (step records, EPCIS
//!   events with sensor readings, inspection results from `shinrai-evidence`) into a SLSA VSA v1
//!   ([`vsa`]) with one reason per failed check. Missing evidence and an expired specification
//!   are FAILED, never a silent pass; no command is ever run.
//! - [`rules`]: in-toto artifact rules (MATCH, CREATE, DELETE, MODIFY, ALLOW, DISALLOW,
//!   REQUIRE) as Python in-toto 3.1 evaluates them; [`celrules`]: CEL evaluation.
//! - [`chain`]: chain-of-trust verification across organisations through a trust store read
//!   via [`chain::ChainSource`]; the result is a serialisable tree ([`chain::ChainReport`]).
//! - [`intoto`]: export to in-toto v1.0 layout and links for `in-toto-verify`.
//! - [`bench`]: the conformity benchmark workload (also used by the CLI later).

pub mod bench;
pub mod celrules;
pub mod chain;
mod error;
pub mod intoto;
pub mod rules;
pub mod spec;
pub mod verify;
pub mod vsa;

pub use error::Error;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
