//! Two sensors publish to an MSS through the real NATS JetStream server (127.0.0.1:4222).

mod common;

use std::time::Duration;

use common::*;
use shinrai_monitor::nats::{NatsConfig, SensorPublisher, delete_stream, run_mss};
use shinrai_monitor::run::{detect_capture, learn_capture};
use shinrai_monitor::{Alert, Monitor, Options};

fn alerts_of(frames: &Frames) -> Vec<Alert> {
    let (model, _) = learn_capture(&capture(&normal(T0, 600, 0)), &mut |_| {}).expect("learn");
    let mut m = Monitor::from_model(&model, Options::default()).expect("model");
    let mut out = Vec::new();
    detect_capture(
        &capture(frames),
        &mut m,
        &mut |a| out.push(a.clone()),
        &mut |_| {},
    )
    .expect("detect");
    out
}

#[test]
fn two_sensors_publish_through_nats_and_incidents_arrive_whole_and_deduplicated() {
    let id = format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let cfg = NatsConfig {
        url: std::env::var("SHINRAI_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        stream: format!("SHINRAI_TEST_{id}"),
        subject_prefix: format!("shinrai.test{id}"),
    };
    // Both sensors see the same attack (same mirror port): a new device scanning function codes.
    let start = T0 + 600 * 1_000_000;
    let mut f = normal(start, 120, 600);
    for fc in [0x2bu8, 0x11, 0x41] {
        f.push((
            start + 60_000_000 + i64::from(fc) * 1000,
            tcp(HMI_MAC, PLC_MAC, HMI, PLC, 40000, 502, &mb_req(9, fc, 0, 4)),
        ));
    }
    f.push((
        start + 90_000_000,
        tcp(
            EVIL_MAC,
            PLC_MAC,
            EVIL,
            PLC,
            41000,
            502,
            &mb_req(1, 3, 0, 4),
        ),
    ));
    let alerts = alerts_of(&f);
    assert!(alerts.len() >= 4, "{alerts:?}");
    // Sensor b sees one extra alert only it can see.
    let mut only_b = alerts[0].clone();
    only_b.timestamp = shinrai_monitor::alert::format_timestamp(start + 100_000_000);
    for (name, extra) in [("sensor-a", None), ("sensor-b", Some(only_b))] {
        let mut p = SensorPublisher::connect(&cfg, name)
            .expect("NATS JetStream at 127.0.0.1:4222 must run");
        for a in alerts.iter().chain(extra.iter()) {
            p.publish(a).expect("publish");
        }
        p.end().expect("end");
    }
    let mut incidents = Vec::new();
    let report = run_mss(
        &cfg,
        "mss",
        Some(2),
        Duration::from_secs(10),
        30_000_000,
        &mut |i| incidents.push(i.clone()),
    )
    .expect("mss");
    let _ = delete_stream(&cfg);
    assert_eq!(report.finished_sensors.len(), 2);
    assert_eq!(
        report.duplicates as usize,
        alerts.len(),
        "every alert of sensor-b but the extra one is a duplicate"
    );
    let held: usize = incidents.iter().map(|i| i.alerts.len()).sum();
    assert_eq!(
        held,
        alerts.len() + 1,
        "each distinct alert is in exactly one incident"
    );
    let mut ids: Vec<&str> = incidents.iter().map(|i| i.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), incidents.len(), "each incident is emitted once");
    // The function-code scan is one incident with all three alerts, seen by both sensors.
    let scan = incidents
        .iter()
        .find(|i| {
            i.causes
                .contains(&shinrai_monitor::Cause::NotStandardCommand)
        })
        .expect("scan incident");
    assert_eq!(scan.alerts.len(), 3);
    assert_eq!(
        scan.sensors,
        vec!["sensor-a".to_string(), "sensor-b".to_string()]
    );
    assert!(report.history.contains_key("sensor-a") && report.history.contains_key("sensor-b"));
}
