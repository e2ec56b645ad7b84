//! COSE_Sign1 (RFC 9052) signed statements for SCITT clients.
//!
//! The protected header carries `alg` (ES256 = -7 with the fixed 64-byte `r || s` signature, or
//! EdDSA = -8), `kid` (the signer's keyid, hex-decoded), the content type (3) and CWT claims
//! (label 15, RFC 9597) with `iss` (1) and `sub` (2). Verification runs over the protected
//! header bytes exactly as received.

use coset::cbor::value::Value;
use coset::iana;
use coset::{
    CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, Label, RegisteredLabel,
    RegisteredLabelWithPrivate, TaggedCborSerializable,
};
use shinrai_scu::Algorithm;

use crate::dsse::{EcdsaForm, check_threshold, verify_one};
use crate::keys::SslibKey;
use crate::{Error, Result, Signer, Verified};

/// Header label of the CWT claims map (RFC 9597).
pub const CWT_CLAIMS_LABEL: i64 = 15;
/// CWT claim key of the issuer.
pub const CWT_ISS: i64 = 1;
/// CWT claim key of the subject.
pub const CWT_SUB: i64 = 2;
/// Largest COSE_Sign1 message [`verify_sign1`] reads.
pub const MAX_COSE_BYTES: usize = 64 * 1024;

const WHAT: &str = "COSE_Sign1";

/// The CWT claims of a verified COSE_Sign1: who issued the statement and what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CwtClaims {
    /// Issuer (`iss`), e.g. the organisation's identifier.
    pub iss: String,
    /// Subject (`sub`), e.g. the artifact or event the statement is about.
    pub sub: String,
}

fn cose_alg(algorithm: Algorithm) -> iana::Algorithm {
    match algorithm {
        Algorithm::Ed25519 => iana::Algorithm::EdDSA,
        Algorithm::EcdsaP256 => iana::Algorithm::ES256,
    }
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::Malformed {
        what: WHAT,
        reason: reason.into(),
    }
}

/// Signs `payload` as a tagged COSE_Sign1 with `content_type`, `iss` and `sub` in the protected
/// header.
pub fn sign1(
    payload: &[u8],
    content_type: &str,
    iss: &str,
    sub: &str,
    signer: &dyn Signer,
) -> Result<Vec<u8>> {
    // The same rule COSE decoders (coset) apply: a message they cannot read is never produced.
    if content_type.is_empty()
        || content_type.trim() != content_type
        || content_type.matches('/').count() != 1
    {
        return Err(Error::InvalidArgument(format!(
            "content type {content_type:?} is not of the form type/subtype"
        )));
    }
    let algorithm = signer.public_key().algorithm;
    let keyid = signer.keyid()?;
    let kid = hex::decode(&keyid).unwrap_or_else(|_| keyid.clone().into_bytes());
    let claims = Value::Map(vec![
        (Value::Integer(CWT_ISS.into()), Value::Text(iss.to_owned())),
        (Value::Integer(CWT_SUB.into()), Value::Text(sub.to_owned())),
    ]);
    let protected = HeaderBuilder::new()
        .algorithm(cose_alg(algorithm))
        .key_id(kid)
        .content_type(content_type.to_owned())
        .value(CWT_CLAIMS_LABEL, claims)
        .build();
    let public = signer.public_key().clone();
    let msg = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload.to_vec())
        .try_create_signature(b"", |tbs| {
            let s = signer.sign(tbs)?;
            if s.algorithm != algorithm || !verify_one(&public, tbs, &s.bytes, EcdsaForm::Fixed) {
                return Err(Error::Internal(format!(
                    "signer {keyid} produced a signature that does not verify as {algorithm} (fixed form expected)"
                )));
            }
            Ok(s.bytes)
        })?
        .build();
    msg.to_tagged_vec()
        .map_err(|e| Error::Internal(format!("COSE_Sign1 encoding: {e}")))
}

/// Verifies a COSE_Sign1 (tagged or untagged, at most [`MAX_COSE_BYTES`]) against `trusted`
/// keys, and returns its CWT claims. The value's `payload_type` is the content type.
///
/// Rejects: algorithms other than ES256/EdDSA or not matching the key, detached payloads,
/// missing `iss`/`sub`, truncated or trailing CBOR, and signatures no trusted key made.
pub fn verify_sign1(bytes: &[u8], trusted: &[SslibKey]) -> Result<Verified<CwtClaims>> {
    if bytes.len() > MAX_COSE_BYTES {
        return Err(Error::TooLarge {
            what: WHAT,
            size: bytes.len(),
            limit: MAX_COSE_BYTES,
        });
    }
    let msg = CoseSign1::from_tagged_slice(bytes)
        .or_else(|tagged_err| CoseSign1::from_slice(bytes).map_err(|_| tagged_err))
        .map_err(|e| malformed(format!("not a COSE_Sign1 message ({e})")))?;
    let header = &msg.protected.header;
    let algorithm = match &header.alg {
        Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) => Algorithm::EcdsaP256,
        Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::EdDSA)) => Algorithm::Ed25519,
        Some(other) => return Err(Error::UnsupportedAlgorithm(format!("{other:?}"))),
        None => {
            return Err(Error::UnsupportedAlgorithm(
                "no alg in the protected header".into(),
            ));
        }
    };
    let payload = msg
        .payload
        .clone()
        .ok_or_else(|| malformed("detached payloads are not supported"))?;
    let hint = if header.key_id.is_empty() {
        None
    } else {
        Some(hex::encode(&header.key_id))
    };
    let candidates: Vec<SslibKey> = trusted
        .iter()
        .filter(|k| k.to_public_key().is_ok_and(|pk| pk.algorithm == algorithm))
        .cloned()
        .collect();
    if candidates.is_empty() {
        return Err(Error::UnknownSigner {
            keyids: hint.unwrap_or_else(|| "-".into()),
        });
    }
    let tbs = msg.tbs_data(b"");
    let sigs = std::iter::once((hint.as_deref(), msg.signature.as_slice()));
    let signers = check_threshold(&tbs, sigs, &candidates, 1, EcdsaForm::Fixed)?;

    let claims = cwt_claims(&header.rest)?;
    let content_type = match &header.content_type {
        Some(RegisteredLabel::Text(t)) => t.clone(),
        Some(RegisteredLabel::Assigned(a)) => (*a as i64).to_string(),
        None => String::new(),
    };
    Ok(Verified::new(claims, signers, content_type, payload))
}

fn cwt_claims(rest: &[(Label, Value)]) -> Result<CwtClaims> {
    let map = rest
        .iter()
        .find(|(l, _)| *l == Label::Int(CWT_CLAIMS_LABEL))
        .map(|(_, v)| v)
        .ok_or_else(|| malformed("no CWT claims (label 15) in the protected header"))?;
    let Value::Map(entries) = map else {
        return Err(malformed("CWT claims (label 15) is not a map"));
    };
    let text = |key: i64, name: &str| -> Result<String> {
        let found = entries
            .iter()
            .find(|(k, _)| matches!(k, Value::Integer(i) if i128::from(*i) == i128::from(key)));
        match found {
            Some((_, Value::Text(t))) => Ok(t.clone()),
            Some(_) => Err(malformed(format!("CWT claim {name} is not a text string"))),
            None => Err(malformed(format!("CWT claims lack {name} ({key})"))),
        }
    };
    Ok(CwtClaims {
        iss: text(CWT_ISS, "iss")?,
        sub: text(CWT_SUB, "sub")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestSigner;

    #[test]
    fn signed_message_verifies_with_claims_for_both_algorithms() {
        for alg in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
            let s = TestSigner::new(alg);
            let bytes = sign1(b"{}", "application/json", "org:acme", "bolt-7", &s).expect("sign");
            assert_eq!(bytes[0], 0xd2, "tag 18");
            let v = verify_sign1(&bytes, &[s.sslib_key().expect("key")]).expect("verify");
            assert_eq!(v.value().iss, "org:acme");
            assert_eq!(v.value().sub, "bolt-7");
            assert_eq!(v.payload_bytes(), b"{}");
            assert_eq!(v.payload_type(), "application/json");
        }
    }

    #[test]
    fn rejects_bad_signature_unknown_key_and_truncated_cbor() {
        let s = TestSigner::new(Algorithm::EcdsaP256);
        let key = s.sslib_key().expect("key");
        let bytes = sign1(b"data", "text/plain", "i", "s", &s).expect("sign");
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            verify_sign1(&flipped, std::slice::from_ref(&key)),
            Err(Error::BadSignature { .. })
        ));
        let other = TestSigner::new(Algorithm::EcdsaP256)
            .sslib_key()
            .expect("key");
        assert!(matches!(
            verify_sign1(&bytes, &[other]),
            Err(Error::UnknownSigner { .. })
        ));
        for n in 0..bytes.len() {
            let err = verify_sign1(&bytes[..n], std::slice::from_ref(&key)).expect_err("truncated");
            assert!(matches!(err, Error::Malformed { .. }), "prefix {n}: {err}");
        }
    }

    #[test]
    fn rejects_unsupported_or_mismatched_algorithm() {
        let s = TestSigner::new(Algorithm::EcdsaP256);
        let protected = HeaderBuilder::new()
            .algorithm(iana::Algorithm::ES384)
            .value(CWT_CLAIMS_LABEL, Value::Map(vec![]))
            .build();
        let msg = CoseSign1Builder::new()
            .protected(protected)
            .payload(b"x".to_vec())
            .create_signature(b"", |tbs| s.sign(tbs).expect("sign").bytes)
            .build()
            .to_tagged_vec()
            .expect("encode");
        let key = s.sslib_key().expect("key");
        assert!(matches!(
            verify_sign1(&msg, &[key]),
            Err(Error::UnsupportedAlgorithm(_))
        ));
        // An EdDSA message is never checked against a P-256 key.
        let ed = TestSigner::new(Algorithm::Ed25519);
        let bytes = sign1(b"x", "text/plain", "i", "s", &ed).expect("sign");
        let p256 = s.sslib_key().expect("key");
        let err = verify_sign1(&bytes, &[p256]).expect_err("mismatched key type");
        assert!(matches!(err, Error::UnknownSigner { .. }), "{err}");
    }

    #[test]
    fn refuses_to_sign_with_a_content_type_decoders_reject() {
        let s = TestSigner::new(Algorithm::Ed25519);
        for ct in ["", "text", " text/plain", "a/b/c"] {
            assert!(matches!(
                sign1(b"x", ct, "i", "s", &s),
                Err(Error::InvalidArgument(_))
            ));
        }
    }

    #[test]
    fn verify_never_panics_on_mutated_input() {
        let s = TestSigner::new(Algorithm::Ed25519);
        let key = s.sslib_key().expect("key");
        let bytes = sign1(b"payload", "text/plain", "iss", "sub", &s).expect("sign");
        for i in 0..bytes.len() {
            for b in [0u8, 0x1b, 0x5b, 0x9f, 0xff] {
                let mut m = bytes.clone();
                m[i] = b;
                let _ = verify_sign1(&m, std::slice::from_ref(&key));
            }
        }
    }
}
