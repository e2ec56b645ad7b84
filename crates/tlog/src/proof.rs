//! Verification of RFC 9162 §2.1.3 inclusion and §2.1.4 consistency proofs.
//!
//! Two flavours of each check: the typed one (`&Hash` everywhere) for values this process built,
//! and a `_bytes` one that takes hashes as byte slices straight off the wire and rejects any that
//! are not 32 bytes long. Both run the same algorithm, the one in RFC 9162 §2.1.3.2 and
//! §2.1.4.2, after checking the proof length up front so a wrong-length proof gets a precise
//! error.

use crate::error::{Error, Result};
use crate::hash::{HASH_LEN, Hash, node_hash};

/// Number of hashes an inclusion proof for leaf `index` in a tree of `size` leaves has.
///
/// Returns [`Error::IndexOutOfRange`] if `index >= size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> Result<usize> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose_inclusion(index, size);
    Ok(inner + border)
}

/// Number of hashes a consistency proof from `size1` to `size2` has (0 when the sizes are equal).
///
/// Errors when `size1 > size2` or when `size1 == 0 < size2` (no proof exists from the empty tree).
pub fn consistency_proof_len(size1: u64, size2: u64) -> Result<usize> {
    if size1 > size2 {
        return Err(Error::SizeOrder { size1, size2 });
    }
    if size1 == size2 {
        return Ok(0);
    }
    if size1 == 0 {
        return Err(Error::ConsistencyFromEmpty { size2 });
    }
    let level = size1.trailing_zeros();
    let index = (size1 - 1) >> level;
    let (inner, border) = decompose_inclusion(index, ((size2 - 1) >> level) + 1);
    // When size1 is a power of two, its root is itself a node of the size2 tree and is not
    // repeated in the proof; otherwise the proof starts with the hash that seeds both roots.
    let start = usize::from(index != 0);
    Ok(start + inner + border)
}

/// Splits an inclusion proof for `index` in a tree of `size` into the number of hashes below the
/// point where the path to `index` and the path to the last leaf meet (`inner`) and the number
/// of left siblings above it (`border`). Requires `index < size`.
fn decompose_inclusion(index: u64, size: u64) -> (usize, usize) {
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    // inner can be 64 (paths diverge at the top bit), where a plain shift would overflow.
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

/// Checks that `leaf_hash` is the leaf at `index` in the tree of `size` leaves with root `root`,
/// given the audit path `proof` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<()> {
    let computed = root_from_inclusion_proof(index, size, leaf_hash, proof)?;
    if &computed == root {
        Ok(())
    } else {
        Err(Error::RootMismatch)
    }
}

/// Recomputes the root a valid inclusion proof implies (for callers who look the root up
/// afterwards). Errors when the sizes are invalid or the proof has the wrong length.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
) -> Result<Hash> {
    let expected = inclusion_proof_len(index, size)?;
    if proof.len() != expected {
        return Err(Error::ProofSize {
            expected,
            got: proof.len(),
        });
    }
    let mut f = index;
    let mut s = size - 1;
    let mut r = *leaf_hash;
    for p in proof {
        // The length check above makes this unreachable, but keep the RFC's guard: never walk
        // past the root.
        if s == 0 {
            return Err(Error::ProofSize {
                expected,
                got: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(Error::ProofSize {
            expected,
            got: proof.len(),
        });
    }
    Ok(r)
}

/// Checks that the tree of `size2` leaves with root `root2` extends the tree of `size1` leaves
/// with root `root1`, given the consistency proof `proof` (RFC 9162 §2.1.4.2).
///
/// Edge cases: equal sizes need an empty proof and equal roots (for size 0, both equal to the
/// empty root); `size1 > size2` is an error; a proof from size 0 to a larger size is an error
/// (there is nothing to prove: check the larger tree's signature instead).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<()> {
    if size1 == size2 {
        // Checked before the length so equal sizes with a non-empty proof report the size.
        let expected = consistency_proof_len(size1, size2)?;
        if !proof.is_empty() {
            return Err(Error::ProofSize {
                expected,
                got: proof.len(),
            });
        }
        return equal_size_roots(size1, root1, root2);
    }
    let expected = consistency_proof_len(size1, size2)?;
    if proof.len() != expected {
        return Err(Error::ProofSize {
            expected,
            got: proof.len(),
        });
    }
    // Step 1: when size1 is a power of two its root is the first "proof" element.
    let (seed, rest): (&Hash, &[Hash]) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (first, rest),
            None => {
                return Err(Error::ProofSize {
                    expected,
                    got: proof.len(),
                });
            }
        }
    };
    let mut f = size1 - 1;
    let mut s = size2 - 1;
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut fr = *seed;
    let mut sr = *seed;
    for c in rest {
        if s == 0 {
            return Err(Error::ProofSize {
                expected,
                got: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(Error::ProofSize {
            expected,
            got: proof.len(),
        });
    }
    if &fr == root1 && &sr == root2 {
        Ok(())
    } else {
        Err(Error::RootMismatch)
    }
}

/// Two trees of the same size are consistent when their roots are equal; the empty tree has the
/// fixed root `SHA-256("")`, so for size 0 both roots must be that value.
fn equal_size_roots(size: u64, root1: &[u8], root2: &[u8]) -> Result<()> {
    if root1 != root2 || (size == 0 && root1 != crate::hash::empty_root().as_slice()) {
        Err(Error::RootMismatch)
    } else {
        Ok(())
    }
}

/// Converts a byte slice received from an untrusted source into a [`Hash`](type@crate::Hash).
pub fn hash_from_slice(bytes: &[u8]) -> Result<Hash> {
    <Hash>::try_from(bytes).map_err(|_| Error::HashLength { got: bytes.len() })
}

fn hashes_from_slices<B: AsRef<[u8]>>(proof: &[B]) -> Result<Vec<Hash>> {
    proof.iter().map(|p| hash_from_slice(p.as_ref())).collect()
}

/// [`verify_inclusion`] over untyped bytes: every hash must be 32 bytes long, except that the
/// `root` is only compared (a root of another length simply does not match).
pub fn verify_inclusion_bytes<B: AsRef<[u8]>>(
    index: u64,
    size: u64,
    leaf_hash: &[u8],
    proof: &[B],
    root: &[u8],
) -> Result<()> {
    let leaf = hash_from_slice(leaf_hash)?;
    let proof = hashes_from_slices(proof)?;
    let computed = root_from_inclusion_proof(index, size, &leaf, &proof)?;
    if computed.as_slice() == root {
        Ok(())
    } else {
        Err(Error::RootMismatch)
    }
}

/// [`verify_consistency`] over untyped bytes. Proof elements must be 32 bytes long. With equal
/// sizes the roots are only compared byte for byte (RFC 9162: the empty proof shows two equal
/// trees are consistent), so they may have any length; otherwise both roots must be 32 bytes.
pub fn verify_consistency_bytes<B: AsRef<[u8]>>(
    size1: u64,
    size2: u64,
    proof: &[B],
    root1: &[u8],
    root2: &[u8],
) -> Result<()> {
    let proof = hashes_from_slices(proof)?;
    if size1 == size2 {
        consistency_proof_len(size1, size2)?;
        if !proof.is_empty() {
            return Err(Error::ProofSize {
                expected: 0,
                got: proof.len(),
            });
        }
        return equal_size_roots(size1, root1, root2);
    }
    consistency_proof_len(size1, size2)?;
    let r1 = hash_from_slice(root1)?;
    let r2 = hash_from_slice(root2)?;
    verify_consistency(size1, size2, &proof, &r1, &r2)
}

/// Root of a tree given the hashes of its right-edge perfect subtrees, largest (leftmost) first,
/// as kept by a [`crate::CompactRange`]: folds them from the right. Empty input gives the empty
/// tree's root.
pub fn root_from_subtrees(subtrees: &[Hash]) -> Hash {
    match subtrees.split_last() {
        None => crate::hash::empty_root(),
        Some((last, rest)) => rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)),
    }
}

const _: () = assert!(HASH_LEN == 32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_lengths_match_rfc9162_examples() {
        // RFC 9162 §2.1.5: tree of 7 leaves.
        assert_eq!(inclusion_proof_len(0, 7).ok(), Some(3));
        assert_eq!(inclusion_proof_len(3, 7).ok(), Some(3));
        assert_eq!(inclusion_proof_len(4, 7).ok(), Some(3));
        assert_eq!(inclusion_proof_len(6, 7).ok(), Some(2));
        assert_eq!(consistency_proof_len(3, 7).ok(), Some(4));
        assert_eq!(consistency_proof_len(4, 7).ok(), Some(1));
        assert_eq!(consistency_proof_len(6, 7).ok(), Some(3));
        assert_eq!(consistency_proof_len(7, 7).ok(), Some(0));
    }

    #[test]
    fn inclusion_in_empty_tree_is_rejected() {
        assert!(matches!(
            inclusion_proof_len(0, 0),
            Err(Error::IndexOutOfRange { index: 0, size: 0 })
        ));
    }

    #[test]
    fn consistency_from_larger_to_smaller_tree_is_rejected() {
        assert!(matches!(
            consistency_proof_len(5, 4),
            Err(Error::SizeOrder { size1: 5, size2: 4 })
        ));
    }
}
