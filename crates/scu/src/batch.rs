//! Batch verification of Ed25519 signatures.
//!
//! Checking many signatures together (a random linear combination, one multi-scalar
//! multiplication) costs about a third of checking them one by one, and less again when many
//! signatures share a key (one term per distinct key). The trust store verifies each
//! registration batch this way. A batch that fails is re-checked one signature at a time so the
//! caller learns exactly which entries are bad; a bad entry never passes.

use crate::{Algorithm, Error, PublicKey, Result};

/// One signature to check in a batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    /// The signer's Ed25519 public key.
    pub public_key: &'a PublicKey,
    /// The signed message, as received.
    pub message: &'a [u8],
    /// The 64-byte signature.
    pub signature: &'a [u8],
}

/// Checks every item; `Ok(())` only when all signatures are valid.
///
/// On failure returns [`Error::BatchFailed`] with the positions of the invalid items (found by
/// checking them one by one). Items must all be Ed25519; an empty batch is an error, never a pass.
pub fn verify_ed25519_batch(items: &[BatchItem<'_>]) -> Result<()> {
    if items.is_empty() {
        return Err(Error::InvalidArgument(
            "empty batch: nothing was verified".into(),
        ));
    }
    for (i, it) in items.iter().enumerate() {
        if it.public_key.algorithm != Algorithm::Ed25519 {
            return Err(Error::InvalidArgument(format!(
                "batch item {i} is {} but batch verification is for Ed25519 only",
                it.public_key.algorithm
            )));
        }
    }
    if batch_equation_holds(items) {
        return Ok(());
    }
    // Find the culprits one by one, with the same strict verifier as single verification.
    let bad: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, it)| it.public_key.verify(it.message, it.signature).is_err())
        .map(|(i, _)| i)
        .collect();
    if bad.is_empty() {
        // The batch equation and single verification disagree only for crafted small-order
        // keys or non-canonical encodings; refuse rather than guess.
        return Err(Error::BatchFailed {
            invalid: (0..items.len()).collect(),
        });
    }
    Err(Error::BatchFailed { invalid: bad })
}

/// The Ed25519 batch equation (cofactorless, as `ed25519_dalek::verify_batch`):
/// `-(sum z_i s_i) B + sum z_i R_i + sum_A (sum_{i signed by A} z_i h_i) A == 0` with random
/// 128-bit `z_i` and `h_i = SHA-512(R_i || A || M_i)`. Signatures by the same key share one term
/// (the same point as summing the per-signature terms), and each distinct key is decompressed
/// once, so a batch from few keys costs about half a multiplication less per signature.
///
/// `false` for anything malformed (wrong lengths, a non-canonical `s`, a point that does not
/// decompress) or a failed random generator: the caller then checks one by one.
fn batch_equation_holds(items: &[BatchItem<'_>]) -> bool {
    use aws_lc_rs::digest;
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
    use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
    use curve25519_dalek::scalar::Scalar;
    use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};

    let mut random = vec![0u8; 16 * items.len()];
    if SystemRandom::new().fill(&mut random).is_err() {
        return false;
    }
    // Distinct keys: (encoding, point, accumulated coefficient), found by encoding.
    let mut keys: Vec<(&[u8], EdwardsPoint, Scalar)> = Vec::new();
    let mut key_of: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    let mut r_points = Vec::with_capacity(items.len());
    let mut zs = Vec::with_capacity(items.len());
    let mut b_coefficient = Scalar::ZERO;
    for (it, z) in items.iter().zip(random.chunks_exact(16)) {
        let key_bytes = it.public_key.bytes.as_slice();
        let (Ok(compressed_key), Ok(sig)) = (
            <[u8; 32]>::try_from(key_bytes),
            <&[u8; 64]>::try_from(it.signature),
        ) else {
            return false;
        };
        let (r_bytes, s_bytes) = sig.split_at(32);
        let (Ok(r_bytes), Ok(s_bytes)) =
            (<[u8; 32]>::try_from(r_bytes), <[u8; 32]>::try_from(s_bytes))
        else {
            return false;
        };
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
            return false;
        };
        let Some(r) = CompressedEdwardsY(r_bytes).decompress() else {
            return false;
        };
        let k = match key_of.get(key_bytes) {
            Some(&k) => k,
            None => {
                let Some(a) = CompressedEdwardsY(compressed_key).decompress() else {
                    return false;
                };
                keys.push((key_bytes, a, Scalar::ZERO));
                key_of.insert(key_bytes, keys.len() - 1);
                keys.len() - 1
            }
        };
        let mut h = digest::Context::new(&digest::SHA512);
        h.update(&r_bytes);
        h.update(key_bytes);
        h.update(it.message);
        let Ok(wide) = <[u8; 64]>::try_from(h.finish().as_ref()) else {
            return false;
        };
        let h = Scalar::from_bytes_mod_order_wide(&wide);
        let mut z_bytes = [0u8; 32];
        z_bytes[..16].copy_from_slice(z);
        let z = Scalar::from_bytes_mod_order(z_bytes);
        b_coefficient += z * s;
        keys[k].2 += z * h;
        r_points.push(r);
        zs.push(z);
    }
    let scalars = std::iter::once(-b_coefficient)
        .chain(zs)
        .chain(keys.iter().map(|k| k.2));
    let points = std::iter::once(ED25519_BASEPOINT_POINT)
        .chain(r_points)
        .chain(keys.iter().map(|k| k.1));
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).is_identity()
}

/// Items for benchmarks and tests: `n` distinct keys each signing a distinct 256-byte message.
pub fn bench_items(n: usize) -> Result<OwnedBatch> {
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut out = OwnedBatch { items: Vec::new() };
    for i in 0..n {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| Error::Crypto("Ed25519 key generation failed".into()))?;
        let kp = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|_| Error::Crypto("Ed25519 key parse failed".into()))?;
        let message = (i as u64).to_be_bytes().repeat(32);
        let signature = kp.sign(&message).as_ref().to_vec();
        let public_key = PublicKey::from_bytes(Algorithm::Ed25519, kp.public_key().as_ref())?;
        out.items.push((public_key, message, signature));
    }
    Ok(out)
}

/// Owned keys, messages and signatures, lent out as [`BatchItem`]s.
#[derive(Debug, Clone)]
pub struct OwnedBatch {
    /// (public key, message, signature) triples.
    pub items: Vec<(PublicKey, Vec<u8>, Vec<u8>)>,
}

impl OwnedBatch {
    /// The items as borrowed batch items.
    pub fn as_items(&self) -> Vec<BatchItem<'_>> {
        self.items
            .iter()
            .map(|(k, m, s)| BatchItem {
                public_key: k,
                message: m,
                signature: s,
            })
            .collect()
    }
    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_valid_batch() {
        let b = bench_items(16).expect("items");
        verify_ed25519_batch(&b.as_items()).expect("valid batch");
    }

    #[test]
    fn names_every_bad_signature_in_a_batch() {
        let mut b = bench_items(16).expect("items");
        b.items[3].2[0] ^= 1;
        b.items[11].1[5] ^= 1;
        match verify_ed25519_batch(&b.as_items()) {
            Err(Error::BatchFailed { invalid }) => assert_eq!(invalid, vec![3, 11]),
            other => panic!("expected BatchFailed, got {other:?}"),
        }
    }

    /// `n` signatures by one key (the store's usual batch: few keys, many statements).
    fn one_key_items(n: usize) -> OwnedBatch {
        use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
        let kp = Ed25519KeyPair::generate().expect("key");
        let public_key =
            PublicKey::from_bytes(Algorithm::Ed25519, kp.public_key().as_ref()).expect("key");
        let items = (0..n)
            .map(|i| {
                let message = format!("statement {i}").into_bytes();
                let signature = kp.sign(&message).as_ref().to_vec();
                (public_key.clone(), message, signature)
            })
            .collect();
        OwnedBatch { items }
    }

    #[test]
    fn accepts_a_batch_signed_by_one_key_and_a_mixed_batch() {
        let b = one_key_items(40);
        verify_ed25519_batch(&b.as_items()).expect("valid one-key batch");
        let mut mixed = bench_items(5).expect("items");
        mixed.items.extend(one_key_items(7).items);
        mixed.items.extend(one_key_items(3).items);
        verify_ed25519_batch(&mixed.as_items()).expect("valid mixed batch");
    }

    #[test]
    fn names_the_bad_signatures_among_many_by_one_key() {
        let mut b = one_key_items(40);
        b.items[0].2[10] ^= 1;
        b.items[39].1[0] ^= 1;
        // A signature moved to another message by the same key.
        b.items[7].2 = b.items[8].2.clone();
        match verify_ed25519_batch(&b.as_items()) {
            Err(Error::BatchFailed { invalid }) => assert_eq!(invalid, vec![0, 7, 39]),
            other => panic!("expected BatchFailed, got {other:?}"),
        }
    }

    #[test]
    fn a_non_canonical_s_fails_the_batch() {
        let mut b = one_key_items(4);
        // s + l (l = 2^252 + ...) is the same scalar mod l but not canonical: refused.
        let sig = &mut b.items[1].2;
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (s, l) in sig[32..].iter_mut().zip(l) {
            let v = u16::from(*s) + u16::from(l) + carry;
            *s = v as u8;
            carry = v >> 8;
        }
        match verify_ed25519_batch(&b.as_items()) {
            Err(Error::BatchFailed { invalid }) => assert_eq!(invalid, vec![1]),
            other => panic!("expected BatchFailed, got {other:?}"),
        }
    }

    #[test]
    fn refuses_an_empty_batch() {
        assert!(verify_ed25519_batch(&[]).is_err());
    }

    #[test]
    fn reports_a_truncated_signature_as_invalid() {
        let mut b = bench_items(4).expect("items");
        b.items[2].2.truncate(10);
        match verify_ed25519_batch(&b.as_items()) {
            Err(Error::BatchFailed { invalid }) => assert_eq!(invalid, vec![2]),
            other => panic!("expected BatchFailed, got {other:?}"),
        }
    }
}
