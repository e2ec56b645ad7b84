//! Producing proofs and roots from stored tree nodes, and appending leaves.
//!
//! A log stores only the hashes of *complete* (perfect) subtrees, addressed by [`NodeId`]: the
//! node at `level` L and `index` I covers leaves `[I * 2^L, (I + 1) * 2^L)`. Those never change
//! once written, which is what makes tiles immutable. Hashes on the right edge of a tree whose
//! size is not a power of two are *ephemeral*: they are recomputed from the complete subtrees
//! that make up the range. The planning functions here say which stored nodes a proof or a root
//! needs ([`inclusion_plan`], [`consistency_plan`], [`root_plan`]), so a store can fetch them in
//! one batched read through a [`HashReader`] and fold them into the proof with
//! [`ProofPlan::assemble`].
//!
//! [`CompactRange`] is the sequencer's state: the right-edge perfect subtrees of the current
//! tree (one hash per set bit of the size). Appending a leaf costs O(log n) hashes and reports
//! every node it completes, so the store persists exactly those.

use std::fmt;

use crate::error::{Error, Result};
use crate::hash::{Hash, empty_root, leaf_hash, node_hash};
use crate::proof::root_from_subtrees;

/// Address of a complete subtree: `level` 0 is a leaf, level L covers `2^L` leaves starting at
/// leaf `index * 2^L`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height of the subtree (0 = leaf). At most 63.
    pub level: u8,
    /// Position of the subtree among those of its level, from the left.
    pub index: u64,
}

impl NodeId {
    /// Builds a node id.
    pub const fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// First leaf covered by this node, or `None` on overflow.
    pub fn first_leaf(self) -> Option<u64> {
        self.index
            .checked_mul(1u64.checked_shl(u32::from(self.level))?)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(level {}, index {})", self.level, self.index)
    }
}

/// Read access to stored hashes of complete subtrees.
///
/// Implementations MUST return exactly one hash per id, in the order asked, and MUST return an
/// error (such as [`Error::MissingNode`]) rather than a made-up hash for a node they do not
/// have. Proof functions ask for all the nodes they need in one call so a database or tile
/// backend can batch the read.
pub trait HashReader {
    /// Returns the hashes of `ids`, in the same order.
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>>;
}

impl<T: HashReader + ?Sized> HashReader for &T {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>> {
        (**self).read_hashes(ids)
    }
}

/// Which stored nodes a proof (or root) needs, and how to fold them into proof hashes.
///
/// Each proof hash is the Merkle hash of a range of leaves; complete ranges are one stored node,
/// right-edge ranges are several nodes folded from the right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofPlan {
    ids: Vec<NodeId>,
    /// Number of consecutive ids folded into each proof hash.
    groups: Vec<usize>,
}

impl ProofPlan {
    /// The stored nodes to read, in the order [`ProofPlan::assemble`] expects their hashes.
    pub fn node_ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// Number of hashes in the finished proof.
    pub fn proof_len(&self) -> usize {
        self.groups.len()
    }

    /// Folds the hashes of [`ProofPlan::node_ids`] (same order) into the proof hashes.
    pub fn assemble(&self, hashes: &[Hash]) -> Result<Vec<Hash>> {
        if hashes.len() != self.ids.len() {
            return Err(Error::ReaderLength {
                asked: self.ids.len(),
                got: hashes.len(),
            });
        }
        let mut out = Vec::with_capacity(self.groups.len());
        let mut at = 0;
        for &n in &self.groups {
            out.push(root_from_subtrees(&hashes[at..at + n]));
            at += n;
        }
        Ok(out)
    }

    /// Reads the nodes through `reader` and assembles the proof.
    pub fn fetch<R: HashReader + ?Sized>(&self, reader: &R) -> Result<Vec<Hash>> {
        if self.ids.is_empty() {
            return self.assemble(&[]);
        }
        let hashes = reader.read_hashes(&self.ids)?;
        self.assemble(&hashes)
    }

    fn push_range(&mut self, lo: u64, hi: u64) {
        let before = self.ids.len();
        decompose(lo, hi, &mut self.ids);
        self.groups.push(self.ids.len() - before);
    }
}

/// Appends to `out` the complete subtrees that make up leaves `[lo, hi)`, left to right
/// (greedy: at each position the largest aligned subtree that fits).
fn decompose(mut lo: u64, hi: u64, out: &mut Vec<NodeId>) {
    while lo < hi {
        let fit = 63 - (hi - lo).leading_zeros();
        let level = if lo == 0 {
            fit
        } else {
            lo.trailing_zeros().min(fit)
        };
        // level <= 63, so it fits in u8 and the shift cannot overflow.
        out.push(NodeId::new(level as u8, lo >> level));
        lo += 1u64 << level;
    }
}

/// Largest power of two strictly below `n` (requires `n >= 2`).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The complete subtrees of a tree of `size` leaves, largest (leftmost) first: one per set bit.
pub fn right_edge(size: u64) -> Vec<NodeId> {
    let mut out = Vec::with_capacity(size.count_ones() as usize);
    decompose(0, size, &mut out);
    out
}

/// Plan for the inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162
/// §2.1.3.1 `PATH`), proof hashes ordered from the leaf up.
pub fn inclusion_plan(index: u64, size: u64) -> Result<ProofPlan> {
    let len = crate::proof::inclusion_proof_len(index, size)?;
    let mut ranges = Vec::with_capacity(len);
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
        }
    }
    let mut plan = ProofPlan {
        ids: Vec::new(),
        groups: Vec::with_capacity(len),
    };
    for &(a, b) in ranges.iter().rev() {
        plan.push_range(a, b);
    }
    Ok(plan)
}

/// Plan for the consistency proof from `size1` to `size2` (RFC 9162 §2.1.4.1 `SUBPROOF`).
/// Equal sizes give an empty plan; `size1 > size2` and `0 == size1 < size2` are errors.
pub fn consistency_plan(size1: u64, size2: u64) -> Result<ProofPlan> {
    let len = crate::proof::consistency_proof_len(size1, size2)?;
    let mut plan = ProofPlan {
        ids: Vec::new(),
        groups: Vec::with_capacity(len),
    };
    if size1 == size2 {
        return Ok(plan);
    }
    let mut siblings = Vec::with_capacity(len);
    let mut terminal = None;
    let (mut lo, mut hi, mut m, mut whole) = (0u64, size2, size1, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !whole {
                terminal = Some((lo, hi));
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            siblings.push((lo + k, hi));
            hi = lo + k;
        } else {
            siblings.push((lo, lo + k));
            lo += k;
            m -= k;
            whole = false;
        }
    }
    if let Some((a, b)) = terminal {
        plan.push_range(a, b);
    }
    for &(a, b) in siblings.iter().rev() {
        plan.push_range(a, b);
    }
    Ok(plan)
}

/// Plan for the root of the tree of `size` leaves: one group of the right-edge nodes. For size 0
/// the plan reads nothing and has no hash; use [`root_at`], which returns the empty root.
pub fn root_plan(size: u64) -> ProofPlan {
    let ids = right_edge(size);
    let groups = if ids.is_empty() {
        Vec::new()
    } else {
        vec![ids.len()]
    };
    ProofPlan { ids, groups }
}

/// Inclusion proof of leaf `index` in the tree of `size` leaves, read from `reader`.
pub fn inclusion_proof<R: HashReader + ?Sized>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>> {
    inclusion_plan(index, size)?.fetch(reader)
}

/// Consistency proof from `size1` to `size2`, read from `reader`.
pub fn consistency_proof<R: HashReader + ?Sized>(
    reader: &R,
    size1: u64,
    size2: u64,
) -> Result<Vec<Hash>> {
    consistency_plan(size1, size2)?.fetch(reader)
}

/// Root of the tree of `size` leaves, read from `reader` (the empty root for size 0).
pub fn root_at<R: HashReader + ?Sized>(reader: &R, size: u64) -> Result<Hash> {
    let ids = right_edge(size);
    if ids.is_empty() {
        return Ok(empty_root());
    }
    let hashes = reader.read_hashes(&ids)?;
    if hashes.len() != ids.len() {
        return Err(Error::ReaderLength {
            asked: ids.len(),
            got: hashes.len(),
        });
    }
    Ok(root_from_subtrees(&hashes))
}

/// The right edge of a tree: enough state to append leaves and compute the root without
/// reading anything else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    /// Hashes of [`right_edge`]`(size)`, largest subtree first.
    hashes: Vec<Hash>,
}

/// Result of [`CompactRange::append_batch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchUpdate {
    /// Tree size after the batch.
    pub size: u64,
    /// Root after the batch.
    pub root: Hash,
    /// Every complete node the batch created (leaves included), in creation order: exactly the
    /// nodes a store must persist. Each node appears once and never changes afterwards.
    pub new_nodes: Vec<(NodeId, Hash)>,
}

impl CompactRange {
    /// The compact range of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a compact range from its parts, checking `hashes` has one hash per set bit of
    /// `size` (the hashes of [`right_edge`]`(size)`, largest first).
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(Error::CompactRangeShape {
                size,
                expected,
                got: hashes.len(),
            });
        }
        Ok(Self { size, hashes })
    }

    /// Loads the compact range of the tree of `size` leaves from stored nodes (a sequencer
    /// resuming after a restart).
    pub fn from_reader<R: HashReader + ?Sized>(reader: &R, size: u64) -> Result<Self> {
        let ids = right_edge(size);
        let hashes = if ids.is_empty() {
            Vec::new()
        } else {
            reader.read_hashes(&ids)?
        };
        Self::from_parts(size, hashes)
    }

    /// Number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Hashes of the right-edge subtrees, largest first (ids: [`right_edge`]`(self.size())`).
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Root of the tree.
    pub fn root(&self) -> Hash {
        root_from_subtrees(&self.hashes)
    }

    /// Appends one leaf hash, calling `on_node` for the leaf and every node it completes.
    pub fn append(&mut self, leaf: Hash, mut on_node: impl FnMut(NodeId, &Hash)) {
        let mut index = self.size;
        let mut level: u8 = 0;
        let mut h = leaf;
        on_node(NodeId::new(0, index), &h);
        while index & 1 == 1 {
            // A set low bit of the old size means a left sibling of the same height is on the
            // edge; merge with it. The number of set bits equals hashes.len(), so pop succeeds.
            let Some(left) = self.hashes.pop() else {
                break;
            };
            h = node_hash(&left, &h);
            index >>= 1;
            level += 1;
            on_node(NodeId::new(level, index), &h);
        }
        self.hashes.push(h);
        self.size += 1;
    }

    /// Appends leaf hashes in order and returns the new size, root and newly completed nodes.
    /// Cost: O(batch + log n) hashes amortised, plus one root fold of O(log n).
    pub fn append_batch(&mut self, leaves: &[Hash]) -> BatchUpdate {
        let mut new_nodes = Vec::with_capacity(leaves.len() * 2);
        for leaf in leaves {
            self.append(*leaf, |id, h| new_nodes.push((id, *h)));
        }
        BatchUpdate {
            size: self.size,
            root: self.root(),
            new_nodes,
        }
    }
}

/// An in-memory tree keeping every complete node: for tests, tools and small logs.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    /// `levels[l][i]` is the hash of node (l, i).
    levels: Vec<Vec<Hash>>,
    edge: CompactRange,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.edge.size()
    }

    /// Root of the current tree.
    pub fn root(&self) -> Hash {
        self.edge.root()
    }

    /// Root of the tree as it was at `size` leaves (`size` at most the current size).
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        if size > self.size() {
            return Err(Error::SizeOrder {
                size1: size,
                size2: self.size(),
            });
        }
        root_at(self, size)
    }

    /// Appends an entry (hashing it as a leaf) and returns its index.
    pub fn append_entry(&mut self, entry: &[u8]) -> u64 {
        self.append_leaf_hash(leaf_hash(entry))
    }

    /// Appends a leaf hash and returns its index.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> u64 {
        let index = self.size();
        let levels = &mut self.levels;
        self.edge.append(leaf, |id, h| {
            let l = usize::from(id.level);
            if levels.len() <= l {
                levels.resize_with(l + 1, Vec::new);
            }
            levels[l].push(*h);
        });
        index
    }

    /// The compact range of the current tree.
    pub fn compact_range(&self) -> &CompactRange {
        &self.edge
    }

    /// Inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        self.check_size(size)?;
        inclusion_proof(self, index, size)
    }

    /// Consistency proof from `size1` to `size2`.
    pub fn consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>> {
        self.check_size(size2)?;
        consistency_proof(self, size1, size2)
    }

    fn check_size(&self, size: u64) -> Result<()> {
        if size > self.size() {
            Err(Error::SizeOrder {
                size1: size,
                size2: self.size(),
            })
        } else {
            Ok(())
        }
    }
}

impl HashReader for MemoryTree {
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>> {
        ids.iter()
            .map(|id| {
                usize::try_from(id.index)
                    .ok()
                    .and_then(|i| self.levels.get(usize::from(id.level))?.get(i))
                    .copied()
                    .ok_or(Error::MissingNode(*id))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9162 MTH computed recursively from the definition, as an independent reference.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn memory_tree_roots_match_the_recursive_definition() {
        let mut t = MemoryTree::new();
        let mut leaves = Vec::new();
        assert_eq!(t.root(), empty_root());
        for i in 0..70u32 {
            leaves.push(leaf_hash(&i.to_be_bytes()));
            t.append_entry(&i.to_be_bytes());
            assert_eq!(t.root(), mth(&leaves), "size {}", i + 1);
        }
        for size in 0..=70u64 {
            assert_eq!(
                t.root_at(size).ok(),
                Some(mth(&leaves[..size as usize])),
                "root_at {size}"
            );
        }
    }

    #[test]
    fn right_edge_has_one_node_per_set_bit() {
        assert_eq!(
            right_edge(13),
            vec![NodeId::new(3, 0), NodeId::new(2, 2), NodeId::new(0, 12)]
        );
        assert!(right_edge(0).is_empty());
        assert_eq!(right_edge(u64::MAX).len(), 64);
    }

    #[test]
    fn batch_update_reports_each_new_node_once() {
        let mut r = CompactRange::new();
        let leaves: Vec<Hash> = (0..5u8).map(|i| leaf_hash(&[i])).collect();
        let u = r.append_batch(&leaves[..3]);
        assert_eq!(u.size, 3);
        let ids: Vec<NodeId> = u.new_nodes.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids,
            vec![
                NodeId::new(0, 0),
                NodeId::new(0, 1),
                NodeId::new(1, 0),
                NodeId::new(0, 2)
            ]
        );
        let u = r.append_batch(&leaves[3..]);
        let ids: Vec<NodeId> = u.new_nodes.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids,
            vec![
                NodeId::new(0, 3),
                NodeId::new(1, 1),
                NodeId::new(2, 0),
                NodeId::new(0, 4)
            ]
        );
        assert_eq!(u.root, mth(&leaves));
    }

    #[test]
    fn compact_range_rejects_wrong_number_of_hashes() {
        assert!(matches!(
            CompactRange::from_parts(3, vec![[0; 32]]),
            Err(Error::CompactRangeShape {
                size: 3,
                expected: 2,
                got: 1
            })
        ));
    }

    #[test]
    fn memory_tree_reports_missing_nodes() {
        let t = MemoryTree::new();
        assert!(matches!(
            t.read_hashes(&[NodeId::new(0, 0)]),
            Err(Error::MissingNode(_))
        ));
        assert!(t.inclusion_proof(0, 1).is_err());
    }
}
