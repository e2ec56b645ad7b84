//! Public keys in the securesystemslib JSON key format, and OLPC canonical JSON.
//!
//! securesystemslib (and so Python in-toto) writes a public key as
//! `{"keytype", "scheme", "keyval": {"public"}}` and names it by its *keyid*: the lowercase hex
//! SHA-256 of the canonical JSON of exactly those three fields. Ed25519 keys carry the raw key
//! in hex, ECDSA P-256 keys a PEM SubjectPublicKeyInfo.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shinrai_scu::{Algorithm, PublicKey};

use crate::{Error, Result};

/// `keytype` of Ed25519 keys.
pub const KEYTYPE_ED25519: &str = "ed25519";
/// `scheme` of Ed25519 keys.
pub const SCHEME_ED25519: &str = "ed25519";
/// `keytype` of ECDSA keys.
pub const KEYTYPE_ECDSA: &str = "ecdsa";
/// `scheme` of ECDSA P-256 keys (SHA-256 over the message, DER signatures).
pub const SCHEME_ECDSA_P256: &str = "ecdsa-sha2-nistp256";

/// Largest key document [`SslibKey::parse`] accepts.
pub const MAX_KEY_BYTES: usize = 16 * 1024;

/// DER prefix of a P-256 SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { id-ecPublicKey,
/// prime256v1 }, BIT STRING (66 bytes, 0 unused bits) } followed by the 65-byte point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const PEM_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const PEM_END: &str = "-----END PUBLIC KEY-----";

/// The `keyval` of a public key: only the public value (a key file with a private part is
/// refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyVal {
    /// Ed25519: 64 hex digits. ECDSA: PEM SubjectPublicKeyInfo.
    pub public: String,
}

/// A public key in the securesystemslib JSON format.
///
/// Parsing accepts both the bare key dict and one with a `"keyid"` member (as tools write key
/// files); serialization with [`SslibKey::to_json_bytes`] always includes the keyid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SslibKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyid: Option<String>,
    keytype: String,
    scheme: String,
    keyval: KeyVal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyid_hash_algorithms: Option<Vec<String>>,
}

impl SslibKey {
    /// The securesystemslib form of an SCU public key (Ed25519 or ECDSA P-256).
    pub fn from_public_key(key: &PublicKey) -> Result<Self> {
        let checked = PublicKey::from_bytes(key.algorithm, &key.bytes)
            .map_err(|e| Error::InvalidKey(e.to_string()))?;
        let (keytype, scheme, public) = match checked.algorithm {
            Algorithm::Ed25519 => (KEYTYPE_ED25519, SCHEME_ED25519, hex::encode(&checked.bytes)),
            Algorithm::EcdsaP256 => (
                KEYTYPE_ECDSA,
                SCHEME_ECDSA_P256,
                p256_spki_pem(&checked.bytes),
            ),
        };
        Ok(SslibKey {
            keyid: None,
            keytype: keytype.to_owned(),
            scheme: scheme.to_owned(),
            keyval: KeyVal { public },
            keyid_hash_algorithms: None,
        })
    }

    /// Reads a key from its JSON (at most [`MAX_KEY_BYTES`]), checking that its public value
    /// decodes. Accepts the bare dict or one carrying `"keyid"`.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "securesystemslib key";
        if bytes.len() > MAX_KEY_BYTES {
            return Err(Error::TooLarge {
                what: WHAT,
                size: bytes.len(),
                limit: MAX_KEY_BYTES,
            });
        }
        let key: SslibKey = serde_json::from_slice(bytes).map_err(|e| json_error(WHAT, &e))?;
        key.to_public_key()?;
        Ok(key)
    }

    /// The key as JSON with its `keyid`, the form Python `SSlibKey.from_dict` reads after
    /// popping `keyid`.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut with_id = self.clone();
        with_id.keyid = Some(self.keyid());
        // Serializing a struct of strings to JSON cannot fail.
        serde_json::to_vec_pretty(&with_id).unwrap_or_default()
    }

    /// The keyid to use for this key: the one the key file declared, else
    /// [`SslibKey::default_keyid`].
    pub fn keyid(&self) -> String {
        match &self.keyid {
            Some(id) if !id.is_empty() => id.clone(),
            _ => self.default_keyid(),
        }
    }

    /// The securesystemslib default keyid: lowercase hex SHA-256 of the canonical JSON of
    /// `{"keytype", "scheme", "keyval"}`.
    pub fn default_keyid(&self) -> String {
        let value = serde_json::json!({
            "keytype": self.keytype,
            "scheme": self.scheme,
            "keyval": { "public": self.keyval.public },
        });
        // Only strings: canonical encoding cannot fail.
        let bytes = canonical_json(&value).unwrap_or_default();
        hex::encode(digest::digest(&digest::SHA256, &bytes))
    }

    /// Whether `hint` names this key (its declared or its default keyid).
    pub fn matches_keyid(&self, hint: &str) -> bool {
        self.keyid.as_deref() == Some(hint) || self.default_keyid() == hint
    }

    /// The key's `keytype`.
    pub fn keytype(&self) -> &str {
        &self.keytype
    }

    /// The key's `scheme`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The key's public value as written in `keyval.public`.
    pub fn public_value(&self) -> &str {
        &self.keyval.public
    }

    /// The raw public key, for verification.
    pub fn to_public_key(&self) -> Result<PublicKey> {
        let ecdsa_type = self.keytype == KEYTYPE_ECDSA || self.keytype == SCHEME_ECDSA_P256;
        match (self.keytype.as_str(), self.scheme.as_str()) {
            (KEYTYPE_ED25519, SCHEME_ED25519) => {
                let raw = hex::decode(&self.keyval.public).map_err(|e| {
                    Error::InvalidKey(format!("ed25519 keyval.public is not hex: {e}"))
                })?;
                PublicKey::from_bytes(Algorithm::Ed25519, &raw)
                    .map_err(|e| Error::InvalidKey(e.to_string()))
            }
            (_, SCHEME_ECDSA_P256) if ecdsa_type => {
                let point = p256_from_spki_pem(&self.keyval.public)?;
                aws_lc_rs::signature::ParsedPublicKey::new(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
                    &point,
                )
                .map_err(|_| Error::InvalidKey("ECDSA public point is not on P-256".into()))?;
                PublicKey::from_bytes(Algorithm::EcdsaP256, &point)
                    .map_err(|e| Error::InvalidKey(e.to_string()))
            }
            _ => Err(Error::UnsupportedKey {
                keytype: self.keytype.clone(),
                scheme: self.scheme.clone(),
            }),
        }
    }
}

/// PEM SubjectPublicKeyInfo of a 65-byte uncompressed P-256 point, byte for byte as Python
/// `cryptography` writes it (64-character lines, trailing newline), so keyids agree.
pub fn p256_spki_pem(point: &[u8]) -> String {
    let mut der = P256_SPKI_PREFIX.to_vec();
    der.extend_from_slice(point);
    let b64 = STANDARD.encode(der);
    let mut pem = String::with_capacity(b64.len() + 64);
    pem.push_str(PEM_BEGIN);
    pem.push('\n');
    for line in b64.as_bytes().chunks(64) {
        // base64 output is ASCII.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    pem
}

/// The 65-byte uncompressed point from a P-256 PEM SubjectPublicKeyInfo.
pub fn p256_from_spki_pem(pem: &str) -> Result<Vec<u8>> {
    let bad = |why: &str| Error::InvalidKey(format!("ECDSA keyval.public: {why}"));
    let body = pem
        .trim()
        .strip_prefix(PEM_BEGIN)
        .and_then(|s| s.strip_suffix(PEM_END))
        .ok_or_else(|| bad("not a PEM \"PUBLIC KEY\" block"))?;
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|e| bad(&format!("bad base64 in PEM: {e}")))?;
    match der.strip_prefix(&P256_SPKI_PREFIX[..]) {
        Some(point) if point.len() == 65 && point[0] == 0x04 => Ok(point.to_vec()),
        _ => Err(bad(
            "not an uncompressed P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1)",
        )),
    }
}

/// Encodes `value` as OLPC canonical JSON, as securesystemslib's `encode_canonical` does:
/// object keys sorted by code point, no whitespace, only `"` and `\` escaped (other characters,
/// control characters included, are written as UTF-8), integers only (a float is an error).
pub fn canonical_json(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_canonical(&mut out, value)?;
    Ok(out)
}

fn write_canonical(out: &mut Vec<u8>, value: &Value) -> Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.extend_from_slice(i.to_string().as_bytes());
            } else if let Some(u) = n.as_u64() {
                out.extend_from_slice(u.to_string().as_bytes());
            } else {
                return Err(Error::InvalidArgument(format!(
                    "canonical JSON has no floats: {n}; scale the value to an integer or use a string"
                )));
            }
        }
        Value::String(s) => write_canonical_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical_str(out, k);
                out.push(b':');
                write_canonical(out, v)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_canonical_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Turns a serde_json error into a message that says whether the input was truncated, not JSON
/// at all, or JSON of the wrong shape.
pub(crate) fn json_error(what: &'static str, e: &serde_json::Error) -> Error {
    use serde_json::error::Category;
    let reason = match e.classify() {
        Category::Eof => format!("truncated JSON ({e})"),
        Category::Syntax => format!("not valid JSON ({e})"),
        Category::Data => format!("missing or wrong-typed field ({e})"),
        Category::Io => format!("read error ({e})"),
    };
    Error::Malformed { what, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_escapes_only_quote_and_backslash() {
        let v = serde_json::json!({"b": [1, -2, true, null], "a": "x\"y\\z\n\u{e9}", "A": {}});
        let got = canonical_json(&v).expect("encodes");
        assert_eq!(
            got,
            "{\"A\":{},\"a\":\"x\\\"y\\\\z\n\u{e9}\",\"b\":[1,-2,true,null]}".as_bytes()
        );
    }

    #[test]
    fn canonical_json_refuses_floats() {
        let v = serde_json::json!({"t": 1.5});
        assert!(matches!(canonical_json(&v), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn p256_pem_roundtrips() {
        let mut point = vec![4u8];
        point.extend((0..64).map(|i| i as u8));
        let pem = p256_spki_pem(&point);
        assert!(
            pem.starts_with("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")
        );
        assert_eq!(p256_from_spki_pem(&pem).expect("decodes"), point);
    }

    #[test]
    fn parse_accepts_key_with_and_without_keyid() {
        let bare = br#"{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"0000000000000000000000000000000000000000000000000000000000000000"}}"#;
        let k = SslibKey::parse(bare).expect("bare key");
        assert_eq!(k.keyid(), k.default_keyid());
        let with_id = SslibKey::parse(&k.to_json_bytes()).expect("key with keyid");
        assert_eq!(with_id.keyid(), k.keyid());
    }

    #[test]
    fn parse_rejects_private_keys_unknown_schemes_and_garbage() {
        let private =
            br#"{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"00","private":"11"}}"#;
        assert!(matches!(
            SslibKey::parse(private),
            Err(Error::Malformed { .. })
        ));
        let rsa = br#"{"keytype":"rsa","scheme":"rsassa-pss-sha256","keyval":{"public":"x"}}"#;
        assert!(matches!(
            SslibKey::parse(rsa),
            Err(Error::UnsupportedKey { .. })
        ));
        let short = br#"{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"00"}}"#;
        assert!(matches!(SslibKey::parse(short), Err(Error::InvalidKey(_))));
        assert!(matches!(
            SslibKey::parse(b"{\"keytype\""),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            SslibKey::parse(b"\x00\xff"),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn parse_rejects_p256_point_off_the_curve() {
        let mut off_curve = vec![4u8];
        off_curve.extend([1u8; 64]);
        let doc = serde_json::json!({
            "keytype": "ecdsa",
            "scheme": "ecdsa-sha2-nistp256",
            "keyval": {"public": p256_spki_pem(&off_curve)},
        });
        let err = SslibKey::parse(doc.to_string().as_bytes()).expect_err("off-curve point");
        assert!(err.to_string().contains("not on P-256"), "{err}");
    }
}
