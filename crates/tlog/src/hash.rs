//! RFC 9162 §2.1.1 Merkle tree hashing with SHA-256.

use aws_lc_rs::digest::{self, SHA256};

/// A SHA-256 Merkle tree hash (leaf hash, interior node hash or tree root).
pub type Hash = [u8; 32];

/// Length of a [`Hash`](type@crate::Hash) in bytes.
pub const HASH_LEN: usize = 32;

/// Hash of a log entry: `SHA-256(0x00 || entry)` (the 0x00 prefix keeps leaves and interior
/// nodes apart, so a leaf can never be passed off as a node).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut ctx = digest::Context::new(&SHA256);
    ctx.update(&[0x00]);
    ctx.update(entry);
    finish(ctx)
}

/// Hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 1 + 2 * HASH_LEN];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    sha256(&buf)
}

/// Root of the empty tree: `SHA-256("")` (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    sha256(&[])
}

/// Plain SHA-256 of `data` (used for note key hashes).
pub(crate) fn sha256(data: &[u8]) -> Hash {
    finish({
        let mut ctx = digest::Context::new(&SHA256);
        ctx.update(data);
        ctx
    })
}

fn finish(ctx: digest::Context) -> Hash {
    let d = ctx.finish();
    let mut out = [0u8; HASH_LEN];
    // SHA-256 digests are always 32 bytes, so this copy cannot panic.
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_hash_of_empty_entry_matches_rfc6962_test_vector() {
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }
}
