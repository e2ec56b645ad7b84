//! RFC 9162 Merkle tree maths over C2SP tlog-tiles (tile height 8), as the store needs it:
//! the right-edge [`Frontier`] that the sequencer appends batches to, and [`TreeView`] which
//! computes roots and inclusion proofs from stored tiles with memoisation.
//!
//! This is the store's own small implementation so that it does not wait for `shinrai-tlog`;
//! proof *verification* for clients is in [`root_from_inclusion_proof`]. Everything here is pure
//! maths over a [`TileReader`].

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::digest;

use crate::{Error, Result};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Tile height: each tile holds hashes of one tree level every 8 levels.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 256;

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// RFC 9162 leaf hash: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    sha256(&[&[0u8], entry])
}

/// RFC 9162 interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[1u8], left, right])
}

/// Root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    sha256(&[])
}

/// Plain SHA-256 of `data` (entry ids, content digests).
pub fn sha256_of(data: &[u8]) -> Hash {
    sha256(&[data])
}

/// Where stored tiles come from (the storage backend, or a batch overlay on it).
pub trait TileReader {
    /// Tile `index` at `level`, as stored (its width may be larger than needed; `None` if absent).
    fn read_tile(&self, level: u8, index: u64) -> Result<Option<Arc<Vec<Hash>>>>;
}

/// Splits tile bytes into hashes (the tile wire format is hashes concatenated).
pub fn tile_from_bytes(bytes: &[u8]) -> Result<Vec<Hash>> {
    if !bytes.len().is_multiple_of(32) || bytes.len() > 32 * TILE_WIDTH as usize {
        return Err(Error::Inconsistent(format!(
            "stored tile has {} bytes, not a multiple of 32 up to 8192",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// Concatenates hashes into tile bytes.
pub fn tile_to_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

/// Merkle root of a power-of-two count of hashes (a full tile's subtree).
fn perfect_root(hashes: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
    }
    level[0]
}

/// The right edge of the tree: the rightmost (partial) tile of every level. Appending leaves
/// to it yields the tiles that changed, and it alone determines the root.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    size: u64,
    /// `levels[l]` holds the hashes of the rightmost partial tile at tile level `l`.
    levels: Vec<Vec<Hash>>,
}

/// Tiles a [`Frontier::append`] changed: `(level, index) -> hashes`.
pub type ChangedTiles = HashMap<(u8, u64), Arc<Vec<Hash>>>;

impl Frontier {
    /// Rebuilds the frontier of a tree of `size` leaves from stored tiles.
    pub fn load(size: u64, reader: &dyn TileReader) -> Result<Self> {
        let mut levels = Vec::new();
        let mut level = 0u8;
        loop {
            let count = size >> (TILE_HEIGHT * level as u32);
            if count == 0 {
                break;
            }
            let width = (count % TILE_WIDTH) as usize;
            let mut hashes = Vec::new();
            if width > 0 {
                let tile = reader
                    .read_tile(level, count / TILE_WIDTH)?
                    .ok_or_else(|| {
                        Error::Inconsistent(format!(
                            "tile {level}/{} needed for tree size {size} is missing",
                            count / TILE_WIDTH
                        ))
                    })?;
                if tile.len() < width {
                    return Err(Error::Inconsistent(format!(
                        "tile {level}/{} has {} hashes, tree size {size} needs {width}",
                        count / TILE_WIDTH,
                        tile.len()
                    )));
                }
                hashes.extend_from_slice(&tile[..width]);
            }
            levels.push(hashes);
            level += 1;
        }
        Ok(Frontier { size, levels })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends leaf hashes; returns every tile whose content changed (full ones included).
    pub fn append(&mut self, leaves: &[Hash]) -> ChangedTiles {
        let mut changed = ChangedTiles::new();
        let mut dirty = vec![false; self.levels.len()];
        for leaf in leaves {
            let mut level = 0usize;
            let mut hash = *leaf;
            loop {
                if self.levels.len() <= level {
                    self.levels.push(Vec::new());
                    dirty.push(false);
                }
                self.levels[level].push(hash);
                dirty[level] = true;
                if self.levels[level].len() as u64 == TILE_WIDTH {
                    let full = std::mem::take(&mut self.levels[level]);
                    let count = (self.size + 1) >> (TILE_HEIGHT * level as u32);
                    let index = count / TILE_WIDTH - 1;
                    hash = perfect_root(&full);
                    changed.insert((level as u8, index), Arc::new(full));
                    dirty[level] = false;
                    level += 1;
                } else {
                    break;
                }
            }
            self.size += 1;
        }
        for (level, d) in dirty.iter().enumerate() {
            if *d && !self.levels[level].is_empty() {
                let count = self.size >> (TILE_HEIGHT * level as u32);
                changed.insert(
                    (level as u8, count / TILE_WIDTH),
                    Arc::new(self.levels[level].clone()),
                );
            }
        }
        changed
    }

    /// The partial tiles as a reader (used to compute the root).
    pub fn partial_tiles(&self) -> ChangedTiles {
        let mut out = ChangedTiles::new();
        for (level, hashes) in self.levels.iter().enumerate() {
            if !hashes.is_empty() {
                let count = self.size >> (TILE_HEIGHT * level as u32);
                out.insert((level as u8, count / TILE_WIDTH), Arc::new(hashes.clone()));
            }
        }
        out
    }

    /// The root hash of the tree.
    pub fn root(&self) -> Result<Hash> {
        let tiles = self.partial_tiles();
        TreeView::new(&MapReader(&tiles), self.size).root()
    }
}

/// A [`TileReader`] over an in-memory map.
pub struct MapReader<'a>(pub &'a ChangedTiles);

impl TileReader for MapReader<'_> {
    fn read_tile(&self, level: u8, index: u64) -> Result<Option<Arc<Vec<Hash>>>> {
        Ok(self.0.get(&(level, index)).cloned())
    }
}

/// A [`TileReader`] that looks in an overlay first, then in a backing reader.
pub struct OverlayReader<'a> {
    /// Tiles that take precedence (a batch just written).
    pub overlay: &'a ChangedTiles,
    /// Everything else.
    pub base: &'a dyn TileReader,
}

impl TileReader for OverlayReader<'_> {
    fn read_tile(&self, level: u8, index: u64) -> Result<Option<Arc<Vec<Hash>>>> {
        match self.overlay.get(&(level, index)) {
            Some(t) => Ok(Some(t.clone())),
            None => self.base.read_tile(level, index),
        }
    }
}

/// A view of the tree at one size, computing node hashes from tiles with memoisation; build one
/// per request or per batch.
pub struct TreeView<'a> {
    reader: &'a dyn TileReader,
    size: u64,
    tiles: HashMap<(u8, u64), Arc<Vec<Hash>>>,
    nodes: HashMap<(u32, u64), Hash>,
    ranges: HashMap<(u64, u64), Hash>,
}

impl<'a> TreeView<'a> {
    /// A view of the first `size` leaves.
    pub fn new(reader: &'a dyn TileReader, size: u64) -> Self {
        TreeView {
            reader,
            size,
            tiles: HashMap::new(),
            nodes: HashMap::new(),
            ranges: HashMap::new(),
        }
    }

    fn tile(&mut self, level: u8, index: u64) -> Result<Arc<Vec<Hash>>> {
        if let Some(t) = self.tiles.get(&(level, index)) {
            return Ok(t.clone());
        }
        let t = self
            .reader
            .read_tile(level, index)?
            .ok_or_else(|| Error::Inconsistent(format!("tile {level}/{index} is missing")))?;
        self.tiles.insert((level, index), t.clone());
        Ok(t)
    }

    /// Hash of the perfect subtree of height `height` at `index` (must be complete in the tree).
    pub fn node(&mut self, height: u32, index: u64) -> Result<Hash> {
        if let Some(h) = self.nodes.get(&(height, index)) {
            return Ok(*h);
        }
        let hash = if height.is_multiple_of(TILE_HEIGHT) {
            let level = (height / TILE_HEIGHT) as u8;
            let tile = self.tile(level, index / TILE_WIDTH)?;
            *tile.get((index % TILE_WIDTH) as usize).ok_or_else(|| {
                Error::Inconsistent(format!(
                    "tile {level}/{} too short for node {index}",
                    index / TILE_WIDTH
                ))
            })?
        } else {
            let l = self.node(height - 1, 2 * index)?;
            let r = self.node(height - 1, 2 * index + 1)?;
            node_hash(&l, &r)
        };
        self.nodes.insert((height, index), hash);
        Ok(hash)
    }

    /// RFC 9162 `MTH(D[start:end])` for a range the RFC recursion produces.
    fn range(&mut self, start: u64, end: u64) -> Result<Hash> {
        let n = end - start;
        if n == 0 {
            return Ok(empty_root());
        }
        if n.is_power_of_two() && start.is_multiple_of(n) {
            return self.node(n.trailing_zeros(), start / n);
        }
        if let Some(h) = self.ranges.get(&(start, end)) {
            return Ok(*h);
        }
        let k = largest_power_of_two_below(n);
        let l = self.range(start, start + k)?;
        let r = self.range(start + k, end)?;
        let h = node_hash(&l, &r);
        self.ranges.insert((start, end), h);
        Ok(h)
    }

    /// The root of the tree of this view's size.
    pub fn root(&mut self) -> Result<Hash> {
        self.range(0, self.size)
    }

    /// The RFC 9162 inclusion proof of leaf `index` in the tree of this view's size.
    pub fn inclusion_proof(&mut self, index: u64) -> Result<Vec<Hash>> {
        if index >= self.size {
            return Err(Error::InvalidRequest(format!(
                "leaf {index} is not in a tree of size {}",
                self.size
            )));
        }
        let mut proof = Vec::new();
        self.path(index, 0, self.size, &mut proof)?;
        Ok(proof)
    }

    fn path(&mut self, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) -> Result<()> {
        let n = end - start;
        if n <= 1 {
            return Ok(());
        }
        let k = largest_power_of_two_below(n);
        if m < start + k {
            self.path(m, start, start + k, out)?;
            let h = self.range(start + k, end)?;
            out.push(h);
        } else {
            self.path(m, start + k, end, out)?;
            let h = self.range(start, start + k)?;
            out.push(h);
        }
        Ok(())
    }
}

/// Largest power of two strictly below `n` (n >= 2).
fn largest_power_of_two_below(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Recomputes the root from a leaf hash and its RFC 9162 inclusion proof (section 2.1.3.2).
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash> {
    if index >= size {
        return Err(Error::InvalidRequest(format!(
            "leaf index {index} is not below tree size {size}"
        )));
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(Error::InvalidRequest("inclusion proof is too long".into()));
        }
        if fnode % 2 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode.is_multiple_of(2) {
                while fnode.is_multiple_of(2) && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(Error::InvalidRequest("inclusion proof is too short".into()));
    }
    Ok(r)
}

/// Computes the root of `leaves` directly (reference implementation for audits and tests).
pub fn root_of_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = largest_power_of_two_below(n as u64) as usize;
            node_hash(&root_of_leaves(&leaves[..k]), &root_of_leaves(&leaves[k..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn frontier_tiles_give_the_same_roots_and_proofs_as_the_reference() {
        let all = leaves(70_000);
        let mut f = Frontier::default();
        let mut stored = ChangedTiles::new();
        let mut done = 0usize;
        for step in [1usize, 2, 255, 1, 300, 4000, 65_536 - 4559, 1, 3906] {
            let changed = f.append(&all[done..done + step]);
            stored.extend(changed);
            done += step;
            let reader = MapReader(&stored);
            let mut view = TreeView::new(&reader, done as u64);
            let expect = root_of_leaves(&all[..done]);
            assert_eq!(view.root().expect("root"), expect, "size {done}");
            assert_eq!(f.root().expect("root"), expect);
            for idx in [0u64, done as u64 / 3, done as u64 - 1] {
                let proof = view.inclusion_proof(idx).expect("proof");
                let r = root_from_inclusion_proof(idx, done as u64, &all[idx as usize], &proof)
                    .expect("verify");
                assert_eq!(r, expect);
            }
            let reloaded = Frontier::load(done as u64, &reader).expect("load");
            assert_eq!(reloaded.root().expect("root"), expect);
        }
    }

    #[test]
    fn rejects_proof_for_another_leaf() {
        let all = leaves(10);
        let mut f = Frontier::default();
        let tiles = f.append(&all);
        let reader = MapReader(&tiles);
        let mut view = TreeView::new(&reader, 10);
        let proof = view.inclusion_proof(3).expect("proof");
        let root = view.root().expect("root");
        let r = root_from_inclusion_proof(4, 10, &all[4], &proof).expect("computes");
        assert_ne!(r, root);
        assert!(root_from_inclusion_proof(3, 10, &all[3], &proof[..2]).is_err());
    }

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        assert_eq!(
            hex::encode(Frontier::default().root().expect("root")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
