//! Captures of OT traffic (pcap, pcapng): reading every frame and decoding it never panics,
//! whatever the file holds.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = shinrai_monitor::capture::CaptureFile::from_bytes(data.to_vec());
    if let Ok(frames) = file.frames() {
        for frame in frames {
            let _ = shinrai_monitor::decode::decode(frame.data);
        }
    }
    let _ = shinrai_monitor::decode::decode(data);
});
