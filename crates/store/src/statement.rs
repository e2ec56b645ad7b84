//! Signed statements as the store sees them: what the index extracts from a statement
//! (subjects, predicate type, traceability edges), COSE_Sign1 record helpers, and the store's
//! view of organisation keys.
//!
//! DSSE envelopes, the PAE, securesystemslib keys and OLPC canonical JSON are
//! `shinrai-envelope`'s ([`shinrai_envelope::dsse`], [`shinrai_envelope::keys`]); this module
//! only adds what is store-specific. Signatures are always checked over the bytes received (the
//! DSSE PAE of the base64-decoded payload), never over a re-serialisation. Pure functions: no IO.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shinrai_envelope::keys::{SslibKey, canonical_json};
use shinrai_scu::PublicKey;

use crate::merkle::sha256_of;
use crate::{Error, Result};

/// The DSSE v1 pre-authentication encoding, re-exported from `shinrai-envelope` for callers
/// that sign test or benchmark entries through this crate.
pub use shinrai_envelope::dsse::pae;

/// The DSSE payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto Statement v1 `_type`.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";

/// An organisation's public key as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgKey {
    /// securesystemslib key id (hex SHA-256 of the canonical key JSON).
    pub keyid: String,
    /// Owning organisation.
    pub org: String,
    /// The public key.
    pub public_key: PublicKey,
}

/// Reads a public key in the securesystemslib JSON format with
/// [`shinrai_envelope::keys::SslibKey::parse`] (Ed25519 hex or ECDSA P-256 PEM SPKI; a file
/// with a private part is refused) and returns its key id and the key.
///
/// The key id is computed, never taken from the file's `"keyid"`: the hex SHA-256 of the OLPC
/// canonical JSON of the key document without `"keyid"`. For the usual
/// `{keytype, scheme, keyval}` document that is [`SslibKey::default_keyid`]; a legacy in-toto
/// key that also carries `keyid_hash_algorithms` keeps the id legacy securesystemslib gave it
/// (and that the store has always given it), so envelopes signed under that id still match.
pub fn parse_sslib_key(json: &[u8]) -> Result<(String, PublicKey)> {
    let key = SslibKey::parse(json)?;
    let public_key = key.to_public_key()?;
    let bad =
        |why: String| Error::InvalidRequest(format!("not a securesystemslib public key: {why}"));
    // Extra top-level members (legacy `keyid_hash_algorithms`) are part of the id.
    let mut doc: Value = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
    let keyid = match doc.as_object_mut() {
        Some(obj)
            if obj
                .keys()
                .any(|k| !matches!(k.as_str(), "keyid" | "keytype" | "scheme" | "keyval")) =>
        {
            obj.remove("keyid");
            let canonical = canonical_json(&doc).map_err(|e| bad(e.to_string()))?;
            hex::encode(sha256_of(&canonical))
        }
        _ => key.default_keyid(),
    };
    Ok((keyid, public_key))
}

/// Writes the securesystemslib JSON key (canonical form, no `keyid`) of an Ed25519 public key,
/// for tests and `shinrai` tooling.
pub fn sslib_ed25519_key(public: &[u8]) -> String {
    let v = serde_json::json!({
        "keytype": "ed25519",
        "scheme": "ed25519",
        "keyval": {"public": hex::encode(public)}
    });
    // Only strings: canonical encoding cannot fail, and its output is the UTF-8 of the input.
    String::from_utf8(canonical_json(&v).unwrap_or_default()).unwrap_or_default()
}

/// A statement subject: a name and its digests as `alg:hex` strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Subject name (may be empty).
    pub name: String,
    /// Digests, each `alg:hex` (lowercase).
    pub digests: Vec<String>,
}

/// A traceability edge: `input` was used to make `output` (both digests `alg:hex` or EPC URIs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Edge {
    /// Upstream node.
    pub input: String,
    /// Downstream node.
    pub output: String,
}

/// What the index keeps about one statement; derived from the entry bytes alone.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IndexRecord {
    /// DSSE payload type.
    pub payload_type: String,
    /// in-toto predicate type.
    pub predicate_type: String,
    /// Statement subjects.
    pub subjects: Vec<Subject>,
    /// Traceability edges the statement asserts.
    pub edges: Vec<Edge>,
}

fn digest_set(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(o) = v.as_object() {
        for (alg, val) in o {
            if let Some(h) = val.as_str() {
                out.push(format!(
                    "{}:{}",
                    alg.to_ascii_lowercase(),
                    h.to_ascii_lowercase()
                ));
            }
        }
    }
    out.sort();
    out
}

/// Extracts the index record from a statement payload (in-toto Statement v1 JSON).
pub fn index_record(payload_type: &str, payload: &[u8]) -> Result<IndexRecord> {
    let v: Value = serde_json::from_slice(payload)
        .map_err(|e| Error::Malformed(format!("payload is not JSON: {e}")))?;
    let ty = v.get("_type").and_then(Value::as_str).unwrap_or_default();
    if ty != STATEMENT_V1 && ty != "https://in-toto.io/Statement/v0.1" {
        return Err(Error::Malformed(format!(
            "payload is not an in-toto Statement v1 (_type {ty:?})"
        )));
    }
    let predicate_type = v
        .get("predicateType")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::Malformed("statement has no predicateType".into()))?
        .to_owned();
    let subjects_v = v
        .get("subject")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::Malformed("statement has no subject".into()))?;
    let mut subjects = Vec::new();
    for s in subjects_v {
        let name = s
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let digests = s.get("digest").map(digest_set).unwrap_or_default();
        if digests.is_empty() {
            return Err(Error::Malformed(format!("subject {name:?} has no digest")));
        }
        subjects.push(Subject { name, digests });
    }
    let mut edges = Vec::new();
    if let Some(pred) = v.get("predicate") {
        let mut inputs = Vec::new();
        collect_materials(pred, &mut inputs, 0);
        for input in &inputs {
            for s in &subjects {
                for d in &s.digests {
                    edges.push(Edge {
                        input: input.clone(),
                        output: d.clone(),
                    });
                }
            }
        }
        collect_epcis(pred, &mut edges, 0);
    }
    edges.sort_by(|a, b| (&a.input, &a.output).cmp(&(&b.input, &b.output)));
    edges.dedup();
    edges.truncate(10_000);
    Ok(IndexRecord {
        payload_type: payload_type.to_owned(),
        predicate_type,
        subjects,
        edges,
    })
}

/// Material digests from `materials` (array of resource descriptors or the classic in-toto
/// `{name: {alg: hex}}` map) and SLSA v1 `resolvedDependencies`, anywhere in the predicate.
fn collect_materials(v: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > 8 {
        return;
    }
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "materials" || k == "resolvedDependencies" {
                    match x {
                        Value::Array(items) => {
                            for it in items {
                                if let Some(d) = it.get("digest") {
                                    out.extend(digest_set(d));
                                }
                            }
                        }
                        Value::Object(map) => {
                            for d in map.values() {
                                out.extend(digest_set(d));
                            }
                        }
                        _ => {}
                    }
                } else {
                    collect_materials(x, out, depth + 1);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_materials(x, out, depth + 1)),
        _ => {}
    }
}

fn epc_list(v: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::Array(a)) = v {
        for x in a {
            if let Some(s) = x.as_str() {
                out.push(s.to_owned());
            } else if let Some(s) = x.get("epcClass").and_then(Value::as_str) {
                out.push(s.to_owned());
            }
        }
    }
    out
}

/// EPCIS edges: aggregation `childEPCs -> parentID`, transformation `inputEPCList ->
/// outputEPCList` (and the quantity lists), anywhere in the predicate.
fn collect_epcis(v: &Value, out: &mut Vec<Edge>, depth: usize) {
    if depth > 8 {
        return;
    }
    match v {
        Value::Object(o) => {
            if let Some(parent) = o.get("parentID").and_then(Value::as_str) {
                for c in epc_list(o.get("childEPCs"))
                    .into_iter()
                    .chain(epc_list(o.get("childQuantityList")))
                {
                    out.push(Edge {
                        input: c,
                        output: parent.to_owned(),
                    });
                }
            }
            let inputs: Vec<String> = epc_list(o.get("inputEPCList"))
                .into_iter()
                .chain(epc_list(o.get("inputQuantityList")))
                .collect();
            let outputs: Vec<String> = epc_list(o.get("outputEPCList"))
                .into_iter()
                .chain(epc_list(o.get("outputQuantityList")))
                .collect();
            for i in &inputs {
                for p in &outputs {
                    out.push(Edge {
                        input: i.clone(),
                        output: p.clone(),
                    });
                }
            }
            for x in o.values() {
                collect_epcis(x, out, depth + 1);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_epcis(x, out, depth + 1)),
        _ => {}
    }
}

/// Whether entry bytes are CBOR (a COSE_Sign1: tag 18 or a 4-element array) rather than JSON.
pub fn looks_like_cose(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(0xd2 | 0x84))
}

fn parse_cose(bytes: &[u8]) -> Result<coset::CoseSign1> {
    use coset::{CborSerializable, TaggedCborSerializable};
    coset::CoseSign1::from_tagged_slice(bytes)
        .or_else(|_| coset::CoseSign1::from_slice(bytes))
        .map_err(|_| Error::Malformed("not a COSE_Sign1 message".into()))
}

/// The key id (hex) a COSE_Sign1 names in its protected `kid`.
pub fn cose_kid(bytes: &[u8]) -> Result<String> {
    let m = parse_cose(bytes)?;
    if m.protected.header.key_id.is_empty() {
        return Err(Error::Malformed(
            "COSE_Sign1 has no kid (the signer's key id) in its protected header".into(),
        ));
    }
    Ok(hex::encode(&m.protected.header.key_id))
}

/// The index record of a COSE_Sign1 statement: an in-toto Statement payload is indexed like a
/// DSSE one; any other content is indexed by its CWT `sub` and the SHA-256 of the payload, with
/// the content type as predicate type.
pub fn cose_record(content_type: &str, payload: &[u8], sub: &str) -> Result<IndexRecord> {
    if content_type == IN_TOTO_PAYLOAD_TYPE {
        return index_record(content_type, payload);
    }
    Ok(IndexRecord {
        payload_type: content_type.to_owned(),
        predicate_type: content_type.to_owned(),
        subjects: vec![Subject {
            name: sub.to_owned(),
            digests: vec![format!("sha256:{}", hex::encode(sha256_of(payload)))],
        }],
        edges: Vec::new(),
    })
}

/// [`cose_record`] from the entry bytes without checking the signature (index rebuild: the log
/// holds only entries that were verified when registered).
pub fn cose_record_unverified(bytes: &[u8]) -> Result<IndexRecord> {
    use ciborium::value::Value as C;
    let m = parse_cose(bytes)?;
    let h = &m.protected.header;
    let ct = match &h.content_type {
        Some(coset::RegisteredLabel::Text(t)) => t.clone(),
        Some(coset::RegisteredLabel::Assigned(a)) => (*a as i64).to_string(),
        None => String::new(),
    };
    let sub = h
        .rest
        .iter()
        .find(|(l, _)| *l == coset::Label::Int(15))
        .and_then(|(_, v)| v.as_map())
        .and_then(|m| {
            m.iter()
                .find(|(k, _)| *k == C::Integer(2.into()))
                .and_then(|(_, v)| v.as_text())
        })
        .unwrap_or_default()
        .to_owned();
    let payload = m
        .payload
        .as_deref()
        .ok_or_else(|| Error::Malformed("COSE_Sign1 payload is detached".into()))?;
    cose_record(&ct, payload, &sub)
}

/// Normalises a digest query: `alg:hex` kept (lowercased), bare 64-hex taken as SHA-256.
pub fn normalise_digest(d: &str) -> String {
    let d = d.trim();
    if d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()) {
        return format!("sha256:{}", d.to_ascii_lowercase());
    }
    match d.split_once(':') {
        Some((alg, h)) if h.bytes().all(|b| b.is_ascii_hexdigit()) && !alg.contains('/') => {
            format!("{}:{}", alg.to_ascii_lowercase(), h.to_ascii_lowercase())
        }
        _ => d.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_subjects_materials_and_epcis_edges() {
        let stmt = serde_json::json!({
            "_type": STATEMENT_V1,
            "subject": [{"name": "fw.bin", "digest": {"sha256": "AA"}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {
                "buildDefinition": {"resolvedDependencies": [{"uri": "x", "digest": {"sha256": "bb"}}]},
                "event": {"inputEPCList": ["urn:epc:id:sgtin:1.1.1"], "outputEPCList": ["urn:epc:id:sgtin:2.2.2"]},
                "agg": {"parentID": "urn:epc:id:sscc:9", "childEPCs": ["urn:epc:id:sgtin:2.2.2"]}
            }
        });
        let r = index_record(IN_TOTO_PAYLOAD_TYPE, stmt.to_string().as_bytes()).expect("record");
        assert_eq!(r.subjects[0].digests, vec!["sha256:aa".to_string()]);
        let pairs: Vec<(&str, &str)> = r
            .edges
            .iter()
            .map(|e| (e.input.as_str(), e.output.as_str()))
            .collect();
        assert!(pairs.contains(&("sha256:bb", "sha256:aa")));
        assert!(pairs.contains(&("urn:epc:id:sgtin:1.1.1", "urn:epc:id:sgtin:2.2.2")));
        assert!(pairs.contains(&("urn:epc:id:sgtin:2.2.2", "urn:epc:id:sscc:9")));
    }

    #[test]
    fn rejects_payload_that_is_not_a_statement() {
        assert!(matches!(
            index_record(IN_TOTO_PAYLOAD_TYPE, b"{\"a\":1}"),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            index_record(IN_TOTO_PAYLOAD_TYPE, b"nope"),
            Err(Error::Malformed(_))
        ));
    }

    /// Key ids the store computed before it used `shinrai-envelope` (Ed25519 values captured
    /// from the previous implementation; all three equal SHA-256 over securesystemslib's
    /// `encode_canonical`, the P-256 key being `ec.derive_private_key(12345, SECP256R1())`):
    /// organisations registered then must still match.
    #[test]
    fn key_ids_are_the_ones_registered_before() {
        let public = hex::encode([7u8; 32]);
        let ed = serde_json::json!({"keytype": "ed25519", "scheme": "ed25519",
            "keyval": {"public": public}});
        let (id, key) = parse_sslib_key(ed.to_string().as_bytes()).expect("ed25519");
        assert_eq!(
            id,
            "b6db82967262b4c288a9326762c77b39db2f13d29b51799a526d0ec81001b73b"
        );
        assert_eq!(key.bytes, vec![7u8; 32]);
        let sslib = SslibKey::parse(ed.to_string().as_bytes()).expect("sslib");
        assert_eq!(id, sslib.default_keyid());

        let legacy = serde_json::json!({"keytype": "ed25519", "scheme": "ed25519",
            "keyid_hash_algorithms": ["sha256", "sha512"], "keyval": {"public": public}});
        let (id, _) = parse_sslib_key(legacy.to_string().as_bytes()).expect("legacy");
        assert_eq!(
            id,
            "353cf14b2a5929f45097565bf4bd0ccc0cfcde2335ea2bc541427960f2570b8c"
        );

        let ec = serde_json::json!({"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256",
            "keyval": {"public": P256_PEM}});
        let (id, key) = parse_sslib_key(ec.to_string().as_bytes()).expect("p256");
        assert_eq!(
            id,
            "1b680a9b047f61c06aa7a6bfff05db6741ee261d5230cb708b7fda33a9611328"
        );
        assert_eq!(key.algorithm, shinrai_scu::Algorithm::EcdsaP256);
    }

    const P256_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJu/OvQ7p40pmkYfhizqRIrL3M5Rb\nZJzJ+fkh6fna2BKQI4venMe7Mw0VDGdwTdJa5wVSBXRLbzG/QHB0WHLQ5g==\n-----END PUBLIC KEY-----\n";

    #[test]
    fn rejects_key_files_that_are_not_supported_public_keys_as_bad_requests() {
        let private =
            br#"{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"00","private":"11"}}"#;
        let rsa = br#"{"keytype":"rsa","scheme":"rsassa-pss-sha256","keyval":{"public":"x"}}"#;
        let short = br#"{"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"00"}}"#;
        for bad in [&private[..], rsa, short, b"{\"keytype\"", b"\x00\xff"] {
            let err = parse_sslib_key(bad).expect_err("refused");
            assert!(matches!(err, Error::InvalidRequest(_)), "{err:?}");
            assert!(err.is_client_error());
            assert!(
                err.to_string()
                    .contains("not a securesystemslib public key"),
                "{err}"
            );
        }
    }

    #[test]
    fn malformed_envelopes_are_client_errors_with_a_reason() {
        use shinrai_envelope::dsse::Envelope;
        for (bytes, reason) in [
            (&b"{\"payloadType\":\"t\""[..], "truncated"),
            (b"not json", "not valid JSON"),
            (
                b"{\"payloadType\":\"t\",\"payload\":\"e30=\",\"signatures\":[]}",
                "no signatures",
            ),
            (
                b"{\"payloadType\":\"t\",\"payload\":\"%%\",\"signatures\":[{\"sig\":\"AA==\"}]}",
                "base64",
            ),
        ] {
            let err = Error::from(Envelope::parse(bytes).expect_err("malformed"));
            assert!(matches!(err, Error::Malformed(_)), "{err:?}");
            assert!(err.is_client_error());
            assert!(err.to_string().contains(reason), "{err}");
        }
        let big = vec![b' '; 200];
        let err = Error::from(Envelope::parse_with_limit(&big, 100).expect_err("too large"));
        assert!(
            matches!(
                err,
                Error::TooLarge {
                    size: 200,
                    max: 100
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn envelope_library_misuse_is_an_internal_error() {
        let err = Error::from(shinrai_envelope::Error::InvalidArgument(
            "threshold 0".into(),
        ));
        assert!(matches!(err, Error::Statement(_)));
        assert!(!err.is_client_error());
    }

    #[test]
    fn key_id_is_computed_not_taken_from_the_file() {
        let json = sslib_ed25519_key(&[7u8; 32]);
        let (id1, _) = parse_sslib_key(json.as_bytes()).expect("parse");
        let mut v: Value = serde_json::from_str(&json).expect("json");
        v["keyid"] = Value::String("forged".into());
        let (id2, _) = parse_sslib_key(v.to_string().as_bytes()).expect("parse");
        assert_eq!(id1, id2);
        assert_eq!(id1, hex::encode(sha256_of(json.as_bytes())));
        let legacy = serde_json::json!({"keyid": "forged", "keytype": "ed25519",
            "scheme": "ed25519", "keyid_hash_algorithms": ["sha256"],
            "keyval": {"public": hex::encode([7u8; 32])}});
        let (id3, _) = parse_sslib_key(legacy.to_string().as_bytes()).expect("parse");
        assert_ne!(id3, "forged");
    }
}
