//! Shop certification: a certifier's signed specification (a `shinrai-conformity` order spec
//! whose CEL rules read the shop's hourly evidence and hygiene days) evaluated into a signed
//! SLSA VSA v1 with a validity period. No IO here: envelopes in, a statement out.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use shinrai_conformity::celrules;
use shinrai_conformity::spec::{
    AttributeRule, OrderParameters, OrderSpec, SpecStep, VerifiedSpec, format_expiry, verify_spec,
};
use shinrai_conformity::vsa::{
    Failure, LEVEL_CONFORMANT, ResourceRef, VSA_PREDICATE_TYPE, VerificationResult, VsaPredicate,
    VsaVerifier,
};
use shinrai_envelope::dsse::Envelope;
use shinrai_envelope::keys::SslibKey;
use shinrai_envelope::statement::{PAYLOAD_TYPE, Statement, verify_statement_envelope};
use shinrai_evidence::shop::{
    CertificateTerms, CertificationInput, HYGIENE_PREDICATE_TYPE, HYGIENE_STEP, HourlyEvidence,
    HygieneRecord, Interval, SENSOR_STEP, Validity, rfc3339_ms, shop_subject, shop_urn,
};
use shinrai_evidence::step::EVENT_PREDICATE_TYPE;

/// `parameters.extra` key prefix binding a shop to the key that signs its hygiene records:
/// `shop-key/<shop id>` = keyid.
pub const SHOP_KEY_PARAM: &str = "shop-key/";
/// The level written in `verifiedLevels` of a passed shop certificate.
pub const LEVEL_SHOP: &str = "SHINRAI_SHOP_CLEAN_AIR_HYGIENE";

/// The default certifier rules (thresholds live here, in the signed spec, not in the code).
pub fn default_rules(
    co2_max_ppm: f64,
    coverage_percent: u32,
    items: &[String],
) -> Vec<AttributeRule> {
    let items_cel = items
        .iter()
        .map(|i| format!("'{}'", i.replace(['\\', '\''], "")))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        AttributeRule {
            name: "co2-hourly-max".into(),
            step: SENSOR_STEP.into(),
            expr: format!("hours.all(h, !has(h.co2) || h.co2.max < {co2_max_ppm:.1})"),
            description: format!("the hourly CO2 maximum stays below {co2_max_ppm} ppm"),
        },
        AttributeRule {
            name: "co2-evidence-coverage".into(),
            step: SENSOR_STEP.into(),
            expr: format!(
                "size(hours.filter(h, has(h.co2))) * 100 >= period.hours * {coverage_percent}"
            ),
            description: format!(
                "CO2 evidence for at least {coverage_percent}% of the hours of the period"
            ),
        },
        AttributeRule {
            name: "hygiene-daily".into(),
            step: HYGIENE_STEP.into(),
            expr: format!("days.all(d, d.recorded && [{items_cel}].all(i, i in d.done))"),
            description: format!("hygiene checklist complete every day: {}", items.join(", ")),
        },
    ]
}

/// Builds a certifier's specification: sensor evidence from `ingesters`, hygiene records from
/// `shops` (id, key), the rules given.
pub fn build_spec(
    name: &str,
    scheme: &str,
    expires_unix: i64,
    ingesters: &[SslibKey],
    shops: &[(String, SslibKey)],
    rules: Vec<AttributeRule>,
) -> Result<OrderSpec> {
    if ingesters.is_empty() || shops.is_empty() {
        bail!("a shop specification needs at least one ingester key and one shop key");
    }
    let mut spec = OrderSpec {
        name: name.to_owned(),
        expires: format_expiry(expires_unix)?,
        parameters: OrderParameters {
            po_number: scheme.to_owned(),
            lot: String::new(),
            extra: BTreeMap::new(),
        },
        keys: BTreeMap::new(),
        steps: Vec::new(),
        rules,
    };
    let ingester_ids: Vec<String> = ingesters.iter().map(|k| spec.add_key(k)).collect();
    let mut shop_ids = BTreeSet::new();
    for (shop, k) in shops {
        let id = spec.add_key(k);
        spec.parameters
            .extra
            .insert(format!("{SHOP_KEY_PARAM}{shop}"), id.clone());
        shop_ids.insert(id);
    }
    spec.steps = vec![
        SpecStep::new(SENSOR_STEP, ingester_ids),
        SpecStep::new(HYGIENE_STEP, shop_ids.into_iter().collect()),
    ];
    spec.validate()?;
    Ok(spec)
}

/// One registered entry given to the certification.
#[derive(Debug, Clone)]
pub struct EntryInput<'a> {
    /// The entry id in the trust store.
    pub id: &'a str,
    /// The envelope bytes as registered.
    pub bytes: &'a [u8],
}

/// What to certify.
#[derive(Debug, Clone)]
pub struct CertifyRequest<'a> {
    /// The signed specification envelope, as registered.
    pub spec_envelope: &'a [u8],
    /// The certifier's keys (the spec must be signed by one).
    pub certifier_keys: &'a [SslibKey],
    /// The spec's entry id in the trust store (the VSA's `policy.uri` names it).
    pub spec_entry_id: &'a str,
    /// The shop.
    pub shop: &'a str,
    /// Period checked, Unix ms `[start, end)`.
    pub start_ms: i64,
    /// End of the period.
    pub end_ms: i64,
    /// Now, Unix ms (the caller's clock).
    pub now_ms: i64,
    /// How long a passed certificate is valid from now, ms.
    pub valid_ms: i64,
    /// The VSA `verifier.id`.
    pub verifier_id: &'a str,
    /// Every entry about the shop (others than evidence are ignored).
    pub entries: &'a [EntryInput<'a>],
}

/// The outcome: the VSA statement to sign and register, and the reasons if it failed.
#[derive(Debug, Clone)]
pub struct CertifyOutcome {
    /// Whether every rule passed.
    pub passed: bool,
    /// The VSA statement (PASSED: a certificate with validity; FAILED: with the failures).
    pub statement: Statement,
    /// One line per failure.
    pub reasons: Vec<String>,
    /// Hourly evidence entries used.
    pub hours_used: usize,
    /// Hygiene records used.
    pub hygiene_used: usize,
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

/// Evaluates the certification (see the module documentation). Evidence not signed by a key
/// the spec authorizes for its step, or unreadable, is not used and is listed as a failure.
pub fn evaluate(req: &CertifyRequest<'_>) -> Result<CertifyOutcome> {
    let spec: VerifiedSpec = verify_spec(req.spec_envelope, req.certifier_keys, 1)
        .context("the certifier's specification does not verify")?;
    let s = spec.spec();
    let step_keys = |name: &str| -> Vec<SslibKey> {
        s.step(name)
            .map(|st| {
                st.pubkeys
                    .iter()
                    .filter_map(|k| s.keys.get(k).cloned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let sensor_keys = step_keys(SENSOR_STEP);
    let hygiene_keys = step_keys(HYGIENE_STEP);
    let shop_key = s
        .parameters
        .extra
        .get(&format!("{SHOP_KEY_PARAM}{}", req.shop))
        .cloned();
    let mut failures = Vec::new();
    let now_unix = req.now_ms.div_euclid(1000);
    if now_unix >= s.expires_unix()? {
        failures.push(failure(
            "spec-expiry",
            "",
            Vec::new(),
            s.expires.clone(),
            format!("the certifier's specification expired at {}", s.expires),
        ));
    }
    let mut hours = Vec::new();
    let mut hygiene = Vec::new();
    let mut inputs = Vec::new();
    let shop_subj = shop_subject(req.shop);
    for e in req.entries {
        let uri = format!("urn:shinrai:entry:{}", e.id);
        let Ok(env) = Envelope::parse(e.bytes) else {
            continue;
        };
        if env.payload_type != PAYLOAD_TYPE {
            continue;
        }
        let Ok(st) = Statement::parse(&env.payload) else {
            continue;
        };
        if !st.subject.contains(&shop_subj) {
            continue;
        }
        let (keys, step) = match st.predicate_type.as_str() {
            EVENT_PREDICATE_TYPE => (&sensor_keys, SENSOR_STEP),
            HYGIENE_PREDICATE_TYPE => (&hygiene_keys, HYGIENE_STEP),
            _ => continue,
        };
        let verified = match verify_statement_envelope(&env, keys, 1) {
            Ok(v) => v,
            Err(err) => {
                failures.push(failure(
                    "evidence",
                    step,
                    vec![uri.clone()],
                    String::new(),
                    format!("evidence {uri} is not signed by a key the specification authorizes for step {step}: {err}"),
                ));
                continue;
            }
        };
        let st = verified.value();
        let used = match st.predicate_type.as_str() {
            EVENT_PREDICATE_TYPE => match HourlyEvidence::from_statement(st) {
                Ok(h) if h.shop == req.shop => {
                    let start = h.start_ms().unwrap_or(i64::MIN);
                    let inside = start >= req.start_ms && start + 3_600_000 <= req.end_ms;
                    if inside {
                        hours.push(h);
                    }
                    inside
                }
                Ok(_) => false,
                Err(err) => {
                    failures.push(failure(
                        "evidence",
                        step,
                        vec![uri.clone()],
                        String::new(),
                        format!("evidence {uri}: {err}"),
                    ));
                    false
                }
            },
            _ => match HygieneRecord::from_statement(st) {
                Ok(r) if r.shop == req.shop => {
                    let signers = verified.signer_keyids();
                    if let Some(k) = &shop_key
                        && !signers.contains(k)
                    {
                        failures.push(failure(
                            "evidence",
                            step,
                            vec![uri.clone()],
                            String::new(),
                            format!("hygiene record {uri} of shop {} is not signed by the shop's key {k}", req.shop),
                        ));
                        false
                    } else {
                        let day = shinrai_evidence::shop::parse_date(&r.date)
                            .ok()
                            .map(|d| d.midnight().assume_utc().unix_timestamp() * 1000);
                        let inside =
                            day.is_some_and(|d| d + 86_400_000 > req.start_ms && d < req.end_ms);
                        if inside {
                            hygiene.push(r);
                        }
                        inside
                    }
                }
                Ok(_) => false,
                Err(err) => {
                    failures.push(failure(
                        "evidence",
                        step,
                        vec![uri.clone()],
                        String::new(),
                        format!("evidence {uri}: {err}"),
                    ));
                    false
                }
            },
        };
        if used {
            inputs.push(ResourceRef::sha256(&uri, &sha256_hex(e.bytes)));
        }
    }
    let input = CertificationInput {
        shop: req.shop.to_owned(),
        start_ms: req.start_ms,
        end_ms: req.end_ms,
        hours,
        hygiene,
    };
    let mut vars = input.variables()?;
    vars.insert("params".into(), params_json(&s.parameters));
    for rule in &s.rules {
        let compiled = celrules::compile(&rule.expr)
            .map_err(|e| anyhow::anyhow!("rule {}: {e}", rule.name))?;
        let check = format!("rule:{}", rule.name);
        match celrules::evaluate(&compiled, &vars) {
            Ok(true) => {}
            Ok(false) => {
                let (evidence, value) = offenders(&compiled, &vars);
                let what = if rule.description.is_empty() {
                    rule.expr.clone()
                } else {
                    rule.description.clone()
                };
                let mut reason = format!("rule {} failed: {what}", rule.name);
                if !value.is_empty() {
                    reason.push_str(&format!(" ({value})"));
                }
                failures.push(failure(&check, &rule.step, evidence, value, reason));
            }
            Err(e) => failures.push(failure(
                &check,
                &rule.step,
                Vec::new(),
                String::new(),
                format!("rule {} could not be evaluated: {e}", rule.name),
            )),
        }
    }
    let passed = failures.is_empty();
    let vsa = VsaPredicate {
        verifier: VsaVerifier {
            id: req.verifier_id.to_owned(),
            version: BTreeMap::from([("shinrai".to_owned(), env!("CARGO_PKG_VERSION").to_owned())]),
        },
        time_verified: rfc3339_ms(req.now_ms),
        resource_uri: shop_urn(req.shop),
        policy: ResourceRef::sha256(
            &format!("urn:shinrai:entry:{}", req.spec_entry_id),
            spec.envelope_sha256(),
        ),
        input_attestations: inputs,
        verification_result: if passed {
            VerificationResult::Passed
        } else {
            VerificationResult::Failed
        },
        verified_levels: if passed {
            vec![LEVEL_CONFORMANT.to_owned(), LEVEL_SHOP.to_owned()]
        } else {
            Vec::new()
        },
        dependency_levels: BTreeMap::new(),
        failures: failures.clone(),
    };
    let mut predicate = serde_json::to_value(&vsa)?;
    let period = Interval {
        start: rfc3339_ms(req.start_ms),
        end: rfc3339_ms(req.end_ms),
    };
    if let Value::Object(o) = &mut predicate {
        o.insert("period".into(), serde_json::to_value(&period)?);
        o.insert("shop".into(), json!(req.shop));
        o.insert("policyName".into(), json!(s.name));
        if passed {
            let terms = CertificateTerms {
                validity: Validity {
                    not_before: rfc3339_ms(req.now_ms),
                    not_after: rfc3339_ms(req.now_ms + req.valid_ms),
                },
                period,
            };
            o.insert("validity".into(), serde_json::to_value(&terms.validity)?);
        }
    }
    let statement = Statement::new(vec![shop_subj], VSA_PREDICATE_TYPE, predicate)?;
    Ok(CertifyOutcome {
        passed,
        statement,
        reasons: failures.iter().map(|f| f.reason.clone()).collect(),
        hours_used: input.hours.len(),
        hygiene_used: input.hygiene.len(),
    })
}

fn params_json(p: &OrderParameters) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("po".into(), json!(p.po_number));
    m.insert("lot".into(), json!(p.lot));
    for (k, v) in &p.extra {
        m.insert(k.clone(), json!(v));
    }
    Value::Object(m)
}

/// Finds the hours or days that make a failed rule fail by evaluating it on each alone.
fn offenders(
    compiled: &celrules::Compiled,
    vars: &BTreeMap<String, Value>,
) -> (Vec<String>, String) {
    let mut names = Vec::new();
    let mut values = Vec::new();
    for (var, label) in [("hours", "start"), ("days", "date")] {
        if !compiled.reads(var) {
            continue;
        }
        let Some(list) = vars.get(var).and_then(Value::as_array) else {
            continue;
        };
        let mut one = vars.clone();
        for item in list {
            one.insert(var.to_owned(), Value::Array(vec![item.clone()]));
            if celrules::evaluate(compiled, &one) == Ok(false) {
                let at = item[label].as_str().unwrap_or_default().to_owned();
                let v = if var == "hours" {
                    format!("{at} CO2 max {} ppm", item["co2"]["max"])
                } else if item["recorded"] == json!(false) {
                    format!("{at} no hygiene record")
                } else {
                    format!("{at} not done: {}", item["notDone"])
                };
                names.push(at);
                values.push(v);
            }
        }
    }
    if let Some(n) = ["hours", "days"]
        .iter()
        .find(|v| compiled.reads(v))
        .and_then(|v| vars.get(*v).and_then(Value::as_array))
        .map(Vec::len)
        && n > 0
        && values.len() == n
        && compiled.reads("period")
    {
        // A rule over the whole list (coverage): every item alone fails it; say how many.
        let hours = vars
            .get("hours")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        return (
            Vec::new(),
            format!(
                "{hours} hours with evidence of {} in the period",
                vars["period"]["hours"]
            ),
        );
    }
    let shown: Vec<String> = values.iter().take(6).cloned().collect();
    let mut value = shown.join("; ");
    if values.len() > shown.len() {
        value.push_str(&format!("; and {} more", values.len() - shown.len()));
    }
    (names, value)
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b))
}
