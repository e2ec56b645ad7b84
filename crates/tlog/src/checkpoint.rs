//! C2SP tlog-checkpoint bodies, and checkpoints signed as C2SP signed notes.
//!
//! ```text
//! example.com/log        <- origin
//! 20852163               <- tree size, decimal
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=   <- root hash, base64
//! optional extension lines
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};
use crate::hash::Hash;
use crate::note::{NoteSigner, NoteVerifier, VerifiedNote, sign_note, verify_note};

/// A checkpoint: the log's origin, tree size and root hash, plus optional extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Identifies the log (usually its URL prefix without scheme).
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// Root hash of the tree of `size` leaves.
    pub root: Hash,
    /// Extension lines (without their newline), in order. Not covered by consistency checks.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// Formats the note body: origin, size, base64 root and extensions, each ending in `\n`.
    /// Fails if the origin or an extension line is empty or contains a newline or control
    /// character (it would not parse back).
    pub fn to_body(&self) -> Result<String> {
        check_line(
            &self.origin,
            "origin line must be non-empty text without control characters",
        )?;
        for e in &self.extensions {
            check_line(
                e,
                "extension lines must be non-empty text without control characters",
            )?;
        }
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for e in &self.extensions {
            body.push_str(e);
            body.push('\n');
        }
        Ok(body)
    }

    /// Parses a checkpoint note body (the note text, without signatures).
    pub fn parse(body: &str) -> Result<Self> {
        let bad = Error::MalformedCheckpoint;
        let content = body
            .strip_suffix('\n')
            .ok_or(bad("body must end with a newline"))?;
        let mut lines = content.split('\n');
        let origin = lines.next().unwrap_or_default();
        check_line(
            origin,
            "origin line must be non-empty text without control characters",
        )?;
        let size_line = lines.next().ok_or(bad("missing tree size line"))?;
        let size = parse_size(size_line)?;
        let root_line = lines.next().ok_or(bad("missing root hash line"))?;
        let root_bytes = STANDARD
            .decode(root_line)
            .map_err(|_| bad("root hash line is not base64"))?;
        let root: Hash = root_bytes
            .try_into()
            .map_err(|_| bad("root hash must be 32 bytes"))?;
        if STANDARD.encode(root) != root_line {
            return Err(bad("root hash base64 is not canonical"));
        }
        let mut extensions = Vec::new();
        for line in lines {
            check_line(
                line,
                "extension lines must be non-empty text without control characters",
            )?;
            extensions.push(line.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

fn check_line(line: &str, msg: &'static str) -> Result<()> {
    if line.is_empty() || line.chars().any(char::is_control) {
        Err(Error::MalformedCheckpoint(msg))
    } else {
        Ok(())
    }
}

fn parse_size(s: &str) -> Result<u64> {
    let bad = Error::MalformedCheckpoint("tree size must be decimal without leading zeros");
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return Err(bad);
    }
    s.parse().map_err(|_| bad)
}

/// A checkpoint whose note carried a valid signature by a trusted key and whose origin is the
/// one expected. Only [`verify_checkpoint`] builds it.
#[derive(Clone, Debug)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    note: VerifiedNote,
}

impl VerifiedCheckpoint {
    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The verified note it came in (signers, cosignature timestamps).
    pub fn note(&self) -> &VerifiedNote {
        &self.note
    }
}

/// Signs a checkpoint as a signed note with one signature (the log's key, held by `signer`).
pub fn sign_checkpoint(checkpoint: &Checkpoint, signer: &dyn NoteSigner) -> Result<String> {
    sign_note(&checkpoint.to_body()?, signer)
}

/// Verifies a signed checkpoint note against trusted keys and checks its origin is `origin`.
///
/// At least one signature must be by a key in `verifiers` (see [`verify_note`]); list only the
/// log's keys here, and check witness cosignatures on the returned note.
pub fn verify_checkpoint(
    note: &[u8],
    origin: &str,
    verifiers: &[NoteVerifier],
) -> Result<VerifiedCheckpoint> {
    let note = verify_note(note, verifiers)?;
    let checkpoint = Checkpoint::parse(note.text())?;
    if checkpoint.origin != origin {
        return Err(Error::OriginMismatch {
            expected: origin.to_owned(),
            got: checkpoint.origin,
        });
    }
    Ok(VerifiedCheckpoint { checkpoint, note })
}
