//! The one error type of the monitor crate.

/// Everything that can go wrong in the monitor crate.
///
/// Bad input from the network (a corrupt frame) is never an error: it is counted and skipped.
/// These variants are about files, configuration and services the operator controls.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// A capture file could not be read from disk.
    #[error("cannot read capture {path}: {source}")]
    CaptureIo {
        /// The file that failed.
        path: String,
        /// The operating system error.
        source: std::io::Error,
    },
    /// The bytes are neither a classic pcap nor a pcapng capture.
    #[error("not a pcap or pcapng capture ({0}); check the file with `file` or `capinfos`")]
    CaptureFormat(String),
    /// The capture's link type is not Ethernet, the only one the monitor decodes.
    #[error(
        "capture link type {0} is not supported: record on an Ethernet interface (link type 1)"
    )]
    UnsupportedLinkType(i32),
    /// A model, work plan or standard-commands file is not valid JSON of the documented shape.
    #[error("invalid {what}: {reason}")]
    InvalidConfig {
        /// Which kind of file (model, work plan, standard commands).
        what: &'static str,
        /// What is wrong, with the JSON path when known.
        reason: String,
    },
    /// A model file was written by an incompatible version of the monitor.
    #[error(
        "model format version {found} is not supported (expected {expected}); re-run `shinrai monitor learn`"
    )]
    ModelVersion {
        /// Version found in the file.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
    /// Writing alerts, models or incidents failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The destination.
        path: String,
        /// The operating system error.
        source: std::io::Error,
    },
    /// Live capture could not be started (interface missing, or no CAP_NET_RAW).
    #[error("live capture on {interface}: {reason}")]
    Live {
        /// Interface name.
        interface: String,
        /// What failed; `EPERM` means the process needs root or CAP_NET_RAW.
        reason: String,
    },
    /// A signed model failed verification (bad signature, unknown key, altered bytes).
    #[error("model signature: {0}")]
    Signature(String),
    /// NATS / JetStream communication failed.
    #[error("NATS: {0}; is nats-server with JetStream running at the given URL?")]
    Nats(String),
}

/// Shorthand result type of this crate.
pub type Result<T> = std::result::Result<T, MonitorError>;
