//! CycloneDX 1.6 composition: determinism, round trip, digest, and validation by
//! cyclonedx-python-lib (the independent checker).

mod common;

use std::process::Command;

use common::{composition, python, repo_root};
use shinrai_attest::{ComponentKind, Composition, Error, ReferenceValues};

#[test]
fn cyclonedx_output_validates_with_cyclonedx_python_lib() {
    let dir = tempfile::tempdir().expect("dir");
    let mut files = Vec::new();
    let mut with_supplier_and_all_kinds = composition("1.0", b"fw");
    with_supplier_and_all_kinds
        .components
        .push(shinrai_attest::Component {
            name: "web-ui".into(),
            version: "3.2.1".into(),
            kind: ComponentKind::Software,
            supplier: Some("UI Works \"quoted\" & <co>".into()),
            sha256: shinrai_attest::Sha256::of(b"ui"),
        });
    for (i, c) in [composition("1.0", b"fw"), with_supplier_and_all_kinds]
        .iter()
        .enumerate()
    {
        let path = dir.path().join(format!("bom-{i}.json"));
        std::fs::write(&path, c.to_cyclonedx().expect("cyclonedx")).expect("write");
        files.push(path);
    }
    let out = Command::new(python())
        .arg(repo_root().join("tests/interop/cyclonedx_validate.py"))
        .args(&files)
        .output()
        .expect("run python");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cyclonedx-python-lib rejected our CycloneDX (is it installed? pip install -r tests/python-requirements.txt):\n{text}"
    );
    assert!(
        text.contains("valid CycloneDX 1.6, 4 components, 4 hashes"),
        "{text}"
    );
    assert!(text.contains("5 components, 5 hashes"), "{text}");
}

#[test]
fn cyclonedx_is_deterministic_and_round_trips() {
    let c = composition("1.0", b"fw");
    let a = c.to_cyclonedx().expect("a");
    let b = c.to_cyclonedx().expect("b");
    assert_eq!(a, b);
    assert_eq!(c.digest().expect("d"), shinrai_attest::Sha256::of(&a));
    let back = Composition::from_cyclonedx(&a).expect("parse");
    assert_eq!(back, c);
    let json: serde_json::Value = serde_json::from_slice(&a).expect("json");
    assert_eq!(json["specVersion"], "1.6");
    assert_eq!(json["metadata"]["component"]["type"], "device");
    assert_eq!(json["components"][0]["hashes"][0]["alg"], "SHA-256");
    let serial = json["serialNumber"].as_str().expect("serial");
    assert!(
        serial.starts_with("urn:uuid:") && serial.len() == 45,
        "{serial}"
    );
}

#[test]
fn a_new_release_has_a_new_digest_and_reference_values() {
    let v1 = composition("1.0", b"firmware 1.0");
    let v2 = composition("1.1", b"firmware 1.1");
    assert_ne!(v1.digest().expect("d1"), v2.digest().expect("d2"));
    let rv = ReferenceValues::from_composition(&v2).expect("rv");
    assert_eq!(rv.version, "1.1");
    assert_eq!(rv.measurements.len(), 4);
    assert_eq!(rv.composition_digest, v2.digest().expect("d2"));
    assert_eq!(ReferenceValues::from_json(&rv.to_json()).expect("json"), rv);
}

#[test]
fn bad_compositions_are_refused_with_a_reason() {
    let mut dup = composition("1.0", b"fw");
    dup.components.push(dup.components[0].clone());
    let err = dup.to_cyclonedx().expect_err("must be refused");
    assert!(err.to_string().contains("appears twice"), "{err}");
    let mut empty = composition("1.0", b"fw");
    empty.components.clear();
    assert!(matches!(
        empty.to_cyclonedx(),
        Err(Error::MalformedComposition(_))
    ));
    for bad in [
        &b"not json"[..],
        br#"{"bomFormat":"SPDX"}"#,
        br#"{"bomFormat":"CycloneDX","metadata":{"component":{"name":"x","version":"1","manufacturer":{"name":"m"}}},"components":[{"type":"firmware","name":"a","version":"1"}]}"#,
    ] {
        assert!(matches!(
            Composition::from_cyclonedx(bad),
            Err(Error::MalformedComposition(_))
        ));
    }
}
