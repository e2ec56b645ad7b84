//! # shinrai-store: the trust store
//!
//! The shared, tamper-evident registry of signed statements (issue 3): a registration policy
//! (signatures by known organisation keys, allowed types, 64 KiB limit), batched sequencing into
//! an RFC 9162 Merkle log served as C2SP tlog-tiles with signed checkpoints, durable SQLite
//! storage behind small storage traits, search and traceability.
//!
//! Modules:
//! - [`merkle`]: the store's tiles as a `shinrai-tlog` hash reader (all Merkle maths, proofs
//!   and tile codecs are `shinrai-tlog`'s).
//! - [`note`]: the store's log key API over `shinrai-tlog` checkpoints and signed notes.
//! - [`statement`]: index extraction from in-toto Statements and COSE_Sign1 entries, and the
//!   store's view of organisation keys (pure). DSSE, keys and canonical JSON are
//!   `shinrai-envelope`'s.

pub mod error;
pub mod merkle;
pub mod note;
pub mod statement;

pub use error::Error;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub mod audit;
pub mod config;
pub mod cose;
pub mod sqlite;
pub mod storage;
mod store;

pub use config::Config;
pub use store::{
    Admin, EntryState, InitOptions, InitReport, PASSPHRASE_ENV, Pending, Receipt, Registered,
    Store, Trace, TraceNode, Verified, token_hash, verify_receipt, write_atomic,
};
