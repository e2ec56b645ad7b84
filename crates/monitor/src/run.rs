//! Whole-capture drivers used by the CLI, the tests and the benchmark.

use crate::alert::Alert;
use crate::capture::CaptureFile;
use crate::engine::{Model, Monitor, Options, Summary};
use crate::error::Result;

/// Learns a model from a capture: a first pass builds the message types and timing bands, a
/// second pass adds every message to the profiles. Every link ends in protection.
/// `progress` receives the fraction done (0..=1) now and then.
pub fn learn_capture(cap: &CaptureFile, progress: &mut dyn FnMut(f64)) -> Result<(Model, Summary)> {
    let opts = Options {
        auto_protect: false,
        inventory_learning_us: None,
        ..Options::default()
    };
    let mut m = Monitor::learning(opts);
    let mut frames = cap.frames()?;
    let total = frames.total_bytes().max(1) as f64;
    let mut n = 0u64;
    while let Some(f) = frames.next() {
        m.process(&f);
        n += 1;
        if n.is_multiple_of(65_536) {
            progress(0.5 * (1.0 - frames.remaining_bytes() as f64 / total));
        }
    }
    m.finish_learning_pass();
    let mut frames = cap.frames()?;
    while let Some(f) = frames.next() {
        m.refine(&f);
        n += 1;
        if n.is_multiple_of(65_536) {
            progress(0.5 + 0.5 * (1.0 - frames.remaining_bytes() as f64 / total));
        }
    }
    progress(1.0);
    Ok((m.to_model(), m.summary()))
}

/// Runs a monitor over a capture, handing every alert to `sink`.
pub fn detect_capture(
    cap: &CaptureFile,
    monitor: &mut Monitor,
    sink: &mut dyn FnMut(&Alert),
    progress: &mut dyn FnMut(f64),
) -> Result<Summary> {
    let mut frames = cap.frames()?;
    let total = frames.total_bytes().max(1) as f64;
    let mut n = 0u64;
    while let Some(f) = frames.next() {
        for a in monitor.process(&f) {
            sink(a);
        }
        n += 1;
        if n.is_multiple_of(65_536) {
            progress(1.0 - frames.remaining_bytes() as f64 / total);
        }
    }
    for a in monitor.finish() {
        sink(a);
    }
    progress(1.0);
    Ok(monitor.summary())
}
