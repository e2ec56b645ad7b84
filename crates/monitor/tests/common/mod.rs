//! The synthetic plant of `shinrai_monitor::synth`, plus an attacker.
#![allow(dead_code, unused_imports)]

pub use shinrai_monitor::synth::*;

use shinrai_monitor::capture::CaptureFile;

pub const EVIL: [u8; 4] = [10, 77, 0, 66];
pub const EVIL_MAC: [u8; 6] = [2, 0, 0, 0, 0, 66];

pub fn capture(frames: &Frames) -> CaptureFile {
    CaptureFile::from_bytes(to_pcap(frames))
}
