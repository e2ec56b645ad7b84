//! Interop with the reference: the order specification exported as an in-toto v1.0 layout and
//! the step records as v1.0 links verify with Python in-toto 3.1 (`in_toto_verify`), and its
//! verdict agrees with Shinrai's on a good chain and on five reject cases.
//! Needs the project venv (`.venv`, see tests/python-requirements.txt) or `$SHINRAI_PYTHON`.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use shinrai_conformity::intoto::{layout_metablock, link_metablock, readings_byproducts};
use shinrai_conformity::spec::{OrderSpec, verify_spec};
use shinrai_conformity::verify::{EvidenceInput, verify_conformity};
use shinrai_envelope::Signer;
use shinrai_evidence::step::{Artifact, StepRecord};

/// One case: the spec, and who signed which step record (plus the torque event).
struct Case {
    name: &'static str,
    spec: OrderSpec,
    records: Vec<(StepRecord, &'static str)>,
    expect_accept: bool,
    /// (substring of in-toto's error, Shinrai failure check) for reject cases.
    why: (&'static str, &'static str),
}

fn signer<'a>(p: &'a Parties, who: &str) -> &'a dyn Signer {
    match who {
        "caster" => &p.caster,
        "assembler" => &p.assembler,
        "second" => &p.second_assembler,
        _ => &p.outsider,
    }
}

fn assemble_with_readings(material: Artifact) -> StepRecord {
    let mut r = assemble_record(material);
    let mut e = torque_event(&[22.5, 21.25, 24.0]);
    e.assign_id().expect("id");
    r.byproducts
        .insert("readings".into(), readings_byproducts(&[e]));
    r.byproducts.insert("return-value".into(), 0.into());
    r
}

fn cases(p: &Parties) -> Vec<Case> {
    let future = "2099-01-01T00:00:00Z";
    let good_records = || {
        vec![
            (cast_record(), "caster"),
            (assemble_with_readings(bracket()), "assembler"),
        ]
    };
    let mut threshold_spec = spec(p, future);
    threshold_spec.steps[1].threshold = 2;
    vec![
        Case {
            name: "good",
            spec: spec(p, future),
            records: good_records(),
            expect_accept: true,
            why: ("", ""),
        },
        Case {
            name: "artifact-swapped",
            spec: spec(p, future),
            records: vec![
                (cast_record(), "caster"),
                (
                    assemble_with_readings(Artifact::for_content("bracket", b"another bracket")),
                    "assembler",
                ),
            ],
            expect_accept: false,
            why: ("DISALLOW *", "[artifact-rules]"),
        },
        Case {
            name: "unauthorized-key",
            spec: spec(p, future),
            records: vec![
                (cast_record(), "assembler"),
                (assemble_with_readings(bracket()), "assembler"),
            ],
            expect_accept: false,
            why: ("LinkNotFoundError", "not a key authorized"),
        },
        Case {
            name: "missing-step",
            spec: spec(p, future),
            records: vec![(assemble_with_readings(bracket()), "assembler")],
            expect_accept: false,
            why: ("LinkNotFoundError", "[step] missing evidence"),
        },
        Case {
            name: "expired",
            spec: spec(p, "2020-01-01T00:00:00Z"),
            records: good_records(),
            expect_accept: false,
            why: ("LayoutExpiredError", "[spec-expiry]"),
        },
        Case {
            name: "threshold-not-met",
            spec: threshold_spec,
            records: good_records(),
            expect_accept: false,
            why: ("requires '2' link", "[threshold]"),
        },
    ]
}

fn shinrai_verdict(p: &Parties, case: &Case) -> (bool, String) {
    let spec_env = case
        .spec
        .sign(&[&p.owner])
        .expect("sign spec")
        .to_json_bytes();
    let spec =
        verify_spec(&spec_env, &[p.owner.sslib_key().expect("key")], 1).expect("spec verifies");
    let mut evidence: Vec<(String, Vec<u8>)> = case
        .records
        .iter()
        .enumerate()
        .map(|(i, (r, who))| (format!("urn:e:{i}"), sign_record(r, signer(p, who))))
        .collect();
    evidence.push((
        "urn:e:torque".into(),
        sign_event("assemble", torque_event(&[22.5, 21.25, 24.0]), &p.wrench),
    ));
    let inputs: Vec<EvidenceInput<'_>> = evidence
        .iter()
        .map(|(uri, env)| EvidenceInput { uri, envelope: env })
        .collect();
    let r = verify_conformity(&spec, &inputs, &options()).expect("verification runs");
    let why = r
        .failures()
        .iter()
        .map(|f| format!("[{}] {}", f.check, f.reason))
        .collect::<Vec<_>>()
        .join("; ");
    (r.passed(), why)
}

fn export(p: &Parties, case: &Case, dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let layout = layout_metablock(&case.spec, &[&p.owner]).expect("layout");
    std::fs::write(dir.join("root.layout"), layout).expect("write layout");
    std::fs::write(
        dir.join("layout-key.json"),
        p.owner.sslib_key().expect("key").to_json_bytes(),
    )
    .expect("write key");
    for (r, who) in &case.records {
        let (name, bytes) = link_metablock(r, signer(p, who)).expect("link");
        std::fs::write(dir.join(name), bytes).expect("write link");
    }
}

#[derive(serde::Deserialize)]
struct PyVerdict {
    accepted: bool,
    error: String,
}

#[test]
fn in_toto_reference_agrees_with_shinrai_on_accept_and_reject_cases() {
    let p = Parties::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = cases(&p);
    let dirs: Vec<_> = cases.iter().map(|c| tmp.path().join(c.name)).collect();
    for (c, d) in cases.iter().zip(&dirs) {
        export(&p, c, d);
        // For benchmarking the reference on the same chain: keep a copy where asked.
        if let Some(keep) = std::env::var_os("SHINRAI_KEEP_INTOTO_CASES") {
            export(&p, c, &Path::new(&keep).join(c.name));
        }
    }
    let out = Command::new(python())
        .arg(repo_root().join("tests/interop/intoto_verify.py"))
        .args(&dirs)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the Python interpreter ({e}): set SHINRAI_PYTHON or create .venv from tests/python-requirements.txt"));
    assert!(
        out.status.success(),
        "intoto_verify.py failed (install tests/python-requirements.txt into the venv): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    let verdicts: Vec<PyVerdict> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("verdict line"))
        .collect();
    assert_eq!(verdicts.len(), cases.len());
    for (c, py) in cases.iter().zip(&verdicts) {
        let (ours, why) = shinrai_verdict(&p, c);
        eprintln!("{}: in-toto: {} | shinrai: {}", c.name, py.error, why);
        assert_eq!(
            py.accepted, c.expect_accept,
            "case {}: in-toto said {} ({})",
            c.name, py.accepted, py.error
        );
        assert_eq!(
            ours, c.expect_accept,
            "case {}: Shinrai said {ours} ({why})",
            c.name
        );
        if !c.expect_accept {
            assert!(
                py.error.contains(c.why.0),
                "case {}: in-toto rejected for another reason: {}",
                c.name,
                py.error
            );
            assert!(
                why.contains(c.why.1),
                "case {}: Shinrai rejected for another reason: {why}",
                c.name
            );
        }
    }
}

#[test]
fn exported_links_are_named_by_step_and_keyid_prefix_and_refuse_floats() {
    let p = Parties::new();
    let (name, _) = link_metablock(&cast_record(), &p.caster).expect("link");
    assert_eq!(name, format!("cast.{}.link", &id(&p.caster)[..8]));
    let mut r = cast_record();
    r.byproducts
        .insert("torque".into(), serde_json::json!(22.5));
    assert!(
        link_metablock(&r, &p.caster).is_err(),
        "floats are not canonical JSON"
    );
}
