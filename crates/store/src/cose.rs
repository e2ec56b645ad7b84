//! RFC 9942 COSE receipts for the log (verifiable data structure `RFC9162_SHA256`).
//!
//! A receipt is a tagged COSE_Sign1 with a detached payload: the protected header carries `alg`
//! (EdDSA), `kid` (SHA-256 of the log's Ed25519 public key) and `vds` (395) = 1; the unprotected
//! header carries `vdp` (396) = `{-1: [bstr .cbor [tree-size, leaf-index, [+ hash]]]}`. The
//! signature covers the Merkle root the proof leads to, so one signature per tree head serves
//! every receipt against it: the sequencer signs each new root once, receipts are assembled from
//! that signature and each entry's proof.

use ciborium::value::Value;
use coset::{
    CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, iana,
};

use crate::merkle::{Hash, leaf_hash, sha256_of};
use crate::{Error, Result};

/// COSE header label `vds` (verifiable data structure).
pub const VDS: i64 = 395;
/// COSE header label `vdp` (verifiable data proofs).
pub const VDP: i64 = 396;
/// `vds` value of RFC 9162 SHA-256 Merkle trees.
pub const RFC9162_SHA256: i64 = 1;
/// `vdp` map key of inclusion proofs.
pub const INCLUSION_PROOFS: i64 = -1;

/// The `kid` of the log key in receipts: SHA-256 of the raw Ed25519 public key.
pub fn log_kid(public_key: &[u8; 32]) -> Vec<u8> {
    sha256_of(public_key).to_vec()
}

fn protected(kid: &[u8]) -> coset::Header {
    HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .key_id(kid.to_vec())
        .value(VDS, Value::Integer(RFC9162_SHA256.into()))
        .build()
}

/// The bytes the log key signs for a tree head (the COSE Sig_structure with the root as payload).
pub fn tree_head_tbs(root: &Hash, kid: &[u8]) -> Vec<u8> {
    CoseSign1Builder::new()
        .protected(protected(kid))
        .build()
        .tbs_detached_data(root, &[])
}

/// Assembles a receipt from a tree head signature and one entry's inclusion proof.
pub fn receipt(
    kid: &[u8],
    signature: &[u8],
    size: u64,
    index: u64,
    proof: &[Hash],
) -> Result<Vec<u8>> {
    let path = Value::Array(proof.iter().map(|h| Value::Bytes(h.to_vec())).collect());
    let mut proof_cbor = Vec::new();
    ciborium::into_writer(
        &Value::Array(vec![
            Value::Integer(size.into()),
            Value::Integer(index.into()),
            path,
        ]),
        &mut proof_cbor,
    )
    .map_err(|e| Error::Inconsistent(format!("encoding a receipt: {e}")))?;
    let vdp = Value::Map(vec![(
        Value::Integer(INCLUSION_PROOFS.into()),
        Value::Array(vec![Value::Bytes(proof_cbor)]),
    )]);
    let mut sign1 = CoseSign1Builder::new()
        .protected(protected(kid))
        .unprotected(HeaderBuilder::new().value(VDP, vdp).build())
        .build();
    sign1.signature = signature.to_vec();
    sign1
        .to_tagged_vec()
        .map_err(|e| Error::Inconsistent(format!("encoding a receipt: {e}")))
}

/// What a verified COSE receipt proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseInclusion {
    /// Tree size of the signed tree head.
    pub tree_size: u64,
    /// Index of the entry.
    pub leaf_index: u64,
    /// The signed root.
    pub root: Hash,
}

fn bad(why: &str) -> Error {
    Error::Inconsistent(format!("COSE receipt: {why}"))
}

/// Verifies a COSE receipt for `entry` against the log's Ed25519 public key.
pub fn verify_cose_receipt(
    entry: &[u8],
    receipt: &[u8],
    public_key: &[u8; 32],
) -> Result<CoseInclusion> {
    let sign1 = CoseSign1::from_tagged_slice(receipt)
        .or_else(|_| CoseSign1::from_slice(receipt))
        .map_err(|_| bad("not a COSE_Sign1"))?;
    let p = &sign1.protected.header;
    if p.alg
        != Some(coset::RegisteredLabelWithPrivate::Assigned(
            iana::Algorithm::EdDSA,
        ))
    {
        return Err(bad("algorithm is not EdDSA"));
    }
    let vds = p
        .rest
        .iter()
        .find(|(l, _)| *l == coset::Label::Int(VDS))
        .map(|(_, v)| v.clone());
    if vds != Some(Value::Integer(RFC9162_SHA256.into())) {
        return Err(bad("verifiable data structure is not RFC9162_SHA256"));
    }
    if sign1.payload.is_some() {
        return Err(bad("payload must be detached"));
    }
    let vdp = sign1
        .unprotected
        .rest
        .iter()
        .find(|(l, _)| *l == coset::Label::Int(VDP))
        .map(|(_, v)| v)
        .ok_or_else(|| bad("no verifiable data proofs"))?;
    let proofs = vdp
        .as_map()
        .and_then(|m| {
            m.iter()
                .find(|(k, _)| *k == Value::Integer(INCLUSION_PROOFS.into()))
                .map(|(_, v)| v)
        })
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no inclusion proofs"))?;
    let first = proofs
        .first()
        .and_then(Value::as_bytes)
        .ok_or_else(|| bad("inclusion proof is not a byte string"))?;
    let v: Value =
        ciborium::from_reader(first.as_slice()).map_err(|_| bad("inclusion proof is not CBOR"))?;
    let arr = v
        .as_array()
        .filter(|a| a.len() == 3)
        .ok_or_else(|| bad("inclusion proof shape"))?;
    let int = |x: &Value| -> Result<u64> {
        x.as_integer()
            .and_then(|i| u64::try_from(i).ok())
            .ok_or_else(|| bad("tree size and leaf index must be unsigned integers"))
    };
    let (size, index) = (int(&arr[0])?, int(&arr[1])?);
    let path = arr[2]
        .as_array()
        .ok_or_else(|| bad("inclusion path is not an array"))?
        .iter()
        .map(|h| {
            h.as_bytes()
                .and_then(|b| <Hash>::try_from(b.as_slice()).ok())
                .ok_or_else(|| bad("inclusion path hash is not 32 bytes"))
        })
        .collect::<Result<Vec<Hash>>>()?;
    let root = shinrai_tlog::root_from_inclusion_proof(index, size, &leaf_hash(entry), &path)
        .map_err(|e| bad(&e.to_string()))?;
    let tbs = sign1.tbs_detached_data(&root, &[]);
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, public_key)
        .verify(&tbs, &sign1.signature)
        .map_err(|_| bad("signature does not verify over the root the proof leads to"))?;
    Ok(CoseInclusion {
        tree_size: size,
        leaf_index: index,
        root,
    })
}
