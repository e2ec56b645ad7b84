//! The storage contract: three small traits that every backend (SQLite now, PostgreSQL later)
//! implements, so that callers never depend on a database.
//!
//! The contract, in the Tessera style:
//! - [`LogStorage::integrate`] MUST write a whole batch (entries, index rows, tiles and the
//!   checkpoint) atomically and MUST NOT return `Ok` before it is durable; after a crash either
//!   all of a batch is visible or none of it.
//! - Entries, full tiles and checkpoints MUST NOT change once written (append-only); a partial
//!   tile is only ever replaced by a longer one with the same prefix.
//! - Index rows (subjects, edges, predicate type) are derived data: [`IndexStorage::rebuild_index`]
//!   MUST be able to recreate them from the entry bytes alone.
//! - Backends MUST NOT interpret entry bytes (policy and parsing live in the store).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::merkle::Hash;
use crate::statement::{IndexRecord, OrgKey, Subject};

/// One entry of a batch being integrated.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// Log index assigned by the sequencer.
    pub index: u64,
    /// Entry id: SHA-256 of the entry bytes.
    pub id: Hash,
    /// The entry bytes exactly as received.
    pub bytes: Arc<[u8]>,
    /// Registration time, milliseconds since the Unix epoch (non-decreasing along the log).
    pub registered_at_ms: i64,
    /// Organisation whose token submitted the entry.
    pub submitter: String,
    /// Organisation owning the key that signed it.
    pub issuer_org: String,
    /// Key id of the verified signature.
    pub issuer_keyid: String,
    /// Index data derived from the bytes.
    pub record: IndexRecord,
}

/// A checkpoint as stored: the tree size and the signed note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// The C2SP signed note.
    pub note: String,
    /// The log key's signature over the COSE tree head of this root (RFC 9942 receipts).
    #[serde(default, with = "hex_bytes")]
    pub cose_signature: Vec<u8>,
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Everything one integration writes.
#[derive(Debug, Clone)]
pub struct Batch {
    /// New entries, indices contiguous from the previous tree size.
    pub entries: Vec<NewEntry>,
    /// Tiles changed by the batch: `(level, index, hashes)`.
    pub tiles: Vec<(u8, u64, Arc<Vec<Hash>>)>,
    /// The checkpoint signed over the new tree.
    pub checkpoint: StoredCheckpoint,
}

/// A stored entry with its log metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEntry {
    /// Log index.
    pub index: u64,
    /// Entry id (hex SHA-256 of the bytes).
    pub id: String,
    /// The entry bytes.
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// Registration time, milliseconds since the Unix epoch.
    pub registered_at_ms: i64,
    /// Submitting organisation.
    pub submitter: String,
    /// Issuer organisation.
    pub issuer_org: String,
    /// Issuer key id.
    pub issuer_keyid: String,
    /// Payload type.
    pub payload_type: String,
    /// Predicate type.
    pub predicate_type: String,
    /// Subjects.
    pub subjects: Vec<Subject>,
}

/// A search over the index. All given fields must match (AND); results are in log order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Subject digest, `alg:hex` (normalised).
    pub subject_digest: Option<String>,
    /// Exact subject name.
    pub subject_name: Option<String>,
    /// Issuer organisation name or key id.
    pub issuer: Option<String>,
    /// Exact predicate type.
    pub predicate_type: Option<String>,
    /// Registered at or after (ms since epoch).
    pub since_ms: Option<i64>,
    /// Registered before (ms since epoch).
    pub until_ms: Option<i64>,
    /// Only entries with a log index greater than this (pagination cursor).
    pub after: Option<u64>,
    /// Maximum results (1..=1000).
    pub limit: u32,
}

/// One page of search results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page {
    /// Matching entries in log order.
    pub entries: Vec<StoredEntry>,
    /// Cursor for the next page (`after`), if there may be more.
    pub next: Option<u64>,
}

/// Direction of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Towards inputs (trace back).
    Up,
    /// Towards outputs (where used).
    Down,
}

/// A stored traceability edge with the entry that asserted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeRow {
    /// Upstream node.
    pub input: String,
    /// Downstream node.
    pub output: String,
    /// Log index of the statement asserting the edge.
    pub index: u64,
}

/// The append-only log: entries, tiles, checkpoints.
pub trait LogStorage: Send + Sync {
    /// The latest checkpoint, or `None` for an empty log.
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>>;
    /// Integrates a batch (see the module contract: atomic, durable before `Ok`, indices MUST
    /// continue from the current size or the call fails without writing).
    fn integrate(&self, batch: &Batch) -> Result<()>;
    /// For each id, the log index of the entry with that id, if any.
    fn lookup_ids(&self, ids: &[Hash]) -> Result<Vec<Option<u64>>>;
    /// [`LogStorage::lookup_ids`] as the sequencer asks it just before [`LogStorage::integrate`]:
    /// a backend may answer from its writer's view of the log (SQLite: the writer connection,
    /// whose page cache the previous batch left warm, where a reader's cache is reset by every
    /// commit). Same answer as `lookup_ids`.
    fn lookup_ids_for_integration(&self, ids: &[Hash]) -> Result<Vec<Option<u64>>> {
        self.lookup_ids(ids)
    }
    /// A stored tile's bytes (its stored width may exceed what a reader asks for).
    fn read_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>>;
    /// Entry bytes for indices `start..start+count` that exist.
    fn read_entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>>;
    /// One entry with metadata.
    fn entry(&self, index: u64) -> Result<Option<StoredEntry>>;
    /// The entry whose id is `id`: index, issuer and bytes in one read (for readers that walk
    /// many entries by id and need no other metadata, like the chain verifier).
    fn entry_bytes_by_id(&self, id: &Hash) -> Result<Option<EntryBytes>>;
}

/// An entry's bytes with the two facts a verifier needs beside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryBytes {
    /// Log index.
    pub index: u64,
    /// The organisation the store registered as its issuer.
    pub issuer_org: String,
    /// The entry bytes exactly as registered.
    pub bytes: Vec<u8>,
}

/// The derived index.
pub trait IndexStorage: Send + Sync {
    /// Runs a search.
    fn search(&self, query: &SearchQuery) -> Result<Page>;
    /// Entries of `predicate_type` with a subject of `digest` (normalised, `sha256:<hex>`),
    /// with their bytes, in log order, at most `limit`: one read for a verifier walking a
    /// chain product by product.
    fn entries_about(
        &self,
        digest: &str,
        predicate_type: &str,
        limit: usize,
    ) -> Result<Vec<EntryBytes>>;
    /// Edges touching `nodes`: in direction `Up` those whose `output` is in `nodes`, `Down`
    /// those whose `input` is; at most `limit`.
    fn edges(&self, nodes: &[String], direction: Direction, limit: usize) -> Result<Vec<EdgeRow>>;
    /// Drops and recreates every index row from the entry bytes using `derive`; returns the
    /// number of entries indexed.
    fn rebuild_index(&self, derive: &dyn Fn(&[u8]) -> Result<IndexRecord>) -> Result<u64>;
}

/// Organisations, their keys and their API token hashes.
pub trait Registry: Send + Sync {
    /// Adds an organisation (fails with `Conflict` if it exists).
    fn add_org(&self, name: &str) -> Result<()>;
    /// Organisation names.
    fn orgs(&self) -> Result<Vec<String>>;
    /// Adds a key to an existing organisation (fails with `Conflict` if the key id exists).
    fn add_org_key(&self, key: &OrgKey) -> Result<()>;
    /// A key by key id.
    fn org_key(&self, keyid: &str) -> Result<Option<OrgKey>>;
    /// All keys.
    fn org_keys(&self) -> Result<Vec<OrgKey>>;
    /// Stores a token hash for an organisation.
    fn add_token(&self, org: &str, token_hash: &Hash) -> Result<()>;
    /// The organisation a token hash belongs to.
    fn token_org(&self, token_hash: &Hash) -> Result<Option<String>>;
}

/// A complete backend.
pub trait Backend: LogStorage + IndexStorage + Registry {}
impl<T: LogStorage + IndexStorage + Registry> Backend for T {}
