//! Export to in-toto v1.0 (what Python `in-toto` 3.1 `in-toto-verify` reads): the order
//! specification as a signed layout, step records as signed links, both in a Metablock.
//!
//! Signatures are over the OLPC canonical JSON of `signed`, which has no floats: step records
//! exported here must carry sensor values as strings ([`readings_byproducts`]). Only the
//! in-toto part of a specification is exported (steps, functionaries, thresholds, expiry,
//! artifact rules); CEL rules and device keys are Shinrai's and stay out.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use shinrai_envelope::Signer;
use shinrai_envelope::keys::{SslibKey, canonical_json};
use shinrai_evidence::epcis::Event;
use shinrai_evidence::step::{Artifact, StepRecord};

use crate::spec::OrderSpec;
use crate::{Error, Result};

fn key_value(k: &SslibKey) -> Result<Value> {
    let mut v: Value = serde_json::from_slice(&k.to_json_bytes())
        .map_err(|e| Error::InvalidSpec(format!("key {} does not serialize: {e}", k.keyid())))?;
    if let Value::Object(m) = &mut v {
        m.insert("keyid".into(), k.keyid().into());
    }
    Ok(v)
}

fn artifacts(list: &[Artifact]) -> Value {
    let m: Map<String, Value> = list
        .iter()
        .map(|a| (a.name.clone(), json!({"sha256": a.sha256})))
        .collect();
    Value::Object(m)
}

/// The `signed` part of the in-toto v1.0 layout for `spec`: exactly the fields Python in-toto
/// re-serializes (`_type`, `expires`, `inspect`, `keys`, `readme`, `steps`), so signatures agree.
pub fn layout_signed(spec: &OrderSpec) -> Result<Value> {
    spec.validate()?;
    let mut keys = Map::new();
    for (id, k) in &spec.keys {
        keys.insert(id.clone(), key_value(k)?);
    }
    let steps: Vec<Value> = spec
        .steps
        .iter()
        .map(|s| {
            json!({
                "_type": "step",
                "name": s.name,
                "expected_materials": s.expected_materials,
                "expected_products": s.expected_products,
                "pubkeys": s.pubkeys,
                "expected_command": Vec::<String>::new(),
                "threshold": s.threshold,
            })
        })
        .collect();
    Ok(json!({
        "_type": "layout",
        "expires": spec.expires,
        "inspect": [],
        "keys": keys,
        "readme": spec.name,
        "steps": steps,
    }))
}

/// The `signed` part of the in-toto v1.0 link for `record`.
pub fn link_signed(record: &StepRecord) -> Value {
    json!({
        "_type": "link",
        "name": record.name,
        "materials": artifacts(&record.materials),
        "products": artifacts(&record.products),
        "byproducts": record.byproducts,
        "command": record.command,
        "environment": record.environment,
    })
}

/// A Metablock `{"signatures": [...], "signed": signed}` signed by `signers` over the
/// canonical JSON of `signed` (hex signatures; ECDSA in DER, as securesystemslib writes them).
pub fn metablock(signed: &Value, signers: &[&dyn Signer]) -> Result<Vec<u8>> {
    let message = canonical_json(signed)?;
    let mut signatures = Vec::with_capacity(signers.len());
    for s in signers {
        let sig = s.sign(&message)?;
        signatures.push(json!({"keyid": s.keyid()?, "sig": hex::encode(sig.to_der())}));
    }
    let mb = json!({"signatures": signatures, "signed": signed});
    serde_json::to_vec_pretty(&mb).map_err(|e| Error::InvalidSpec(format!("metablock: {e}")))
}

/// The specification as a signed in-toto v1.0 layout (`root.layout`).
pub fn layout_metablock(spec: &OrderSpec, signers: &[&dyn Signer]) -> Result<Vec<u8>> {
    metablock(&layout_signed(spec)?, signers)
}

/// The step record as a signed in-toto v1.0 link, with its file name
/// `<step>.<first 8 hex of keyid>.link`.
pub fn link_metablock(record: &StepRecord, signer: &dyn Signer) -> Result<(String, Vec<u8>)> {
    let keyid = signer.keyid()?;
    let name = format!("{}.{}.link", record.name, keyid.get(..8).unwrap_or(&keyid));
    Ok((name, metablock(&link_signed(record), &[signer])?))
}

/// Sensor readings of `events` as a float-free byproduct value: a list of
/// `{"type", "value", "uom", "event"}` with the value as a decimal string.
pub fn readings_byproducts(events: &[Event]) -> Value {
    let mut out = Vec::new();
    for e in events {
        for (_, r) in e.readings() {
            let mut m = BTreeMap::new();
            m.insert("type", Value::String(r.kind.clone()));
            if let Some(v) = r.value {
                m.insert("value", Value::String(format!("{v}")));
            }
            if let Some(u) = &r.uom {
                m.insert("uom", Value::String(u.clone()));
            }
            m.insert(
                "event",
                Value::String(e.event_id.clone().unwrap_or_default()),
            );
            out.push(json!(m));
        }
    }
    Value::Array(out)
}
