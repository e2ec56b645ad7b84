//! Values shared by every backend: algorithms, purposes, policies, public keys and signatures.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A signature algorithm an SCU key can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Ed25519 (RFC 8032): organisation and log keys.
    Ed25519,
    /// ECDSA over NIST P-256 with SHA-256 (ES256): device and hardware keys.
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
}

impl Algorithm {
    /// The name used on the command line and in files (`ed25519`, `ecdsa-p256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::EcdsaP256 => "ecdsa-p256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "ed25519" => Ok(Algorithm::Ed25519),
            "ecdsa-p256" | "p256" | "p-256" | "es256" | "ecdsa-sha2-nistp256" => {
                Ok(Algorithm::EcdsaP256)
            }
            other => Err(Error::InvalidArgument(format!(
                "unknown algorithm {other:?}; use ed25519 or ecdsa-p256"
            ))),
        }
    }
}

/// What a signature is for. A key's [`UsagePolicy`] lists the purposes it may serve.
///
/// Well-known purposes have constants; any other lowercase name is allowed too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Purpose(String);

impl Purpose {
    /// Signed statements (DSSE / COSE_Sign1) registered in the trust store.
    pub const STATEMENT: &'static str = "statement";
    /// Log checkpoints (signed notes).
    pub const CHECKPOINT: &'static str = "checkpoint";
    /// Device evidence (attestation, sensor readings).
    pub const DEVICE_EVIDENCE: &'static str = "device-evidence";
    /// Certificates issued by a CA key.
    pub const CERTIFICATE: &'static str = "certificate";

    /// A purpose by name: lowercase ASCII letters, digits and `-`, 1 to 64 characters.
    pub fn new(name: &str) -> Result<Self> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Purpose(name.to_owned()))
        } else {
            Err(Error::InvalidArgument(format!(
                "purpose {name:?} must be 1-64 characters of a-z, 0-9 and '-'"
            )))
        }
    }

    /// The purpose `statement`.
    pub fn statement() -> Self {
        Purpose(Self::STATEMENT.to_owned())
    }
    /// The purpose `checkpoint`.
    pub fn checkpoint() -> Self {
        Purpose(Self::CHECKPOINT.to_owned())
    }
    /// The purpose `device-evidence`.
    pub fn device_evidence() -> Self {
        Purpose(Self::DEVICE_EVIDENCE.to_owned())
    }

    /// The purpose's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a key may be used for: its access-control rule, fixed when the key is generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsagePolicy {
    /// Purposes the key may sign for. Never empty.
    pub purposes: BTreeSet<Purpose>,
    /// Total number of signatures the key may ever make, if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u64>,
}

impl UsagePolicy {
    /// A policy allowing `purposes`, without a usage limit. Fails when `purposes` is empty.
    pub fn new(purposes: impl IntoIterator<Item = Purpose>) -> Result<Self> {
        let purposes: BTreeSet<Purpose> = purposes.into_iter().collect();
        if purposes.is_empty() {
            return Err(Error::InvalidArgument(
                "a usage policy needs at least one purpose".into(),
            ));
        }
        Ok(UsagePolicy {
            purposes,
            max_uses: None,
        })
    }

    /// The same policy with a limit on the total number of signatures.
    pub fn with_max_uses(mut self, max_uses: u64) -> Self {
        self.max_uses = Some(max_uses);
        self
    }

    /// Checks a use for `purpose` when the key has already signed `uses` times.
    pub fn check(&self, label: &str, purpose: &Purpose, uses: u64) -> Result<()> {
        if !self.purposes.contains(purpose) {
            return Err(Error::PolicyViolation {
                label: label.to_owned(),
                purpose: purpose.to_string(),
                allowed: self
                    .purposes
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if let Some(max) = self.max_uses
            && uses >= max
        {
            return Err(Error::UsageLimitReached {
                label: label.to_owned(),
                max_uses: max,
            });
        }
        Ok(())
    }
}

/// How much a backend protects its keys (reported by [`crate::KeyStore::capabilities`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Assurance {
    /// Keys in a passphrase-sealed file on an ordinary computer: fine for development and
    /// for organisations without hardware, but an attacker with the file and the passphrase has
    /// the key.
    Low,
    /// Keys in a separate token or HSM that never exports them (PKCS#11, TPM).
    Hardware,
}

/// What a backend can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Backend name: `soft`, `pkcs11`, `tpm`.
    pub backend: String,
    /// Algorithms the backend can generate and sign with.
    pub algorithms: Vec<Algorithm>,
    /// Whether private keys can ever leave the backend.
    pub exportable_keys: bool,
    /// The protection the backend gives its keys.
    pub assurance: Assurance,
    /// Free-form detail (token label, module path, library version), never a secret.
    pub detail: String,
}

/// A public key: the value anyone needs to check a signature.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicKey {
    /// The key's algorithm.
    pub algorithm: Algorithm,
    /// Ed25519: the 32-byte key. ECDSA P-256: the 65-byte uncompressed SEC1 point (`04 || x || y`).
    #[serde(with = "hex_bytes")]
    pub bytes: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({}, {})",
            self.algorithm,
            hex::encode(&self.bytes)
        )
    }
}

impl PublicKey {
    /// A public key from its raw bytes, checking the length and (for P-256) the point encoding.
    pub fn from_bytes(algorithm: Algorithm, bytes: &[u8]) -> Result<Self> {
        let ok = match algorithm {
            Algorithm::Ed25519 => bytes.len() == 32,
            Algorithm::EcdsaP256 => bytes.len() == 65 && bytes[0] == 0x04,
        };
        if !ok {
            return Err(Error::InvalidKey(format!(
                "a {algorithm} public key must be {}",
                match algorithm {
                    Algorithm::Ed25519 => "32 bytes",
                    Algorithm::EcdsaP256 => "65 bytes starting with 0x04 (uncompressed SEC1)",
                }
            )));
        }
        Ok(PublicKey {
            algorithm,
            bytes: bytes.to_vec(),
        })
    }

    /// Checks `signature` over `message`. Ed25519 takes the 64-byte signature; ECDSA P-256 takes
    /// either the fixed `r || s` form or DER, over the message (hashed with SHA-256 here).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        use aws_lc_rs::signature as sig;
        let alg: &dyn sig::VerificationAlgorithm = match self.algorithm {
            Algorithm::Ed25519 => &sig::ED25519,
            Algorithm::EcdsaP256 if signature.len() == 64 => &sig::ECDSA_P256_SHA256_FIXED,
            Algorithm::EcdsaP256 => &sig::ECDSA_P256_SHA256_ASN1,
        };
        sig::UnparsedPublicKey::new(alg, &self.bytes)
            .verify(message, signature)
            .map_err(|_| Error::BadSignature)
    }
}

impl PublicKey {
    /// Parses the key once for repeated verification (a verifier that checks many signatures
    /// by the same key, such as the trust store with its organisation keys, keeps one of these).
    pub fn verifying_key(&self) -> Result<VerifyingKey> {
        use aws_lc_rs::signature as sig;
        let bad = |_| Error::InvalidKey(format!("not a valid {} public key", self.algorithm));
        let (primary, der) = match self.algorithm {
            Algorithm::Ed25519 => (
                sig::ParsedPublicKey::new(&sig::ED25519, &self.bytes).map_err(bad)?,
                None,
            ),
            Algorithm::EcdsaP256 => (
                sig::ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, &self.bytes)
                    .map_err(bad)?,
                Some(
                    sig::ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_ASN1, &self.bytes)
                        .map_err(bad)?,
                ),
            ),
        };
        Ok(VerifyingKey {
            algorithm: self.algorithm,
            primary,
            der,
        })
    }
}

/// A public key parsed once, for checking many signatures: same results as
/// [`PublicKey::verify`], without re-reading the key each time.
#[derive(Clone)]
pub struct VerifyingKey {
    algorithm: Algorithm,
    /// Ed25519, or ECDSA over fixed `r || s` signatures.
    primary: aws_lc_rs::signature::ParsedPublicKey,
    /// ECDSA over DER signatures.
    der: Option<aws_lc_rs::signature::ParsedPublicKey>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", self.algorithm)
    }
}

impl VerifyingKey {
    /// Checks `signature` over `message`, as [`PublicKey::verify`] does.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        let key = match (&self.der, signature.len()) {
            (Some(der), n) if n != 64 => der,
            _ => &self.primary,
        };
        key.verify_sig(message, signature)
            .map_err(|_| Error::BadSignature)
    }
}

/// A signature made by an SCU key.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature {
    /// The algorithm of the key that made it.
    pub algorithm: Algorithm,
    /// Ed25519: 64 bytes. ECDSA P-256: the fixed 64-byte `r || s` form (COSE, JWS).
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Signature({}, {})",
            self.algorithm,
            hex::encode(&self.bytes)
        )
    }
}

impl Signature {
    /// The signature as DSSE and securesystemslib expect it: DER for ECDSA, raw for Ed25519.
    pub fn to_der(&self) -> Vec<u8> {
        match self.algorithm {
            Algorithm::Ed25519 => self.bytes.clone(),
            Algorithm::EcdsaP256 => ecdsa_fixed_to_der(&self.bytes),
        }
    }
}

/// Encodes a fixed-size ECDSA `r || s` signature as a DER `SEQUENCE { INTEGER r, INTEGER s }`.
pub fn ecdsa_fixed_to_der(fixed: &[u8]) -> Vec<u8> {
    fn int(out: &mut Vec<u8>, mut v: &[u8]) {
        while v.len() > 1 && v[0] == 0 {
            v = &v[1..];
        }
        out.push(0x02);
        if v[0] & 0x80 != 0 {
            out.push((v.len() + 1) as u8);
            out.push(0);
        } else {
            out.push(v.len() as u8);
        }
        out.extend_from_slice(v);
    }
    let half = fixed.len() / 2;
    let mut body = Vec::with_capacity(fixed.len() + 8);
    if half == 0 {
        int(&mut body, &[0]);
        int(&mut body, &[0]);
    } else {
        int(&mut body, &fixed[..half]);
        int(&mut body, &fixed[half..]);
    }
    let mut out = Vec::with_capacity(body.len() + 3);
    out.push(0x30);
    if body.len() < 0x80 {
        out.push(body.len() as u8);
    } else {
        out.push(0x81);
        out.push(body.len() as u8);
    }
    out.extend_from_slice(&body);
    out
}

/// Decodes a DER ECDSA P-256 signature into the fixed 64-byte `r || s` form.
pub fn ecdsa_der_to_fixed(der: &[u8]) -> Result<Vec<u8>> {
    let bad = || Error::InvalidArgument("malformed DER ECDSA signature".into());
    let mut p = der;
    let mut take = |n: usize| -> Result<&[u8]> {
        if p.len() < n {
            return Err(bad());
        }
        let (h, t) = p.split_at(n);
        p = t;
        Ok(h)
    };
    if take(1)? != [0x30] {
        return Err(bad());
    }
    let mut len = take(1)?[0] as usize;
    if len == 0x81 {
        len = take(1)?[0] as usize;
    } else if len > 0x80 {
        return Err(bad());
    }
    let body = take(len)?;
    if !p.is_empty() {
        return Err(bad());
    }
    let mut b = body;
    let mut out = Vec::with_capacity(64);
    for _ in 0..2 {
        if b.len() < 2 || b[0] != 0x02 {
            return Err(bad());
        }
        let l = b[1] as usize;
        if l == 0 || l > 33 || b.len() < 2 + l {
            return Err(bad());
        }
        let mut v = &b[2..2 + l];
        b = &b[2 + l..];
        while v.len() > 32 && v[0] == 0 {
            v = &v[1..];
        }
        if v.len() > 32 {
            return Err(bad());
        }
        out.extend(std::iter::repeat_n(0u8, 32 - v.len()));
        out.extend_from_slice(v);
    }
    if !b.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// What a key store says about one key (never the private key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// The key's name in its store.
    pub label: String,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// Its public key.
    pub public_key: PublicKey,
    /// Its usage policy.
    pub policy: UsagePolicy,
    /// Signatures made so far.
    pub uses: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_roundtrip_keeps_leading_zero_and_high_bit_values() {
        let mut fixed = vec![0u8; 64];
        fixed[1] = 0x80; // r = 0x0080..., leading zero byte stripped then re-padded
        fixed[32] = 0xff; // s with high bit: needs a 0x00 pad in DER
        fixed[63] = 1;
        let der = ecdsa_fixed_to_der(&fixed);
        assert_eq!(ecdsa_der_to_fixed(&der).expect("valid DER"), fixed);
    }

    #[test]
    fn parsed_key_agrees_with_one_shot_verification() {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("keygen");
        let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("parse");
        let public =
            PublicKey::from_bytes(Algorithm::EcdsaP256, kp.public_key().as_ref()).expect("public");
        let fixed = kp.sign(&rng, b"msg").expect("sign").as_ref().to_vec();
        let der = ecdsa_fixed_to_der(&fixed);
        let vk = public.verifying_key().expect("parsed");
        for sig in [&fixed, &der] {
            assert!(vk.verify(b"msg", sig).is_ok());
            assert!(public.verify(b"msg", sig).is_ok());
            assert!(vk.verify(b"other", sig).is_err());
        }
        let mut bad = fixed.clone();
        bad[10] ^= 1;
        assert!(vk.verify(b"msg", &bad).is_err());
        assert!(
            PublicKey::from_bytes(Algorithm::EcdsaP256, &[4u8; 65])
                .expect("shape ok")
                .verifying_key()
                .is_err(),
            "a point off the curve must be refused"
        );
    }

    #[test]
    fn rejects_truncated_der() {
        let der = ecdsa_fixed_to_der(&[7u8; 64]);
        for n in 0..der.len() {
            assert!(
                ecdsa_der_to_fixed(&der[..n]).is_err(),
                "prefix {n} accepted"
            );
        }
    }

    #[test]
    fn policy_refuses_other_purpose_and_exhausted_limit() {
        let p = UsagePolicy::new([Purpose::statement()])
            .expect("policy")
            .with_max_uses(2);
        assert!(p.check("k", &Purpose::statement(), 1).is_ok());
        assert!(matches!(
            p.check("k", &Purpose::checkpoint(), 0),
            Err(Error::PolicyViolation { .. })
        ));
        assert!(matches!(
            p.check("k", &Purpose::statement(), 2),
            Err(Error::UsageLimitReached { .. })
        ));
    }
}
