//! Log audit: fetch every entry bundle and hash tile of a log, recompute the tree, check the
//! checkpoint signature, compare every tile, and check consistency with an earlier checkpoint
//! the auditor saw. Works over any [`LogSource`] (HTTP in the CLI, the store in tests).

use serde::{Deserialize, Serialize};

use crate::merkle::{Frontier, Hash, TILE_WIDTH, leaf_hash, root_of_leaves, tile_from_bytes};
use crate::note::{Checkpoint, NoteVerifier};
use crate::{Error, Result};

/// Where an auditor reads a log from (the tlog-tiles read API).
pub trait LogSource {
    /// The latest signed checkpoint note.
    fn checkpoint(&mut self) -> Result<String>;
    /// Hash tile `level/index`, full (`None`) or partial of `width` hashes.
    fn tile(&mut self, level: u8, index: u64, width: Option<u16>) -> Result<Vec<u8>>;
    /// Entry bundle `index`, full or partial.
    fn bundle(&mut self, index: u64, width: Option<u16>) -> Result<Vec<u8>>;
}

/// A checkpoint an auditor remembers between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash, hex.
    pub root: String,
}

/// What an audit found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditReport {
    /// Size of the audited checkpoint.
    pub tree_size: u64,
    /// Its root, hex.
    pub root: String,
    /// Every difference found; empty means the log is consistent.
    pub problems: Vec<String>,
}

impl AuditReport {
    /// Whether nothing was found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Splits an entry bundle into entries.
pub fn parse_bundle(mut b: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < 2 {
            return Err(Error::Inconsistent("truncated entry bundle".into()));
        }
        let n = u16::from_be_bytes([b[0], b[1]]) as usize;
        if b.len() < 2 + n {
            return Err(Error::Inconsistent("truncated entry bundle".into()));
        }
        out.push(&b[2..2 + n]);
        b = &b[2 + n..];
    }
    Ok(out)
}

/// Audits the log behind `source` against the log key `verifier_key`, and against `seen` (the
/// last checkpoint this auditor verified) if given.
pub fn audit(
    source: &mut dyn LogSource,
    verifier_key: &str,
    seen: Option<&SeenCheckpoint>,
) -> Result<AuditReport> {
    let note = source.checkpoint()?;
    let mut problems = Vec::new();
    let text = NoteVerifier::parse(verifier_key)?.verify(&note)?;
    let cp = Checkpoint::parse(text)?;
    let n = cp.size;
    let mut leaves: Vec<Hash> = Vec::with_capacity(n as usize);
    let bundles = n.div_ceil(TILE_WIDTH);
    for b in 0..bundles {
        let width = (n - b * TILE_WIDTH).min(TILE_WIDTH);
        let w = (width < TILE_WIDTH).then_some(width as u16);
        let bytes = source.bundle(b, w)?;
        let entries = parse_bundle(&bytes)?;
        if entries.len() as u64 != width {
            problems.push(format!(
                "entry bundle {b} has {} entries, expected {width}",
                entries.len()
            ));
        }
        for e in entries.iter().take(width as usize) {
            leaves.push(leaf_hash(e));
        }
    }
    if leaves.len() as u64 == n {
        let mut f = Frontier::default();
        let computed = f.append(&leaves);
        let mut tiles: Vec<_> = computed.into_iter().collect();
        tiles.sort_by_key(|((l, i), _)| (*l, *i));
        for ((level, index), hashes) in tiles {
            let w = (hashes.len() < TILE_WIDTH as usize).then_some(hashes.len() as u16);
            match source
                .tile(level, index, w)
                .and_then(|b| tile_from_bytes(&b))
            {
                Ok(served) if served == *hashes => {}
                Ok(_) => problems.push(format!(
                    "tile {level}/{index} differs from the tree recomputed from the entries"
                )),
                Err(e) => problems.push(format!("tile {level}/{index}: {e}")),
            }
        }
        let root = f.root()?;
        if root != cp.root {
            problems.push(format!(
                "entries hash to root {} but the checkpoint for size {n} says {}",
                hex::encode(root),
                hex::encode(cp.root)
            ));
        }
        if let Some(s) = seen {
            if s.size > n {
                problems.push(format!(
                    "log shrank: a checkpoint of size {} was seen before, now {n}",
                    s.size
                ));
            } else if hex::encode(root_of_leaves(&leaves[..s.size as usize])) != s.root {
                problems.push(format!(
                    "not consistent with the checkpoint of size {} seen before: history was rewritten",
                    s.size
                ));
            }
        }
    } else {
        problems.push(format!(
            "log has {} entries, checkpoint says {n}",
            leaves.len()
        ));
    }
    Ok(AuditReport {
        tree_size: n,
        root: hex::encode(cp.root),
        problems,
    })
}
