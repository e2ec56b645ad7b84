//! Log audit: fetch every entry bundle and hash tile of a log, recompute the tree, check the
//! checkpoint signature, compare every tile, and check consistency with an earlier checkpoint
//! the auditor saw. Works over any [`LogSource`] (HTTP in the CLI, the store in tests).

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use shinrai_tlog::tiles::{audit_tiles, decode_entry_bundle};
use shinrai_tlog::{TileKind, TilePath, TileReader, root_at};

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

/// Splits an entry bundle into entries (C2SP tlog-tiles: big-endian `u16` length, bytes).
pub fn parse_bundle(b: &[u8]) -> Result<Vec<&[u8]>> {
    decode_entry_bundle(b).map_err(|e| Error::Inconsistent(e.to_string()))
}

/// Audits the log behind `source` against the log key `verifier_key`, and against `seen` (the
/// last checkpoint this auditor verified) if given.
///
/// The checkpoint signature must verify (else `Err`). Then `shinrai-tlog`'s `audit_tiles`
/// reads every entry bundle and hash tile, recomputes the tree from the entries and compares
/// each tile; the recomputed root must be the checkpoint's, and the root at `seen.size`
/// (recomputed from the checked tiles) must be the one seen. Differences and read failures are
/// reported in [`AuditReport::problems`].
pub fn audit(
    source: &mut dyn LogSource,
    verifier_key: &str,
    seen: Option<&SeenCheckpoint>,
) -> Result<AuditReport> {
    let note = source.checkpoint()?;
    let text = NoteVerifier::parse(verifier_key)?.verify(&note)?;
    let cp = Checkpoint::parse(text)?;
    let n = cp.size;
    let mut problems = Vec::new();
    let source = RefCell::new(source);
    let fetch = |p: &TilePath| -> shinrai_tlog::Result<Vec<u8>> {
        let width = p.is_partial().then_some(p.width());
        let mut s = source.borrow_mut();
        match p.kind() {
            TileKind::Entries => s.bundle(p.index(), width),
            TileKind::Hash { level } => s.tile(level, p.index(), width),
        }
        .map_err(|e| shinrai_tlog::Error::Storage(Box::new(e)))
    };
    match audit_tiles(n, fetch) {
        Ok(root) => {
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
                } else {
                    // Read through tiles at the widths of size n, which audit_tiles checked.
                    match root_at(&TileReader::new(n, fetch), s.size) {
                        Ok(r) if hex::encode(r) == s.root => {}
                        Ok(_) => problems.push(format!(
                            "not consistent with the checkpoint of size {} seen before: history was rewritten",
                            s.size
                        )),
                        Err(e) => problems.push(format!(
                            "cannot recompute the root at the size {} seen before: {e}",
                            s.size
                        )),
                    }
                }
            }
        }
        Err(e) => problems.push(describe(&e, n)),
    }
    Ok(AuditReport {
        tree_size: n,
        root: hex::encode(cp.root),
        problems,
    })
}

/// Words an `audit_tiles` failure the way auditors read it (`tile L/N differs ...`).
fn describe(e: &shinrai_tlog::Error, n: u64) -> String {
    if let shinrai_tlog::Error::TileMismatch { path } = e
        && let Ok(tile) = TilePath::parse(path)
    {
        return match tile.kind() {
            TileKind::Hash { level } => format!(
                "tile {level}/{} differs from the tree recomputed from the entries",
                tile.index()
            ),
            TileKind::Entries => format!("entry bundle {} differs", tile.index()),
        };
    }
    format!("the tiles and entries served do not reproduce the tree of size {n}: {e}")
}
