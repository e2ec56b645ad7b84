//! Conformity verification: evidence envelopes + a verified order specification -> a VSA.
//!
//! Checks, each failure recorded with the evidence and value concerned (never an early exit,
//! so the result lists every reason):
//! 1. the specification has not expired (against the caller's clock);
//! 2. every evidence envelope is signed by a key of the specification, and by a key authorized
//!    for the step it claims (step records: the step's functionaries; events and inspection
//!    results: its devices or functionaries); its EPCIS event ids are their CBV 2.0 hashes and
//!    its purchase order is the specification's;
//! 3. every step has step records from `threshold` distinct functionaries, agreeing on
//!    materials and products (missing evidence is a failure, never a silent pass);
//! 4. the in-toto artifact rules of every step hold;
//! 5. every CEL rule evaluates to `true` on its step's evidence; a rule that reads `readings`
//!    fails when the step has none.
//!
//! Nothing here runs commands, reads files or looks at the clock.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use shinrai_envelope::Signer;
use shinrai_envelope::dsse::Envelope;
use shinrai_envelope::keys::SslibKey;
use shinrai_envelope::statement::{Statement, Subject, sign_statement, verify_statement_envelope};
use shinrai_evidence::epcis::Event;
use shinrai_evidence::step::{
    Artifact, EVENT_PREDICATE_TYPE, EventEvidence, INSPECTION_PREDICATE_TYPE, InspectionResult,
    LINK_PREDICATE_TYPE, StepRecord,
};

use crate::celrules;
use crate::rules::{ArtifactRule, ArtifactSet, StepArtifacts, verify_rules};
use crate::spec::{VerifiedSpec, format_expiry, sha256_hex};
use crate::vsa::{
    Failure, LEVEL_CONFORMANT, ResourceRef, VerificationResult, VsaPredicate, VsaVerifier,
};
use crate::{Error, Result};

/// One evidence envelope given to the verifier.
#[derive(Debug, Clone, Copy)]
pub struct EvidenceInput<'a> {
    /// Where the evidence is (a store entry URI); used to name it in the result.
    pub uri: &'a str,
    /// The DSSE envelope bytes exactly as received.
    pub envelope: &'a [u8],
}

/// Who verifies, when, and what.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The VSA `verifier.id`.
    pub verifier_id: String,
    /// Now, in Unix seconds (the caller's clock: this crate reads none).
    pub now_unix: i64,
    /// The VSA `resourceUri` (e.g. the lot verified).
    pub resource_uri: String,
    /// The VSA `policy.uri`; default `urn:shinrai:order-spec:<po>`.
    pub policy_uri: Option<String>,
    /// The VSA `dependencyLevels` (from the upstream tiers' VSAs).
    pub dependency_levels: BTreeMap<String, u64>,
}

/// The outcome of [`verify_conformity`]: the VSA predicate and the evidence that was used.
#[derive(Debug, Clone)]
pub struct ConformityReport {
    vsa: VsaPredicate,
    final_products: Vec<Artifact>,
}

impl ConformityReport {
    /// The VSA predicate.
    pub fn vsa(&self) -> &VsaPredicate {
        &self.vsa
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.vsa.passed()
    }

    /// The failed checks (empty when passed).
    pub fn failures(&self) -> &[Failure] {
        &self.vsa.failures
    }

    /// The products of the last step that has a step record: the default VSA subjects.
    pub fn final_products(&self) -> &[Artifact] {
        &self.final_products
    }

    /// The VSA as an in-toto statement about `subjects` (default: [`Self::final_products`]).
    pub fn to_statement(&self, subjects: Option<Vec<Subject>>) -> Result<Statement> {
        let subjects = match subjects {
            Some(s) => s,
            None => self
                .final_products
                .iter()
                .map(|a| Subject::new(&a.name, &a.sha256))
                .collect::<shinrai_envelope::Result<Vec<_>>>()?,
        };
        if subjects.is_empty() {
            return Err(Error::InvalidStatement(
                "the VSA needs a subject: no step produced anything; pass subjects".into(),
            ));
        }
        Ok(Statement::with_predicate(subjects, &self.vsa)?)
    }

    /// Signs the VSA statement (the verifier's key).
    pub fn sign(
        &self,
        subjects: Option<Vec<Subject>>,
        signers: &[&dyn Signer],
    ) -> Result<Envelope> {
        Ok(sign_statement(&self.to_statement(subjects)?, signers)?)
    }
}

#[derive(Default)]
struct StepEvidence {
    /// keyid -> (evidence uri, record); first record per functionary.
    records: BTreeMap<String, (String, StepRecord)>,
    events: Vec<(String, Event)>,
    inspections: Vec<(String, InspectionResult)>,
}

fn failure(
    check: &str,
    step: &str,
    evidence: Vec<String>,
    value: String,
    reason: String,
) -> Failure {
    Failure {
        check: check.to_owned(),
        step: step.to_owned(),
        evidence,
        value,
        reason,
    }
}

fn artifacts_map(list: &[Artifact]) -> BTreeMap<String, String> {
    list.iter()
        .map(|a| (a.name.clone(), a.sha256.clone()))
        .collect()
}

/// Verifies `evidence` against `spec` and returns the report. Never fails on bad evidence:
/// that is a FAILED verdict with reasons; errors are for caller mistakes only.
pub fn verify_conformity(
    spec: &VerifiedSpec,
    evidence: &[EvidenceInput<'_>],
    opts: &VerifyOptions,
) -> Result<ConformityReport> {
    let s = spec.spec();
    let mut failures = Vec::new();

    let expires = s.expires_unix()?;
    if opts.now_unix >= expires {
        failures.push(failure(
            "spec-expiry",
            "",
            Vec::new(),
            s.expires.clone(),
            format!(
                "the order specification expired at {} (verification time {})",
                s.expires,
                format_expiry(opts.now_unix).unwrap_or_default()
            ),
        ));
    }

    let all_keys: Vec<SslibKey> = s.keys.values().cloned().collect();
    let mut by_step: BTreeMap<String, StepEvidence> = BTreeMap::new();
    let mut inputs = Vec::new();
    let mut seen = BTreeSet::new();
    for ev in evidence {
        let uri = ev.uri.to_owned();
        // The same envelope given twice counts once (its readings must not be doubled).
        if !seen.insert(sha256_hex(ev.envelope)) {
            continue;
        }
        let reject = |failures: &mut Vec<Failure>, step: &str, reason: String| {
            failures.push(failure(
                "evidence",
                step,
                vec![uri.clone()],
                String::new(),
                reason,
            ));
        };
        let envelope = match Envelope::parse(ev.envelope) {
            Ok(e) => e,
            Err(e) => {
                reject(
                    &mut failures,
                    "",
                    format!("evidence {uri} is unreadable: {e}"),
                );
                continue;
            }
        };
        let verified = match verify_statement_envelope(&envelope, &all_keys, 1) {
            Ok(v) => v,
            Err(e) => {
                reject(
                    &mut failures,
                    "",
                    format!(
                        "evidence {uri} is not signed by a key of the order specification: {e}"
                    ),
                );
                continue;
            }
        };
        let signers: BTreeSet<String> = verified.signer_keyids().into_iter().collect();
        let st = verified.value();
        let (step_name, authorized_for) = match st.predicate_type.as_str() {
            LINK_PREDICATE_TYPE => match StepRecord::from_statement(st) {
                Ok(r) => (r.name.clone(), Claim::Record(r)),
                Err(e) => {
                    reject(&mut failures, "", format!("evidence {uri}: {e}"));
                    continue;
                }
            },
            EVENT_PREDICATE_TYPE => match EventEvidence::from_statement(st) {
                Ok(e) => (e.step.clone(), Claim::Event(Box::new(e.event))),
                Err(e) => {
                    reject(&mut failures, "", format!("evidence {uri}: {e}"));
                    continue;
                }
            },
            INSPECTION_PREDICATE_TYPE => match InspectionResult::from_statement(st) {
                Ok(i) => (i.step.clone(), Claim::Inspection(i)),
                Err(e) => {
                    reject(&mut failures, "", format!("evidence {uri}: {e}"));
                    continue;
                }
            },
            other => {
                reject(
                    &mut failures,
                    "",
                    format!(
                        "evidence {uri} has predicate type {other}, not evidence of an order step"
                    ),
                );
                continue;
            }
        };
        let Some(step) = s.step(&step_name) else {
            reject(
                &mut failures,
                &step_name,
                format!(
                    "evidence {uri} claims step {step_name:?}, which the order specification does not have"
                ),
            );
            continue;
        };
        let allowed: BTreeSet<&String> = match &authorized_for {
            Claim::Record(_) => step.pubkeys.iter().collect(),
            _ => step.pubkeys.iter().chain(&step.device_keys).collect(),
        };
        let authorized: Vec<&String> = signers.iter().filter(|k| allowed.contains(k)).collect();
        if authorized.is_empty() {
            reject(
                &mut failures,
                &step_name,
                format!(
                    "evidence {uri} for step {step_name:?} is signed by {}, not a key authorized for that step",
                    signers.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
            continue;
        }
        inputs.push(ResourceRef::sha256(&uri, &sha256_hex(ev.envelope)));
        let entry = by_step.entry(step_name.clone()).or_default();
        match authorized_for {
            Claim::Record(r) => {
                for k in authorized {
                    entry
                        .records
                        .entry(k.clone())
                        .or_insert_with(|| (uri.clone(), r.clone()));
                }
            }
            Claim::Event(e) => {
                if let Some(po) = e.purchase_order() {
                    let want = &s.parameters.po_number;
                    if po != want.as_str() && !po.ends_with(&format!(":{want}")) {
                        failures.push(failure(
                            "po",
                            &step_name,
                            vec![e.event_id.clone().unwrap_or_default()],
                            po.to_owned(),
                            format!("event belongs to purchase order {po}, not {want}"),
                        ));
                    }
                }
                entry.events.push((uri.clone(), *e));
            }
            Claim::Inspection(i) => entry.inspections.push((uri.clone(), i)),
        }
    }

    // Steps: thresholds and agreement; one record per step for the artifact rules.
    let mut reduced: BTreeMap<String, StepArtifacts> = BTreeMap::new();
    let mut final_products = Vec::new();
    for step in &s.steps {
        let ev = by_step.get(&step.name);
        let records = ev.map(|e| &e.records);
        let n = records.map_or(0, BTreeMap::len);
        if n == 0 {
            failures.push(failure(
                "step",
                &step.name,
                Vec::new(),
                String::new(),
                format!(
                    "missing evidence: no step record for step {:?} signed by its functionaries",
                    step.name
                ),
            ));
            continue;
        }
        let records = records
            .map(|r| r.values().collect::<Vec<_>>())
            .unwrap_or_default();
        if n < step.threshold {
            failures.push(failure(
                "threshold",
                &step.name,
                records.iter().map(|(u, _)| u.clone()).collect(),
                format!("{n} of {}", step.threshold),
                format!(
                    "step {:?} needs step records from {} functionaries; {n} signed",
                    step.name, step.threshold
                ),
            ));
        }
        let (first_uri, first) = records[0];
        for (uri, r) in &records[1..] {
            if artifacts_map(&r.materials) != artifacts_map(&first.materials)
                || artifacts_map(&r.products) != artifacts_map(&first.products)
            {
                failures.push(failure(
                    "threshold",
                    &step.name,
                    vec![first_uri.clone(), uri.clone()],
                    String::new(),
                    format!(
                        "step records of step {:?} disagree on materials or products",
                        step.name
                    ),
                ));
            }
        }
        final_products = first.products.clone();
        reduced.insert(
            step.name.clone(),
            StepArtifacts {
                materials: artifacts_map(&first.materials),
                products: artifacts_map(&first.products),
            },
        );
    }

    // Artifact rules.
    for step in &s.steps {
        if !reduced.contains_key(&step.name) {
            continue;
        }
        for (set, words) in [
            (ArtifactSet::Materials, &step.expected_materials),
            (ArtifactSet::Products, &step.expected_products),
        ] {
            let rules = words
                .iter()
                .map(|w| ArtifactRule::parse(w))
                .collect::<Result<Vec<_>>>()?;
            if let Err(reason) = verify_rules(&step.name, set, &rules, &reduced) {
                let uri = by_step
                    .get(&step.name)
                    .and_then(|e| e.records.values().next())
                    .map(|(u, _)| u.clone());
                failures.push(failure(
                    "artifact-rules",
                    &step.name,
                    uri.into_iter().collect(),
                    String::new(),
                    reason,
                ));
            }
        }
    }

    // CEL rules.
    let empty = StepEvidence::default();
    // Compile every rule once; bind each step's variables once for all its rules.
    let programs = spec.programs();
    let mut step_vars: BTreeMap<&str, StepVars> = BTreeMap::new();
    for (rule, compiled) in s.rules.iter().zip(programs) {
        let ev = by_step.get(&rule.step).unwrap_or(&empty);
        let check = format!("rule:{}", rule.name);
        let (readings, vars, activation) =
            step_vars.entry(rule.step.as_str()).or_insert_with(|| {
                let needed: BTreeSet<&str> = s
                    .rules
                    .iter()
                    .zip(programs)
                    .filter(|(r, _)| r.step == rule.step)
                    .flat_map(|(_, c)| {
                        [
                            "readings",
                            "events",
                            "inspections",
                            "materials",
                            "products",
                            "params",
                            "step",
                        ]
                        .into_iter()
                        .filter(|n| c.reads(n))
                    })
                    .collect();
                let readings = readings_of(&ev.events);
                let mut vars = rule_vars(
                    s,
                    &rule.step,
                    ev,
                    reduced.get(&rule.step),
                    needed.contains("events"),
                );
                vars.insert("readings".into(), Value::Array(readings.clone()));
                let activation = celrules::Activation::new(&vars, |n| needed.contains(n));
                (readings, vars, activation)
            });
        let event_ids: Vec<String> = ev
            .events
            .iter()
            .map(|(_, e)| e.event_id.clone().unwrap_or_default())
            .collect();
        if compiled.reads_readings() && readings.is_empty() {
            failures.push(failure(
                &check,
                &rule.step,
                Vec::new(),
                String::new(),
                format!("missing evidence: rule {:?} reads sensor readings and step {:?} has none from an authorized device", rule.name, rule.step),
            ));
            continue;
        }
        match celrules::evaluate_in(compiled, activation) {
            Ok(true) => {}
            outcome => {
                let (culprits, value) = culprits(compiled, vars, readings);
                let why = match outcome {
                    Err(e) => e,
                    _ => "evaluated to false".to_owned(),
                };
                failures.push(failure(
                    &check,
                    &rule.step,
                    if culprits.is_empty() {
                        event_ids
                    } else {
                        culprits
                    },
                    value,
                    format!("rule {:?} ({}) {why}", rule.name, rule.expr),
                ));
            }
        }
    }

    let passed = failures.is_empty();
    let po = &s.parameters.po_number;
    let vsa = VsaPredicate {
        verifier: VsaVerifier {
            id: opts.verifier_id.clone(),
            version: BTreeMap::from([(
                "shinrai-conformity".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            )]),
        },
        time_verified: format_expiry(opts.now_unix)?,
        resource_uri: opts.resource_uri.clone(),
        policy: ResourceRef::sha256(
            opts.policy_uri
                .as_deref()
                .unwrap_or(&format!("urn:shinrai:order-spec:{po}")),
            spec.envelope_sha256(),
        ),
        input_attestations: inputs,
        verification_result: if passed {
            VerificationResult::Passed
        } else {
            VerificationResult::Failed
        },
        verified_levels: if passed {
            vec![LEVEL_CONFORMANT.to_owned()]
        } else {
            Vec::new()
        },
        dependency_levels: opts.dependency_levels.clone(),
        failures,
    };
    Ok(ConformityReport {
        vsa,
        final_products,
    })
}

/// A step's CEL inputs: the readings, all variables as JSON, and the bound activation.
type StepVars = (Vec<Value>, BTreeMap<String, Value>, celrules::Activation);

enum Claim {
    Record(StepRecord),
    Event(Box<Event>),
    Inspection(InspectionResult),
}

/// The `readings` variable: one map per sensor report of the step's authorized events.
pub fn readings_of(events: &[(String, Event)]) -> Vec<Value> {
    let mut out = Vec::new();
    for (_, e) in events {
        for (meta, r) in e.readings() {
            let mut m = serde_json::Map::new();
            m.insert("type".into(), r.kind.clone().into());
            let num = |v: Option<f64>| v.and_then(serde_json::Number::from_f64).map(Value::Number);
            for (k, v) in [
                ("value", r.value),
                ("minValue", r.min_value),
                ("maxValue", r.max_value),
                ("meanValue", r.mean_value),
            ] {
                if let Some(n) = num(v) {
                    m.insert(k.into(), n);
                }
            }
            if let Some(u) = &r.uom {
                m.insert("uom".into(), u.clone().into());
            }
            if let Some(s) = &r.string_value {
                m.insert("stringValue".into(), s.clone().into());
            }
            if let Some(b) = r.boolean_value {
                m.insert("booleanValue".into(), b.into());
            }
            let device = r
                .device_id
                .as_ref()
                .or(meta.and_then(|m| m.device_id.as_ref()));
            if let Some(d) = device {
                m.insert("device".into(), d.clone().into());
            }
            let time = r.time.or(meta.and_then(|m| m.time));
            if let Some(t) = time {
                m.insert("time".into(), t.to_string().into());
            }
            m.insert(
                "event".into(),
                e.event_id.clone().unwrap_or_default().into(),
            );
            out.push(Value::Object(m));
        }
    }
    out
}

fn rule_vars(
    s: &crate::spec::OrderSpec,
    step: &str,
    ev: &StepEvidence,
    artifacts: Option<&StepArtifacts>,
    with_events: bool,
) -> BTreeMap<String, Value> {
    let mut params = serde_json::Map::new();
    params.insert("po".into(), s.parameters.po_number.clone().into());
    params.insert("lot".into(), s.parameters.lot.clone().into());
    for (k, v) in &s.parameters.extra {
        params.insert(k.clone(), v.clone().into());
    }
    let events: Vec<Value> = ev
        .events
        .iter()
        .filter(|_| with_events)
        .map(|(_, e)| serde_json::from_slice(&e.to_json_bytes()).unwrap_or(Value::Null))
        .collect();
    let inspections: Vec<Value> = ev
        .inspections
        .iter()
        .map(|(_, i)| json!({"inspection": i.inspection, "passed": i.passed, "measurements": i.measurements}))
        .collect();
    let (materials, products) = artifacts
        .map(|a| (json!(a.materials), json!(a.products)))
        .unwrap_or((json!({}), json!({})));
    BTreeMap::from([
        ("params".to_owned(), Value::Object(params)),
        ("step".to_owned(), Value::String(step.to_owned())),
        ("events".to_owned(), Value::Array(events)),
        ("inspections".to_owned(), Value::Array(inspections)),
        ("materials".to_owned(), materials),
        ("products".to_owned(), products),
    ])
}

/// The readings that fail the rule on their own (event ids, and their values).
fn culprits(
    compiled: &celrules::Compiled,
    vars: &BTreeMap<String, Value>,
    readings: &[Value],
) -> (Vec<String>, String) {
    if !compiled.reads_readings() {
        return (Vec::new(), String::new());
    }
    let mut events = BTreeSet::new();
    let mut values = Vec::new();
    let mut one = vars.clone();
    for r in readings {
        one.insert("readings".into(), Value::Array(vec![r.clone()]));
        if celrules::evaluate(compiled, &one) != Ok(true) {
            events.insert(r["event"].as_str().unwrap_or_default().to_owned());
            let v = r
                .get("value")
                .map(Value::to_string)
                .or_else(|| r.get("booleanValue").map(Value::to_string))
                .unwrap_or_else(|| "?".into());
            let uom = r.get("uom").and_then(Value::as_str).unwrap_or("");
            values.push(format!(
                "{}={v}{}{uom}",
                r["type"].as_str().unwrap_or("?"),
                if uom.is_empty() { "" } else { " " }
            ));
        }
    }
    if values.is_empty() {
        return (
            Vec::new(),
            format!("{} readings, none failing the rule alone", readings.len()),
        );
    }
    (events.into_iter().collect(), values.join(", "))
}
