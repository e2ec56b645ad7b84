//! The one error type of the trust store.

/// Everything that can go wrong in the trust store.
///
/// Variants up to [`Error::Busy`] are about the *input* (a client sent something the policy
/// refuses) and map to 4xx answers; the rest are operator or internal failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The entry is not well-formed (not JSON, not a DSSE envelope, bad base64, not a Statement).
    #[error("malformed entry: {0}")]
    Malformed(String),
    /// The entry is larger than the store accepts.
    #[error(
        "entry is {size} bytes; the store accepts at most {max} bytes (register larger content by digest)"
    )]
    TooLarge {
        /// Size of the entry.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// No signature on the entry is by a key the store knows.
    #[error(
        "no signature is by a key registered to an organisation (key ids: {0}); add the key with `shinrai org add`"
    )]
    UnknownSigner(String),
    /// A signature by a known key does not verify over the received bytes.
    #[error("signature by key {0} does not verify over the received payload")]
    BadSignature(String),
    /// The registration policy refuses the payload or predicate type.
    #[error("refused by registration policy: {0}")]
    Policy(String),
    /// A query parameter or argument is invalid.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The bearer token is missing or unknown.
    #[error("unknown or missing organisation token")]
    Unauthorized,
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// An organisation or key that is being added exists already.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The sequencer queue is full; retry later.
    #[error("the store is busy; retry in a moment")]
    Busy,
    /// The data directory is missing, not initialised, or initialised already.
    #[error("data directory {path}: {reason}")]
    DataDir {
        /// The directory.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The stored log does not match its own checkpoints (tampering or corruption).
    #[error("stored log is inconsistent: {0}")]
    Inconsistent(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    /// File system error, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The log key store failed.
    #[error("log key: {0}")]
    Key(#[from] shinrai_scu::Error),
    /// The sequencer stopped (the store is shutting down or crashed).
    #[error("the sequencer is not running")]
    Stopped,
    /// `shinrai-envelope` failed on input the store built itself (a bug, not the client's
    /// fault); bad client input from that crate maps to the variants above instead.
    #[error("signed-statement handling failed: {0}")]
    Statement(#[source] shinrai_envelope::Error),
}

/// The `what` of `shinrai-envelope` errors about a key document (not an entry).
const KEY_DOCUMENT: &str = "securesystemslib key";

impl From<shinrai_envelope::Error> for Error {
    /// Bad input (malformed or oversized envelope, COSE message or statement, a key file that
    /// is not a supported public key, signatures that do not verify) becomes the matching 4xx
    /// variant with the library's reason; a caller mistake or internal failure inside
    /// `shinrai-envelope` becomes [`Error::Statement`] (or [`Error::Key`] for the key store).
    fn from(e: shinrai_envelope::Error) -> Self {
        use shinrai_envelope::Error as E;
        let bad_key = |why: String| {
            Error::InvalidRequest(format!("not a securesystemslib public key: {why}"))
        };
        match e {
            E::Malformed { what, reason } if what == KEY_DOCUMENT => bad_key(reason),
            E::Malformed { what, reason } => Error::Malformed(format!("{what}: {reason}")),
            E::TooLarge { what, .. } if what == KEY_DOCUMENT => bad_key(e.to_string()),
            E::TooLarge { size, limit, .. } => Error::TooLarge { size, max: limit },
            E::UnsupportedKey { .. } | E::InvalidKey(_) => bad_key(e.to_string()),
            E::InvalidStatement(_) | E::UnsupportedAlgorithm(_) => Error::Malformed(e.to_string()),
            E::WrongPayloadType { .. }
            | E::WrongPredicateType { .. }
            | E::ThresholdNotMet { .. } => Error::Policy(e.to_string()),
            E::BadSignature { keyid } => Error::BadSignature(keyid),
            E::UnknownSigner { keyids } => Error::UnknownSigner(keyids),
            E::Signing(inner) => Error::Key(inner),
            other => Error::Statement(other),
        }
    }
}

impl From<shinrai_tlog::Error> for Error {
    /// A `shinrai-tlog` failure inside the store: a storage error the store itself raised (and
    /// passed through tlog's reader) comes back unchanged; anything else means the stored or
    /// received log data does not check, so it is [`Error::Inconsistent`].
    fn from(e: shinrai_tlog::Error) -> Self {
        match e {
            shinrai_tlog::Error::Storage(inner) => match inner.downcast::<Error>() {
                Ok(own) => *own,
                Err(other) => Error::Inconsistent(other.to_string()),
            },
            other => Error::Inconsistent(other.to_string()),
        }
    }
}

impl Error {
    /// Whether the error is the client's fault (bad input, policy, auth) rather than the server's.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Error::Malformed(_)
                | Error::TooLarge { .. }
                | Error::UnknownSigner(_)
                | Error::BadSignature(_)
                | Error::Policy(_)
                | Error::InvalidRequest(_)
                | Error::Unauthorized
                | Error::NotFound(_)
                | Error::Conflict(_)
        )
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
