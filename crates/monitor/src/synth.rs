//! A small synthetic Modbus/TCP plant (frames built with `etherparse`), for tests, the
//! benchmark and demos. It is not the evaluation: `scripts/ot-eval/` drives a real Modbus stack.

use etherparse::PacketBuilder;

/// HMI address.
pub const HMI: [u8; 4] = [10, 77, 0, 2];
/// PLC address.
pub const PLC: [u8; 4] = [10, 77, 0, 11];
/// HMI MAC.
pub const HMI_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
/// PLC MAC.
pub const PLC_MAC: [u8; 6] = [2, 0, 0, 0, 0, 11];
/// 2026-01-01T00:00:00Z in µs.
pub const T0: i64 = 1_767_225_600_000_000;

/// Frames with their capture time (µs).
pub type Frames = Vec<(i64, Vec<u8>)>;

/// An Ethernet/IPv4/TCP (PSH, ACK) frame.
pub fn tcp(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, 1000, 64240)
        .psh()
        .ack(1);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    // Writing into a Vec cannot fail.
    let _ = b.write(&mut out, payload);
    out
}

/// A Modbus/TCP request with a 2-byte address and a 2-byte quantity or value.
pub fn mb_req(tid: u16, fc: u8, addr: u16, val: u16) -> Vec<u8> {
    let mut v = tid.to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 0, 0, 6, 1, fc]);
    v.extend_from_slice(&addr.to_be_bytes());
    v.extend_from_slice(&val.to_be_bytes());
    v
}

/// A Modbus/TCP read-holding-registers response.
pub fn mb_read_resp(tid: u16, values: &[u16]) -> Vec<u8> {
    let mut v = tid.to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&((3 + 2 * values.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[1, 3, (2 * values.len()) as u8]);
    for x in values {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v
}

/// One poll (request and response) at `ts`.
pub fn poll(out: &mut Frames, ts: i64, tid: u16) {
    out.push((
        ts,
        tcp(
            HMI_MAC,
            PLC_MAC,
            HMI,
            PLC,
            40000,
            502,
            &mb_req(tid, 3, 0, 4),
        ),
    ));
    let vals = [200 + (tid % 7), 500, (tid % 3), 42];
    out.push((
        ts + 3_000,
        tcp(
            PLC_MAC,
            HMI_MAC,
            PLC,
            HMI,
            502,
            40000,
            &mb_read_resp(tid, &vals),
        ),
    ));
}

/// A write of `val` to register 40 and its echo at `ts`.
pub fn write(out: &mut Frames, ts: i64, tid: u16, val: u16) {
    out.push((
        ts,
        tcp(
            HMI_MAC,
            PLC_MAC,
            HMI,
            PLC,
            40000,
            502,
            &mb_req(tid, 6, 40, val),
        ),
    ));
    out.push((
        ts + 3_000,
        tcp(
            PLC_MAC,
            HMI_MAC,
            PLC,
            HMI,
            502,
            40000,
            &mb_req(tid, 6, 40, val),
        ),
    ));
}

/// Normal plant traffic: a poll every second, a write every 60 s (values 100..=140).
pub fn normal(start: i64, seconds: i64, tid0: u16) -> Frames {
    let mut out = Vec::new();
    for s in 0..seconds {
        let tid = tid0.wrapping_add(s as u16);
        let ts = start + s * 1_000_000 + ((s * 7919) % 40_000);
        poll(&mut out, ts, tid);
        if s % 60 == 30 {
            write(
                &mut out,
                ts + 500_000,
                tid.wrapping_add(30_000),
                100 + (s % 41) as u16,
            );
        }
    }
    out
}

/// Sorts frames by time and writes them as a classic pcap in memory.
pub fn to_pcap(frames: &Frames) -> Vec<u8> {
    let mut f: Vec<&(i64, Vec<u8>)> = frames.iter().collect();
    f.sort_by_key(|x| x.0);
    crate::capture::pcap_bytes(f.iter().map(|(t, d)| (*t, d.as_slice())))
}

/// Repeats a capture `times` times, shifting each copy after the previous one, keeping every
/// frame's bytes (a large capture for throughput measurements).
pub fn replicate(cap: &crate::capture::CaptureFile, times: usize) -> crate::error::Result<Vec<u8>> {
    let frames: Vec<(i64, &[u8])> = cap.frames()?.map(|f| (f.ts_us, f.data)).collect();
    let (first, last) = match (frames.first(), frames.last()) {
        (Some(a), Some(b)) => (a.0, b.0),
        _ => return Ok(crate::capture::pcap_bytes(std::iter::empty())),
    };
    let span = (last - first).max(0) + 1_000_000;
    let mut out = Vec::with_capacity(cap.len() * times + 24);
    let mut w = crate::capture::PcapWriter::new(&mut out).map_err(|e| {
        crate::error::MonitorError::Write {
            path: "memory".into(),
            source: e,
        }
    })?;
    for k in 0..times {
        for (t, d) in &frames {
            w.write_frame(t + k as i64 * span, d).map_err(|e| {
                crate::error::MonitorError::Write {
                    path: "memory".into(),
                    source: e,
                }
            })?;
        }
    }
    Ok(out)
}
