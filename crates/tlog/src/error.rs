//! The one error type of this crate.

use crate::tree::NodeId;

/// Everything that can go wrong in `shinrai-tlog`.
///
/// Variants fall in three groups: a proof or signature that does not verify (the input is well
/// formed but wrong), malformed input from an untrusted source (proof bytes, notes, tile paths,
/// tiles, bundles), and failures of a collaborator the caller plugged in (a [`crate::HashReader`],
/// a [`crate::NoteSigner`], a tile source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A leaf index is not below the tree size it is claimed to be in.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index given.
        index: u64,
        /// The tree size given.
        size: u64,
    },
    /// A consistency proof was asked for or checked from a larger tree to a smaller one.
    #[error("tree size {size1} is larger than tree size {size2}: a log only grows")]
    SizeOrder {
        /// The first (older) tree size.
        size1: u64,
        /// The second (newer) tree size.
        size2: u64,
    },
    /// A consistency proof from the empty tree to a non-empty one was checked; there is no such
    /// proof (every tree is trivially consistent with the empty tree).
    #[error("no consistency proof exists from the empty tree to a tree of size {size2}")]
    ConsistencyFromEmpty {
        /// The second tree size.
        size2: u64,
    },
    /// The proof does not have the number of hashes the tree sizes and index imply.
    #[error("proof has {got} hashes but {expected} are required for these sizes")]
    ProofSize {
        /// Number of hashes required.
        expected: usize,
        /// Number of hashes given.
        got: usize,
    },
    /// A hash (proof element, leaf hash, root) is not 32 bytes long.
    #[error("hash is {got} bytes long, expected 32")]
    HashLength {
        /// Length received.
        got: usize,
    },
    /// The root recomputed from the proof differs from the expected root: the proof, the leaf
    /// or the root is wrong.
    #[error("proof does not verify: recomputed root differs from the expected root")]
    RootMismatch,
    /// A [`crate::HashReader`] could not provide a stored node.
    #[error("tree node {0} is not stored")]
    MissingNode(NodeId),
    /// A [`crate::HashReader`] returned a different number of hashes than asked for (a bug in
    /// the reader).
    #[error("hash reader returned {got} hashes for {asked} node ids")]
    ReaderLength {
        /// Number of ids asked for.
        asked: usize,
        /// Number of hashes returned.
        got: usize,
    },
    /// Storage behind a [`crate::HashReader`] or a tile source failed.
    #[error("storage error: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A compact range was built from state that cannot belong to a tree of that size.
    #[error("compact range for size {size} needs {expected} hashes, got {got}")]
    CompactRangeShape {
        /// Tree size.
        size: u64,
        /// Hashes required (the number of set bits in `size`).
        expected: usize,
        /// Hashes given.
        got: usize,
    },
    /// A checkpoint body is malformed.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// A checkpoint is for another log than the one expected.
    #[error("checkpoint origin {got:?} is not the expected {expected:?}")]
    OriginMismatch {
        /// Origin the caller expected.
        expected: String,
        /// Origin line of the checkpoint.
        got: String,
    },
    /// A signed note is malformed.
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    /// A note verifier key string (`<name>+<hex keyhash>+<base64 key>`) is malformed.
    #[error("malformed note verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    /// A key name is empty or contains whitespace or `+`.
    #[error("invalid key name: must be non-empty without whitespace or '+'")]
    InvalidKeyName,
    /// A signature line names a known key but its signature does not verify.
    #[error("signature by known key {name} does not verify: the note was modified or forged")]
    BadSignature {
        /// Name of the key whose signature failed.
        name: String,
    },
    /// None of the note's signatures is by a key the caller trusts.
    #[error("note carries no signature from a known key")]
    NoKnownSignature,
    /// The [`crate::NoteSigner`] failed to sign.
    #[error("note signer failed: {0}")]
    Signer(String),
    /// A tile path is malformed (non-canonical numbers, bad width, traversal, overflow, ...).
    #[error("malformed tile path: {0}")]
    MalformedTilePath(&'static str),
    /// A hash tile does not have the length its width implies.
    #[error("hash tile is {got} bytes long, expected {expected}")]
    TileLength {
        /// Expected length in bytes.
        expected: usize,
        /// Actual length in bytes.
        got: usize,
    },
    /// An entry bundle is truncated, has trailing bytes or the wrong number of entries.
    #[error("malformed entry bundle: {0}")]
    MalformedBundle(&'static str),
    /// An entry is larger than the 65535 bytes an entry bundle can carry.
    #[error("entry of {len} bytes is too large for an entry bundle (max 65535)")]
    EntryTooLarge {
        /// Length of the entry.
        len: usize,
    },
    /// Tiles disagree with each other or with the entries: the log is inconsistent.
    #[error("tile {path} does not match the hashes recomputed from the level below")]
    TileMismatch {
        /// Path of the tile that disagrees.
        path: String,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
