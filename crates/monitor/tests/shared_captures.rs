//! Every capture in ../shared/data/ot must be read without error.

use std::path::{Path, PathBuf};

use shinrai_monitor::capture::CaptureFile;
use shinrai_monitor::decode::{DecodeStats, decode};

fn shared_ot() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/ot"
    ))
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("shared OT data directory")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            captures(&p, out);
        } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            out.push(p);
        }
    }
}

#[test]
fn reads_and_decodes_every_shared_ot_capture() {
    let mut files = Vec::new();
    captures(&shared_ot(), &mut files);
    assert_eq!(
        files.len(),
        21,
        "expected the 21 captures of shared/data/ot"
    );
    for f in files {
        let cap = CaptureFile::open(&f).expect("readable");
        let mut frames = cap
            .frames()
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let mut stats = DecodeStats::default();
        for fr in frames.by_ref() {
            stats.count(&decode(fr.data));
        }
        let cs = frames.stats().clone();
        assert!(cs.frames > 0, "{}: no frames", f.display());
        assert_eq!(cs.skipped_records, 0, "{}: skipped records", f.display());
        assert!(!cs.truncated_tail, "{}: truncated", f.display());
        assert!(
            stats.decoded * 10 >= cs.frames * 9,
            "{}: {stats:?} of {}",
            f.display(),
            cs.frames
        );
        eprintln!("{}: {} frames, {stats:?}", f.display(), cs.frames);
    }
}
