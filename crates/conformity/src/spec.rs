//! Order specifications: what the ordering party requires, signed by it.
//!
//! An [`OrderSpec`] has in-toto layout v1.0 semantics (steps, the keys allowed to perform each,
//! thresholds, an expiry, artifact rules chaining each step's inputs to earlier outputs; no
//! inspections: verification never runs commands) plus CEL attribute rules on evidence values
//! ([`AttributeRule`]) and per-order parameters ([`OrderParameters`]). It travels as an in-toto
//! Statement v1 with predicate type [`SPEC_PREDICATE_TYPE`] in a DSSE envelope signed by the
//! ordering party; [`verify_spec`] returns a [`VerifiedSpec`], the only form the conformity
//! verifier accepts.

use std::collections::{BTreeMap, BTreeSet};

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};
use shinrai_envelope::Signer;
use shinrai_envelope::dsse::Envelope;
use shinrai_envelope::keys::SslibKey;
use shinrai_envelope::statement::{
    Predicate, Statement, Subject, sign_statement, verify_statement,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::rules::ArtifactRule;
use crate::{Error, Result};

/// Predicate type of an order specification statement.
pub const SPEC_PREDICATE_TYPE: &str = "https://shinrai.dev/attestation/order-spec/v1";
/// Longest CEL expression accepted (bounds parsing work on untrusted specs).
pub const MAX_EXPR_BYTES: usize = 4096;

/// Per-order parameters, visible to CEL rules as `params`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderParameters {
    /// Purchase order number (`params.po`); EPCIS events with a `po` business transaction
    /// must name it (as `urn:...:<po>` ending in it).
    pub po_number: String,
    /// Lot the order is for (`params.lot`), may be empty.
    #[serde(default)]
    pub lot: String,
    /// More parameters (`params.<name>`), strings only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// One step of the specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecStep {
    /// Unique step name (also the in-toto link name).
    pub name: String,
    /// Keyids allowed to sign step records (in-toto functionaries).
    pub pubkeys: Vec<String>,
    /// How many distinct `pubkeys` must have signed agreeing step records.
    pub threshold: usize,
    /// Keyids of devices allowed to sign sensor events and inspection results for this step
    /// (in addition to `pubkeys`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_keys: Vec<String>,
    /// Rules over the step's materials, in layout form.
    #[serde(default)]
    pub expected_materials: Vec<Vec<String>>,
    /// Rules over the step's products, in layout form.
    #[serde(default)]
    pub expected_products: Vec<Vec<String>>,
}

impl SpecStep {
    /// A step `name` performed by `pubkeys` with threshold 1 and no artifact rules.
    pub fn new(name: &str, pubkeys: Vec<String>) -> Self {
        SpecStep {
            name: name.to_owned(),
            pubkeys,
            threshold: 1,
            device_keys: Vec::new(),
            expected_materials: Vec::new(),
            expected_products: Vec::new(),
        }
    }
}

/// A CEL rule over the evidence of one step; it must evaluate to `true`.
///
/// Variables: `readings` (list of `{type, value, uom, device, time, event, ...}` maps, one per
/// sensor report of the step's authorized events; keys absent when the report has no such
/// field), `events` (the EPCIS events as JSON maps), `inspections` (list of
/// `{inspection, passed, measurements}`), `materials` and `products` (name -> sha256 of the
/// step record), `params` (`po`, `lot` and the extra parameters), `step` (its name).
/// A rule that reads `readings` FAILS when the step has no readings: `all()` over nothing is
/// never a silent pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeRule {
    /// Short unique name, e.g. `torque-in-range`.
    pub name: String,
    /// The step whose evidence the rule reads.
    pub step: String,
    /// The CEL expression.
    pub expr: String,
    /// What the rule means, for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// An order specification (the predicate of the signed statement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSpec {
    /// Human-readable name (the in-toto layout `readme`).
    pub name: String,
    /// When the specification stops being valid, RFC 3339 UTC at second precision
    /// (`2027-01-01T00:00:00Z`, the in-toto form).
    pub expires: String,
    /// Per-order parameters.
    pub parameters: OrderParameters,
    /// Every key the steps name, by keyid.
    pub keys: BTreeMap<String, SslibKey>,
    /// The steps, in production order.
    pub steps: Vec<SpecStep>,
    /// CEL rules on evidence values.
    #[serde(default)]
    pub rules: Vec<AttributeRule>,
}

impl Predicate for OrderSpec {
    const PREDICATE_TYPE: &'static str = SPEC_PREDICATE_TYPE;
}

/// Formats a Unix time as the in-toto expiry form `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_expiry(unix_secs: i64) -> Result<String> {
    let t = OffsetDateTime::from_unix_timestamp(unix_secs)
        .map_err(|e| Error::InvalidTime(e.to_string()))?;
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// Reads an RFC 3339 time as Unix seconds.
pub fn parse_time(s: &str) -> Result<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| Error::InvalidTime(format!("{s:?}: {e}")))
}

impl OrderSpec {
    /// Adds `key` to [`OrderSpec::keys`] and returns its keyid.
    pub fn add_key(&mut self, key: &SslibKey) -> String {
        let id = key.keyid();
        self.keys.insert(id.clone(), key.clone());
        id
    }

    /// The step named `name`.
    pub fn step(&self, name: &str) -> Option<&SpecStep> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Expiry as Unix seconds.
    pub fn expires_unix(&self) -> Result<i64> {
        parse_time(&self.expires)
    }

    /// Checks the specification is well formed: unique step and rule names, thresholds between
    /// 1 and the number of keys, every keyid known, artifact rules parse and name known steps,
    /// CEL expressions parse and name known steps, expiry readable.
    pub fn validate(&self) -> Result<()> {
        self.validate_and_compile().map(|_| ())
    }

    /// [`OrderSpec::validate`], returning the compiled CEL rules in rule order.
    pub(crate) fn validate_and_compile(
        &self,
    ) -> Result<Vec<std::sync::Arc<crate::celrules::Compiled>>> {
        let bad = |m: String| Err(Error::InvalidSpec(m));
        self.expires_unix()?;
        if self.steps.is_empty() {
            return bad("no steps".into());
        }
        let mut names = BTreeSet::new();
        for s in &self.steps {
            if !names.insert(s.name.as_str()) {
                return bad(format!("step {:?} appears twice", s.name));
            }
        }
        for s in &self.steps {
            if s.threshold == 0 || s.threshold > s.pubkeys.len() {
                return bad(format!(
                    "step {:?}: threshold {} must be between 1 and its {} pubkeys",
                    s.name,
                    s.threshold,
                    s.pubkeys.len()
                ));
            }
            for k in s.pubkeys.iter().chain(&s.device_keys) {
                if !self.keys.contains_key(k) {
                    return bad(format!("step {:?} names keyid {k} not in keys", s.name));
                }
            }
            for words in s.expected_materials.iter().chain(&s.expected_products) {
                if let ArtifactRule::Match { dest_step, .. } = ArtifactRule::parse(words)?
                    && !names.contains(dest_step.as_str())
                {
                    return bad(format!(
                        "step {:?}: MATCH names unknown step {dest_step:?}",
                        s.name
                    ));
                }
            }
        }
        for (id, k) in &self.keys {
            if !k.matches_keyid(id) {
                return bad(format!(
                    "keys: entry {id} holds a key whose keyid is {}",
                    k.keyid()
                ));
            }
        }
        let mut rule_names = BTreeSet::new();
        let mut programs = Vec::with_capacity(self.rules.len());
        for r in &self.rules {
            if !rule_names.insert(r.name.as_str()) {
                return bad(format!("rule {:?} appears twice", r.name));
            }
            if !names.contains(r.step.as_str()) {
                return bad(format!("rule {:?} names unknown step {:?}", r.name, r.step));
            }
            programs.push(
                crate::celrules::compile_shared(&r.expr)
                    .map_err(|e| Error::InvalidSpec(format!("rule {:?}: {e}", r.name)))?,
            );
        }
        Ok(programs)
    }

    /// The unsigned statement: subject `urn:shinrai:order:<po>` (digest = SHA-256 of the PO
    /// number), predicate = this specification.
    pub fn to_statement(&self) -> Result<Statement> {
        self.validate()?;
        let name = format!("urn:shinrai:order:{}", self.parameters.po_number);
        let subject = Subject::for_content(&name, self.parameters.po_number.as_bytes());
        Ok(Statement::with_predicate(vec![subject], self)?)
    }

    /// Signs the specification (the ordering party's keys) into a DSSE envelope.
    pub fn sign(&self, signers: &[&dyn Signer]) -> Result<Envelope> {
        Ok(sign_statement(&self.to_statement()?, signers)?)
    }
}

/// An order specification whose signature verified against the ordering party's keys.
/// Only [`verify_spec`] builds it.
#[derive(Debug, Clone)]
pub struct VerifiedSpec {
    spec: OrderSpec,
    envelope_sha256: String,
    signer_keyids: Vec<String>,
    programs: std::sync::Arc<Vec<std::sync::Arc<crate::celrules::Compiled>>>,
}

impl VerifiedSpec {
    /// The specification.
    pub fn spec(&self) -> &OrderSpec {
        &self.spec
    }

    /// SHA-256 (lowercase hex) of the signed envelope bytes as received: the VSA's
    /// `policy.digest.sha256`.
    pub fn envelope_sha256(&self) -> &str {
        &self.envelope_sha256
    }

    /// The compiled CEL rules, in rule order.
    pub(crate) fn programs(&self) -> &[std::sync::Arc<crate::celrules::Compiled>] {
        &self.programs
    }

    /// Keyids of the ordering party's keys that signed.
    pub fn signer_keyids(&self) -> &[String] {
        &self.signer_keyids
    }
}

/// Verifies a signed specification: DSSE signature by `threshold` of `ordering_party` keys over
/// the bytes received, predicate type, and [`OrderSpec::validate`]. Does not check expiry (the
/// conformity verification does, against its own clock, and FAILS an expired specification).
pub fn verify_spec(
    envelope_bytes: &[u8],
    ordering_party: &[SslibKey],
    threshold: usize,
) -> Result<VerifiedSpec> {
    let verified = verify_statement(envelope_bytes, ordering_party, threshold)?;
    let spec: OrderSpec = verified.value().predicate_as()?;
    let programs = spec.validate_and_compile()?;
    Ok(VerifiedSpec {
        spec,
        envelope_sha256: sha256_hex(envelope_bytes),
        signer_keyids: verified.signer_keyids(),
        programs: std::sync::Arc::new(programs),
    })
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}
