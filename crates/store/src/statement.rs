//! Signed statements as the store sees them: DSSE envelopes around in-toto Statements v1,
//! organisation keys in the securesystemslib JSON format, and what the index extracts from a
//! statement (subjects, predicate type, traceability edges).
//!
//! Signatures are always checked over the bytes received (the DSSE PAE of the base64-decoded
//! payload), never over a re-serialisation. Pure functions: no IO.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shinrai_scu::{Algorithm, PublicKey};

use crate::merkle::sha256_of;
use crate::{Error, Result};

/// The DSSE payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto Statement v1 `_type`.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";

/// A DSSE envelope, decoded but not yet verified.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// `payloadType`.
    pub payload_type: String,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    /// `(keyid, signature bytes)` pairs.
    pub signatures: Vec<(String, Vec<u8>)>,
}

#[derive(Deserialize)]
struct RawEnvelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<RawSig>,
}

#[derive(Deserialize)]
struct RawSig {
    #[serde(default)]
    keyid: String,
    sig: String,
}

impl Envelope {
    /// Parses a DSSE envelope in its JSON form.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let raw: RawEnvelope = serde_json::from_slice(bytes)
            .map_err(|e| Error::Malformed(format!("not a DSSE envelope: {e}")))?;
        let payload = B64
            .decode(raw.payload.as_bytes())
            .map_err(|_| Error::Malformed("payload is not standard base64".into()))?;
        if raw.signatures.is_empty() {
            return Err(Error::Malformed("envelope has no signatures".into()));
        }
        let mut signatures = Vec::with_capacity(raw.signatures.len());
        for s in raw.signatures {
            let sig = B64
                .decode(s.sig.as_bytes())
                .map_err(|_| Error::Malformed("signature is not standard base64".into()))?;
            signatures.push((s.keyid, sig));
        }
        Ok(Envelope {
            payload_type: raw.payload_type,
            payload,
            signatures,
        })
    }

    /// The DSSE pre-authentication encoding that signatures cover.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

/// DSSE v1 pre-authentication encoding: `DSSEv1 SP len(type) SP type SP len(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

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

const P256_SPKI_PREFIX: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";

/// Parses a public key in the securesystemslib JSON format (`keytype`, `scheme`,
/// `keyval.public`): Ed25519 (hex) or ECDSA P-256 (PEM SubjectPublicKeyInfo). Returns the key id
/// (computed, never trusted from the file) and the key.
pub fn parse_sslib_key(json: &[u8]) -> Result<(String, PublicKey)> {
    let bad =
        |why: String| Error::InvalidRequest(format!("not a securesystemslib public key: {why}"));
    let mut v: Value = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| bad("not a JSON object".into()))?;
    obj.remove("keyid");
    if let Some(Value::Object(kv)) = obj.get_mut("keyval") {
        kv.remove("private");
    }
    let keytype = obj
        .get("keytype")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let public = obj
        .get("keyval")
        .and_then(|k| k.get("public"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no keyval.public".into()))?;
    let key = match keytype {
        "ed25519" => {
            let raw = hex::decode(public).map_err(|_| bad("ed25519 key is not hex".into()))?;
            PublicKey::from_bytes(Algorithm::Ed25519, &raw).map_err(|e| bad(e.to_string()))?
        }
        "ecdsa" | "ecdsa-sha2-nistp256" => {
            let body: String = public.lines().filter(|l| !l.starts_with("-----")).collect();
            let der = B64
                .decode(body.trim())
                .map_err(|_| bad("ecdsa key is not PEM".into()))?;
            let hexder = hex::encode(&der);
            if der.len() != 91 || !hexder.starts_with(P256_SPKI_PREFIX) {
                return Err(bad(
                    "only P-256 SubjectPublicKeyInfo keys are supported".into()
                ));
            }
            PublicKey::from_bytes(Algorithm::EcdsaP256, &der[26..])
                .map_err(|e| bad(e.to_string()))?
        }
        other => return Err(bad(format!("unsupported keytype {other:?}"))),
    };
    let keyid = hex::encode(sha256_of(canonical_json(&v).as_bytes()));
    Ok((keyid, key))
}

/// Writes a securesystemslib JSON key for an Ed25519 public key (tests and `shinrai` tooling).
pub fn sslib_ed25519_key(public: &[u8]) -> String {
    let v = serde_json::json!({
        "keytype": "ed25519",
        "scheme": "ed25519",
        "keyval": {"public": hex::encode(public)}
    });
    canonical_json(&v)
}

/// OLPC canonical JSON as securesystemslib computes key ids with: sorted keys, no whitespace,
/// only `"` and `\` escaped.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(&Value::String((*k).clone()), out);
                out.push(':');
                write_canonical(&o[k.as_str()], out);
            }
            out.push('}');
        }
    }
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

    #[test]
    fn key_id_is_computed_not_taken_from_the_file() {
        let json = sslib_ed25519_key(&[7u8; 32]);
        let (id1, _) = parse_sslib_key(json.as_bytes()).expect("parse");
        let mut v: Value = serde_json::from_str(&json).expect("json");
        v["keyid"] = Value::String("forged".into());
        let (id2, _) = parse_sslib_key(v.to_string().as_bytes()).expect("parse");
        assert_eq!(id1, id2);
        assert_eq!(id1, hex::encode(sha256_of(json.as_bytes())));
    }
}
