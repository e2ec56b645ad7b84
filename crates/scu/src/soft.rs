//! Backend `soft`: keys in a passphrase-sealed file on an ordinary computer (low assurance).
//!
//! File format (JSON, version 1):
//!
//! ```json
//! {"header": {"format": "shinrai-scu-soft", "version": 1,
//!             "kdf": {"algorithm": "argon2id", "m_kib": 65536, "t_cost": 3, "p_cost": 1, "salt": "<b64>"},
//!             "aead": "aes-256-gcm", "check": "<hex>"},
//!  "nonce": "<b64>", "ciphertext": "<b64>"}
//! ```
//!
//! The passphrase goes through Argon2id to a 32-byte root secret; HMAC-SHA256 under it derives the
//! sealing key, the audit-log MAC key and a 16-byte passphrase check value (so a wrong passphrase
//! and a damaged file give different errors). The header is the AEAD's associated data, so the KDF
//! parameters cannot be changed unnoticed. The plaintext lists the keys as PKCS#8 documents with
//! their policies and use counts, and the audit anchor. Writes are atomic (temporary file, fsync,
//! rename, fsync of the directory) and files are created with mode 0600.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::audit::{self, AuditAnchor, AuditEvent, AuditLog, AuditMac, AuditReport, Operation};
use crate::{
    Algorithm, Assurance, Capabilities, Error, KeyInfo, KeyStore, PublicKey, Purpose, Result,
    Signature, UsagePolicy,
};

const FORMAT: &str = "shinrai-scu-soft";
const VERSION: u32 = 1;
/// Largest Argon2id memory a file may ask for (1 GiB): a crafted file must not exhaust memory.
const MAX_M_KIB: u32 = 1024 * 1024;
/// Largest sealed file read (a store of thousands of keys is far smaller).
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Argon2id cost parameters for deriving the sealing key from the passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Parallelism.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// m = 64 MiB, t = 3, p = 1: a fraction of a second on a laptop, costly to brute-force.
    fn default() -> Self {
        KdfParams {
            m_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

impl KdfParams {
    /// Cheap parameters for tests only (m = 256 KiB, t = 1): they make guessing the passphrase
    /// cheap too.
    pub fn insecure_fast_for_tests() -> Self {
        KdfParams {
            m_kib: 256,
            t_cost: 1,
            p_cost: 1,
        }
    }

    fn check_bounds(&self) -> Result<()> {
        let ok = (8 * self.p_cost.max(1)..=MAX_M_KIB).contains(&self.m_kib)
            && (1..=64).contains(&self.t_cost)
            && (1..=16).contains(&self.p_cost);
        if ok {
            Ok(())
        } else {
            Err(Error::Damaged(format!(
                "Argon2id parameters out of range (m_kib {}, t_cost {}, p_cost {})",
                self.m_kib, self.t_cost, self.p_cost
            )))
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfHeader {
    algorithm: String,
    m_kib: u32,
    t_cost: u32,
    p_cost: u32,
    salt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    kdf: KdfHeader,
    aead: String,
    check: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedFile {
    header: Header,
    nonce: String,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    keys: Vec<StoredKey>,
    audit_anchor: AuditAnchor,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKey {
    label: String,
    algorithm: Algorithm,
    #[serde(with = "secret_b64")]
    pkcs8: Zeroizing<Vec<u8>>,
    public_key: PublicKey,
    policy: UsagePolicy,
    uses: u64,
    created: u64,
}

mod secret_b64 {
    use super::B64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use zeroize::{Zeroize, Zeroizing};

    pub fn serialize<S: Serializer>(v: &Zeroizing<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        let mut text = B64.encode(v.as_slice());
        let r = s.serialize_str(&text);
        text.zeroize();
        r
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<Vec<u8>>, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        B64.decode(text.as_bytes())
            .map(Zeroizing::new)
            .map_err(serde::de::Error::custom)
    }
}

/// A parsed private key, kept in memory so signing costs one signature operation.
enum Signer {
    Ed25519(Ed25519KeyPair),
    Ecdsa(EcdsaKeyPair),
}

struct SoftKey {
    stored: StoredKey,
    /// Shared so a signature can be made outside the store's lock.
    signer: Arc<Signer>,
}

impl SoftKey {
    fn from_stored(stored: StoredKey) -> Result<Self> {
        let bad = |_| Error::Damaged(format!("key {:?} is not a valid private key", stored.label));
        let signer = match stored.algorithm {
            Algorithm::Ed25519 => {
                Signer::Ed25519(Ed25519KeyPair::from_pkcs8(&stored.pkcs8).map_err(bad)?)
            }
            Algorithm::EcdsaP256 => Signer::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &stored.pkcs8)
                    .map_err(bad)?,
            ),
        };
        Ok(SoftKey {
            stored,
            signer: Arc::new(signer),
        })
    }

    fn info(&self) -> KeyInfo {
        KeyInfo {
            label: self.stored.label.clone(),
            algorithm: self.stored.algorithm,
            public_key: self.stored.public_key.clone(),
            policy: self.stored.policy.clone(),
            uses: self.stored.uses,
            created: self.stored.created,
        }
    }
}

struct SoftMac(hmac::Key);

impl AuditMac for SoftMac {
    fn mac(&self, data: &[u8]) -> Result<Vec<u8>> {
        Ok(hmac::sign(&self.0, data).as_ref().to_vec())
    }
}

struct Inner {
    keys: BTreeMap<String, SoftKey>,
    audit: AuditLog,
    /// The anchor in the file as last written.
    saved_anchor: AuditAnchor,
    /// Use counts changed since the last write.
    dirty: bool,
}

/// A key store in a passphrase-sealed file. Low assurance: see [`Assurance::Low`].
///
/// Keys are parsed once at open and kept in memory; signing with a key without a usage limit
/// touches the disk only to append the audit record. Use counts of such keys and the audit anchor
/// are written when the file is next rewritten (generate, delete, a limited key's use,
/// [`SoftKeyStore::flush`], or drop).
pub struct SoftKeyStore {
    path: PathBuf,
    audit_path: PathBuf,
    header: Header,
    seal_key: LessSafeKey,
    mac: SoftMac,
    rng: SystemRandom,
    inner: Mutex<Inner>,
}

impl fmt::Debug for SoftKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftKeyStore")
            .field("path", &self.path)
            .field("audit_path", &self.audit_path)
            .finish_non_exhaustive()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

fn crypto(what: &str) -> impl FnOnce(aws_lc_rs::error::Unspecified) -> Error + '_ {
    move |_| Error::Crypto(what.to_owned())
}

/// Derived secrets of a store: (sealing key, audit MAC key, passphrase check value).
fn derive(
    passphrase: &[u8],
    salt: &[u8],
    p: &KdfParams,
) -> Result<(LessSafeKey, SoftMac, Vec<u8>)> {
    let params = argon2::Params::new(p.m_kib, p.t_cost, p.p_cost, Some(32))
        .map_err(|e| Error::InvalidArgument(format!("Argon2id parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut root = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase, salt, root.as_mut_slice())
        .map_err(|e| Error::InvalidArgument(format!("Argon2id: {e}")))?;
    let root_key = hmac::Key::new(hmac::HMAC_SHA256, root.as_slice());
    let seal = Zeroizing::new(
        hmac::sign(&root_key, b"shinrai-scu/v1/seal")
            .as_ref()
            .to_vec(),
    );
    let audit = Zeroizing::new(
        hmac::sign(&root_key, b"shinrai-scu/v1/audit")
            .as_ref()
            .to_vec(),
    );
    let check = hmac::sign(&root_key, b"shinrai-scu/v1/check").as_ref()[..16].to_vec();
    let seal_key =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &seal).map_err(crypto("AES-256-GCM key"))?);
    Ok((
        seal_key,
        SoftMac(hmac::Key::new(hmac::HMAC_SHA256, &audit)),
        check,
    ))
}

/// Writes `bytes` to `path` atomically with mode 0600: temporary file, fsync, rename, fsync dir.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::InvalidArgument(format!("{} is not a file path", path.display())))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(&dir))?;
    Ok(())
}

impl SoftKeyStore {
    /// Creates a new, empty store at `path` sealed with `passphrase` and the default Argon2id
    /// parameters. Fails if `path` or its audit log exists.
    pub fn create(path: impl AsRef<Path>, passphrase: impl AsRef<[u8]>) -> Result<Self> {
        Self::create_with(path, passphrase, KdfParams::default())
    }

    /// Like [`SoftKeyStore::create`] with chosen Argon2id parameters (stored in the file, so
    /// [`SoftKeyStore::open`] needs no parameters).
    pub fn create_with(
        path: impl AsRef<Path>,
        passphrase: impl AsRef<[u8]>,
        kdf: KdfParams,
    ) -> Result<Self> {
        let path = path.as_ref();
        let audit_path = Self::audit_path_for(path);
        for p in [path, audit_path.as_path()] {
            if p.exists() {
                return Err(Error::Io {
                    path: p.display().to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "already exists; refusing to overwrite a key store or its audit log",
                    ),
                });
            }
        }
        if passphrase.as_ref().is_empty() {
            return Err(Error::InvalidArgument(
                "the passphrase must not be empty".into(),
            ));
        }
        kdf.check_bounds()
            .map_err(|_| Error::InvalidArgument("Argon2id parameters out of range".into()))?;
        let rng = SystemRandom::new();
        let mut salt = [0u8; 16];
        rng.fill(&mut salt).map_err(crypto("random salt"))?;
        let (seal_key, mac, check) = derive(passphrase.as_ref(), &salt, &kdf)?;
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            kdf: KdfHeader {
                algorithm: "argon2id".into(),
                m_kib: kdf.m_kib,
                t_cost: kdf.t_cost,
                p_cost: kdf.p_cost,
                salt: B64.encode(salt),
            },
            aead: "aes-256-gcm".into(),
            check: hex::encode(check),
        };
        let audit = AuditLog::open(&audit_path, &AuditAnchor::default(), &mac)?;
        let store = SoftKeyStore {
            path: path.to_path_buf(),
            audit_path,
            header,
            seal_key,
            mac,
            rng,
            inner: Mutex::new(Inner {
                keys: BTreeMap::new(),
                audit,
                saved_anchor: AuditAnchor::default(),
                dirty: false,
            }),
        };
        {
            let mut inner = store.lock();
            store.persist(&mut inner)?;
        }
        Ok(store)
    }

    /// Opens the store at `path` with `passphrase`.
    ///
    /// Errors: [`Error::WrongPin`] for a wrong passphrase, [`Error::Damaged`] for a file that is
    /// not a store or was altered, [`Error::Io`] when it cannot be read.
    pub fn open(path: impl AsRef<Path>, passphrase: impl AsRef<[u8]>) -> Result<Self> {
        let path = path.as_ref();
        let len = std::fs::metadata(path).map_err(io_err(path))?.len();
        if len > MAX_FILE_BYTES {
            return Err(Error::Damaged(format!(
                "{} is {len} bytes, too large for a key store",
                path.display()
            )));
        }
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "key store file is readable by others; chmod 600 it");
        }
        let sealed: SealedFile = serde_json::from_slice(&bytes).map_err(|e| {
            Error::Damaged(format!(
                "{}: not a sealed key store file: {e}",
                path.display()
            ))
        })?;
        let header = sealed.header;
        if header.format != FORMAT {
            return Err(Error::Damaged(format!(
                "format is {:?}, expected {FORMAT:?}",
                header.format
            )));
        }
        if header.version != VERSION {
            return Err(Error::Damaged(format!(
                "file format version {} is not supported (this build reads version {VERSION})",
                header.version
            )));
        }
        if header.kdf.algorithm != "argon2id" || header.aead != "aes-256-gcm" {
            return Err(Error::Damaged("unknown KDF or AEAD algorithm".into()));
        }
        let kdf = KdfParams {
            m_kib: header.kdf.m_kib,
            t_cost: header.kdf.t_cost,
            p_cost: header.kdf.p_cost,
        };
        kdf.check_bounds()?;
        let salt = B64
            .decode(&header.kdf.salt)
            .ok()
            .filter(|s| (8..=64).contains(&s.len()))
            .ok_or_else(|| Error::Damaged("bad salt".into()))?;
        let check =
            hex::decode(&header.check).map_err(|_| Error::Damaged("bad check value".into()))?;
        let nonce = B64
            .decode(&sealed.nonce)
            .ok()
            .and_then(|n| <[u8; NONCE_LEN]>::try_from(n.as_slice()).ok())
            .ok_or_else(|| Error::Damaged("bad nonce".into()))?;
        let ciphertext = B64
            .decode(&sealed.ciphertext)
            .map_err(|_| Error::Damaged("ciphertext is not base64".into()))?;
        let (seal_key, mac, expected_check) = derive(passphrase.as_ref(), &salt, &kdf)?;
        if !constant_time_eq(&check, &expected_check) {
            return Err(Error::WrongPin);
        }
        let aad = serde_json::to_vec(&header).map_err(|e| Error::Crypto(e.to_string()))?;
        let mut buf = Zeroizing::new(ciphertext);
        let plain = seal_key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut buf,
            )
            .map_err(|_| {
                Error::Damaged(
                    "sealed content fails authentication (file altered or corrupted)".into(),
                )
            })?;
        let payload: Payload = serde_json::from_slice(plain)
            .map_err(|e| Error::Damaged(format!("sealed content is not a key list: {e}")))?;
        let mut keys = BTreeMap::new();
        for stored in payload.keys {
            let key = SoftKey::from_stored(stored)?;
            keys.insert(key.stored.label.clone(), key);
        }
        let audit_path = Self::audit_path_for(path);
        let audit = AuditLog::open(&audit_path, &payload.audit_anchor, &mac)?;
        Ok(SoftKeyStore {
            path: path.to_path_buf(),
            audit_path,
            header,
            seal_key,
            mac,
            rng: SystemRandom::new(),
            inner: Mutex::new(Inner {
                keys,
                audit,
                saved_anchor: payload.audit_anchor,
                dirty: false,
            }),
        })
    }

    /// Where the audit log of the store at `path` lives: `<path>.audit`.
    pub fn audit_path_for(path: &Path) -> PathBuf {
        let mut s = path.as_os_str().to_owned();
        s.push(".audit");
        PathBuf::from(s)
    }

    /// Path of the sealed file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Path of the audit log.
    pub fn audit_path(&self) -> &Path {
        &self.audit_path
    }

    /// Writes use counts and the audit anchor now (also done on drop).
    pub fn flush(&self) -> Result<()> {
        let mut inner = self.lock();
        self.persist(&mut inner)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the maps consistent (every mutation is a single
        // insert/remove/increment), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seals the current state into the file (atomic) after syncing the audit log.
    fn persist(&self, inner: &mut Inner) -> Result<()> {
        inner.audit.sync()?;
        let anchor = inner.audit.head().clone();
        let payload = PayloadRef {
            keys: inner.keys.values().map(|k| &k.stored).collect(),
            audit_anchor: &anchor,
        };
        let mut plain = Zeroizing::new(Vec::with_capacity(4096 + inner.keys.len() * 1024));
        serde_json::to_writer(&mut *plain, &payload).map_err(|e| Error::Crypto(e.to_string()))?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(crypto("random nonce"))?;
        let aad = serde_json::to_vec(&self.header).map_err(|e| Error::Crypto(e.to_string()))?;
        let mut buf = plain.to_vec();
        self.seal_key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut buf,
            )
            .map_err(crypto("AES-256-GCM seal"))?;
        let sealed = SealedFile {
            header: self.header.clone(),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(&buf),
        };
        let bytes = serde_json::to_vec_pretty(&sealed).map_err(|e| Error::Crypto(e.to_string()))?;
        write_atomic(&self.path, &bytes)?;
        inner.saved_anchor = anchor;
        inner.dirty = false;
        Ok(())
    }
}

#[derive(Serialize)]
struct PayloadRef<'a> {
    keys: Vec<&'a StoredKey>,
    audit_anchor: &'a AuditAnchor,
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Drop for SoftKeyStore {
    fn drop(&mut self) {
        let mut inner = self.lock();
        if (inner.dirty || *inner.audit.head() != inner.saved_anchor)
            && let Err(e) = self.persist(&mut inner)
        {
            tracing::warn!(error = %e, "could not save use counts and audit anchor on close");
        }
    }
}

impl KeyStore for SoftKeyStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            backend: "soft".into(),
            algorithms: vec![Algorithm::Ed25519, Algorithm::EcdsaP256],
            exportable_keys: true,
            assurance: Assurance::Low,
            detail: format!(
                "passphrase-sealed file {} (Argon2id m={} KiB t={} p={}, AES-256-GCM); private keys live in host memory",
                self.path.display(),
                self.header.kdf.m_kib,
                self.header.kdf.t_cost,
                self.header.kdf.p_cost
            ),
        }
    }

    fn generate(&self, label: &str, algorithm: Algorithm, policy: UsagePolicy) -> Result<KeyInfo> {
        audit::check_label(label)?;
        if policy.purposes.is_empty() {
            return Err(Error::InvalidArgument(
                "a usage policy needs at least one purpose".into(),
            ));
        }
        let mut inner = self.lock();
        if inner.keys.contains_key(label) {
            return Err(Error::KeyExists(label.to_owned()));
        }
        let (pkcs8, public) = match algorithm {
            Algorithm::Ed25519 => {
                let doc = Ed25519KeyPair::generate_pkcs8(&self.rng)
                    .map_err(crypto("Ed25519 key generation"))?;
                let pkcs8 = Zeroizing::new(doc.as_ref().to_vec());
                let kp = Ed25519KeyPair::from_pkcs8(&pkcs8)
                    .map_err(|_| Error::Crypto("Ed25519 key parse".into()))?;
                let public = kp.public_key().as_ref().to_vec();
                (pkcs8, public)
            }
            Algorithm::EcdsaP256 => {
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.rng)
                    .map_err(crypto("P-256 key generation"))?;
                let pkcs8 = Zeroizing::new(doc.as_ref().to_vec());
                let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
                    .map_err(|_| Error::Crypto("P-256 key parse".into()))?;
                let public = kp.public_key().as_ref().to_vec();
                (pkcs8, public)
            }
        };
        let stored = StoredKey {
            label: label.to_owned(),
            algorithm,
            pkcs8,
            public_key: PublicKey::from_bytes(algorithm, &public)?,
            policy,
            uses: 0,
            created: audit::now_secs(),
        };
        let key = SoftKey::from_stored(stored)?;
        let info = key.info();
        inner.keys.insert(label.to_owned(), key);
        let Inner { audit, .. } = &mut *inner;
        audit.append(
            &self.mac,
            AuditEvent {
                key: label,
                purpose: None,
                operation: Operation::Generate,
                message: None,
                outcome: &format!("ok: {algorithm}"),
            },
        )?;
        if let Err(e) = self.persist(&mut inner) {
            inner.keys.remove(label);
            return Err(e);
        }
        Ok(info)
    }

    fn list(&self) -> Result<Vec<KeyInfo>> {
        Ok(self.lock().keys.values().map(SoftKey::info).collect())
    }

    fn public_key(&self, label: &str) -> Result<PublicKey> {
        self.lock()
            .keys
            .get(label)
            .map(|k| k.stored.public_key.clone())
            .ok_or_else(|| Error::KeyNotFound(label.to_owned()))
    }

    fn sign(&self, label: &str, purpose: &Purpose, message: &[u8]) -> Result<Signature> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let key = inner
            .keys
            .get_mut(label)
            .ok_or_else(|| Error::KeyNotFound(label.to_owned()))?;
        if let Err(e) = key.stored.policy.check(label, purpose, key.stored.uses) {
            inner.audit.append(
                &self.mac,
                AuditEvent {
                    key: label,
                    purpose: Some(purpose.as_str()),
                    operation: Operation::Refused,
                    message: Some(message),
                    outcome: &audit::refusal_outcome(&e),
                },
            )?;
            return Err(e);
        }
        // Count and audit the use first: no signature exists without its record.
        key.stored.uses += 1;
        let limited = key.stored.policy.max_uses.is_some();
        let algorithm = key.stored.algorithm;
        let signer = Arc::clone(&key.signer);
        inner.audit.append(
            &self.mac,
            AuditEvent {
                key: label,
                purpose: Some(purpose.as_str()),
                operation: Operation::Sign,
                message: Some(message),
                outcome: "ok",
            },
        )?;
        inner.dirty = true;
        if limited {
            // The use must be on disk before the signature leaves the store.
            self.persist(inner)?;
        }
        drop(guard);
        // The signature itself runs outside the lock, so threads sign in parallel.
        let bytes = match &*signer {
            Signer::Ed25519(kp) => kp.sign(message).as_ref().to_vec(),
            Signer::Ecdsa(kp) => match kp.sign(&self.rng, message) {
                Ok(sig) => sig.as_ref().to_vec(),
                Err(_) => {
                    let mut guard = self.lock();
                    guard.audit.append(
                        &self.mac,
                        AuditEvent {
                            key: label,
                            purpose: Some(purpose.as_str()),
                            operation: Operation::Sign,
                            message: Some(message),
                            outcome: "failed: ECDSA signing error after the use was counted",
                        },
                    )?;
                    return Err(Error::Crypto("ECDSA signing".into()));
                }
            },
        };
        Ok(Signature { algorithm, bytes })
    }

    fn delete(&self, label: &str) -> Result<()> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(key) = inner.keys.remove(label) else {
            return Err(Error::KeyNotFound(label.to_owned()));
        };
        inner.audit.append(
            &self.mac,
            AuditEvent {
                key: label,
                purpose: None,
                operation: Operation::Delete,
                message: None,
                outcome: "ok",
            },
        )?;
        if let Err(e) = self.persist(inner) {
            inner.keys.insert(label.to_owned(), key);
            return Err(e);
        }
        Ok(())
    }

    fn audit(&self) -> Result<AuditReport> {
        let inner = self.lock();
        inner.audit.sync()?;
        let head = inner.audit.head().clone();
        // Anchor: the furthest of what this process appended and what the file recorded.
        let anchor = if head.count >= inner.saved_anchor.count {
            head
        } else {
            inner.saved_anchor.clone()
        };
        audit::verify_log(&self.audit_path, &self.mac, Some(&anchor))
    }
}
