//! Evidence of production steps as in-toto Statement v1 predicates.
//!
//! - [`StepRecord`]: what a step consumed and produced (in-toto link predicate v0.3: `name`,
//!   `command`, `materials`, `byproducts`, `environment`; the products are the statement's
//!   subjects). Signed by the step's functionary (an organisation or a production device).
//! - [`EventEvidence`]: an EPCIS event (with sensor readings) recorded for a step, signed by the
//!   device that measured; the subject is the event, named by its CBV 2.0 event id with the
//!   hash's SHA-256 as digest.
//! - [`InspectionResult`]: the outcome of an inspection of a product at a step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shinrai_envelope::statement::{Predicate, Statement, Subject};

use crate::epcis::Event;
use crate::{Error, Result};

/// Predicate type of [`StepRecord`] (in-toto link predicate).
pub const LINK_PREDICATE_TYPE: &str = "https://in-toto.io/attestation/link/v0.3";
/// Predicate type of [`EventEvidence`].
pub const EVENT_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/epcis-event/v1";
/// Predicate type of [`InspectionResult`].
pub const INSPECTION_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/inspection/v1";

/// An artifact a step consumed or produced: a name and its SHA-256 (lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Artifact {
    /// The artifact's name, e.g. `lot/L-2026-07` or a Digital Link URI.
    pub name: String,
    /// Its SHA-256 in lowercase hex.
    pub sha256: String,
}

impl Artifact {
    /// An artifact named `name` whose content is `content` (hashed here).
    pub fn for_content(name: &str, content: &[u8]) -> Self {
        let s = Subject::for_content(name, content);
        Artifact {
            name: name.to_owned(),
            sha256: s.sha256().unwrap_or_default().to_owned(),
        }
    }

    fn to_descriptor(&self) -> Value {
        serde_json::json!({"name": self.name, "digest": {"sha256": self.sha256}})
    }
}

/// A step record: one run of a production step by one functionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    /// The step's name as the order specification names it (e.g. `fasten`).
    pub name: String,
    /// The command run, if a command made sense (usually empty in manufacturing).
    pub command: Vec<String>,
    /// What the step consumed.
    pub materials: Vec<Artifact>,
    /// What the step produced (the statement's subjects; at least one).
    pub products: Vec<Artifact>,
    /// Other results, e.g. `{"return-value": 0}`; no floats if the record is exported to
    /// in-toto v1.0 (its canonical JSON refuses them).
    pub byproducts: BTreeMap<String, Value>,
    /// Where it ran, e.g. `{"line": "3", "station": "7"}`.
    pub environment: BTreeMap<String, Value>,
}

#[derive(Serialize, Deserialize)]
struct WireLink {
    name: String,
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    materials: Vec<WireDescriptor>,
    #[serde(default)]
    byproducts: BTreeMap<String, Value>,
    #[serde(default)]
    environment: BTreeMap<String, Value>,
}

#[derive(Serialize, Deserialize)]
struct WireDescriptor {
    #[serde(default)]
    name: String,
    digest: BTreeMap<String, String>,
}

fn descriptor_artifact(d: WireDescriptor, what: &str) -> Result<Artifact> {
    let sha = d.digest.get("sha256").cloned().ok_or_else(|| {
        Error::InvalidStatement(format!("{what} {:?} has no sha256 digest", d.name))
    })?;
    Ok(Artifact {
        name: d.name,
        sha256: sha,
    })
}

impl StepRecord {
    /// A record of step `name` that turned `materials` into `products`.
    pub fn new(name: &str, materials: Vec<Artifact>, products: Vec<Artifact>) -> Self {
        StepRecord {
            name: name.to_owned(),
            command: Vec::new(),
            materials,
            products,
            byproducts: BTreeMap::new(),
            environment: BTreeMap::new(),
        }
    }

    /// The record as an in-toto Statement v1 with the link v0.3 predicate.
    pub fn to_statement(&self) -> Result<Statement> {
        let subjects = self
            .products
            .iter()
            .map(|p| Subject::new(&p.name, &p.sha256))
            .collect::<shinrai_envelope::Result<Vec<_>>>()?;
        let predicate = serde_json::json!({
            "name": self.name,
            "command": self.command,
            "materials": self.materials.iter().map(Artifact::to_descriptor).collect::<Vec<_>>(),
            "byproducts": self.byproducts,
            "environment": self.environment,
        });
        Ok(Statement::new(subjects, LINK_PREDICATE_TYPE, predicate)?)
    }

    /// Reads a record from a (verified) statement with the link v0.3 predicate.
    pub fn from_statement(st: &Statement) -> Result<Self> {
        if st.predicate_type != LINK_PREDICATE_TYPE {
            return Err(Error::InvalidStatement(format!(
                "predicate type {:?} is not a step record ({LINK_PREDICATE_TYPE})",
                st.predicate_type
            )));
        }
        let w: WireLink = serde_json::from_value(st.predicate.clone())
            .map_err(|e| Error::InvalidStatement(format!("link predicate: {e}")))?;
        let materials = w
            .materials
            .into_iter()
            .map(|d| descriptor_artifact(d, "material"))
            .collect::<Result<Vec<_>>>()?;
        let products = st
            .subject
            .iter()
            .map(|s| Artifact {
                name: s.name.clone(),
                sha256: s.sha256().unwrap_or_default().to_owned(),
            })
            .collect();
        Ok(StepRecord {
            name: w.name,
            command: w.command,
            materials,
            products,
            byproducts: w.byproducts,
            environment: w.environment,
        })
    }
}

/// An EPCIS event recorded as evidence of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEvidence {
    /// The step of the order specification this event belongs to.
    pub step: String,
    /// The event, with its `eventID` set.
    pub event: Event,
}

impl Predicate for EventEvidence {
    const PREDICATE_TYPE: &'static str = EVENT_PREDICATE_TYPE;
}

impl EventEvidence {
    /// Evidence that `event` happened in step `step`; assigns the event's CBV 2.0 id.
    pub fn new(step: &str, mut event: Event) -> Result<Self> {
        event.assign_id()?;
        Ok(EventEvidence {
            step: step.to_owned(),
            event,
        })
    }

    /// The statement: subject = the event (name = event id, digest = the hash's SHA-256).
    pub fn to_statement(&self) -> Result<Statement> {
        let id = crate::hash::event_hash(&self.event)?;
        let sha = crate::hash::event_id_sha256(&id).unwrap_or_default();
        let subject = Subject::new(&id, sha)?;
        Ok(Statement::with_predicate(vec![subject], self)?)
    }

    /// Reads the evidence from a (verified) statement, re-validates the event and checks that
    /// its `eventID` and the statement's subject both equal the recomputed CBV 2.0 hash.
    pub fn from_statement(st: &Statement) -> Result<Self> {
        let ev: EventEvidence = st.predicate_as().map_err(|e| match e {
            shinrai_envelope::Error::WrongPredicateType { .. } => {
                Error::InvalidStatement(e.to_string())
            }
            other => Error::InvalidStatement(other.to_string()),
        })?;
        ev.event.validate()?;
        let id = crate::hash::event_hash(&ev.event)?;
        if ev.event.event_id.as_deref() != Some(id.as_str()) {
            return Err(Error::InvalidStatement(format!(
                "eventID {:?} is not the event's CBV 2.0 hash {id}",
                ev.event.event_id
            )));
        }
        let sha = crate::hash::event_id_sha256(&id).unwrap_or_default();
        if !st.subject.iter().any(|s| s.sha256() == Some(sha)) {
            return Err(Error::InvalidStatement(format!(
                "no statement subject names event {id}"
            )));
        }
        Ok(ev)
    }
}

/// The outcome of an inspection (visual, dimensional, leak test...) of a product at a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectionResult {
    /// The step of the order specification the inspection belongs to.
    pub step: String,
    /// What was inspected for, e.g. `leak-test`.
    pub inspection: String,
    /// Whether the product passed.
    pub passed: bool,
    /// Measured values by name (e.g. `{"leak_rate_mbar_l_s": 0.002}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub measurements: BTreeMap<String, f64>,
    /// Free text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
}

impl Predicate for InspectionResult {
    const PREDICATE_TYPE: &'static str = INSPECTION_PREDICATE_TYPE;
}

impl InspectionResult {
    /// The statement about the inspected `product`.
    pub fn to_statement(&self, product: &Artifact) -> Result<Statement> {
        let subject = Subject::new(&product.name, &product.sha256)?;
        Ok(Statement::with_predicate(vec![subject], self)?)
    }

    /// Reads the result from a (verified) statement.
    pub fn from_statement(st: &Statement) -> Result<Self> {
        st.predicate_as()
            .map_err(|e| Error::InvalidStatement(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::epcis::{EventType, SensorElement, SensorReport, Timestamp};

    #[test]
    fn step_record_roundtrips_through_a_statement() {
        let mut r = StepRecord::new(
            "fasten",
            vec![Artifact::for_content("bracket", b"b")],
            vec![Artifact::for_content("assembly", b"a")],
        );
        r.byproducts.insert("return-value".into(), 0.into());
        let st = r.to_statement().expect("statement");
        assert_eq!(st.subject[0].name, "assembly");
        assert_eq!(StepRecord::from_statement(&st).expect("back"), r);
    }

    #[test]
    fn event_evidence_rejects_an_event_whose_id_is_not_its_hash() {
        let t = Timestamp::parse("2026-03-01T10:00:00Z").expect("t");
        let mut e = Event::new(EventType::ObjectEvent, t);
        e.epc_list
            .push("https://id.gs1.org/01/04012345000009/21/7".into());
        e.sensor_element_list.push(SensorElement::new(
            "urn:dev:1",
            t,
            vec![SensorReport::torque_nm(22.0)],
        ));
        let ev = EventEvidence::new("fasten", e).expect("evidence");
        let st = ev.to_statement().expect("statement");
        assert_eq!(EventEvidence::from_statement(&st).expect("ok"), ev);
        let mut tampered = st.clone();
        let reading =
            &mut tampered.predicate["event"]["sensorElementList"][0]["sensorReport"][0]["value"];
        *reading = serde_json::json!(30.0);
        assert!(matches!(
            EventEvidence::from_statement(&tampered),
            Err(Error::InvalidStatement(_))
        ));
    }
}
