//! Learning a capture and replaying the same capture raises no alert.

use std::path::PathBuf;

use shinrai_monitor::capture::CaptureFile;
use shinrai_monitor::run::{detect_capture, learn_capture};
use shinrai_monitor::{Model, Monitor, Options};

fn shared(rel: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/ot"
    ))
    .join(rel)
}

const ALL: &[&str] = &[
    "bacnet/bacnet_test.pcap",
    "dnp3/DNP3-Malformed.pcap",
    "dnp3/dnp3.pcap",
    "dnp3/dnp3_test_data_part1.pcap",
    "enip/EIP-RebootorRestart.pcap",
    "enip/EthernetIP-CIP.pcap",
    "enip/enip_test.pcap",
    "goose/GOOSE.pcap",
    "goose/Sample_File_GOOSE.pcap",
    "iec104/090813_diverse.pcap",
    "iec104/TestDissectIec104.pcap",
    "mixed/mb2.pcap",
    "modbus/ModbusTCP.pcap",
    "modbus/fuzz-72.pcap",
    "modbus/modbus_test.pcap",
    "modbus/modbus_test_data_part2.pcap",
    "modbus/modicon_test.pcap",
    "profinet/PROFINET-RT.pcap",
    "s7comm/s7comm_clean.pcap",
    "s7comm/s7comm_reading_plc_status.pcap",
    "s7comm/wincc_s400_production.pcapng",
];

#[test]
fn replaying_each_shared_capture_after_learning_it_raises_no_alert() {
    let mut failures = Vec::new();
    for rel in ALL {
        let cap = CaptureFile::open(&shared(rel)).expect("capture");
        let (model, learned) = learn_capture(&cap, &mut |_| {}).expect("learn");
        // The model survives a JSON round trip.
        let model = Model::from_json(&model.to_json()).expect("model JSON");
        let mut m = Monitor::from_model(&model, Options::default()).expect("load");
        let mut alerts = Vec::new();
        let s = detect_capture(
            &cap,
            &mut m,
            &mut |a| alerts.push(a.to_json_line()),
            &mut |_| {},
        )
        .expect("detect");
        assert_eq!(s.frames, learned.frames);
        if !alerts.is_empty() {
            failures.push(format!(
                "{rel}: {} alerts, first: {}",
                alerts.len(),
                alerts[0]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
