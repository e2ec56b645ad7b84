//! Verifiable log maths for Shinrai, with no IO: RFC 9162 Merkle hashing, inclusion and
//! consistency proofs (produce and verify), C2SP checkpoints in C2SP signed notes (with
//! tlog-cosignature witness cosignatures), and C2SP tlog-tiles paths, tiles and entry bundles.
//!
//! Storage is the caller's business: proofs are produced through the [`HashReader`] trait over
//! stored complete subtrees, tiles are read through a caller-supplied tile source, and notes are
//! signed through [`NoteSigner`] so the private key can stay in the SCU.
//!
//! ```
//! use shinrai_tlog::{MemoryTree, leaf_hash, verify_inclusion};
//!
//! let mut tree = MemoryTree::new();
//! for entry in [b"a", b"b", b"c"] {
//!     tree.append_entry(entry);
//! }
//! let proof = tree.inclusion_proof(1, 3).unwrap();
//! verify_inclusion(1, 3, &leaf_hash(b"b"), &proof, &tree.root()).unwrap();
//! ```

pub mod checkpoint;
mod error;
pub mod hash;
pub mod note;
pub mod proof;
pub mod tiles;
pub mod tree;

pub use checkpoint::{Checkpoint, VerifiedCheckpoint, sign_checkpoint, verify_checkpoint};
pub use error::{Error, Result};
pub use hash::{Hash, empty_root, leaf_hash, node_hash};
pub use note::{
    KeyAlg, Note, NoteSignature, NoteSigner, NoteVerifier, VerifiedNote, VerifiedSignature,
    add_signature, cosign, key_hash, sign_note, verify_note,
};
pub use proof::{
    consistency_proof_len, inclusion_proof_len, root_from_inclusion_proof, verify_consistency,
    verify_consistency_bytes, verify_inclusion, verify_inclusion_bytes,
};
pub use tiles::{TileKind, TilePath, TileReader};
pub use tree::{
    BatchUpdate, CompactRange, HashReader, MemoryTree, NodeId, ProofPlan, consistency_plan,
    consistency_proof, inclusion_plan, inclusion_proof, right_edge, root_at, root_plan,
};

// Compile and run the README example so it cannot go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
