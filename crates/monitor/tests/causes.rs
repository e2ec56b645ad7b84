//! Each cause is triggered by a crafted packet sequence after learning normal traffic.

mod common;

use common::*;
use shinrai_monitor::capture::CaptureFile;
use shinrai_monitor::plan::WorkPlan;
use shinrai_monitor::run::{detect_capture, learn_capture};
use shinrai_monitor::{Alert, Cause, Model, Monitor, Options};

fn model() -> Model {
    let (m, _) = learn_capture(&capture(&normal(T0, 1800, 0)), &mut |_| {}).expect("learn");
    m
}

fn detect_with(model: &Model, plan: Option<&str>, frames: &Frames) -> Vec<Alert> {
    let mut m = Monitor::from_model(model, Options::default()).expect("model");
    if let Some(p) = plan {
        m.set_work_plan(WorkPlan::from_json(p).expect("plan"));
    }
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

/// Normal traffic after the learning period, with `inject` added 120 s in.
fn scenario(inject: impl FnOnce(&mut Frames, i64)) -> Frames {
    let start = T0 + 1800 * 1_000_000;
    let mut f = normal(start, 300, 1800);
    inject(&mut f, start + 120_000_000);
    f
}

fn causes_of(alerts: &[Alert]) -> Vec<Cause> {
    alerts
        .iter()
        .filter_map(|a| a.info())
        .flat_map(|i| i.causes.clone())
        .collect()
}

#[test]
fn normal_traffic_after_learning_raises_no_alert() {
    let alerts = detect_with(&model(), None, &scenario(|_, _| {}));
    assert!(
        alerts.is_empty(),
        "{:?}",
        alerts.first().map(Alert::to_json_line)
    );
}

#[test]
fn new_device_is_reported_at_once() {
    let f = scenario(|f, t| {
        f.push((
            t,
            tcp(
                EVIL_MAC,
                PLC_MAC,
                EVIL,
                PLC,
                41000,
                502,
                &mb_req(1, 3, 0, 4),
            ),
        ))
    });
    let alerts = detect_with(&model(), None, &f);
    let c = causes_of(&alerts);
    assert!(
        c.contains(&Cause::NewDevice) && c.contains(&Cause::NewLink),
        "{c:?}"
    );
    assert_eq!(
        alerts[0].timestamp,
        shinrai_monitor::alert::format_timestamp(T0 + 1920 * 1_000_000)
    );
}

#[test]
fn new_service_port_is_a_new_link() {
    let f = scenario(|f, t| {
        f.push((
            t,
            tcp(HMI_MAC, PLC_MAC, HMI, PLC, 40001, 22, b"SSH-2.0-x\r\n"),
        ))
    });
    let alerts = detect_with(&model(), None, &f);
    assert_eq!(causes_of(&alerts), vec![Cause::NewLink]);
    assert!(
        alerts[0]
            .info()
            .expect("info")
            .detail
            .contains("new service")
    );
}

#[test]
fn unusual_function_code_is_not_a_standard_command_at_offset_7() {
    let f = scenario(|f, t| {
        f.push((
            t,
            tcp(
                HMI_MAC,
                PLC_MAC,
                HMI,
                PLC,
                40000,
                502,
                &mb_req(77, 0x2b, 0, 4),
            ),
        ))
    });
    let alerts = detect_with(&model(), None, &f);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let info = alerts[0].info().expect("info");
    assert_eq!(info.causes, vec![Cause::NotStandardCommand]);
    assert_eq!(info.payload_offsets, vec![7]);
    assert!(info.detail.contains("function code"), "{}", info.detail);
    // The alert carries the payload (Suricata's `payload`), so a reader sees the byte at 7.
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(alerts[0].payload.as_deref().expect("payload carried"))
        .expect("base64");
    assert_eq!(payload, mb_req(77, 0x2b, 0, 4));
    assert_eq!(payload[7], 0x2b);
}

#[test]
fn out_of_range_write_is_an_unusual_value_at_the_value_offsets() {
    let f = scenario(|f, t| write(f, t, 77, 5000));
    let alerts = detect_with(&model(), None, &f);
    let info = alerts.first().and_then(Alert::info).expect("alert");
    assert_eq!(info.causes, vec![Cause::UnusualValue]);
    assert!(
        !info.payload_offsets.is_empty()
            && info.payload_offsets.iter().all(|o| *o == 10 || *o == 11),
        "{info:?}"
    );
}

#[test]
fn valid_write_replayed_outside_its_work_plan_window_is_caught() {
    // The plan allows writes to register 40 only during the training half hour.
    let plan = format!(
        r#"{{"version":1,"entries":[{{"name":"setpoint tuning","device":"10.77.0.11","port":502,
        "from":"{}","to":"{}","command":{{"offset":7,"values":[6]}},
        "address":{{"offset":8,"min":40,"max":40}},"value":{{"offset":10,"min":100,"max":140}}}}]}}"#,
        T0 / 1_000_000,
        T0 / 1_000_000 + 1800
    );
    let model = model();
    // Without the work plan, a replayed valid write looks normal.
    let f = scenario(|f, t| write(f, t, 99, 120));
    assert!(detect_with(&model, None, &f).is_empty());
    let alerts = detect_with(&model, Some(&plan), &f);
    let info = alerts.first().and_then(Alert::info).expect("alert");
    assert_eq!(info.causes, vec![Cause::NotInWorkPlan]);
    assert_eq!(info.payload_offsets, vec![7]);
}

#[test]
fn faster_polling_is_a_timing_anomaly() {
    let start = T0 + 1800 * 1_000_000;
    let mut f = normal(start, 120, 1800);
    for i in 0..300i64 {
        poll(&mut f, start + 120_000_000 + i * 200_000, 5000 + i as u16);
    }
    let c = causes_of(&detect_with(&model(), None, &f));
    assert!(c.contains(&Cause::Timing), "{c:?}");
}

#[test]
fn request_flood_is_a_volume_anomaly() {
    let start = T0 + 1800 * 1_000_000;
    let mut f = normal(start, 120, 1800);
    for i in 0..400i64 {
        poll(&mut f, start + 121_000_000 + i * 10_000, 6000 + i as u16);
    }
    let c = causes_of(&detect_with(&model(), None, &f));
    assert!(c.contains(&Cause::Volume), "{c:?}");
}

#[test]
fn arp_spoof_of_the_plc_address_is_an_address_change() {
    use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, EtherType, PacketBuilder};
    let f = scenario(|f, t| {
        let arp = ArpPacket::new(
            ArpHardwareId::ETHERNET,
            EtherType::IPV4,
            ArpOperation::REPLY,
            &EVIL_MAC,
            &PLC,
            &HMI_MAC,
            &HMI,
        )
        .expect("arp");
        let b = PacketBuilder::ethernet2(EVIL_MAC, HMI_MAC).arp(arp);
        let mut out = Vec::new();
        b.write(&mut out).expect("arp frame");
        f.push((t, out));
    });
    let alerts = detect_with(&model(), None, &f);
    let c = causes_of(&alerts);
    assert!(c.contains(&Cause::AddressChange), "{c:?}");
    assert!(alerts[0].info().expect("info").detail.contains("ARP"));
}

#[test]
fn plc_that_stops_answering_is_reported_gone() {
    let start = T0 + 1800 * 1_000_000;
    let mut f = normal(start, 300, 1800);
    // Keep the HMI polling, drop every PLC frame after 60 s.
    f.retain(|(t, d)| !(*t > start + 60_000_000 && d[6..12] == PLC_MAC));
    let c = causes_of(&detect_with(&model(), None, &f));
    assert!(c.contains(&Cause::DeviceGone), "{c:?}");
}

#[test]
fn truncated_capture_is_read_up_to_the_cut_without_panic() {
    let full = capture(&normal(T0, 50, 0));
    let mut frames_full = 0;
    for _ in full.frames().expect("frames") {
        frames_full += 1;
    }
    // Rebuild the bytes and cut them inside the last record.
    let f = normal(T0, 50, 0);
    let mut raw = shinrai_monitor::capture::pcap_bytes(f.iter().map(|(t, d)| (*t, d.as_slice())));
    raw.truncate(raw.len() - 10);
    let cut = CaptureFile::from_bytes(raw);
    let mut it = cut.frames().expect("frames");
    let n = it.by_ref().count();
    assert_eq!(n, frames_full - 1);
    assert!(it.stats().truncated_tail);
    // Garbage inside frames: every prefix of a frame decodes or is counted, never panics.
    let f = normal(T0, 2, 0);
    for (_, d) in &f {
        for k in 0..d.len() {
            let _ = shinrai_monitor::decode(&d[..k]);
        }
    }
    // Not a capture at all.
    assert!(
        CaptureFile::from_bytes(b"hello world".to_vec())
            .frames()
            .is_err()
    );
}

#[cfg(feature = "live")]
#[test]
fn live_capture_on_loopback_sees_udp_datagrams() {
    use std::time::Duration;
    let mut cap = match shinrai_monitor::live::LiveCapture::open("lo", Duration::from_millis(200)) {
        Ok(c) => c,
        Err(e) => panic!("live capture needs root or CAP_NET_RAW (CI runs as root): {e}"),
    };
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let target = sock.local_addr().expect("addr");
    let mut seen = false;
    for _ in 0..50 {
        sock.send_to(b"shinrai-live-probe", target).expect("send");
        while let Some(f) = cap.next_frame().expect("read") {
            if let Ok(p) = shinrai_monitor::decode(f.data)
                && p.payload == b"shinrai-live-probe"
            {
                seen = true;
                break;
            }
        }
        if seen {
            break;
        }
    }
    assert!(seen, "no probe datagram captured on lo");
}
