//! Shared helpers of the conformity integration tests: a small two-tier scenario and the
//! Python interpreter for interop tests.
#![allow(dead_code)]

use std::path::PathBuf;

use shinrai_conformity::bench::EphemeralSigner;
use shinrai_conformity::spec::{AttributeRule, OrderParameters, OrderSpec, SpecStep};
use shinrai_conformity::verify::VerifyOptions;
use shinrai_envelope::Signer;
use shinrai_envelope::statement::sign_statement;
use shinrai_evidence::epcis::{
    BizTransaction, Event, EventType, SensorElement, SensorReport, Timestamp,
};
use shinrai_evidence::step::{Artifact, EventEvidence, StepRecord};
use shinrai_scu::Algorithm;

pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `$SHINRAI_PYTHON`, else `<repo>/.venv/bin/python`; panics with a clear message if neither exists.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("SHINRAI_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python interpreter for the interop test: set SHINRAI_PYTHON or create the venv with \
         `python3 -m venv .venv && .venv/bin/pip install -r tests/python-requirements.txt` (looked for {})",
        venv.display()
    );
    venv
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn words(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_owned).collect()
}

/// The parties of the scenario: ordering party (Ed25519), two makers (Ed25519) and a torque
/// wrench (ECDSA P-256), plus an outsider.
pub struct Parties {
    pub owner: EphemeralSigner,
    pub caster: EphemeralSigner,
    pub assembler: EphemeralSigner,
    pub second_assembler: EphemeralSigner,
    pub wrench: EphemeralSigner,
    pub outsider: EphemeralSigner,
}

impl Parties {
    pub fn new() -> Self {
        let ed = || EphemeralSigner::generate(Algorithm::Ed25519).expect("key");
        Parties {
            owner: ed(),
            caster: ed(),
            assembler: EphemeralSigner::generate(Algorithm::EcdsaP256).expect("key"),
            second_assembler: ed(),
            wrench: EphemeralSigner::generate(Algorithm::EcdsaP256).expect("key"),
            outsider: EphemeralSigner::generate(Algorithm::EcdsaP256).expect("key"),
        }
    }
}

pub fn id(s: &dyn Signer) -> String {
    s.keyid().expect("keyid")
}

/// Two steps: `cast` (caster) makes `bracket`; `assemble` (assembler, threshold 1, wrench as
/// device) turns the `bracket` into `body`, with a torque rule 20..25 N·m.
pub fn spec(p: &Parties, expires: &str) -> OrderSpec {
    let mut spec = OrderSpec {
        name: "PO-4711: car body brackets".into(),
        expires: expires.into(),
        parameters: OrderParameters {
            po_number: "PO-4711".into(),
            lot: "L-7".into(),
            ..Default::default()
        },
        keys: Default::default(),
        steps: Vec::new(),
        rules: Vec::new(),
    };
    let caster = spec.add_key(&p.caster.sslib_key().expect("key"));
    let assembler = spec.add_key(&p.assembler.sslib_key().expect("key"));
    let second = spec.add_key(&p.second_assembler.sslib_key().expect("key"));
    let wrench = spec.add_key(&p.wrench.sslib_key().expect("key"));
    let mut cast = SpecStep::new("cast", vec![caster]);
    cast.expected_materials = vec![words("DISALLOW *")];
    cast.expected_products = vec![words("CREATE bracket"), words("DISALLOW *")];
    let mut assemble = SpecStep::new("assemble", vec![assembler, second]);
    assemble.device_keys = vec![wrench];
    assemble.expected_materials = vec![
        words("MATCH bracket WITH PRODUCTS FROM cast"),
        words("DISALLOW *"),
    ];
    assemble.expected_products = vec![words("CREATE body"), words("DISALLOW *")];
    spec.steps = vec![cast, assemble];
    spec.rules = vec![AttributeRule {
        name: "torque-in-range".into(),
        step: "assemble".into(),
        expr: "readings.filter(r, r.type == 'Torque').all(r, r.value >= 20.0 && r.value <= 25.0) && readings.exists(r, r.type == 'Torque')".into(),
        description: "every torque reading within 20-25 N·m".into(),
    }];
    spec
}

pub fn bracket() -> Artifact {
    Artifact::for_content("bracket", b"bracket lot L-7")
}

pub fn body() -> Artifact {
    Artifact::for_content("body", b"body 1")
}

pub fn cast_record() -> StepRecord {
    StepRecord::new("cast", vec![], vec![bracket()])
}

pub fn assemble_record(material: Artifact) -> StepRecord {
    StepRecord::new("assemble", vec![material], vec![body()])
}

pub fn torque_event(values: &[f64]) -> Event {
    let t = Timestamp::parse("2026-03-01T10:15:00.123+01:00").expect("t");
    let mut e = Event::new(EventType::ObjectEvent, t);
    e.epc_list
        .push("https://id.gs1.org/01/04012345000009/21/BODY1".into());
    e.biz_step = Some("assembling".into());
    e.biz_transaction_list.push(BizTransaction {
        kind: "po".into(),
        id: "urn:shinrai:po:PO-4711".into(),
    });
    e.sensor_element_list.push(SensorElement::new(
        "urn:shinrai:device:wrench-7",
        t,
        values.iter().map(|v| SensorReport::torque_nm(*v)).collect(),
    ));
    e
}

pub fn sign_record(r: &StepRecord, s: &dyn Signer) -> Vec<u8> {
    sign_statement(&r.to_statement().expect("statement"), &[s])
        .expect("sign")
        .to_json_bytes()
}

pub fn sign_event(step: &str, e: Event, s: &dyn Signer) -> Vec<u8> {
    let ev = EventEvidence::new(step, e).expect("evidence");
    sign_statement(&ev.to_statement().expect("statement"), &[s])
        .expect("sign")
        .to_json_bytes()
}

pub fn options() -> VerifyOptions {
    VerifyOptions {
        verifier_id: "https://certifier.example/shinrai".into(),
        now_unix: now_unix(),
        resource_uri: "urn:shinrai:lot:L-7".into(),
        policy_uri: None,
        dependency_levels: Default::default(),
    }
}
