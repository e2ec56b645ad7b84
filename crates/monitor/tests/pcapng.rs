//! pcapng captures: frames, timestamps, and damaged blocks.

mod common;

use common::*;
use shinrai_monitor::capture::{CaptureFile, CaptureFormat};

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
    let len = (b.len() + 12) as u32;
    let mut out = kind.to_le_bytes().to_vec();
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&b);
    out.extend_from_slice(&len.to_le_bytes());
    out
}

fn pcapng(frames: &Frames) -> Vec<u8> {
    let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut out = block(0x0A0D_0D0A, &shb);
    let mut idb = 1u16.to_le_bytes().to_vec();
    idb.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    out.extend(block(1, &idb));
    for (ts, d) in frames {
        let t = *ts as u64;
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&((t >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(t as u32).to_le_bytes());
        epb.extend_from_slice(&(d.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(d.len() as u32).to_le_bytes());
        epb.extend_from_slice(d);
        out.extend(block(6, &epb));
    }
    out
}

#[test]
fn reads_pcapng_frames_with_microsecond_timestamps() {
    let frames = normal(T0, 5, 0);
    let cap = CaptureFile::from_bytes(pcapng(&frames));
    assert_eq!(cap.format().expect("format"), CaptureFormat::PcapNg);
    let got: Vec<(i64, Vec<u8>)> = cap
        .frames()
        .expect("frames")
        .map(|f| (f.ts_us, f.data.to_vec()))
        .collect();
    assert_eq!(got, frames);
}

#[test]
fn damaged_pcapng_block_lengths_end_the_capture_without_panic() {
    let good = pcapng(&normal(T0, 3, 0));
    let first_epb = 28 + 20;
    for bad_len in [0u32, 4, 8, 13, 0xFFFF_FFF0] {
        let mut b = good.clone();
        b[first_epb + 4..first_epb + 8].copy_from_slice(&bad_len.to_le_bytes());
        let cap = CaptureFile::from_bytes(b);
        let mut it = cap.frames().expect("header is fine");
        assert_eq!(it.by_ref().count(), 0, "length {bad_len}");
        let s = it.stats();
        assert!(
            s.skipped_records == 1 || s.truncated_tail,
            "length {bad_len}: {s:?}"
        );
    }
    let mut cut = good.clone();
    cut.truncate(good.len() - 6);
    let cap = CaptureFile::from_bytes(cut);
    let mut it = cap.frames().expect("frames");
    assert_eq!(it.by_ref().count(), 5);
    assert!(it.stats().truncated_tail);
}

#[test]
fn a_timestamp_past_the_representable_range_saturates_without_panic() {
    // Found by the `ot_capture` fuzz target: 2^64 - 1 microseconds overflowed the addition of
    // the sub-second part after the seconds had saturated.
    let frames = normal(T0, 1, 0);
    let data = frames[0].1.clone();
    let cap = CaptureFile::from_bytes(pcapng(&vec![(-1, data.clone())]));
    let got: Vec<(i64, Vec<u8>)> = cap
        .frames()
        .expect("frames")
        .map(|f| (f.ts_us, f.data.to_vec()))
        .collect();
    assert_eq!(got, vec![(i64::MAX, data)]);
}
