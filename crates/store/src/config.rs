//! The data directory's configuration file, `config.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Largest entry the log can hold: C2SP entry bundles prefix each entry with a 16-bit length,
/// so "64 KiB" is 65,535 bytes.
pub const MAX_ENTRY_BYTES: usize = 65_535;

/// Store settings, kept in `<data>/config.json` (written by `init`, editable by the operator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Log origin: first line of every checkpoint and the note key name.
    pub origin: String,
    /// Largest accepted entry in bytes (at most [`MAX_ENTRY_BYTES`]).
    pub max_entry_bytes: usize,
    /// Accepted DSSE payload types.
    pub allowed_payload_types: Vec<String>,
    /// Accepted predicate types; `"*"` accepts any.
    pub allowed_predicate_types: Vec<String>,
    /// Most entries integrated in one batch.
    pub batch_max_entries: usize,
    /// How long the sequencer waits for a batch to fill after its first entry arrives
    /// (milliseconds, at most 1000). It never waits when the batch is full. The default, 0, is
    /// group commit: a batch is whatever queued while the previous one committed, so a lone
    /// registration is integrated at once and batches grow with the load by themselves
    /// (measured against a 2 ms wait: more registrations per second at 8, 256 and 512 clients,
    /// the same within the noise at 1,024; see BENCHMARKS.md). A wait can still pay off where
    /// each commit has a high fixed cost (a slow fsync) and entries trickle in.
    pub batch_max_delay_ms: u64,
    /// Entries that may wait for the sequencer before registrations are refused with "busy".
    pub queue_capacity: usize,
    /// SCU key label of the log (checkpoint) key.
    pub log_key_label: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            origin: "shinrai.localhost/log".into(),
            max_entry_bytes: MAX_ENTRY_BYTES,
            allowed_payload_types: vec![crate::statement::IN_TOTO_PAYLOAD_TYPE.into()],
            allowed_predicate_types: vec!["*".into()],
            batch_max_entries: 8192,
            batch_max_delay_ms: 0,
            queue_capacity: 65_536,
            log_key_label: "log".into(),
        }
    }
}

impl Config {
    /// Checks the values are usable.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::InvalidRequest(format!("config: {why}")));
        if self.origin.is_empty()
            || self.origin.contains(char::is_whitespace)
            || self.origin.contains('+')
        {
            return bad("origin must be non-empty without spaces or '+'".into());
        }
        if self.max_entry_bytes == 0 || self.max_entry_bytes > MAX_ENTRY_BYTES {
            return bad(format!("max_entry_bytes must be 1..={MAX_ENTRY_BYTES}"));
        }
        if self.batch_max_entries == 0 || self.batch_max_delay_ms > 1000 || self.queue_capacity == 0
        {
            return bad(
                "batch_max_entries and queue_capacity must be > 0, batch_max_delay_ms <= 1000"
                    .into(),
            );
        }
        Ok(())
    }

    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let c: Config = serde_json::from_slice(&bytes)
            .map_err(|e| Error::InvalidRequest(format!("{}: {e}", path.display())))?;
        c.validate()?;
        Ok(c)
    }

    /// Whether the predicate type is allowed.
    pub fn predicate_allowed(&self, p: &str) -> bool {
        self.allowed_predicate_types
            .iter()
            .any(|a| a == "*" || a == p)
    }
}
