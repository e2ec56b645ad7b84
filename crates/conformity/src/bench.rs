//! The conformity benchmark workload: a signed specification with two steps and N CEL rules,
//! step records and EPCIS events carrying M sensor readings, all signed with ephemeral keys.
//! Used by `benches/conformity.rs` and, later, `shinrai bench conformity`.

use std::time::Instant;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use shinrai_envelope::Signer;
use shinrai_envelope::keys::SslibKey;
use shinrai_envelope::statement::sign_statement;
use shinrai_evidence::epcis::{
    BizTransaction, Event, EventType, SensorElement, SensorReport, Timestamp,
};
use shinrai_evidence::step::{Artifact, EventEvidence, StepRecord};
use shinrai_scu::{Algorithm, PublicKey, Signature};

use crate::spec::{AttributeRule, OrderParameters, OrderSpec, SpecStep, verify_spec};
use crate::verify::{ConformityReport, EvidenceInput, VerifyOptions, verify_conformity};
use crate::{Error, Result};

/// An in-memory key that lives only as long as this value: for benchmarks, demos and tests.
/// Its private half is never exported or printed.
pub struct EphemeralSigner {
    inner: Inner,
    public: PublicKey,
}

enum Inner {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
}

impl std::fmt::Debug for EphemeralSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EphemeralSigner")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl EphemeralSigner {
    /// A fresh key of `algorithm` (Ed25519 for organisations, ECDSA P-256 for devices).
    pub fn generate(algorithm: Algorithm) -> Result<Self> {
        let kerr =
            |e: &dyn std::fmt::Display| Error::InvalidSpec(format!("key generation failed: {e}"));
        let (inner, raw) = match algorithm {
            Algorithm::Ed25519 => {
                let kp = Ed25519KeyPair::generate().map_err(|e| kerr(&e))?;
                let raw = kp.public_key().as_ref().to_vec();
                (Inner::Ed(kp), raw)
            }
            Algorithm::EcdsaP256 => {
                let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|e| kerr(&e))?;
                let raw = kp.public_key().as_ref().to_vec();
                (Inner::Ec(kp), raw)
            }
        };
        let public = PublicKey::from_bytes(algorithm, &raw).map_err(|e| kerr(&e))?;
        Ok(EphemeralSigner { inner, public })
    }

    /// The public key in securesystemslib form.
    pub fn key(&self) -> Result<SslibKey> {
        Ok(self.sslib_key()?)
    }
}

impl Signer for EphemeralSigner {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> shinrai_envelope::Result<Signature> {
        let bytes = match &self.inner {
            Inner::Ed(kp) => kp.sign(message).as_ref().to_vec(),
            Inner::Ec(kp) => kp
                .sign(&SystemRandom::new(), message)
                .map_err(|e| {
                    shinrai_envelope::Error::Internal(format!("ECDSA signing failed: {e}"))
                })?
                .as_ref()
                .to_vec(),
        };
        Ok(Signature {
            algorithm: self.public.algorithm,
            bytes,
        })
    }
}

/// Everything one conformity verification needs, prepared once.
#[derive(Debug)]
pub struct Workload {
    /// The signed specification envelope.
    pub spec_envelope: Vec<u8>,
    /// The ordering party's key.
    pub ordering_key: SslibKey,
    /// Evidence envelopes with their URIs.
    pub evidence: Vec<(String, Vec<u8>)>,
    /// Verification options (fixed clock).
    pub options: VerifyOptions,
    /// Number of sensor readings in the evidence.
    pub readings: usize,
    /// Number of CEL rules in the specification.
    pub rules: usize,
}

const RULES: [&str; 10] = [
    "readings.filter(r, r.type == 'Torque').all(r, r.value >= 20.0 && r.value <= 25.0)",
    "readings.filter(r, r.type == 'Temperature').all(r, r.value < 80.0)",
    "readings.exists(r, r.type == 'Torque')",
    "readings.all(r, r.uom == 'NU' || r.uom == 'CEL')",
    "size(readings.filter(r, r.type == 'Torque')) >= 10",
    "readings.all(r, r.device.startsWith('urn:shinrai:device:'))",
    "params.po == 'PO-BENCH' && params.lot == 'LOT-1'",
    "readings.filter(r, r.type == 'Temperature').exists(r, r.value > 15.0)",
    "products.size() == 1 && materials.size() == 1",
    "readings.all(r, r.event.startsWith('ni:///sha-256;'))",
];

/// Builds a workload with `readings` sensor readings (half torque, half temperature, in events
/// of 10) and `rules` CEL rules (cycling through 10 distinct ones).
pub fn workload(readings: usize, rules: usize) -> Result<Workload> {
    let owner = EphemeralSigner::generate(Algorithm::Ed25519)?;
    let maker = EphemeralSigner::generate(Algorithm::Ed25519)?;
    let device = EphemeralSigner::generate(Algorithm::EcdsaP256)?;
    let mut spec = OrderSpec {
        name: "benchmark order".into(),
        expires: "2099-01-01T00:00:00Z".into(),
        parameters: OrderParameters {
            po_number: "PO-BENCH".into(),
            lot: "LOT-1".into(),
            ..Default::default()
        },
        keys: Default::default(),
        steps: Vec::new(),
        rules: Vec::new(),
    };
    let maker_id = spec.add_key(&maker.key()?);
    let device_id = spec.add_key(&device.key()?);
    let mut cut = SpecStep::new("cut", vec![maker_id.clone()]);
    cut.expected_materials = vec![
        vec!["ALLOW".into(), "steel".into()],
        vec!["DISALLOW".into(), "*".into()],
    ];
    cut.expected_products = vec![
        vec!["CREATE".into(), "blank".into()],
        vec!["DISALLOW".into(), "*".into()],
    ];
    let mut fasten = SpecStep::new("fasten", vec![maker_id]);
    fasten.device_keys = vec![device_id];
    fasten.expected_materials = vec![
        "MATCH blank WITH PRODUCTS FROM cut"
            .split(' ')
            .map(str::to_owned)
            .collect(),
        vec!["DISALLOW".into(), "*".into()],
    ];
    fasten.expected_products = vec![
        vec!["CREATE".into(), "part".into()],
        vec!["DISALLOW".into(), "*".into()],
    ];
    spec.steps = vec![cut, fasten];
    spec.rules = (0..rules)
        .map(|i| AttributeRule {
            name: format!("rule-{i}"),
            step: "fasten".into(),
            expr: RULES[i % RULES.len()].into(),
            description: String::new(),
        })
        .collect();
    let spec_envelope = spec.sign(&[&owner])?.to_json_bytes();

    let steel = Artifact::for_content("steel", b"steel");
    let blank = Artifact::for_content("blank", b"blank");
    let part = Artifact::for_content("part", b"part");
    let mut evidence = Vec::new();
    let records = [
        StepRecord::new("cut", vec![steel], vec![blank.clone()]),
        StepRecord::new("fasten", vec![blank], vec![part]),
    ];
    for (i, r) in records.iter().enumerate() {
        let env = sign_statement(&r.to_statement()?, &[&maker])?;
        evidence.push((format!("urn:bench:record:{i}"), env.to_json_bytes()));
    }
    let t0 = Timestamp::parse("2026-03-01T10:00:00+01:00")?;
    let mut made = 0;
    let mut n = 0;
    while made < readings {
        let batch = (readings - made).min(10);
        let t = Timestamp::from_unix_millis(t0.unix_millis() + (n as i64) * 60_000, 60)?;
        let mut e = Event::new(EventType::ObjectEvent, t);
        e.epc_list
            .push(format!("https://id.gs1.org/01/04012345000009/21/{n}"));
        e.biz_step = Some("assembling".into());
        e.biz_transaction_list.push(BizTransaction {
            kind: "po".into(),
            id: "urn:shinrai:po:PO-BENCH".into(),
        });
        let reports = (0..batch)
            .map(|j| {
                if (made + j) % 2 == 0 {
                    SensorReport::torque_nm(20.5 + ((made + j) % 8) as f64 * 0.5)
                } else {
                    SensorReport::temperature_celsius(18.0 + ((made + j) % 5) as f64)
                }
            })
            .collect();
        e.sensor_element_list.push(SensorElement::new(
            "urn:shinrai:device:wrench-1",
            t,
            reports,
        ));
        let ev = EventEvidence::new("fasten", e)?;
        let env = sign_statement(&ev.to_statement()?, &[&device])?;
        evidence.push((format!("urn:bench:event:{n}"), env.to_json_bytes()));
        made += batch;
        n += 1;
    }
    Ok(Workload {
        spec_envelope,
        ordering_key: owner.key()?,
        evidence,
        options: VerifyOptions {
            verifier_id: "urn:shinrai:verifier:bench".into(),
            now_unix: 1_780_000_000,
            resource_uri: "urn:shinrai:lot:LOT-1".into(),
            policy_uri: None,
            dependency_levels: Default::default(),
        },
        readings,
        rules,
    })
}

/// One full conformity verification of the workload: specification signature, evidence
/// signatures, thresholds, artifact rules and CEL rules.
pub fn run(w: &Workload) -> Result<ConformityReport> {
    let spec = verify_spec(&w.spec_envelope, std::slice::from_ref(&w.ordering_key), 1)?;
    let inputs: Vec<EvidenceInput<'_>> = w
        .evidence
        .iter()
        .map(|(uri, env)| EvidenceInput { uri, envelope: env })
        .collect();
    verify_conformity(&spec, &inputs, &w.options)
}

/// Runs `iterations` verifications and returns verifications per second.
pub fn measure(w: &Workload, iterations: usize) -> Result<f64> {
    let start = Instant::now();
    for _ in 0..iterations {
        let r = run(w)?;
        if !r.passed() {
            return Err(Error::InvalidSpec(format!(
                "benchmark workload did not pass: {:?}",
                r.failures()
            )));
        }
    }
    Ok(iterations as f64 / start.elapsed().as_secs_f64())
}
