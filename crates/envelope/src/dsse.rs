//! DSSE envelopes (Dead Simple Signing Envelope, v1.0).
//!
//! An envelope is `{"payload": b64, "payloadType": str, "signatures": [{"keyid": str, "sig": b64}]}`.
//! Signatures are over the PAE (pre-authentication encoding) of the payload type and the payload
//! bytes exactly as received. A signature's `keyid` is only a hint: verification tries the hinted
//! trusted keys first and then every other trusted key, and each trusted key counts once toward
//! the threshold. ECDSA signatures are DER, as securesystemslib writes them.

use aws_lc_rs::signature as sig;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde::Deserialize;
use shinrai_scu::{Algorithm, PublicKey};

use crate::keys::{SslibKey, json_error};
use crate::{Error, Result, Signer, Verified};

/// Default size limit of [`Envelope::parse`]: a log entry is at most 64 KiB.
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;
/// Most signatures an envelope may carry (bounds verification work on untrusted input).
pub const MAX_SIGNATURES: usize = 64;

const WHAT: &str = "DSSE envelope";

/// A DSSE envelope with its payload decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// How to interpret the payload, e.g. [`crate::statement::PAYLOAD_TYPE`].
    pub payload_type: String,
    /// The payload bytes, exactly as signed.
    pub payload: Vec<u8>,
    /// The signatures, in envelope order.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// The signer's keyid, a hint only (`None` when absent or empty).
    pub keyid: Option<String>,
    /// The signature bytes (Ed25519: 64 bytes; ECDSA: DER).
    pub sig: Vec<u8>,
}

#[derive(Deserialize)]
struct WireEnvelope {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: String,
    signatures: Vec<WireSignature>,
}

#[derive(Deserialize)]
struct WireSignature {
    #[serde(default)]
    keyid: Option<String>,
    sig: String,
}

/// The DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

fn b64_decode(field: &str, value: &str) -> Result<Vec<u8>> {
    STANDARD
        .decode(value)
        .or_else(|_| URL_SAFE.decode(value))
        .map_err(|e| Error::Malformed {
            what: WHAT,
            reason: format!("{field} is not padded base64 (standard or URL-safe alphabet): {e}"),
        })
}

impl Envelope {
    /// Reads an envelope of at most [`MAX_ENVELOPE_BYTES`]. See [`Envelope::parse_with_limit`].
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        Self::parse_with_limit(bytes, MAX_ENVELOPE_BYTES)
    }

    /// Reads an envelope of at most `max_bytes`: JSON with `payload`, `payloadType` and a
    /// non-empty `signatures` list (at most [`MAX_SIGNATURES`]), base64 fields padded. Unknown
    /// members are ignored, as other DSSE implementations do. Never panics.
    pub fn parse_with_limit(bytes: &[u8], max_bytes: usize) -> Result<Self> {
        if bytes.len() > max_bytes {
            return Err(Error::TooLarge {
                what: WHAT,
                size: bytes.len(),
                limit: max_bytes,
            });
        }
        let wire: WireEnvelope = serde_json::from_slice(bytes).map_err(|e| json_error(WHAT, &e))?;
        if wire.signatures.is_empty() {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "no signatures".into(),
            });
        }
        if wire.signatures.len() > MAX_SIGNATURES {
            return Err(Error::Malformed {
                what: WHAT,
                reason: format!(
                    "{} signatures, more than the limit of {MAX_SIGNATURES}",
                    wire.signatures.len()
                ),
            });
        }
        let payload = b64_decode("payload", &wire.payload)?;
        let signatures = wire
            .signatures
            .into_iter()
            .map(|s| {
                Ok(EnvelopeSignature {
                    keyid: s.keyid.filter(|k| !k.is_empty()),
                    sig: b64_decode("sig", &s.sig)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Envelope {
            payload_type: wire.payload_type,
            payload,
            signatures,
        })
    }

    /// Signs `payload` as `payload_type` with every signer (at least one). Each signature is
    /// checked against the signer's public key before it is added.
    pub fn sign(payload_type: &str, payload: &[u8], signers: &[&dyn Signer]) -> Result<Self> {
        if signers.is_empty() {
            return Err(Error::InvalidArgument(
                "signing needs at least one signer".into(),
            ));
        }
        let message = pae(payload_type, payload);
        let mut signatures = Vec::with_capacity(signers.len());
        for signer in signers {
            let keyid = signer.keyid()?;
            let signature = signer.sign(&message)?;
            let der = signature.to_der();
            if !verify_one(signer.public_key(), &message, &der, EcdsaForm::Der) {
                return Err(Error::Internal(format!(
                    "signer {keyid} produced a signature that does not verify with its public key"
                )));
            }
            signatures.push(EnvelopeSignature {
                keyid: Some(keyid),
                sig: der,
            });
        }
        Ok(Envelope {
            payload_type: payload_type.to_owned(),
            payload: payload.to_vec(),
            signatures,
        })
    }

    /// The envelope as JSON: standard padded base64, `keyid` written when known.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let signatures: Vec<serde_json::Value> = self
            .signatures
            .iter()
            .map(|s| {
                let mut m = serde_json::Map::new();
                if let Some(k) = &s.keyid {
                    m.insert("keyid".into(), k.clone().into());
                }
                m.insert("sig".into(), STANDARD.encode(&s.sig).into());
                serde_json::Value::Object(m)
            })
            .collect();
        let v = serde_json::json!({
            "payload": STANDARD.encode(&self.payload),
            "payloadType": self.payload_type,
            "signatures": signatures,
        });
        // A Value of strings and arrays always serializes.
        serde_json::to_vec(&v).unwrap_or_default()
    }

    /// The bytes the signatures cover: [`pae`] of this envelope.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Verifies that at least `threshold` distinct keys of `trusted` signed this envelope.
    /// Does not look at the payload type: callers that expect one check it (as
    /// [`crate::statement::verify_statement`] does).
    pub fn verify(&self, trusted: &[SslibKey], threshold: usize) -> Result<Verified<Envelope>> {
        let message = self.pae();
        let sigs = self
            .signatures
            .iter()
            .map(|s| (s.keyid.as_deref(), s.sig.as_slice()));
        let signers = check_threshold(&message, sigs, trusted, threshold, EcdsaForm::Der)?;
        Ok(Verified::new(
            self.clone(),
            signers,
            self.payload_type.clone(),
            self.payload.clone(),
        ))
    }
}

/// How ECDSA signatures are encoded in a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EcdsaForm {
    /// DER `SEQUENCE { r, s }` (DSSE, securesystemslib).
    Der,
    /// Fixed 64-byte `r || s` (COSE).
    Fixed,
}

/// Whether `signature` by `key` verifies over `message`, with ECDSA in `form` only.
pub(crate) fn verify_one(
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
    form: EcdsaForm,
) -> bool {
    let alg: &dyn sig::VerificationAlgorithm = match (key.algorithm, form) {
        (Algorithm::Ed25519, _) => &sig::ED25519,
        (Algorithm::EcdsaP256, EcdsaForm::Der) => &sig::ECDSA_P256_SHA256_ASN1,
        (Algorithm::EcdsaP256, EcdsaForm::Fixed) => &sig::ECDSA_P256_SHA256_FIXED,
    };
    sig::UnparsedPublicKey::new(alg, &key.bytes)
        .verify(message, signature)
        .is_ok()
}

/// The threshold check shared by DSSE and COSE: returns the distinct trusted keys that signed
/// `message`, in trusted-list order, or the error that best explains why too few did.
pub(crate) fn check_threshold<'s>(
    message: &[u8],
    signatures: impl Iterator<Item = (Option<&'s str>, &'s [u8])>,
    trusted: &[SslibKey],
    threshold: usize,
    form: EcdsaForm,
) -> Result<Vec<SslibKey>> {
    if threshold == 0 {
        return Err(Error::InvalidArgument(
            "threshold must be at least 1".into(),
        ));
    }
    let mut keys: Vec<(&SslibKey, PublicKey)> = Vec::with_capacity(trusted.len());
    for k in trusted {
        let pk = k.to_public_key()?;
        if !keys.iter().any(|(_, seen)| *seen == pk) {
            keys.push((k, pk));
        }
    }
    if keys.len() < threshold {
        return Err(Error::InvalidArgument(format!(
            "threshold {threshold} is more than the {} distinct trusted key(s)",
            keys.len()
        )));
    }
    let mut accepted = vec![false; keys.len()];
    let mut bad_hint: Option<String> = None;
    let mut unknown: Vec<String> = Vec::new();
    for (hint, signature) in signatures {
        let hinted: Vec<usize> = match hint {
            Some(h) => (0..keys.len())
                .filter(|&i| keys[i].0.matches_keyid(h))
                .collect(),
            None => Vec::new(),
        };
        let order = hinted
            .iter()
            .copied()
            .chain((0..keys.len()).filter(|i| !hinted.contains(i)));
        let mut verified = false;
        for i in order {
            if verify_one(&keys[i].1, message, signature, form) {
                accepted[i] = true;
                verified = true;
                break;
            }
        }
        if !verified {
            match (hint, hinted.is_empty()) {
                (Some(h), false) => {
                    bad_hint.get_or_insert_with(|| h.to_owned());
                }
                (h, _) => unknown.push(h.unwrap_or("-").to_owned()),
            }
        }
    }
    let found = accepted.iter().filter(|a| **a).count();
    if found >= threshold {
        return Ok(keys
            .iter()
            .zip(&accepted)
            .filter(|(_, a)| **a)
            .map(|((k, _), _)| (*k).clone())
            .collect());
    }
    if found == 0 {
        if let Some(keyid) = bad_hint {
            return Err(Error::BadSignature { keyid });
        }
        return Err(Error::UnknownSigner {
            keyids: unknown.join(", "),
        });
    }
    Err(Error::ThresholdNotMet {
        found,
        required: threshold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestSigner;

    fn key(s: &TestSigner) -> SslibKey {
        s.sslib_key().expect("key")
    }

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn signed_envelope_roundtrips_and_verifies_for_both_algorithms() {
        for alg in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
            let s = TestSigner::new(alg);
            let env = Envelope::sign("text/plain", b"hi", &[&s]).expect("sign");
            let parsed = Envelope::parse(&env.to_json_bytes()).expect("parse");
            assert_eq!(parsed, env);
            let v = parsed.verify(&[key(&s)], 1).expect("verify");
            assert_eq!(v.signer_keyids(), vec![key(&s).keyid()]);
            assert_eq!(v.payload_bytes(), b"hi");
        }
    }

    #[test]
    fn keyid_is_only_a_hint() {
        let s = TestSigner::new(Algorithm::Ed25519);
        let mut env = Envelope::sign("t", b"x", &[&s]).expect("sign");
        env.signatures[0].keyid = Some("not-the-right-keyid".into());
        env.verify(&[key(&s)], 1)
            .expect("verifies despite wrong hint");
        env.signatures[0].keyid = None;
        env.verify(&[key(&s)], 1).expect("verifies without hint");
    }

    #[test]
    fn one_key_counts_once_toward_the_threshold() {
        let a = TestSigner::new(Algorithm::Ed25519);
        let b = TestSigner::new(Algorithm::EcdsaP256);
        let twice = Envelope::sign("t", b"x", &[&a, &a]).expect("sign");
        let trusted = [key(&a), key(&b)];
        assert!(matches!(
            twice.verify(&trusted, 2),
            Err(Error::ThresholdNotMet {
                found: 1,
                required: 2
            })
        ));
        // The same key listed twice in the trusted set does not count twice either.
        assert!(twice.verify(&[key(&a), key(&a)], 2).is_err());
        let both = Envelope::sign("t", b"x", &[&a, &b]).expect("sign");
        let v = both.verify(&trusted, 2).expect("two keys");
        assert_eq!(v.signers().len(), 2);
    }

    #[test]
    fn rejects_envelope_signed_by_unknown_key() {
        let s = TestSigner::new(Algorithm::Ed25519);
        let other = TestSigner::new(Algorithm::Ed25519);
        let env = Envelope::sign("t", b"x", &[&s]).expect("sign");
        let err = env.verify(&[key(&other)], 1).expect_err("unknown key");
        assert!(matches!(err, Error::UnknownSigner { .. }), "{err}");
        assert!(err.to_string().contains(&key(&s).keyid()));
    }

    #[test]
    fn rejects_tampered_payload_and_payload_type() {
        for alg in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
            let s = TestSigner::new(alg);
            let env = Envelope::sign("t", b"amount=1", &[&s]).expect("sign");
            let mut tampered = env.clone();
            tampered.payload = b"amount=9".to_vec();
            assert!(matches!(
                tampered.verify(&[key(&s)], 1),
                Err(Error::BadSignature { .. })
            ));
            let mut retyped = env.clone();
            retyped.payload_type = "u".into();
            assert!(matches!(
                retyped.verify(&[key(&s)], 1),
                Err(Error::BadSignature { .. })
            ));
        }
    }

    #[test]
    fn rejects_truncated_and_non_json_envelopes_with_clear_errors() {
        let s = TestSigner::new(Algorithm::Ed25519);
        let json = Envelope::sign("t", b"x", &[&s])
            .expect("sign")
            .to_json_bytes();
        for n in 0..json.len() {
            let err = Envelope::parse(&json[..n]).expect_err("truncated");
            assert!(matches!(err, Error::Malformed { .. }), "{err}");
        }
        let err = Envelope::parse(&json[..json.len() / 2]).expect_err("truncated");
        assert!(err.to_string().contains("truncated"), "{err}");
        let err = Envelope::parse(b"<xml/>").expect_err("not json");
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    #[test]
    fn rejects_missing_fields_bad_base64_no_signatures_and_oversize() {
        let cases: [(&[u8], &str); 5] = [
            (
                br#"{"payloadType":"t","signatures":[{"sig":"AA=="}]}"#,
                "payload",
            ),
            (
                br#"{"payload":"AA==","signatures":[{"sig":"AA=="}]}"#,
                "payloadType",
            ),
            (
                br#"{"payload":"AA==","payloadType":"t","signatures":[]}"#,
                "no signatures",
            ),
            (
                br#"{"payload":"A","payloadType":"t","signatures":[{"sig":"AA=="}]}"#,
                "base64",
            ),
            (
                br#"{"payload":"AA==","payloadType":"t","signatures":[{"sig":"*"}]}"#,
                "base64",
            ),
        ];
        for (input, needle) in cases {
            let err = Envelope::parse(input).expect_err("bad input");
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        }
        let big = vec![b' '; MAX_ENVELOPE_BYTES + 1];
        assert!(matches!(Envelope::parse(&big), Err(Error::TooLarge { .. })));
    }

    #[test]
    fn parse_never_panics_on_mutated_input() {
        let s = TestSigner::new(Algorithm::EcdsaP256);
        let json = Envelope::sign("t", b"payload", &[&s])
            .expect("sign")
            .to_json_bytes();
        for i in 0..json.len() {
            for b in [0u8, b'"', b'{', b'A', 0xff] {
                let mut m = json.clone();
                m[i] = b;
                if let Ok(env) = Envelope::parse(&m) {
                    let _ = env.verify(&[key(&s)], 1);
                }
            }
        }
    }

    #[test]
    fn rejects_zero_threshold_and_signing_without_signers() {
        let s = TestSigner::new(Algorithm::Ed25519);
        let env = Envelope::sign("t", b"x", &[&s]).expect("sign");
        assert!(matches!(
            env.verify(&[key(&s)], 0),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Envelope::sign("t", b"x", &[]),
            Err(Error::InvalidArgument(_))
        ));
    }
}
