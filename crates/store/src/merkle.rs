//! The store's side of the Merkle tree: hashing, proofs and the sequencer's right edge all come
//! from `shinrai-tlog`; this module only adapts the store's SQLite tiles to it.
//!
//! [`StoredTree`] is a [`HashReader`] over the tiles a [`LogStorage`] holds (C2SP tlog-tiles,
//! tile height 8, the rightmost tile of each level stored at its current width). It memoises
//! tiles and node hashes, so one instance can answer many proofs (a batch's receipts) cheaply.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::digest;
use shinrai_tlog::{HashReader, NodeId};

pub use shinrai_tlog::tiles::{TILE_HEIGHT, TILE_WIDTH};
pub use shinrai_tlog::{Hash, empty_root, leaf_hash, node_hash};

use crate::storage::LogStorage;
use crate::{Error, Result};

/// Plain SHA-256 of `data` (entry ids, token hashes, content digests, key ids); not a Merkle hash.
pub fn sha256_of(data: &[u8]) -> Hash {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    // A SHA-256 digest is always 32 bytes, so this copy cannot panic.
    out.copy_from_slice(d.as_ref());
    out
}

/// Recomputes the root from a leaf hash and its RFC 9162 inclusion proof (`shinrai-tlog`);
/// a proof of the wrong length or an index beyond the size is an invalid request.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash> {
    shinrai_tlog::root_from_inclusion_proof(index, size, leaf, proof)
        .map_err(|e| Error::InvalidRequest(e.to_string()))
}

/// Splits stored tile bytes into hashes (hashes concatenated, 1 to 256 of them).
fn decode_stored_tile(bytes: &[u8]) -> Result<Vec<Hash>> {
    let width = bytes.len() / 32;
    if width == 0 || width as u64 > TILE_WIDTH {
        return Err(Error::Inconsistent(format!(
            "stored tile has {} bytes, not a multiple of 32 up to 8192",
            bytes.len()
        )));
    }
    Ok(shinrai_tlog::tiles::decode_hash_tile(bytes, width as u16)?)
}

/// Decoded tiles by `(tile level, tile index)`.
type TileCache = HashMap<(u8, u64), Arc<Vec<Hash>>>;

/// The tree levels inside one full tile: row 0 is the tile's 256 hashes, row `k` the 256 >> k
/// hashes `k` levels above them (rows 1 to 7; row 8 is the parent tile's entry).
type TileRows = Vec<Vec<Hash>>;

/// How many tiles [`TileHashCache`] keeps (16 KiB of rows each at most, 64 MiB in all).
const FULL_TILES_CACHED: usize = 4096;

/// The interior hashes of tiles, shared by every request of a store, by tile and width. The
/// first `width` hashes of a tile never change (the log only grows), so the up to 254 hashes
/// an inclusion proof needs inside a tile are computed once rather than on every receipt that
/// passes through it, and the tile is not read again.
#[derive(Debug, Default)]
pub struct TileHashCache {
    tiles: Mutex<HashMap<(u8, u64, u16), Arc<TileRows>>>,
}

impl TileHashCache {
    fn get(&self, key: (u8, u64, u16)) -> Option<Arc<TileRows>> {
        self.tiles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned()
    }

    fn insert(&self, key: (u8, u64, u16), rows: Arc<TileRows>) {
        let mut tiles = self.tiles.lock().unwrap_or_else(PoisonError::into_inner);
        if tiles.len() >= FULL_TILES_CACHED {
            // Crude but bounded: start again rather than track recency.
            tiles.clear();
        }
        tiles.insert(key, rows);
    }
}

/// A tile as a batch writes it: `(tile level, tile index, hashes)`.
pub type TileWrite = (u8, u64, Arc<Vec<Hash>>);

/// The tree of `size` leaves as stored: a [`HashReader`] over the storage's tiles, with a
/// memo of tiles and nodes. Build one per request or per batch (it is not shared between
/// threads).
pub struct StoredTree<'a> {
    storage: &'a dyn LogStorage,
    size: u64,
    tiles: RefCell<TileCache>,
    nodes: RefCell<HashMap<NodeId, Hash>>,
    tile_cache: Option<&'a TileHashCache>,
}

impl<'a> StoredTree<'a> {
    /// A view of the first `size` leaves of the log in `storage`.
    pub fn new(storage: &'a dyn LogStorage, size: u64) -> Self {
        StoredTree {
            storage,
            size,
            tiles: RefCell::new(HashMap::new()),
            nodes: RefCell::new(HashMap::new()),
            tile_cache: None,
        }
    }

    /// Reads and fills `cache` for the tree levels inside tiles (see [`TileHashCache`]).
    pub fn with_tile_cache(mut self, cache: &'a TileHashCache) -> Self {
        self.tile_cache = Some(cache);
        self
    }

    /// The rows of tile `index` of tile level `level` as wide as this view has it, from the
    /// shared cache or computed from the stored tile; `None` without a cache or when the view
    /// has nothing of that tile.
    fn tile_rows(&self, level: u8, index: u64) -> Result<Option<Arc<TileRows>>> {
        let Some(cache) = self.tile_cache else {
            return Ok(None);
        };
        // Nodes of tree level 8 * level in this view; past 2^64 leaves there are none.
        let Some(nodes) = self.size.checked_shr(TILE_HEIGHT * u32::from(level)) else {
            return Ok(None);
        };
        let first = index.saturating_mul(TILE_WIDTH);
        if nodes <= first {
            return Ok(None);
        }
        let width = (nodes - first).min(TILE_WIDTH);
        let key = (level, index, width as u16);
        if let Some(rows) = cache.get(key) {
            return Ok(Some(rows));
        }
        let tile = self.tile(level, index)?;
        let Some(row0) = tile.get(..width as usize) else {
            return Err(Error::Inconsistent(format!(
                "tile {level}/{index} has {} hashes but the tree of size {} has {width} in it",
                tile.len(),
                self.size
            )));
        };
        let mut rows: TileRows = vec![row0.to_vec()];
        for _ in 1..TILE_HEIGHT {
            let below = rows.last().map(Vec::as_slice).unwrap_or_default();
            let row = below
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            rows.push(row);
        }
        let rows = Arc::new(rows);
        cache.insert(key, rows.clone());
        Ok(Some(rows))
    }

    /// Seeds the memo with what a batch just wrote (its tiles and the nodes it completed), so
    /// the batch's receipts need no reads.
    pub fn with_batch(self, tiles: &[TileWrite], nodes: &[(NodeId, Hash)]) -> Self {
        self.tiles
            .borrow_mut()
            .extend(tiles.iter().map(|(l, i, t)| ((*l, *i), t.clone())));
        self.nodes.borrow_mut().extend(nodes.iter().copied());
        self
    }

    /// Number of leaves of this view.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Stored tile `index` of tile level `level` (at its stored width).
    pub fn tile(&self, level: u8, index: u64) -> Result<Arc<Vec<Hash>>> {
        if let Some(t) = self.tiles.borrow().get(&(level, index)) {
            return Ok(t.clone());
        }
        let bytes = self
            .storage
            .read_tile(level, index)?
            .ok_or_else(|| Error::Inconsistent(format!("tile {level}/{index} is missing")))?;
        let t = Arc::new(decode_stored_tile(&bytes)?);
        self.tiles.borrow_mut().insert((level, index), t.clone());
        Ok(t)
    }

    /// Hash of the complete subtree `id`: read from a tile at tree levels that are multiples of
    /// 8, hashed from its two children in between.
    fn node(&self, id: NodeId) -> Result<Hash> {
        if let Some(h) = self.nodes.borrow().get(&id) {
            return Ok(*h);
        }
        let end = id
            .first_leaf()
            .and_then(|f| f.checked_add(1u64 << id.level));
        if end.is_none_or(|e| e > self.size) {
            return Err(Error::Inconsistent(format!(
                "tree node {id} is not complete in a tree of size {}",
                self.size
            )));
        }
        let above = u32::from(id.level) % TILE_HEIGHT;
        let tile_level = (u32::from(id.level) / TILE_HEIGHT) as u8;
        let rows = self.tile_rows(tile_level, id.index >> (TILE_HEIGHT - above))?;
        let hash = if let Some(rows) = rows {
            let within = id.index % (TILE_WIDTH >> above);
            *rows
                .get(above as usize)
                .and_then(|r| r.get(within as usize))
                .ok_or_else(|| Error::Inconsistent(format!("tree node {id} is not in its tile")))?
        } else if above == 0 {
            let tile = self.tile(tile_level, id.index / TILE_WIDTH)?;
            *tile.get((id.index % TILE_WIDTH) as usize).ok_or_else(|| {
                Error::Inconsistent(format!(
                    "tile {tile_level}/{} is too short for tree node {id}",
                    id.index / TILE_WIDTH
                ))
            })?
        } else {
            let l = self.node(NodeId::new(id.level - 1, 2 * id.index))?;
            let r = self.node(NodeId::new(id.level - 1, 2 * id.index + 1))?;
            node_hash(&l, &r)
        };
        self.nodes.borrow_mut().insert(id, hash);
        Ok(hash)
    }

    /// The RFC 9162 inclusion proof of leaf `index` in this view's tree.
    pub fn inclusion_proof(&self, index: u64) -> Result<Vec<Hash>> {
        if index >= self.size {
            return Err(Error::InvalidRequest(format!(
                "leaf {index} is not in a tree of size {}",
                self.size
            )));
        }
        Ok(shinrai_tlog::inclusion_proof(self, index, self.size)?)
    }

    /// The root of this view's tree.
    pub fn root(&self) -> Result<Hash> {
        Ok(shinrai_tlog::root_at(self, self.size)?)
    }
}

impl HashReader for StoredTree<'_> {
    fn read_hashes(&self, ids: &[NodeId]) -> shinrai_tlog::Result<Vec<Hash>> {
        ids.iter()
            .map(|id| {
                self.node(*id)
                    .map_err(|e| shinrai_tlog::Error::Storage(Box::new(e)))
            })
            .collect()
    }
}

/// The hash tiles that growing the tree from `old_size` to `update.size` writes (new full
/// tiles and the new width of each level's rightmost tile), from the nodes `update` completed
/// and, for the start of a tile that was partial, the stored tile.
pub fn changed_tiles(
    stored: &StoredTree<'_>,
    update: &shinrai_tlog::BatchUpdate,
) -> Result<Vec<TileWrite>> {
    let old_size = stored.size();
    let fresh: HashMap<NodeId, Hash> = update
        .new_nodes
        .iter()
        .filter(|(id, _)| u32::from(id.level).is_multiple_of(TILE_HEIGHT))
        .copied()
        .collect();
    let mut out = Vec::new();
    for path in shinrai_tlog::tiles::changed_hash_tiles(old_size, update.size) {
        let shinrai_tlog::TileKind::Hash { level } = path.kind() else {
            continue;
        };
        let shift = u32::from(level) * TILE_HEIGHT;
        let first = path.index() * TILE_WIDTH;
        let old_count = old_size.checked_shr(shift).unwrap_or(0);
        let width = usize::from(path.width());
        let mut hashes = Vec::with_capacity(width);
        if old_count > first {
            let keep = (old_count - first) as usize;
            let t = stored.tile(level, path.index())?;
            let prefix = t.get(..keep).ok_or_else(|| {
                Error::Inconsistent(format!(
                    "tile {level}/{} has {} hashes, tree size {old_size} needs {keep}",
                    path.index(),
                    t.len()
                ))
            })?;
            hashes.extend_from_slice(prefix);
        }
        for i in first + hashes.len() as u64..first + width as u64 {
            let id = NodeId::new((shift) as u8, i);
            hashes.push(*fresh.get(&id).ok_or_else(|| {
                Error::Inconsistent(format!("batch did not complete tree node {id}"))
            })?);
        }
        out.push((level, path.index(), Arc::new(hashes)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::SqliteBackend;
    use crate::storage::{Batch, StoredCheckpoint};
    use shinrai_tlog::{CompactRange, MemoryTree, verify_inclusion};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn tiles_written_batch_by_batch_give_the_roots_and_proofs_of_the_reference_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = SqliteBackend::open(&dir.path().join("t.db")).expect("db");
        let all = leaves(70_000);
        let mut reference = MemoryTree::new();
        let mut range = CompactRange::new();
        let mut done = 0usize;
        // One cache across every size: tiles cached early stay right as the tree grows.
        let cache = TileHashCache::default();
        for step in [1usize, 2, 255, 1, 300, 4000, 65_536 - 4559, 1, 3906] {
            let before = StoredTree::new(&db, done as u64);
            let update = range.append_batch(&all[done..done + step]);
            let tiles = changed_tiles(&before, &update).expect("tiles");
            db.integrate(&Batch {
                entries: Vec::new(),
                tiles,
                checkpoint: StoredCheckpoint {
                    size: update.size,
                    note: String::new(),
                    cose_signature: Vec::new(),
                },
            })
            .expect("write");
            for l in &all[done..done + step] {
                reference.append_leaf_hash(*l);
            }
            done += step;
            let view = StoredTree::new(&db, done as u64);
            assert_eq!(view.root().expect("root"), reference.root(), "size {done}");
            assert_eq!(update.root, reference.root());
            for idx in [0u64, done as u64 / 3, done as u64 - 1] {
                let proof = view.inclusion_proof(idx).expect("proof");
                assert_eq!(
                    proof,
                    reference.inclusion_proof(idx, done as u64).expect("ref")
                );
                verify_inclusion(idx, done as u64, &all[idx as usize], &proof, &update.root)
                    .expect("verifies");
            }
            let cached = StoredTree::new(&db, done as u64).with_tile_cache(&cache);
            let n = done as u64;
            for idx in [
                0,
                1,
                255,
                256,
                257,
                511,
                n / 3,
                n / 2,
                n.saturating_sub(257),
                n.saturating_sub(2),
                n - 1,
            ] {
                if idx >= n {
                    continue;
                }
                assert_eq!(
                    cached.inclusion_proof(idx).expect("cached proof"),
                    reference.inclusion_proof(idx, n).expect("ref"),
                    "leaf {idx} of {n} through the full-tile cache"
                );
            }
            assert_eq!(cached.root().expect("root"), reference.root());
            let reloaded = CompactRange::from_reader(&view, done as u64).expect("reload");
            assert_eq!(reloaded.root(), reference.root());
        }
    }

    #[test]
    fn a_missing_tile_is_reported_not_invented() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = SqliteBackend::open(&dir.path().join("t.db")).expect("db");
        let view = StoredTree::new(&db, 3);
        assert!(matches!(view.root(), Err(Error::Inconsistent(_))));
        assert!(view.inclusion_proof(3).is_err());
    }

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = SqliteBackend::open(&dir.path().join("t.db")).expect("db");
        assert_eq!(
            hex::encode(StoredTree::new(&db, 0).root().expect("root")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
