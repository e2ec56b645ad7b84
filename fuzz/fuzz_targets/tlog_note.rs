//! Signed notes and checkpoints fetched from a log or witness: parsing never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = shinrai_tlog::note::Note::parse(data) {
        let _ = shinrai_tlog::checkpoint::Checkpoint::parse(&note.text);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = shinrai_tlog::checkpoint::Checkpoint::parse(s);
        let _ = shinrai_tlog::note::NoteVerifier::parse(s);
    }
});
