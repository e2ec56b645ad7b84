//! Property tests: for every tree size 1..=300, every inclusion proof and every consistency
//! proof produced from stored nodes verifies, and flipping any single bit of it (or of the
//! roots) makes verification fail.

use shinrai_tlog::{Error, Hash, MemoryTree, leaf_hash, verify_consistency, verify_inclusion};

const MAX: u64 = 300;

fn tree(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.append_entry(format!("entry {i}").as_bytes());
    }
    t
}

fn flips(proof: &[Hash]) -> impl Iterator<Item = Vec<Hash>> + '_ {
    (0..proof.len() * 256).map(move |bit| {
        let mut p = proof.to_vec();
        p[bit / 256][(bit % 256) / 8] ^= 1 << (bit % 8);
        p
    })
}

#[test]
fn every_inclusion_proof_up_to_300_verifies_and_any_bit_flip_fails() {
    let t = tree(MAX);
    for size in 1..=MAX {
        let root = t.root_at(size).expect("root");
        for index in 0..size {
            let leaf = leaf_hash(format!("entry {index}").as_bytes());
            let proof = t.inclusion_proof(index, size).expect("proof");
            verify_inclusion(index, size, &leaf, &proof, &root)
                .unwrap_or_else(|e| panic!("index {index} size {size}: {e}"));
            // Every bit is flipped for small trees and a sample of larger ones (to keep the run
            // short); otherwise one bit in each proof hash.
            if size <= 20 || (size % 37 == 0 && index % 7 == 0) {
                for bad in flips(&proof) {
                    assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
                }
            } else {
                for (i, _) in proof.iter().enumerate() {
                    let mut bad = proof.clone();
                    bad[i][(index as usize + i) % 32] ^= 0x80;
                    assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
                }
            }
            let mut bad_root = root;
            bad_root[(index % 32) as usize] ^= 1;
            assert!(matches!(
                verify_inclusion(index, size, &leaf, &proof, &bad_root),
                Err(Error::RootMismatch)
            ));
            let mut bad_leaf = leaf;
            bad_leaf[31] ^= 1;
            assert!(verify_inclusion(index, size, &bad_leaf, &proof, &root).is_err());
            // The proof is bound to its position (the size is bound by the signed root).
            if size > 1 {
                let other = (index + 1) % size;
                assert!(verify_inclusion(other, size, &leaf, &proof, &root).is_err());
            }
        }
    }
}

#[test]
fn every_consistency_proof_up_to_300_verifies_and_any_bit_flip_fails() {
    let t = tree(MAX);
    let roots: Vec<Hash> = (0..=MAX).map(|s| t.root_at(s).expect("root")).collect();
    for size2 in 1..=MAX {
        for size1 in 1..=size2 {
            let (r1, r2) = (&roots[size1 as usize], &roots[size2 as usize]);
            let proof = t.consistency_proof(size1, size2).expect("proof");
            verify_consistency(size1, size2, &proof, r1, r2)
                .unwrap_or_else(|e| panic!("{size1} -> {size2}: {e}"));
            if size2 <= 16 || (size2 % 41 == 0 && size1 % 5 == 0) {
                for bad in flips(&proof) {
                    assert!(verify_consistency(size1, size2, &bad, r1, r2).is_err());
                }
            } else {
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i][(size1 as usize + i) % 32] ^= 0x04;
                    assert!(verify_consistency(size1, size2, &bad, r1, r2).is_err());
                }
            }
            let mut bad1 = *r1;
            bad1[0] ^= 1;
            assert!(verify_consistency(size1, size2, &proof, &bad1, r2).is_err());
            let mut bad2 = *r2;
            bad2[31] ^= 0x10;
            assert!(verify_consistency(size1, size2, &proof, r1, &bad2).is_err());
        }
    }
}

#[test]
fn consistency_with_the_empty_tree_and_equal_sizes_follows_rfc9162() {
    let t = tree(5);
    let r = t.root();
    assert!(verify_consistency(5, 5, &[], &r, &r).is_ok());
    let empty = shinrai_tlog::empty_root();
    assert!(verify_consistency(0, 0, &[], &empty, &empty).is_ok());
    assert!(matches!(
        verify_consistency(0, 0, &[], &r, &r),
        Err(Error::RootMismatch)
    ));
    assert!(matches!(
        verify_consistency(5, 5, &[r], &r, &r),
        Err(Error::ProofSize { .. })
    ));
    assert!(matches!(
        t.consistency_proof(0, 5),
        Err(Error::ConsistencyFromEmpty { size2: 5 })
    ));
    assert!(matches!(
        t.consistency_proof(4, 3),
        Err(Error::SizeOrder { .. })
    ));
    assert!(t.consistency_proof(3, 6).is_err(), "beyond the tree size");
    assert!(matches!(
        t.inclusion_proof(5, 5),
        Err(Error::IndexOutOfRange { .. })
    ));
}

#[test]
fn proofs_cover_indices_near_u64_max_without_overflow() {
    // Lengths are pure arithmetic; nothing here touches storage.
    let size = u64::MAX;
    let len = shinrai_tlog::inclusion_proof_len(size - 1, size).expect("len");
    assert_eq!(len, 63);
    let plan = shinrai_tlog::inclusion_plan(size - 1, size).expect("plan");
    assert_eq!(plan.proof_len(), 63);
    let plan = shinrai_tlog::consistency_plan(size - 1, size).expect("plan");
    assert_eq!(
        plan.proof_len(),
        shinrai_tlog::consistency_proof_len(size - 1, size).expect("len")
    );
}
