//! Tamper-evident key-use audit log.
//!
//! Every key use (generate, sign, refused sign, delete) is appended to a JSON-lines file, one
//! [`AuditRecord`] per line. Records are chained: each carries the `hash` of the record before it
//! (`prev`) and its own `hash`, an HMAC-SHA256 over `prev || canonical record` under a secret key
//! that only the key store holds (soft: derived from the passphrase-sealed master key; pkcs11: a
//! non-extractable HMAC key on the token). An attacker who can edit the file but does not hold that
//! key cannot recompute the chain, so any edited, deleted, inserted or reordered line is found by
//! [`verify_log`] and reported with its position.
//!
//! Deleting the newest lines leaves a valid chain, so the store also keeps an [`AuditAnchor`]
//! (record count and last hash) in its protected storage; [`verify_log`] reports a log shorter
//! than its anchor as truncated.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Checks a key label: 1 to 64 characters of ASCII letters, digits, `.`, `_` and `-`.
pub(crate) fn check_label(label: &str) -> Result<()> {
    let ok = !label.is_empty()
        && label.len() <= 64
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "key label {label:?} must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'"
        )))
    }
}

/// Seconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The audit-log outcome text for a refused use.
pub(crate) fn refusal_outcome(e: &Error) -> String {
    match e {
        Error::PolicyViolation { .. } => "refused: purpose not allowed by policy".into(),
        Error::UsageLimitReached { .. } => "refused: usage limit reached".into(),
        other => format!("refused: {other}"),
    }
}

/// The `prev` of the first record: 32 zero bytes in hex.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The secret keyed function that chains the log. Implemented by each backend; never exposes the
/// key itself.
pub trait AuditMac {
    /// HMAC-SHA256 of `data` under the store's audit key (32 bytes).
    fn mac(&self, data: &[u8]) -> Result<Vec<u8>>;
}

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// A key was generated.
    Generate,
    /// A key signed a message.
    Sign,
    /// A key was deleted.
    Delete,
    /// A use was refused (policy, usage limit); `outcome` says why.
    Refused,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Position in the chain, starting at 1.
    pub seq: u64,
    /// Time of the event, seconds since the Unix epoch.
    pub time: u64,
    /// Label of the key used.
    pub key: String,
    /// Purpose asked for (sign and refused records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// What happened.
    pub operation: Operation,
    /// SHA-256 (hex) of the message signed or refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_sha256: Option<String>,
    /// `ok`, or why the use was refused or failed.
    pub outcome: String,
    /// `hash` of the previous record ([`GENESIS`] for the first).
    pub prev: String,
    /// HMAC-SHA256 (hex) over `prev` (32 raw bytes) followed by the canonical record.
    pub hash: String,
}

/// The body of a record that the MAC covers: every field but `hash`, in this fixed order.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: u64,
    time: u64,
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    purpose: Option<&'a str>,
    operation: Operation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_sha256: Option<&'a str>,
    outcome: &'a str,
    prev: &'a str,
}

impl AuditRecord {
    fn expected_hash(&self, mac: &dyn AuditMac) -> Result<String> {
        let canonical = Canonical {
            seq: self.seq,
            time: self.time,
            key: &self.key,
            purpose: self.purpose.as_deref(),
            operation: self.operation,
            message_sha256: self.message_sha256.as_deref(),
            outcome: &self.outcome,
            prev: &self.prev,
        };
        let body = serde_json::to_vec(&canonical).map_err(|e| Error::Crypto(e.to_string()))?;
        mac_hex(mac, &self.prev, &body)
    }
}

/// `hex(MAC(prev_bytes || body))`; a `prev` that is not hex is taken as its text (the record then
/// fails verification anyway).
fn mac_hex(mac: &dyn AuditMac, prev: &str, body: &[u8]) -> Result<String> {
    let mut data = hex::decode(prev).unwrap_or_else(|_| prev.as_bytes().to_vec());
    data.extend_from_slice(body);
    Ok(hex::encode(mac.mac(&data)?))
}

/// The head of the log as the key store last saw it, kept in the store's protected storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAnchor {
    /// Number of records (the `seq` of the last one).
    pub count: u64,
    /// `hash` of the last record ([`GENESIS`] when empty).
    pub hash: String,
}

impl Default for AuditAnchor {
    fn default() -> Self {
        AuditAnchor {
            count: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

/// An event to append (the log fills in seq, time, prev and hash).
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    /// Key label.
    pub key: &'a str,
    /// Purpose asked for.
    pub purpose: Option<&'a str>,
    /// What happened.
    pub operation: Operation,
    /// The message signed or refused.
    pub message: Option<&'a [u8]>,
    /// `ok` or the reason for a refusal.
    pub outcome: &'a str,
}

/// Kind of damage found in a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// A record's content or hash was changed (its MAC does not verify, or it does not match the
    /// anchor).
    Edited,
    /// One or more records are missing here (deleted lines).
    Deleted,
    /// A record is out of order (moved or duplicated).
    Reordered,
    /// The log ends before the anchored head: newest records were removed.
    Truncated,
    /// A line is not a valid record.
    Unparseable,
    /// A record does not link to the one before it.
    BrokenChain,
}

/// One problem in a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditProblem {
    /// 1-based line number where the problem shows (for truncation: the line after the last).
    pub line: u64,
    /// The record sequence number concerned (for deletions: the first missing one).
    pub seq: Option<u64>,
    /// What is wrong.
    pub kind: ProblemKind,
    /// Human-readable detail.
    pub detail: String,
}

impl ProblemKind {
    /// The kind's name as in JSON (`edited`, `deleted`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Edited => "edited",
            ProblemKind::Deleted => "deleted",
            ProblemKind::Reordered => "reordered",
            ProblemKind::Truncated => "truncated",
            ProblemKind::Unparseable => "unparseable",
            ProblemKind::BrokenChain => "broken-chain",
        }
    }
}

impl std::fmt::Display for AuditProblem {
    /// `line 3: edited: record 3 was modified (its hash does not verify)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: {}: {}",
            self.line,
            self.kind.as_str(),
            self.detail
        )
    }
}

/// The result of checking a log with [`verify_log`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditReport {
    /// The log checked.
    pub path: PathBuf,
    /// Number of lines read as records.
    pub records_checked: u64,
    /// Records read (for display), in file order; unparseable lines are absent.
    pub records: Vec<AuditRecord>,
    /// Problems found, in file order. Empty when the log is intact.
    pub problems: Vec<AuditProblem>,
    /// The anchor the log was checked against.
    pub anchor: Option<AuditAnchor>,
}

impl AuditReport {
    /// True when no problem was found.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

fn audit_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Audit {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn read_lines(path: &Path) -> Result<Vec<String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(split_lines(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(audit_err(path, e.to_string())),
    }
}

/// Lines of `content` without their `\n`; no empty last line for a final newline.
fn split_lines(content: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = content
        .split(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    if content.is_empty() || content.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

/// Reads the records of a log for display, without checking them. Lines that are not records are
/// skipped; use [`verify_log`] to find them.
pub fn read_records(path: &Path) -> Result<Vec<AuditRecord>> {
    Ok(read_lines(path)?
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// Checks the log at `path` with the store's MAC and, if given, its anchor.
///
/// Errors only when the file cannot be read or the MAC fails; damage is reported in the
/// [`AuditReport`]. A missing file is an empty log (truncated if the anchor says otherwise).
pub fn verify_log(
    path: &Path,
    mac: &dyn AuditMac,
    anchor: Option<&AuditAnchor>,
) -> Result<AuditReport> {
    let lines = read_lines(path)?;
    verify_lines(path, &lines, mac, anchor)
}

/// Checks a log given as bytes (no IO; for tools and fuzzing). `path` is only copied into the
/// report.
pub fn verify_bytes(
    path: &Path,
    content: &[u8],
    mac: &dyn AuditMac,
    anchor: Option<&AuditAnchor>,
) -> Result<AuditReport> {
    verify_lines(path, &split_lines(content), mac, anchor)
}

fn verify_lines(
    path: &Path,
    lines: &[String],
    mac: &dyn AuditMac,
    anchor: Option<&AuditAnchor>,
) -> Result<AuditReport> {
    let mut parsed: Vec<(u64, AuditRecord)> = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let lineno = i as u64 + 1;
        if line.trim().is_empty() {
            if i + 1 != lines.len() {
                problems.push(AuditProblem {
                    line: lineno,
                    seq: None,
                    kind: ProblemKind::Unparseable,
                    detail: "empty line".into(),
                });
            }
            continue;
        }
        match serde_json::from_str::<AuditRecord>(line) {
            Ok(r) => parsed.push((lineno, r)),
            Err(e) => problems.push(AuditProblem {
                line: lineno,
                seq: None,
                kind: ProblemKind::Unparseable,
                detail: format!("not an audit record: {e}"),
            }),
        }
    }
    let present: BTreeSet<u64> = parsed.iter().map(|(_, r)| r.seq).collect();
    let mut expected_seq = 1u64;
    let mut hash_of: std::collections::HashMap<u64, String> = std::collections::HashMap::new();
    for (_, r) in &parsed {
        hash_of.entry(r.seq).or_insert_with(|| r.hash.clone());
    }
    let mut last_line = 0u64;
    for (lineno, r) in &parsed {
        let lineno = *lineno;
        last_line = lineno;
        let mut link_explained = false;
        if r.expected_hash(mac)? != r.hash {
            problems.push(AuditProblem {
                line: lineno,
                seq: Some(r.seq),
                kind: ProblemKind::Edited,
                detail: format!("record {} was modified (its hash does not verify)", r.seq),
            });
            link_explained = true;
        }
        if r.seq > expected_seq {
            // The seq is untrusted: look the gap up in the set, never enumerate it.
            let moved = present.range(expected_seq..r.seq).next().is_some();
            problems.push(AuditProblem {
                line: lineno,
                seq: Some(expected_seq),
                kind: if moved {
                    ProblemKind::Reordered
                } else {
                    ProblemKind::Deleted
                },
                detail: if moved {
                    format!(
                        "record {} appears at line {lineno} where record {expected_seq} was expected",
                        r.seq
                    )
                } else if r.seq - expected_seq == 1 {
                    format!("record {expected_seq} is missing before line {lineno}")
                } else {
                    format!(
                        "records {expected_seq} to {} are missing before line {lineno}",
                        r.seq - 1
                    )
                },
            });
            link_explained = true;
        } else if r.seq < expected_seq {
            problems.push(AuditProblem {
                line: lineno,
                seq: Some(r.seq),
                kind: ProblemKind::Reordered,
                detail: format!(
                    "record {} appears at line {lineno} after record {}",
                    r.seq,
                    expected_seq - 1
                ),
            });
            link_explained = true;
        }
        if !link_explained {
            let before = if r.seq <= 1 {
                Some(GENESIS)
            } else {
                hash_of.get(&(r.seq - 1)).map(String::as_str)
            };
            if let Some(p) = before
                && p != r.prev
            {
                problems.push(AuditProblem {
                    line: lineno,
                    seq: Some(r.seq),
                    kind: ProblemKind::BrokenChain,
                    detail: format!("record {} does not link to the record before it", r.seq),
                });
            }
        }
        if let Some(a) = anchor
            && r.seq == a.count
            && r.hash != a.hash
        {
            problems.push(AuditProblem {
                line: lineno,
                seq: Some(r.seq),
                kind: ProblemKind::Edited,
                detail: format!(
                    "record {} differs from the head the key store recorded",
                    r.seq
                ),
            });
        }
        expected_seq = expected_seq.max(r.seq.saturating_add(1));
    }
    if let Some(a) = anchor {
        let last = expected_seq - 1;
        if last < a.count {
            problems.push(AuditProblem {
                line: last_line.max(lines.iter().filter(|l| !l.trim().is_empty()).count() as u64)
                    + 1,
                seq: Some(last + 1),
                kind: ProblemKind::Truncated,
                detail: format!(
                    "the log ends at record {last} but the key store recorded {} records",
                    a.count
                ),
            });
        }
    }
    Ok(AuditReport {
        path: path.to_path_buf(),
        records_checked: parsed.len() as u64,
        records: parsed.into_iter().map(|(_, r)| r).collect(),
        problems,
        anchor: anchor.cloned(),
    })
}

/// An open audit log that records are appended to.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    head: AuditAnchor,
}

impl AuditLog {
    /// Opens (creating with mode 0600) the log at `path` for appending and takes an exclusive
    /// advisory lock on it, so two open stores never interleave records. The head continues from
    /// the last readable record, or from `anchor` if that is further on (so records deleted from
    /// the end stay visible as a gap).
    pub fn open(path: &Path, anchor: &AuditAnchor, mac: &dyn AuditMac) -> Result<Self> {
        let mut head = anchor.clone();
        // The newest record that verifies; forged or damaged lines at the end are skipped (and
        // reported by `verify_log`), so they cannot steer the sequence numbers.
        for line in read_lines(path)?.iter().rev() {
            if let Ok(r) = serde_json::from_str::<AuditRecord>(line)
                && r.expected_hash(mac)? == r.hash
            {
                if r.seq > head.count {
                    head = AuditAnchor {
                        count: r.seq,
                        hash: r.hash,
                    };
                }
                break;
            }
        }
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| audit_err(path, e.to_string()))?;
        // One writer per log: the lock lives as long as this handle (the open key store).
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(audit_err(
                    path,
                    "in use by another open key store (this or another process); close it first",
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(audit_err(path, e.to_string())),
        }
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
            head,
        })
    }

    /// Path of the log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The head after the last append: what the store should anchor.
    pub fn head(&self) -> &AuditAnchor {
        &self.head
    }

    /// Appends one record (a single `write`, not fsynced: call [`AuditLog::sync`] at points that
    /// must survive a crash).
    pub fn append(&mut self, mac: &dyn AuditMac, event: AuditEvent<'_>) -> Result<()> {
        let time = now_secs();
        let seq = self
            .head
            .count
            .checked_add(1)
            .ok_or_else(|| audit_err(&self.path, "sequence number exhausted"))?;
        let message_sha256 = event
            .message
            .map(|m| hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, m)));
        let canonical = Canonical {
            seq,
            time,
            key: event.key,
            purpose: event.purpose,
            operation: event.operation,
            message_sha256: message_sha256.as_deref(),
            outcome: event.outcome,
            prev: &self.head.hash,
        };
        // Serialise once: the line is the canonical body with `"hash"` added as the last field,
        // exactly what serialising an `AuditRecord` gives (same field order).
        let mut line = serde_json::to_vec(&canonical).map_err(|e| Error::Crypto(e.to_string()))?;
        let hash = mac_hex(mac, &self.head.hash, &line)?;
        if line.pop() != Some(b'}') {
            return Err(Error::Crypto(
                "canonical audit record is not a JSON object".into(),
            ));
        }
        line.extend_from_slice(b",\"hash\":\"");
        line.extend_from_slice(hash.as_bytes());
        line.extend_from_slice(b"\"}\n");
        self.file
            .write_all(&line)
            .map_err(|e| audit_err(&self.path, e.to_string()))?;
        self.head = AuditAnchor { count: seq, hash };
        Ok(())
    }

    /// Flushes appended records to stable storage.
    pub fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| audit_err(&self.path, e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TestMac(aws_lc_rs::hmac::Key);
    impl AuditMac for TestMac {
        fn mac(&self, data: &[u8]) -> Result<Vec<u8>> {
            Ok(aws_lc_rs::hmac::sign(&self.0, data).as_ref().to_vec())
        }
    }
    fn mac(k: &[u8]) -> TestMac {
        TestMac(aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, k))
    }

    fn log_of(n: usize, m: &TestMac) -> (tempfile::TempDir, PathBuf, AuditAnchor) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a.audit");
        let mut log = AuditLog::open(&path, &AuditAnchor::default(), m).expect("open");
        for i in 0..n {
            log.append(
                m,
                AuditEvent {
                    key: "k",
                    purpose: Some("statement"),
                    operation: Operation::Sign,
                    message: Some(&[i as u8]),
                    outcome: "ok",
                },
            )
            .expect("append");
        }
        let head = log.head().clone();
        (dir, path, head)
    }

    #[test]
    fn empty_log_with_empty_anchor_is_intact() {
        let m = mac(b"k");
        let r = verify_bytes(Path::new("x"), b"", &m, Some(&AuditAnchor::default())).expect("ok");
        assert!(r.is_intact());
        assert_eq!(r.records_checked, 0);
    }

    #[test]
    fn log_checked_with_another_stores_key_is_edited_everywhere() {
        let (_d, path, head) = log_of(3, &mac(b"right"));
        let r = verify_log(&path, &mac(b"wrong"), Some(&head)).expect("report");
        let lines: Vec<u64> = r.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [1, 2, 3]);
        assert!(r.problems.iter().all(|p| p.kind == ProblemKind::Edited));
    }

    #[test]
    fn blank_line_in_the_middle_is_reported() {
        let m = mac(b"k");
        let (_d, path, head) = log_of(2, &m);
        let text = std::fs::read_to_string(&path)
            .expect("read")
            .replacen('\n', "\n\n", 1);
        let r = verify_bytes(&path, text.as_bytes(), &m, Some(&head)).expect("report");
        assert_eq!(r.problems.len(), 1);
        assert_eq!(
            (r.problems[0].line, r.problems[0].kind),
            (2, ProblemKind::Unparseable)
        );
    }

    #[test]
    fn reopened_log_continues_the_chain() {
        let m = mac(b"k");
        let (_d, path, head) = log_of(2, &m);
        let mut log = AuditLog::open(&path, &head, &m).expect("reopen");
        assert_eq!(log.head(), &head);
        log.append(
            &m,
            AuditEvent {
                key: "k",
                purpose: None,
                operation: Operation::Delete,
                message: None,
                outcome: "ok",
            },
        )
        .expect("append");
        let r = verify_log(&path, &m, Some(log.head())).expect("report");
        assert!(r.is_intact(), "{:?}", r.problems);
        assert_eq!(r.records_checked, 3);
    }

    #[test]
    fn huge_sequence_numbers_are_reported_without_enumerating_the_gap() {
        let m = mac(b"k");
        let (_d, path, head) = log_of(1, &m);
        let mut text = std::fs::read_to_string(&path).expect("read");
        let mut rec: serde_json::Value =
            serde_json::from_str(text.lines().next().expect("line")).expect("json");
        rec["seq"] = u64::MAX.into();
        text.push_str(&rec.to_string());
        text.push('\n');
        let r = verify_bytes(&path, text.as_bytes(), &m, Some(&head)).expect("report");
        let kinds: Vec<ProblemKind> = r.problems.iter().map(|p| p.kind).collect();
        assert_eq!(kinds, [ProblemKind::Edited, ProblemKind::Deleted]);
        assert!(r.problems.iter().all(|p| p.line == 2));
    }

    #[test]
    fn forged_last_line_does_not_steer_the_next_sequence_number() {
        let m = mac(b"k");
        let (_d, path, head) = log_of(2, &m);
        let mut text = std::fs::read_to_string(&path).expect("read");
        let mut rec: serde_json::Value =
            serde_json::from_str(text.lines().next().expect("line")).expect("json");
        rec["seq"] = u64::MAX.into();
        text.push_str(&rec.to_string());
        text.push('\n');
        std::fs::write(&path, text).expect("write");
        let log = AuditLog::open(&path, &head, &m).expect("open");
        assert_eq!(log.head(), &head);
    }

    #[test]
    fn appended_line_is_the_serialised_record() {
        let m = mac(b"k");
        let (_d, path, _) = log_of(1, &m);
        let text = std::fs::read_to_string(&path).expect("read");
        let line = text.strip_suffix('\n').expect("newline");
        let rec: AuditRecord = serde_json::from_str(line).expect("record");
        assert_eq!(serde_json::to_string(&rec).expect("json"), line);
        assert_eq!(rec.expected_hash(&m).expect("mac"), rec.hash);
    }

    #[test]
    fn labels_are_checked() {
        assert!(check_label("org-key_1.v2").is_ok());
        for bad in ["", "a b", "ä", &"x".repeat(65)] {
            assert!(check_label(bad).is_err(), "{bad:?}");
        }
    }
}
