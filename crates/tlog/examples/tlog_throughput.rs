//! Rough throughput check (not a benchmark harness): appends 1M leaves in batches of 1000 with a
//! root per batch, then times inclusion proofs at 1M entries from a [`MemoryTree`].
//!
//! Run: `cargo run --release -p shinrai-tlog --example tlog_throughput`

use std::time::Instant;

use shinrai_tlog::{CompactRange, Hash, MemoryTree, leaf_hash, verify_inclusion};

fn main() {
    const N: u64 = 1_000_000;
    const BATCH: u64 = 1000;
    let leaves: Vec<Hash> = (0..N).map(|i| leaf_hash(&i.to_be_bytes())).collect();

    let start = Instant::now();
    let mut range = CompactRange::new();
    let mut nodes = 0usize;
    for batch in leaves.chunks(BATCH as usize) {
        let update = range.append_batch(batch);
        nodes += update.new_nodes.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "compact range: {N} leaf hashes in batches of {BATCH} (root per batch): {secs:.3} s, {:.0} appends/s, {nodes} nodes to persist",
        N as f64 / secs
    );

    let start = Instant::now();
    let hashed: Vec<Hash> = (0..N).map(|i| leaf_hash(&[i as u8; 200])).collect();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "leaf hashing of 200-byte entries: {:.0} entries/s",
        N as f64 / secs
    );
    drop(hashed);

    let mut tree = MemoryTree::new();
    for l in &leaves {
        tree.append_leaf_hash(*l);
    }
    let root = tree.root();
    let start = Instant::now();
    let mut count = 0u64;
    for index in (0..N).step_by(997) {
        let proof = tree.inclusion_proof(index, N).expect("proof");
        verify_inclusion(index, N, &leaves[index as usize], &proof, &root).expect("verifies");
        count += 1;
    }
    let per = start.elapsed().as_secs_f64() / count as f64;
    println!(
        "inclusion proof + verification at {N} entries: {:.1} us each ({count} proofs)",
        per * 1e6
    );
}
