//! C2SP tlog-tiles: tile paths, hash tiles, entry bundles, and recomputing a tree from tiles.
//!
//! A hash tile at tile level `L`, index `N` holds up to 256 consecutive hashes of tree level
//! `8 * L` (tree nodes `N * 256 ..`); level 0 tiles hold leaf hashes. The tree levels in between
//! are recomputed by hashing inside a tile. An entry bundle `N` holds the entries whose leaf
//! hashes are in level-0 tile `N`, each as a big-endian `u16` length and the bytes.
//!
//! Paths are relative to the log prefix (the server mounts them under `/log/`):
//! `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, where `N` is written in 3-digit
//! groups, all but the last prefixed by `x` (`1234067` → `x001/x234/067`), and `.p/<W>` marks a
//! partial tile of width `W` (1..=255). Parsing accepts only the canonical form, so a path maps
//! to exactly one tile and can be used as a file name safely (no `..`, no leading zeros).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::hash::{HASH_LEN, Hash, leaf_hash};
use crate::proof::root_from_subtrees;
use crate::tree::{CompactRange, HashReader, NodeId, root_at};

/// Tree levels per tile.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;
/// Highest tile level a path may name (C2SP: 0..=63). Only levels 0..=7 can hold hashes of a
/// tree whose size fits in `u64`.
pub const MAX_TILE_LEVEL: u8 = 63;

/// What a tile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Hashes of tree level `8 * level`.
    Hash {
        /// Tile level (0 = leaf hashes).
        level: u8,
    },
    /// Entry bundle matching level-0 hash tile of the same index.
    Entries,
}

/// One tile or entry bundle: kind, index and width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TilePath {
    kind: TileKind,
    index: u64,
    width: u16,
}

impl TilePath {
    /// A hash tile. `width` is 1..=256 (256 = full tile, no `.p/` suffix); `level` at most 63.
    pub fn hash(level: u8, index: u64, width: u16) -> Result<Self> {
        if level > MAX_TILE_LEVEL {
            return Err(Error::MalformedTilePath("tile level must be 0..=63"));
        }
        Self::new(TileKind::Hash { level }, index, width)
    }

    /// An entry bundle. `width` is 1..=256 (256 = full bundle).
    pub fn entries(index: u64, width: u16) -> Result<Self> {
        Self::new(TileKind::Entries, index, width)
    }

    fn new(kind: TileKind, index: u64, width: u16) -> Result<Self> {
        if width == 0 || u64::from(width) > TILE_WIDTH {
            return Err(Error::MalformedTilePath("tile width must be 1..=256"));
        }
        Ok(Self { kind, index, width })
    }

    /// What the tile holds.
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// Tile index within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of hashes or entries (256 for a full tile).
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether this is a partial tile (width below 256).
    pub fn is_partial(&self) -> bool {
        u64::from(self.width) < TILE_WIDTH
    }

    /// The same tile at full width (what a partial tile becomes once complete).
    pub fn full(&self) -> Self {
        Self {
            width: TILE_WIDTH as u16,
            ..*self
        }
    }

    /// Parses a canonical tile path such as `tile/0/x001/234.p/17` or `tile/entries/005`.
    pub fn parse(path: &str) -> Result<Self> {
        let bad = Error::MalformedTilePath;
        let rest = path
            .strip_prefix("tile/")
            .ok_or(bad("path must start with tile/"))?;
        let (kind_str, rest) = rest.split_once('/').ok_or(bad("missing tile index"))?;
        let kind = if kind_str == "entries" {
            TileKind::Entries
        } else {
            let level = parse_decimal(kind_str, u64::from(MAX_TILE_LEVEL)).ok_or(bad(
                "tile level must be a decimal 0..=63 without leading zeros",
            ))?;
            // Bounded by MAX_TILE_LEVEL above.
            TileKind::Hash { level: level as u8 }
        };
        let (index_str, width) = match rest.split_once(".p/") {
            Some((index_str, w)) => {
                let w = parse_decimal(w, TILE_WIDTH - 1)
                    .filter(|&w| w >= 1)
                    .ok_or(bad(
                        "partial width must be a decimal 1..=255 without leading zeros",
                    ))?;
                (index_str, w as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = parse_index(index_str)?;
        Self::new(kind, index, width)
    }
}

impl fmt::Display for TilePath {
    /// Formats the canonical path, e.g. `tile/1/x001/234.p/7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hash { level } => write!(f, "tile/{level}/")?,
            TileKind::Entries => f.write_str("tile/entries/")?,
        }
        f.write_str(&encode_index(self.index))?;
        if self.is_partial() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

impl FromStr for TilePath {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// Encodes a tile index as 3-digit groups, all but the last prefixed with `x`.
pub fn encode_index(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// Parses ASCII decimal without sign or leading zeros, at most `max`.
fn parse_decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse::<u64>().ok().filter(|&v| v <= max)
}

fn parse_index(s: &str) -> Result<u64> {
    let bad = Error::MalformedTilePath;
    let groups: Vec<&str> = s.split('/').collect();
    let last = groups.len() - 1;
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let digits = if i < last {
            g.strip_prefix('x')
                .ok_or(bad("index groups before the last must start with x"))?
        } else {
            g
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("index groups must be exactly 3 digits"));
        }
        if i == 0 && i < last && digits == "000" {
            return Err(bad("index must not have a leading x000 group"));
        }
        let v: u64 = digits
            .parse()
            .map_err(|_| bad("index groups must be exactly 3 digits"))?;
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(v))
            .ok_or(bad("tile index overflows 64 bits"))?;
    }
    Ok(n)
}

/// Number of nodes of tree level `8 * tile_level` in a tree of `size` leaves.
fn nodes_at_tile_level(size: u64, tile_level: u8) -> u64 {
    let shift = u32::from(tile_level) * TILE_HEIGHT;
    if shift >= 64 { 0 } else { size >> shift }
}

/// Tiles of one level covering nodes `[from, to)` of that level, given as (index, width).
fn tiles_between(from: u64, to: u64) -> impl Iterator<Item = (u64, u16)> {
    let first = from / TILE_WIDTH;
    let end = to.div_ceil(TILE_WIDTH);
    let range = if from < to { first..end } else { 0..0 };
    range.map(move |i| {
        let w = (to - i * TILE_WIDTH).min(TILE_WIDTH);
        (i, w as u16)
    })
}

/// All hash tiles (full and partial) of the tree of `size` leaves, level by level.
pub fn hash_tiles(size: u64) -> Vec<TilePath> {
    changed_hash_tiles(0, size)
}

/// All entry bundles (full and the trailing partial one) of the tree of `size` leaves.
pub fn entry_bundles(size: u64) -> Vec<TilePath> {
    changed_entry_bundles(0, size)
}

/// Hash tiles that exist at `new_size` but not at `old_size` (new full tiles and new partial
/// widths): what a store writes after growing the tree from `old_size` to `new_size`.
pub fn changed_hash_tiles(old_size: u64, new_size: u64) -> Vec<TilePath> {
    let mut out = Vec::new();
    for level in 0..8u8 {
        let old = nodes_at_tile_level(old_size, level);
        let new = nodes_at_tile_level(new_size, level);
        if new == 0 {
            break;
        }
        for (index, width) in tiles_between(old, new) {
            out.push(TilePath {
                kind: TileKind::Hash { level },
                index,
                width,
            });
        }
    }
    out
}

/// Entry bundles that exist at `new_size` but not at `old_size`.
pub fn changed_entry_bundles(old_size: u64, new_size: u64) -> Vec<TilePath> {
    tiles_between(old_size, new_size)
        .map(|(index, width)| TilePath {
            kind: TileKind::Entries,
            index,
            width,
        })
        .collect()
}

/// The hash tile, as served for a tree of `size` leaves, that holds what node `id` is computed
/// from, and the range of positions in that tile (1 to 256 hashes to fold pairwise). Nodes are
/// read from the lowest tile that holds them as a subtree, so a node completed by a full tile is
/// read from that full tile. `None` if the node is not complete at `size`
/// or its level is beyond what tiles address.
pub fn tile_for_node(id: NodeId, size: u64) -> Option<(TilePath, std::ops::Range<usize>)> {
    // A node at tree level 8L (L >= 1) is also the root of a full tile at tile level L - 1;
    // read it from there so that sizes at a tile boundary never need a partial tile of the
    // level above (which a log may have deleted once the full tile exists).
    let level = u32::from(id.level);
    let tile_level = (level.saturating_sub(1) / TILE_HEIGHT) as u8;
    let within = level - u32::from(tile_level) * TILE_HEIGHT;
    let first = id.index.checked_shl(within)?;
    if first.checked_shr(within)? != id.index {
        return None;
    }
    let end = first.checked_add(1u64 << within)?;
    let available = nodes_at_tile_level(size, tile_level);
    if end > available {
        return None;
    }
    let index = first / TILE_WIDTH;
    let width = (available - index * TILE_WIDTH).min(TILE_WIDTH) as u16;
    let start = (first % TILE_WIDTH) as usize;
    let tile = TilePath {
        kind: TileKind::Hash { level: tile_level },
        index,
        width,
    };
    Some((tile, start..start + (1usize << within)))
}

/// Concatenates 1..=256 hashes into a hash tile's bytes.
pub fn encode_hash_tile(hashes: &[Hash]) -> Result<Vec<u8>> {
    if hashes.is_empty() || hashes.len() as u64 > TILE_WIDTH {
        return Err(Error::MalformedTilePath("tile width must be 1..=256"));
    }
    Ok(hashes.concat())
}

/// Splits a hash tile's bytes into hashes, checking it holds exactly `width` of them.
pub fn decode_hash_tile(bytes: &[u8], width: u16) -> Result<Vec<Hash>> {
    let expected = usize::from(width) * HASH_LEN;
    if bytes.len() != expected {
        return Err(Error::TileLength {
            expected,
            got: bytes.len(),
        });
    }
    Ok(bytes
        .chunks_exact(HASH_LEN)
        .map(|c| {
            let mut h = [0u8; HASH_LEN];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// Encodes entries as an entry bundle (each a big-endian `u16` length, then the bytes).
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>> {
    let total: usize = entries.iter().map(|e| 2 + e.as_ref().len()).sum();
    let mut out = Vec::with_capacity(total);
    for e in entries {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| Error::EntryTooLarge { len: e.len() })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Decodes an entry bundle into its entries; fails on a truncated length or entry.
pub fn decode_entry_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<2>()
            .ok_or(Error::MalformedBundle("truncated entry length"))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(Error::MalformedBundle("truncated entry"));
        }
        let (entry, tail) = tail.split_at(len);
        out.push(entry);
        rest = tail;
    }
    Ok(out)
}

/// Decodes an entry bundle that must hold exactly `width` entries.
pub fn decode_entry_bundle_exact(bytes: &[u8], width: u16) -> Result<Vec<&[u8]>> {
    let entries = decode_entry_bundle(bytes)?;
    if entries.len() != usize::from(width) {
        return Err(Error::MalformedBundle(
            "number of entries differs from the bundle width",
        ));
    }
    Ok(entries)
}

/// A [`HashReader`] over the hash tiles of a tree of a given size, fetched through a closure
/// (`Fn(&TilePath) -> Result<Vec<u8>>`, e.g. an HTTP GET or a file read done by the caller).
/// Each call to `read_hashes` fetches every tile it needs once.
pub struct TileReader<F> {
    size: u64,
    fetch: F,
}

impl<F: Fn(&TilePath) -> Result<Vec<u8>>> TileReader<F> {
    /// A reader for the tree of `size` leaves (partial tiles are requested at the widths that
    /// size implies).
    pub fn new(size: u64, fetch: F) -> Self {
        Self { size, fetch }
    }
}

impl<F: Fn(&TilePath) -> Result<Vec<u8>>> HashReader for TileReader<F> {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>> {
        let mut cache: HashMap<TilePath, Vec<Hash>> = HashMap::new();
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let (tile, range) = tile_for_node(id, self.size).ok_or(Error::MissingNode(id))?;
            let hashes = match cache.entry(tile) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let bytes = (self.fetch)(&tile)?;
                    e.insert(decode_hash_tile(&bytes, tile.width())?)
                }
            };
            out.push(subtree_root(&hashes[range]));
        }
        Ok(out)
    }
}

/// Root of a perfect subtree given its 2^k leaves-level hashes (folding pairwise).
fn subtree_root(hashes: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|p| crate::hash::node_hash(&p[0], &p[1]))
            .collect();
    }
    level
        .first()
        .copied()
        .unwrap_or_else(|| root_from_subtrees(&[]))
}

/// Root of the tree of `size` leaves computed from the few hash tiles on its right edge
/// (O(log n) tiles). Trusts the tiles; use [`audit_tiles`] to check them against the entries.
pub fn root_from_tiles<F: Fn(&TilePath) -> Result<Vec<u8>>>(size: u64, fetch: F) -> Result<Hash> {
    root_at(&TileReader::new(size, fetch), size)
}

/// Full audit of a tiled log of `size` leaves: reads every entry bundle and every hash tile,
/// recomputes every leaf hash and tree node from the entries, checks each tile holds exactly
/// the recomputed hashes, and returns the root (to compare with a verified checkpoint).
/// Memory is O(log n); time O(n).
pub fn audit_tiles<F: Fn(&TilePath) -> Result<Vec<u8>>>(size: u64, fetch: F) -> Result<Hash> {
    let mut range = CompactRange::new();
    // Hashes of the tile being filled, per tile level.
    let mut pending: Vec<Vec<Hash>> = vec![Vec::new(); 8];
    let mut failure: Option<Error> = None;
    for bundle in entry_bundles(size) {
        let bytes = fetch(&bundle)?;
        let entries = decode_entry_bundle_exact(&bytes, bundle.width())?;
        for entry in entries {
            range.append(leaf_hash(entry), |id, h| {
                if failure.is_some() || u32::from(id.level) % TILE_HEIGHT != 0 {
                    return;
                }
                let tl = usize::from(id.level) / TILE_HEIGHT as usize;
                pending[tl].push(*h);
                if pending[tl].len() as u64 == TILE_WIDTH {
                    let tile = TilePath {
                        kind: TileKind::Hash { level: tl as u8 },
                        index: id.index / TILE_WIDTH,
                        width: TILE_WIDTH as u16,
                    };
                    if let Err(e) = check_tile(&fetch, &tile, &pending[tl]) {
                        failure = Some(e);
                    }
                    pending[tl].clear();
                }
            });
            if let Some(e) = failure.take() {
                return Err(e);
            }
        }
    }
    for (tl, hashes) in pending.iter().enumerate() {
        if hashes.is_empty() {
            continue;
        }
        let count = nodes_at_tile_level(size, tl as u8);
        let tile = TilePath {
            kind: TileKind::Hash { level: tl as u8 },
            index: count / TILE_WIDTH,
            width: hashes.len() as u16,
        };
        check_tile(&fetch, &tile, hashes)?;
    }
    Ok(range.root())
}

fn check_tile<F: Fn(&TilePath) -> Result<Vec<u8>>>(
    fetch: &F,
    tile: &TilePath,
    expected: &[Hash],
) -> Result<()> {
    let bytes = fetch(tile)?;
    let got = decode_hash_tile(&bytes, tile.width())?;
    if got == expected {
        Ok(())
    } else {
        Err(Error::TileMismatch {
            path: tile.to_string(),
        })
    }
}
