//! EPCIS events from partners: parsing, validation and the CBV 2.0 event hash never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = shinrai_evidence::epcis::Event::from_json(data) {
        let _ = event.validate();
        let _ = shinrai_evidence::hash::event_hash(&event);
    }
});
