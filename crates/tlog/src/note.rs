//! C2SP signed notes with Ed25519 keys, and C2SP tlog-cosignature witness cosignatures.
//!
//! A note is UTF-8 text ending in a newline, a blank line, then signature lines
//! `— <key name> <base64(4-byte key hash || signature)>` (the dash is U+2014). Ed25519 note keys
//! (algorithm 0x01) sign the text; cosignature keys (algorithm 0x04, timestamped Ed25519) sign
//! `cosignature/v1\ntime <t>\n` followed by the text, and their signature is
//! `u64 big-endian timestamp || Ed25519 signature`. The key hash is the first 4 bytes of
//! `SHA-256(name || 0x0A || alg || public key)`.
//!
//! Signing goes through [`NoteSigner`] so the private key can live elsewhere (the SCU).
//! Verifying returns a [`VerifiedNote`], which only [`verify_note`] can build.

use std::fmt;

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};
use crate::hash::sha256;

/// Signature-line prefix: U+2014 EM DASH and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// Most signature lines a note may carry; bounds the work an attacker can cause.
pub const MAX_SIGNATURES: usize = 100;
/// Ed25519 public key length.
pub const ED25519_PUBLIC_KEY_LEN: usize = 32;

/// Signature algorithm of a note key (the vkey type byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlg {
    /// 0x01: Ed25519 over the note text (log checkpoints).
    Ed25519,
    /// 0x04: C2SP tlog-cosignature v1, timestamped Ed25519 (witness cosignatures).
    CosignatureV1,
}

impl KeyAlg {
    /// The algorithm byte used in key hashes and verifier keys.
    pub fn byte(self) -> u8 {
        match self {
            KeyAlg::Ed25519 => 0x01,
            KeyAlg::CosignatureV1 => 0x04,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            0x01 => Some(KeyAlg::Ed25519),
            0x04 => Some(KeyAlg::CosignatureV1),
            _ => None,
        }
    }
}

/// Key hash (key ID) of a key: `SHA-256(name || "\n" || alg || public key)[..4]`.
pub fn key_hash(name: &str, alg: KeyAlg, public_key: &[u8]) -> [u8; 4] {
    let mut buf = Vec::with_capacity(name.len() + 2 + public_key.len());
    buf.extend_from_slice(name.as_bytes());
    buf.push(b'\n');
    buf.push(alg.byte());
    buf.extend_from_slice(public_key);
    let h = sha256(&buf);
    [h[0], h[1], h[2], h[3]]
}

/// Checks a key name: non-empty, no Unicode whitespace, no `+`, no control characters.
pub fn check_key_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        Err(Error::InvalidKeyName)
    } else {
        Ok(())
    }
}

/// Something that signs notes without revealing its private key (the SCU implements it).
///
/// `sign` returns a raw 64-byte Ed25519 signature of the exact bytes given. For a log key,
/// `key_hash` is [`key_hash`]`(name, KeyAlg::Ed25519, pk)`; for a witness cosigner it is
/// [`key_hash`]`(name, KeyAlg::CosignatureV1, pk)`.
pub trait NoteSigner {
    /// Key name as it appears in signature lines.
    fn name(&self) -> &str;
    /// The 4-byte key hash of the key.
    fn key_hash(&self) -> [u8; 4];
    /// Signs `msg` with Ed25519. Errors are reported as [`Error::Signer`].
    fn sign(&self, msg: &[u8]) -> Result<[u8; 64]>;
}

/// A trusted public key: name, algorithm and Ed25519 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    alg: KeyAlg,
    key_hash: [u8; 4],
    public_key: [u8; ED25519_PUBLIC_KEY_LEN],
}

impl NoteVerifier {
    /// A verifier for an Ed25519 key of the given algorithm (key hash computed).
    pub fn new(
        name: impl Into<String>,
        alg: KeyAlg,
        public_key: [u8; ED25519_PUBLIC_KEY_LEN],
    ) -> Result<Self> {
        let name = name.into();
        check_key_name(&name)?;
        let key_hash = key_hash(&name, alg, &public_key);
        Ok(Self {
            name,
            alg,
            key_hash,
            public_key,
        })
    }

    /// Parses a verifier key `<name>+<8 hex digits key hash>+<base64(alg || public key)>`,
    /// checking the key hash matches the name and key.
    pub fn parse(vkey: &str) -> Result<Self> {
        let bad = Error::MalformedVerifierKey;
        // The base64 key may itself contain '+', so split at the first two only.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(hash_hex), Some(key_b64)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected <name>+<hex key hash>+<base64 key>"));
        };
        check_key_name(name)?;
        if hash_hex.len() != 8 || !hash_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("key hash must be 8 hex digits"));
        }
        let mut hash = [0u8; 4];
        hex::decode_to_slice(hash_hex, &mut hash).map_err(|_| bad("key hash is not hex"))?;
        let key = STANDARD
            .decode(key_b64)
            .map_err(|_| bad("key is not base64"))?;
        let (&alg, pk) = key.split_first().ok_or(bad("key is empty"))?;
        let alg = KeyAlg::from_byte(alg).ok_or(bad("unsupported key algorithm"))?;
        let pk: [u8; ED25519_PUBLIC_KEY_LEN] = pk
            .try_into()
            .map_err(|_| bad("Ed25519 public key must be 32 bytes"))?;
        let v = Self::new(name, alg, pk)?;
        if v.key_hash != hash {
            return Err(bad("key hash does not match name and key"));
        }
        Ok(v)
    }

    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signature algorithm.
    pub fn alg(&self) -> KeyAlg {
        self.alg
    }

    /// The 4-byte key hash.
    pub fn key_hash(&self) -> [u8; 4] {
        self.key_hash
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &[u8; ED25519_PUBLIC_KEY_LEN] {
        &self.public_key
    }

    /// Checks one signature line's payload (after the key hash) over `text`. Returns the
    /// cosignature timestamp for [`KeyAlg::CosignatureV1`].
    fn check(&self, text: &str, sig: &[u8]) -> Result<Option<u64>> {
        let fail = || Error::BadSignature {
            name: self.name.clone(),
        };
        let key = UnparsedPublicKey::new(&ED25519, &self.public_key);
        match self.alg {
            KeyAlg::Ed25519 => {
                key.verify(text.as_bytes(), sig).map_err(|_| fail())?;
                Ok(None)
            }
            KeyAlg::CosignatureV1 => {
                let (ts, sig) = sig.split_first_chunk::<8>().ok_or_else(fail)?;
                let ts = u64::from_be_bytes(*ts);
                if ts > i64::MAX as u64 {
                    return Err(fail());
                }
                key.verify(&cosignature_message(ts, text), sig)
                    .map_err(|_| fail())?;
                Ok(Some(ts))
            }
        }
    }
}

impl fmt::Display for NoteVerifier {
    /// Formats the verifier key string `<name>+<hex key hash>+<base64(alg || key)>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = Vec::with_capacity(1 + ED25519_PUBLIC_KEY_LEN);
        key.push(self.alg.byte());
        key.extend_from_slice(&self.public_key);
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_hash),
            STANDARD.encode(key)
        )
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteVerifier({self})")
    }
}

/// The message a cosigner signs: `cosignature/v1\ntime <t>\n` followed by the note text.
pub fn cosignature_message(timestamp: u64, text: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{text}").into_bytes()
}

/// One signature line of a note, not yet verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// 4-byte key hash.
    pub key_hash: [u8; 4],
    /// Signature bytes after the key hash (for cosignatures: timestamp then signature).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// Formats the signature line, with its trailing newline.
    pub fn to_line(&self) -> String {
        let mut payload = Vec::with_capacity(4 + self.signature.len());
        payload.extend_from_slice(&self.key_hash);
        payload.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, STANDARD.encode(payload))
    }
}

/// A note split into text and signature lines, not yet verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Splits note bytes into text and signatures, checking the format (not the signatures).
    pub fn parse(note: &[u8]) -> Result<Self> {
        let bad = Error::MalformedNote;
        let note = std::str::from_utf8(note).map_err(|_| bad("note is not UTF-8"))?;
        let split = note
            .rfind("\n\n")
            .ok_or(bad("missing blank line before signatures"))?;
        let text = &note[..split + 1];
        check_text(text)?;
        let sigs = &note[split + 2..];
        let sigs = sigs
            .strip_suffix('\n')
            .ok_or(bad("note must end with a newline after a signature line"))?;
        let mut signatures = Vec::new();
        for line in sigs.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(bad("too many signature lines"));
            }
            let rest = line
                .strip_prefix(SIG_PREFIX)
                .ok_or(bad("signature line must start with an em dash and a space"))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or(bad("signature line must be '<name> <base64>'"))?;
            check_key_name(name).map_err(|_| bad("invalid key name in signature line"))?;
            let payload = STANDARD
                .decode(b64)
                .map_err(|_| bad("signature is not base64"))?;
            if payload.len() < 5 {
                return Err(bad("signature too short"));
            }
            let (hash, sig) = payload.split_at(4);
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_hash: [hash[0], hash[1], hash[2], hash[3]],
                signature: sig.to_vec(),
            });
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Formats the note: text, blank line, signature lines.
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        out
    }
}

/// Note text must be non-empty UTF-8 ending in a newline, without control characters other
/// than newline.
fn check_text(text: &str) -> Result<()> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(Error::MalformedNote(
            "text must be non-empty and end with a newline",
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::MalformedNote(
            "text must not contain control characters",
        ));
    }
    Ok(())
}

/// A signature that verified against a trusted key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// Key name.
    pub name: String,
    /// Key hash.
    pub key_hash: [u8; 4],
    /// Algorithm of the key that verified.
    pub alg: KeyAlg,
    /// For cosignatures, the POSIX time the witness signed at.
    pub timestamp: Option<u64>,
}

/// A note with at least one valid signature by a trusted key. Only [`verify_note`] builds it.
#[derive(Clone, Debug)]
pub struct VerifiedNote {
    note: Note,
    verified: Vec<VerifiedSignature>,
}

impl VerifiedNote {
    /// The signed text.
    pub fn text(&self) -> &str {
        &self.note.text
    }

    /// Signatures that verified against the trusted keys given, in note order.
    pub fn verified(&self) -> &[VerifiedSignature] {
        &self.verified
    }

    /// All signature lines, including those by unknown keys (unverified).
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// Whether the key named `name` with hash `key_hash` signed (e.g. to count witnesses).
    pub fn is_signed_by(&self, name: &str, key_hash: [u8; 4]) -> bool {
        self.verified
            .iter()
            .any(|v| v.name == name && v.key_hash == key_hash)
    }
}

/// Verifies a signed note against trusted keys.
///
/// Signature lines whose (name, key hash) match no verifier are ignored (others may cosign).
/// A line matching a verifier but failing to verify is an error ([`Error::BadSignature`]): the
/// note was modified. At least one line must verify ([`Error::NoKnownSignature`]).
pub fn verify_note(note: &[u8], verifiers: &[NoteVerifier]) -> Result<VerifiedNote> {
    let note = Note::parse(note)?;
    let mut verified = Vec::new();
    for sig in &note.signatures {
        for v in verifiers {
            if v.name == sig.name && v.key_hash == sig.key_hash {
                let timestamp = v.check(&note.text, &sig.signature)?;
                if !verified
                    .iter()
                    .any(|x: &VerifiedSignature| x.name == v.name && x.key_hash == v.key_hash)
                {
                    verified.push(VerifiedSignature {
                        name: v.name.clone(),
                        key_hash: v.key_hash,
                        alg: v.alg,
                        timestamp,
                    });
                }
            }
        }
    }
    if verified.is_empty() {
        return Err(Error::NoKnownSignature);
    }
    Ok(VerifiedNote { note, verified })
}

fn signer_sig(signer: &dyn NoteSigner, msg: &[u8]) -> Result<[u8; 64]> {
    check_key_name(signer.name())?;
    signer.sign(msg)
}

/// Signs `text` (which must end with a newline) and returns the note with one signature line.
pub fn sign_note(text: &str, signer: &dyn NoteSigner) -> Result<String> {
    check_text(text)?;
    let sig = signer_sig(signer, text.as_bytes())?;
    let note = Note {
        text: text.to_owned(),
        signatures: vec![NoteSignature {
            name: signer.name().to_owned(),
            key_hash: signer.key_hash(),
            signature: sig.to_vec(),
        }],
    };
    Ok(note.to_text())
}

/// Produces a witness cosignature (C2SP tlog-cosignature v1, Ed25519) of the checkpoint `text`
/// at POSIX time `timestamp`; append it to the note with [`add_signature`].
pub fn cosign(text: &str, timestamp: u64, signer: &dyn NoteSigner) -> Result<NoteSignature> {
    check_text(text)?;
    if timestamp > i64::MAX as u64 {
        return Err(Error::Signer(
            "cosignature timestamp exceeds 2^63 - 1".into(),
        ));
    }
    let sig = signer_sig(signer, &cosignature_message(timestamp, text))?;
    let mut payload = Vec::with_capacity(8 + 64);
    payload.extend_from_slice(&timestamp.to_be_bytes());
    payload.extend_from_slice(&sig);
    Ok(NoteSignature {
        name: signer.name().to_owned(),
        key_hash: signer.key_hash(),
        signature: payload,
    })
}

/// Appends a signature line to a signed note (e.g. a witness cosignature), returning the new
/// note. The existing note must parse.
pub fn add_signature(note: &[u8], signature: &NoteSignature) -> Result<String> {
    let mut parsed = Note::parse(note)?;
    check_key_name(&signature.name)?;
    parsed.signatures.push(signature.clone());
    if parsed.signatures.len() > MAX_SIGNATURES {
        return Err(Error::MalformedNote("too many signature lines"));
    }
    Ok(parsed.to_text())
}
