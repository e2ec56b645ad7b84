//! Conformity verification on a good chain and on every failure path the issue names.

mod common;

use common::*;
use shinrai_conformity::Error;
use shinrai_conformity::spec::verify_spec;
use shinrai_conformity::verify::{ConformityReport, EvidenceInput, verify_conformity};
use shinrai_conformity::vsa::{VerificationResult, check_vsa_for_spec, check_vsa_for_spec_digest};
use shinrai_envelope::Signer;
use shinrai_envelope::dsse::Envelope;
use shinrai_envelope::statement::verify_statement;
use shinrai_evidence::step::Artifact;

const FUTURE: &str = "2099-01-01T00:00:00Z";

fn verify(p: &Parties, spec_env: &[u8], evidence: &[(&str, Vec<u8>)]) -> ConformityReport {
    let spec =
        verify_spec(spec_env, &[p.owner.sslib_key().expect("key")], 1).expect("spec verifies");
    let inputs: Vec<EvidenceInput<'_>> = evidence
        .iter()
        .map(|(uri, env)| EvidenceInput { uri, envelope: env })
        .collect();
    verify_conformity(&spec, &inputs, &options()).expect("verification runs")
}

fn good_evidence(p: &Parties, torques: &[f64]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("urn:e:cast", sign_record(&cast_record(), &p.caster)),
        (
            "urn:e:assemble",
            sign_record(&assemble_record(bracket()), &p.assembler),
        ),
        (
            "urn:e:torque",
            sign_event("assemble", torque_event(torques), &p.wrench),
        ),
    ]
}

fn spec_env(p: &Parties) -> Vec<u8> {
    spec(p, FUTURE)
        .sign(&[&p.owner])
        .expect("sign")
        .to_json_bytes()
}

fn reasons(r: &ConformityReport) -> String {
    r.failures()
        .iter()
        .map(|f| format!("[{}] {} ({})", f.check, f.reason, f.value))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn good_chain_passes_with_a_vsa_naming_spec_and_inputs() {
    let p = Parties::new();
    let env = spec_env(&p);
    let r = verify(&p, &env, &good_evidence(&p, &[22.5, 20.0, 25.0]));
    assert!(r.passed(), "{}", reasons(&r));
    let vsa = r.vsa();
    assert_eq!(vsa.verification_result, VerificationResult::Passed);
    assert_eq!(vsa.input_attestations.len(), 3);
    assert_eq!(vsa.policy.digest["sha256"], shinrai_conformity_sha(&env));
    assert_eq!(
        vsa.verified_levels,
        vec!["SHINRAI_CONFORMITY_PASSED".to_owned()]
    );
    // Signed VSA: subject = the final products; checks against the spec digest.
    let verifier =
        shinrai_conformity::bench::EphemeralSigner::generate(shinrai_scu::Algorithm::Ed25519)
            .expect("key");
    let signed = r.sign(None, &[&verifier]).expect("sign").to_json_bytes();
    let st = verify_statement(&signed, &[verifier.sslib_key().expect("key")], 1).expect("verifies");
    assert_eq!(st.value().subject[0].name, "body");
    let spec = verify_spec(&env, &[p.owner.sslib_key().expect("key")], 1).expect("spec");
    assert!(
        check_vsa_for_spec(st.value(), &spec)
            .expect("same spec")
            .passed()
    );
}

fn shinrai_conformity_sha(b: &[u8]) -> String {
    Artifact::for_content("x", b).sha256
}

#[test]
fn out_of_spec_torque_fails_naming_the_event_and_value() {
    let p = Parties::new();
    let r = verify(&p, &spec_env(&p), &good_evidence(&p, &[22.5, 26.1, 21.0]));
    assert!(!r.passed());
    assert_eq!(r.vsa().verification_result, VerificationResult::Failed);
    assert!(r.vsa().verified_levels.is_empty());
    let f = &r.failures()[0];
    assert_eq!(r.failures().len(), 1, "{}", reasons(&r));
    assert_eq!(f.check, "rule:torque-in-range");
    assert_eq!(f.value, "Torque=26.1 NU");
    assert!(
        f.evidence[0].starts_with("ni:///sha-256;"),
        "{:?}",
        f.evidence
    );
}

#[test]
fn evidence_signed_by_the_wrong_device_key_fails() {
    let p = Parties::new();
    let mut ev = good_evidence(&p, &[22.5]);
    ev[2].1 = sign_event("assemble", torque_event(&[22.5]), &p.outsider);
    let r = verify(&p, &spec_env(&p), &ev);
    assert!(!r.passed());
    let all = reasons(&r);
    assert!(
        all.contains("urn:e:torque is not signed by a key of the order specification"),
        "{all}"
    );
    // Its readings were not used: the torque rule has no readings to check.
    assert!(
        all.contains("missing evidence: rule \"torque-in-range\""),
        "{all}"
    );
    assert_eq!(r.vsa().input_attestations.len(), 2);

    // A key the spec knows, but not as a device of this step (the caster) is refused too.
    ev[2].1 = sign_event("assemble", torque_event(&[22.5]), &p.caster);
    let r = verify(&p, &spec_env(&p), &ev);
    assert!(
        reasons(&r).contains("not a key authorized for that step"),
        "{}",
        reasons(&r)
    );
}

#[test]
fn missing_evidence_fails_never_a_silent_pass() {
    let p = Parties::new();
    let mut ev = good_evidence(&p, &[22.5]);
    ev.pop();
    let r = verify(&p, &spec_env(&p), &ev);
    assert!(!r.passed());
    assert!(reasons(&r).contains("missing evidence"), "{}", reasons(&r));

    let r = verify(&p, &spec_env(&p), &ev[..1]);
    assert!(
        r.failures()
            .iter()
            .any(|f| f.check == "step" && f.step == "assemble"),
        "{}",
        reasons(&r)
    );

    let r = verify(&p, &spec_env(&p), &[]);
    assert!(r.failures().len() >= 3, "{}", reasons(&r));
}

#[test]
fn spec_tampered_after_signing_is_refused() {
    let p = Parties::new();
    let env = Envelope::parse(&spec_env(&p)).expect("parse");
    let mut tampered = env.clone();
    let text = String::from_utf8(tampered.payload.clone()).expect("utf8");
    tampered.payload = text
        .replace("r.value <= 25.0", "r.value <= 30.0")
        .into_bytes();
    assert_ne!(tampered.payload, env.payload);
    let err = verify_spec(
        &tampered.to_json_bytes(),
        &[p.owner.sslib_key().expect("key")],
        1,
    )
    .expect_err("tampered");
    assert!(
        matches!(
            err,
            Error::Envelope(shinrai_envelope::Error::BadSignature { .. })
        ),
        "{err}"
    );
    // Signed by someone else than the ordering party: refused too.
    let forged = spec(&p, FUTURE)
        .sign(&[&p.outsider])
        .expect("sign")
        .to_json_bytes();
    assert!(verify_spec(&forged, &[p.owner.sslib_key().expect("key")], 1).is_err());
}

#[test]
fn expired_spec_fails() {
    let p = Parties::new();
    let env = spec(&p, "2020-01-01T00:00:00Z")
        .sign(&[&p.owner])
        .expect("sign")
        .to_json_bytes();
    let r = verify(&p, &env, &good_evidence(&p, &[22.5]));
    assert!(!r.passed());
    assert_eq!(r.failures()[0].check, "spec-expiry", "{}", reasons(&r));
}

#[test]
fn vsa_for_a_different_spec_is_refused() {
    let p = Parties::new();
    let env_a = spec_env(&p);
    let mut other = spec(&p, FUTURE);
    other.parameters.lot = "L-8".into();
    let env_b = other.sign(&[&p.owner]).expect("sign").to_json_bytes();
    let r = verify(&p, &env_a, &good_evidence(&p, &[22.5]));
    let st = r.to_statement(None).expect("statement");
    let spec_b = verify_spec(&env_b, &[p.owner.sslib_key().expect("key")], 1).expect("spec b");
    let err = check_vsa_for_spec(&st, &spec_b).expect_err("other spec");
    assert!(matches!(err, Error::PolicyMismatch { .. }), "{err}");
    assert!(check_vsa_for_spec_digest(&st, &shinrai_conformity_sha(&env_a)).is_ok());
}

#[test]
fn broken_link_between_steps_fails_the_artifact_rules() {
    let p = Parties::new();
    let mut ev = good_evidence(&p, &[22.5]);
    // The assembler consumed a bracket that is not the one the caster produced.
    let swapped = Artifact::for_content("bracket", b"a bracket from elsewhere");
    ev[1].1 = sign_record(&assemble_record(swapped), &p.assembler);
    let r = verify(&p, &spec_env(&p), &ev);
    assert!(!r.passed());
    let f = r
        .failures()
        .iter()
        .find(|f| f.check == "artifact-rules")
        .expect("artifact rule failure");
    assert_eq!(f.step, "assemble");
    assert!(f.reason.contains("DISALLOW"), "{}", f.reason);
}

#[test]
fn threshold_not_met_fails() {
    let p = Parties::new();
    let mut s = spec(&p, FUTURE);
    s.steps[1].threshold = 2;
    let env = s.sign(&[&p.owner]).expect("sign").to_json_bytes();
    let mut ev = good_evidence(&p, &[22.5]);
    let r = verify(&p, &env, &ev);
    assert!(
        r.failures().iter().any(|f| f.check == "threshold"),
        "{}",
        reasons(&r)
    );
    ev.push((
        "urn:e:assemble2",
        sign_record(&assemble_record(bracket()), &p.second_assembler),
    ));
    let r = verify(&p, &env, &ev);
    assert!(r.passed(), "{}", reasons(&r));
}

#[test]
fn event_of_another_purchase_order_fails() {
    let p = Parties::new();
    let mut ev = good_evidence(&p, &[22.5]);
    let mut e = torque_event(&[22.5]);
    e.biz_transaction_list[0].id = "urn:shinrai:po:PO-9999".into();
    ev[2].1 = sign_event("assemble", e, &p.wrench);
    let r = verify(&p, &spec_env(&p), &ev);
    assert!(
        r.failures()
            .iter()
            .any(|f| f.check == "po" && f.value.ends_with("PO-9999")),
        "{}",
        reasons(&r)
    );
}

#[test]
fn benchmark_workload_passes() {
    let w = shinrai_conformity::bench::workload(100, 10).expect("workload");
    let r = shinrai_conformity::bench::run(&w).expect("run");
    assert!(r.passed(), "{}", reasons(&r));
    assert_eq!(r.vsa().input_attestations.len(), 12);
}

#[test]
fn spec_validation_refuses_unknown_steps_keys_and_bad_rules() {
    let p = Parties::new();
    let mut s = spec(&p, FUTURE);
    s.rules[0].step = "paint".into();
    assert!(matches!(s.validate(), Err(Error::InvalidSpec(_))));
    let mut s = spec(&p, FUTURE);
    s.rules[0].expr = "readings.all(r, ".into();
    assert!(matches!(s.validate(), Err(Error::InvalidSpec(_))));
    let mut s = spec(&p, FUTURE);
    s.steps[0].pubkeys.push(id(&p.outsider));
    assert!(matches!(s.validate(), Err(Error::InvalidSpec(_))));
    let mut s = spec(&p, FUTURE);
    s.steps[1].expected_materials[0] = words("MATCH * WITH PRODUCTS FROM paint");
    assert!(matches!(s.validate(), Err(Error::InvalidSpec(_))));
    let mut s = spec(&p, FUTURE);
    s.steps[1].threshold = 3;
    assert!(matches!(s.validate(), Err(Error::InvalidSpec(_))));
}

#[test]
fn the_same_evidence_given_twice_counts_once() {
    let p = Parties::new();
    let mut ev = good_evidence(&p, &[22.5]);
    ev.push(("urn:e:torque-again", ev[2].1.clone()));
    let r = verify(&p, &spec_env(&p), &ev);
    assert!(r.passed(), "{}", reasons(&r));
    assert_eq!(r.vsa().input_attestations.len(), 3);
}

#[test]
fn a_failed_inspection_fails_the_inspection_rule() {
    use shinrai_conformity::spec::AttributeRule;
    use shinrai_envelope::statement::sign_statement;
    use shinrai_evidence::step::InspectionResult;
    let p = Parties::new();
    let mut s = spec(&p, FUTURE);
    s.rules.push(AttributeRule {
        name: "leak-test-passed".into(),
        step: "assemble".into(),
        expr: "size(inspections) > 0 && inspections.all(i, i.passed)".into(),
        description: String::new(),
    });
    let env = s.sign(&[&p.owner]).expect("sign").to_json_bytes();
    let inspection = |passed: bool| {
        let i = InspectionResult {
            step: "assemble".into(),
            inspection: "leak-test".into(),
            passed,
            measurements: Default::default(),
            notes: String::new(),
        };
        let st = i.to_statement(&body()).expect("statement");
        sign_statement(&st, &[&p.wrench])
            .expect("sign")
            .to_json_bytes()
    };
    let mut ev = good_evidence(&p, &[22.5]);
    let r = verify(&p, &env, &ev);
    assert!(
        r.failures()
            .iter()
            .any(|f| f.check == "rule:leak-test-passed"),
        "no inspection: {}",
        reasons(&r)
    );
    ev.push(("urn:e:leak", inspection(false)));
    let r = verify(&p, &env, &ev);
    assert_eq!(r.failures().len(), 1, "{}", reasons(&r));
    assert_eq!(r.failures()[0].check, "rule:leak-test-passed");
    ev.pop();
    ev.push(("urn:e:leak", inspection(true)));
    let r = verify(&p, &env, &ev);
    assert!(r.passed(), "{}", reasons(&r));
}

#[test]
fn signed_vsa_verifies_only_with_the_verifier_key_and_untampered() {
    use shinrai_conformity::vsa::verify_vsa;
    let p = Parties::new();
    let env = spec_env(&p);
    let r = verify(&p, &env, &good_evidence(&p, &[22.5]));
    let verifier =
        shinrai_conformity::bench::EphemeralSigner::generate(shinrai_scu::Algorithm::Ed25519)
            .expect("key");
    let signed = r.sign(None, &[&verifier]).expect("sign").to_json_bytes();
    let v = verify_vsa(&signed, &[verifier.sslib_key().expect("key")], 1).expect("verifies");
    assert!(v.predicate().passed());
    assert_eq!(v.subjects()[0].name, "body");
    v.check_policy(&shinrai_conformity_sha(&env))
        .expect("same spec");
    assert!(matches!(
        v.check_policy(&"0".repeat(64)),
        Err(Error::PolicyMismatch { .. })
    ));
    // Another verifier's key, or a VSA flipped to PASSED after signing: refused.
    assert!(verify_vsa(&signed, &[p.outsider.sslib_key().expect("key")], 1).is_err());
    let mut e = Envelope::parse(&signed).expect("parse");
    let failed = verify(&p, &env, &good_evidence(&p, &[30.0]))
        .sign(None, &[&verifier])
        .expect("sign")
        .to_json_bytes();
    let mut f = Envelope::parse(&failed).expect("parse");
    f.payload = String::from_utf8(f.payload.clone())
        .expect("utf8")
        .replace("\"FAILED\"", "\"PASSED\"")
        .into_bytes();
    assert!(verify_vsa(&f.to_json_bytes(), &[verifier.sslib_key().expect("key")], 1).is_err());
    e.payload.push(b' ');
    assert!(verify_vsa(&e.to_json_bytes(), &[verifier.sslib_key().expect("key")], 1).is_err());
}

#[test]
fn rules_can_read_events_artifacts_and_parameters() {
    use shinrai_conformity::spec::AttributeRule;
    let p = Parties::new();
    let mut s = spec(&p, FUTURE);
    for (name, expr) in [
        (
            "all-assembling",
            "size(events) == 1 && events.all(e, e.bizStep == 'assembling')",
        ),
        (
            "bracket-consumed",
            "'bracket' in materials && size(products) == 1",
        ),
        (
            "right-order",
            "params.po == 'PO-4711' && params.lot == 'L-7' && step == 'assemble'",
        ),
    ] {
        s.rules.push(AttributeRule {
            name: name.into(),
            step: "assemble".into(),
            expr: expr.into(),
            description: String::new(),
        });
    }
    let env = s.sign(&[&p.owner]).expect("sign").to_json_bytes();
    let r = verify(&p, &env, &good_evidence(&p, &[22.5]));
    assert!(r.passed(), "{}", reasons(&r));
    s.parameters.lot = "L-8".into();
    let env = s.sign(&[&p.owner]).expect("sign").to_json_bytes();
    let r = verify(&p, &env, &good_evidence(&p, &[22.5]));
    assert_eq!(r.failures().len(), 1, "{}", reasons(&r));
    assert_eq!(r.failures()[0].check, "rule:right-order");
}
