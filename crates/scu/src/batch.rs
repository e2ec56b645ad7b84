//! Batch verification of Ed25519 signatures.
//!
//! Checking many signatures together (a random linear combination, one multi-scalar
//! multiplication) costs about a third of checking them one by one. The trust store verifies each
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
    let mut sigs = Vec::with_capacity(items.len());
    let mut keys = Vec::with_capacity(items.len());
    let mut msgs = Vec::with_capacity(items.len());
    let mut malformed = Vec::new();
    for (i, it) in items.iter().enumerate() {
        if it.public_key.algorithm != Algorithm::Ed25519 {
            return Err(Error::InvalidArgument(format!(
                "batch item {i} is {} but batch verification is for Ed25519 only",
                it.public_key.algorithm
            )));
        }
        let key = <[u8; 32]>::try_from(it.public_key.bytes.as_slice())
            .ok()
            .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok());
        let sig = ed25519_dalek::Signature::from_slice(it.signature).ok();
        match (key, sig) {
            (Some(k), Some(s)) => {
                keys.push(k);
                sigs.push(s);
                msgs.push(it.message);
            }
            _ => malformed.push(i),
        }
    }
    if malformed.is_empty() && ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
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
