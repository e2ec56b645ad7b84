//! Interop: events written by this crate validate against GS1's EPCIS 2.0 JSON Schema (Python
//! `jsonschema`) and their ids equal what PyPI `epcis-event-hash-generator` computes.
//! Needs the project venv (`.venv`, see tests/python-requirements.txt) or `$SHINRAI_PYTHON`.

use std::path::PathBuf;
use std::process::Command;

use shinrai_evidence::epcis::{
    Action, BizTransaction, Event, EventType, Location, QuantityElement, SensorElement,
    SensorMetadata, SensorReport, Timestamp, document_json,
};

fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("SHINRAI_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python interpreter for the EPCIS interop test: set SHINRAI_PYTHON or create the venv with \
         `python3 -m venv .venv && .venv/bin/pip install -r tests/python-requirements.txt` (looked for {})",
        venv.display()
    );
    venv
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("timestamp")
}

const GTIN: &str = "https://id.gs1.org/01/04012345000009";

fn sample_events() -> Vec<Event> {
    let mut events = Vec::new();

    // Torque readings of a fastening station, with the purchase order.
    let mut e = Event::new(EventType::ObjectEvent, t("2026-03-01T10:15:00.123+01:00"));
    e.epc_list = vec![format!("{GTIN}/21/B2"), format!("{GTIN}/21/A1")];
    e.biz_step = Some("assembling".into());
    e.disposition = Some("conformant".into());
    e.read_point = Some(Location {
        id: "https://id.gs1.org/414/4012345000016".into(),
    });
    e.biz_transaction_list.push(BizTransaction {
        kind: "po".into(),
        id: "urn:shinrai:po:PO-4711".into(),
    });
    let mut torques: Vec<SensorReport> = [22.5, 21.0, 24.75, 20.1, 23.0]
        .iter()
        .map(|v| SensorReport::torque_nm(*v))
        .collect();
    let mut gate = SensorReport::new("Torque");
    gate.boolean_value = Some(true);
    gate.string_value = Some("gate ok".into());
    torques.push(gate);
    e.sensor_element_list.push(SensorElement::new(
        "urn:shinrai:device:wrench-7",
        t("2026-03-01T10:14:59Z"),
        torques,
    ));
    events.push(e);

    // Packing parts into a crate, with a temperature reading and child quantities.
    let mut e = Event::new(
        EventType::AggregationEvent,
        t("2026-03-02T08:00:00.5-05:00"),
    );
    e.parent_id = Some("https://id.gs1.org/00/340123450000000000".into());
    e.child_epcs = vec![format!("{GTIN}/21/A1"), format!("{GTIN}/21/B2")];
    e.child_quantity_list.push(QuantityElement {
        epc_class: format!("{GTIN}/10/LOT-7"),
        quantity: Some(12.0),
        uom: None,
    });
    e.biz_step = Some("packing".into());
    e.source_list.push(shinrai_evidence::epcis::Source {
        kind: "owning_party".into(),
        source: "https://id.gs1.org/417/4012345000009".into(),
    });
    e.destination_list
        .push(shinrai_evidence::epcis::Destination {
            kind: "owning_party".into(),
            destination: "https://id.gs1.org/417/0614141000005".into(),
        });
    e.destination_list
        .push(shinrai_evidence::epcis::Destination {
            kind: "location".into(),
            destination: "https://id.gs1.org/414/0614141000012".into(),
        });
    e.biz_transaction_list.push(BizTransaction {
        kind: "desadv".into(),
        id: "urn:shinrai:desadv:D-1".into(),
    });
    e.sensor_element_list.push(SensorElement::new(
        "urn:shinrai:device:thermo-1",
        t("2026-03-02T13:00:00Z"),
        vec![
            SensorReport::temperature_celsius(4.25),
            SensorReport::temperature_celsius(-1.5),
        ],
    ));
    events.push(e);

    // Steel into parts, with an oven temperature profile over an interval.
    let mut e = Event::new(EventType::TransformationEvent, t("2026-03-03T06:30:00Z"));
    e.input_quantity_list.push(QuantityElement {
        epc_class: "https://id.gs1.org/01/04012345000016/10/STEEL-1".into(),
        quantity: Some(250.5),
        uom: Some("KGM".into()),
    });
    e.output_epc_list = vec![format!("{GTIN}/21/P1"), format!("{GTIN}/21/P2")];
    e.transformation_id = Some("urn:shinrai:transformation:T-1".into());
    e.biz_step = Some("commissioning".into());
    e.action = None;
    let mut profile =
        SensorReport::measurement(shinrai_evidence::epcis::MeasurementType::Temperature, 180.0);
    profile.min_value = Some(175.5);
    profile.max_value = Some(184.25);
    profile.mean_value = Some(180.0);
    profile.s_dev = Some(0.00001);
    e.sensor_element_list.push(SensorElement {
        sensor_metadata: Some(SensorMetadata {
            start_time: Some(t("2026-03-03T06:00:00Z")),
            end_time: Some(t("2026-03-03T06:30:00Z")),
            device_id: Some("urn:shinrai:device:oven-2".into()),
            ..SensorMetadata::default()
        }),
        sensor_report: vec![profile],
    });
    events.push(e);

    // A CO2 sensor associated with a car body.
    let mut e = Event::new(
        EventType::AssociationEvent,
        t("2026-03-04T12:00:00.999+09:00"),
    );
    e.parent_id = Some("https://id.gs1.org/8004/4012345CARBODY1".into());
    e.child_epcs = vec!["https://id.gs1.org/8004/4012345SENSOR9".into()];
    e.action = Some(Action::Add);
    e.biz_step = Some("installing".into());
    e.sensor_element_list.push(SensorElement::new(
        "urn:shinrai:device:co2-3",
        t("2026-03-04T03:00:00Z"),
        vec![SensorReport::co2_ppm(412.0), SensorReport::co2_ppm(980.5)],
    ));
    events.push(e);

    // Quantities observed, two sensor elements, two business transactions, a reading time.
    let mut e = Event::new(EventType::ObjectEvent, t("2026-03-05T23:59:59.001-03:30"));
    e.quantity_list.push(QuantityElement {
        epc_class: format!("{GTIN}/10/LOT-9"),
        quantity: Some(3.0),
        uom: Some("KGM".into()),
    });
    e.biz_step = Some("inspecting".into());
    e.biz_location = Some(Location {
        id: "https://id.gs1.org/414/4012345000023".into(),
    });
    e.biz_transaction_list.push(BizTransaction {
        kind: "prodorder".into(),
        id: "urn:shinrai:prodorder:77".into(),
    });
    e.biz_transaction_list.push(BizTransaction {
        kind: "po".into(),
        id: "urn:shinrai:po:PO-1".into(),
    });
    let mut timed = SensorReport::torque_nm(19.999);
    timed.time = Some(t("2026-03-06T03:29:00.250Z"));
    e.sensor_element_list.push(SensorElement::new(
        "urn:shinrai:device:a",
        t("2026-03-06T03:29:00Z"),
        vec![timed],
    ));
    e.sensor_element_list.push(SensorElement::new(
        "urn:shinrai:device:b",
        t("2026-03-06T03:29:01Z"),
        vec![
            SensorReport::temperature_celsius(21.0),
            SensorReport::measurement(
                shinrai_evidence::epcis::MeasurementType::RelativeHumidity,
                45.5,
            ),
        ],
    ));
    events.push(e);

    // Edge cases of the canonical form: a web-vocabulary URI, a string equal to a CBV word (the
    // reference replaces it by the vocabulary URI), a numeric string, hex, URI and tiny values.
    let mut e = Event::new(EventType::ObjectEvent, t("2026-03-07T00:00:00.0005Z"));
    e.epc_list = vec![format!("{GTIN}/21/007")];
    e.biz_step = Some("https://ref.gs1.org/cbv/BizStep-inspecting".into());
    e.disposition = Some("in_progress".into());
    let mut odd = SensorReport::new("Temperature");
    odd.string_value = Some("in_progress".into());
    odd.hex_binary_value = Some("0A1B".into());
    odd.uri_value = Some("https://example.com/calibration/42".into());
    odd.value = Some(0.000012);
    odd.perc_rank = Some(50.0);
    odd.perc_value = Some(-0.5);
    let mut numeric = SensorReport::new("Length");
    numeric.string_value = Some("007".into());
    numeric.boolean_value = Some(false);
    numeric.uom = Some("MMT".into());
    e.sensor_element_list.push(SensorElement::new(
        "urn:shinrai:device:c",
        t("2026-03-07T00:00:00Z"),
        vec![odd, numeric],
    ));
    events.push(e);
    events
}

#[derive(serde::Deserialize)]
struct Checked {
    schema_errors: Vec<String>,
    hashes: Vec<String>,
    prehashes: Vec<String>,
}

fn check(docs: &[(PathBuf, Vec<u8>)]) -> Vec<Checked> {
    for (path, bytes) in docs {
        std::fs::write(path, bytes).expect("write document");
    }
    let schema = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/EPCIS-JSON-Schema.json"
    ));
    let out = Command::new(python())
        .arg(repo_root().join("tests/interop/epcis_check.py"))
        .arg(schema)
        .args(docs.iter().map(|(p, _)| p))
        .output()
        .unwrap_or_else(|e| panic!("cannot run the Python interpreter ({e}): set SHINRAI_PYTHON or create .venv from tests/python-requirements.txt"));
    assert!(
        out.status.success(),
        "epcis_check.py failed (install tests/python-requirements.txt into the venv): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("result line"))
        .collect()
}

#[test]
fn events_with_sensor_readings_validate_and_hash_like_the_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut events = sample_events();
    let docs: Vec<(PathBuf, Vec<u8>)> = events
        .iter_mut()
        .enumerate()
        .map(|(i, e)| {
            e.assign_id().expect("id");
            (
                dir.path().join(format!("event{i}.json")),
                document_json(std::slice::from_ref(e), t("2026-03-06T00:00:00Z")),
            )
        })
        .collect();
    let results = check(&docs);
    assert_eq!(results.len(), events.len());
    for (i, (e, r)) in events.iter().zip(&results).enumerate() {
        assert!(
            r.schema_errors.is_empty(),
            "event {i} breaks the GS1 schema: {:?}",
            r.schema_errors
        );
        assert_eq!(
            r.hashes.len(),
            1,
            "event {i}: the reference computed no hash"
        );
        let ours = shinrai_evidence::hash::pre_hash_string(e).expect("pre-hash");
        assert_eq!(ours, r.prehashes[0], "event {i}: pre-hash strings differ");
        assert_eq!(
            e.event_id.as_deref(),
            Some(r.hashes[0].as_str()),
            "event {i}: ids differ"
        );
    }
}

#[test]
fn a_document_of_several_events_gets_the_same_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut events = sample_events();
    for e in &mut events {
        e.assign_id().expect("id");
    }
    let doc = document_json(&events, t("2026-03-06T00:00:00Z"));
    let r = check(&[(dir.path().join("all.json"), doc)]);
    assert!(r[0].schema_errors.is_empty(), "{:?}", r[0].schema_errors);
    let ours: Vec<String> = events
        .iter()
        .map(|e| e.event_id.clone().unwrap_or_default())
        .collect();
    assert_eq!(ours, r[0].hashes);
}

#[test]
fn the_schema_check_really_rejects_a_broken_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = sample_events().remove(0);
    let doc = String::from_utf8(document_json(&[e], t("2026-03-06T00:00:00Z"))).expect("utf8");
    let broken = doc
        .replace("\"OBSERVE\"", "\"LOOK\"")
        .replace("\"uom\":\"NU\"", "\"uom\":\"newton metre\"");
    let r = check(&[(dir.path().join("broken.json"), broken.into_bytes())]);
    assert!(r[0].schema_errors.len() >= 2, "{:?}", r[0].schema_errors);
}
