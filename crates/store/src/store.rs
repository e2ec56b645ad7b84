//! The trust store facade: data directory, registration policy, sequencer, receipts, search,
//! trace and the tlog-tiles read side. Callers (server, CLI) use only this and the storage
//! traits' value types.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use shinrai_envelope::dsse::Envelope;
use shinrai_scu::soft::{KdfParams, SoftKeyStore};
use shinrai_scu::{Algorithm, KeyStore, Purpose, UsagePolicy};
use shinrai_tlog::{CompactRange, KeyAlg, NoteSigner};

use crate::config::Config;
use crate::merkle::{
    Hash, StoredTree, TILE_WIDTH, TileHashCache, TileWrite, changed_tiles, empty_root, leaf_hash,
    sha256_of,
};
use crate::note::{Checkpoint, NoteVerifier, verifier_key};
use crate::sqlite::SqliteBackend;
use crate::statement::{IndexRecord, OrgKey, index_record, normalise_digest, parse_sslib_key};
use crate::storage::{
    Backend, Batch, Direction, EdgeRow, EntryBytes, LogStorage, NewEntry, Page, SearchQuery,
    StoredCheckpoint, StoredEntry,
};
use crate::{Error, Result};

const DB_FILE: &str = "store.db";
/// How an error message lists a signature that carries no keyid.
const NO_KEYID: &str = "-";
const CONFIG_FILE: &str = "config.json";
const KEYS_FILE: &str = "keys/log.scu";
const PASS_FILE: &str = "keys/log.pass";
const CONTENT_DIR: &str = "content";
/// Environment variable holding the log key store passphrase (else `keys/log.pass` is used).
pub const PASSPHRASE_ENV: &str = "SHINRAI_LOG_PASSPHRASE";

/// An entry id as given by a caller (64 hex digits) as a hash.
fn parse_entry_id(id: &str) -> Result<Hash> {
    hex::decode(id)
        .ok()
        .and_then(|b| <Hash>::try_from(b.as_slice()).ok())
        .ok_or_else(|| Error::InvalidRequest("entry id must be 64 hex digits".into()))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What `init` needs.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Store settings.
    pub config: Config,
    /// Name of the first organisation.
    pub org: String,
    /// Its public key, securesystemslib JSON.
    pub org_key_json: Vec<u8>,
    /// Passphrase of the log key store; `None` generates one into `keys/log.pass` (mode 0600).
    pub passphrase: Option<String>,
    /// Argon2id cost of the log key store.
    pub kdf: KdfParams,
}

/// Result of `init`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitReport {
    /// The note verifier key of the log (publish it; clients check checkpoints with it).
    pub log_key: String,
    /// The first organisation.
    pub org: String,
    /// Key id of its key.
    pub keyid: String,
    /// Its API token (shown once; only its hash is stored).
    pub token: String,
}

/// A receipt: proof that an entry is in the log under a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Entry id (hex SHA-256 of the entry bytes).
    pub id: String,
    /// Log index of the entry.
    pub log_index: u64,
    /// Tree size of the checkpoint the proof is against.
    pub tree_size: u64,
    /// RFC 9162 inclusion proof, base64 hashes from the leaf up.
    pub inclusion_proof: Vec<String>,
    /// The C2SP signed checkpoint note.
    pub checkpoint: String,
}

/// A registration outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registered {
    /// Entry id.
    pub id: String,
    /// Log index.
    pub log_index: u64,
    /// Whether the entry had been registered before (nothing new was written).
    pub existing: bool,
    /// Its receipt.
    pub receipt: Receipt,
}

/// An entry that passed the registration policy: only [`Store::verify`] makes one.
#[derive(Debug, Clone)]
pub struct Verified {
    id: Hash,
    leaf: Hash,
    bytes: Arc<[u8]>,
    submitter: String,
    issuer_org: String,
    issuer_keyid: String,
    record: IndexRecord,
}

impl Verified {
    /// The entry id (hex).
    pub fn id(&self) -> String {
        hex::encode(self.id)
    }
}

/// An entry that passed every policy check except the signature, waiting for the batch
/// verifier: the PAE and the candidate (known) keys with their signatures.
struct Checked {
    id: Hash,
    leaf: Hash,
    bytes: Arc<[u8]>,
    submitter: String,
    record: IndexRecord,
    pae: Vec<u8>,
    candidates: Vec<(Arc<OrgKey>, Vec<u8>)>,
    /// Already verified by the handler (COSE_Sign1, checked by `shinrai_envelope`).
    preverified: bool,
}

impl Checked {
    fn verified(self, key: &OrgKey) -> Verified {
        Verified {
            id: self.id,
            leaf: self.leaf,
            bytes: self.bytes,
            submitter: self.submitter,
            issuer_org: key.org.clone(),
            issuer_keyid: key.keyid.clone(),
            record: self.record,
        }
    }
}

struct VerifyJob {
    c: Checked,
    reply: tokio::sync::oneshot::Sender<Result<Registered>>,
}

/// A registration waiting for its batch.
pub struct Pending {
    id: Hash,
    rx: tokio::sync::oneshot::Receiver<Result<Registered>>,
}

impl Pending {
    /// The entry id (hex).
    pub fn id(&self) -> String {
        hex::encode(self.id)
    }
    /// Waits (async) for integration.
    pub async fn wait(self) -> Result<Registered> {
        self.rx.await.map_err(|_| Error::Stopped)?
    }
    /// Waits (blocking) for integration.
    pub fn wait_blocking(self) -> Result<Registered> {
        self.rx.blocking_recv().map_err(|_| Error::Stopped)?
    }
}

/// The result of a trace query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trace {
    /// Starting node (normalised).
    pub root: String,
    /// Direction followed.
    pub direction: Direction,
    /// Depth limit used.
    pub depth: u32,
    /// Nodes reached with their distance from the root (root at 0).
    pub nodes: Vec<TraceNode>,
    /// Edges followed, with the log index of the asserting statement.
    pub edges: Vec<EdgeRow>,
    /// Whether the node or edge limit cut the result short.
    pub truncated: bool,
}

/// A node in a trace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TraceNode {
    /// Digest (`alg:hex`) or EPC URI.
    pub id: String,
    /// Distance from the root.
    pub depth: u32,
}

/// State of an entry asked for by id.
#[derive(Debug, Clone)]
pub enum EntryState {
    /// In the log.
    Integrated(Box<StoredEntry>),
    /// Accepted, its batch not yet integrated.
    Pending,
}

struct Job {
    v: Verified,
    reply: tokio::sync::oneshot::Sender<Result<Registered>>,
}

struct Shared {
    dir: PathBuf,
    config: Config,
    /// The only place the store names a backend type is [`Store::open_with_passphrase`].
    backend: Arc<dyn Backend>,
    latest: RwLock<Arc<StoredCheckpoint>>,
    keys: RwLock<HashMap<String, Arc<OrgKey>>>,
    tokens: RwLock<HashMap<Hash, String>>,
    pending: Mutex<HashSet<Hash>>,
    /// Interior hashes of tiles, shared by every receipt.
    tile_cache: TileHashCache,
    verifier: String,
    public: [u8; 32],
}

/// The trust store. Cheap to clone; the sequencer stops when the last clone is dropped.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
    tx: SyncSender<Job>,
    verify_tx: SyncSender<VerifyJob>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.shared.dir)
            .finish_non_exhaustive()
    }
}

/// The log key: an Ed25519 SCU key with purpose `checkpoint`.
struct ScuSigner {
    keys: SoftKeyStore,
    label: String,
    name: String,
    public: [u8; 32],
}

impl ScuSigner {
    /// Ed25519 signature by the log key (purpose `checkpoint`) over `message`.
    fn sign_raw(&self, message: &[u8]) -> Result<[u8; 64]> {
        let sig = self
            .keys
            .sign(&self.label, &Purpose::checkpoint(), message)?;
        <[u8; 64]>::try_from(sig.bytes.as_slice())
            .map_err(|_| Error::Inconsistent("log key is not an Ed25519 key".into()))
    }
}

impl NoteSigner for ScuSigner {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_hash(&self) -> [u8; 4] {
        shinrai_tlog::key_hash(&self.name, KeyAlg::Ed25519, &self.public)
    }
    fn sign(&self, message: &[u8]) -> shinrai_tlog::Result<[u8; 64]> {
        self.sign_raw(message)
            .map_err(|e| shinrai_tlog::Error::Signer(e.to_string()))
    }
}

/// Signs a checkpoint twice: the C2SP note (`shinrai-tlog`) and the RFC 9942 COSE tree head.
fn sign_checkpoint(signer: &ScuSigner, cp: &Checkpoint) -> Result<StoredCheckpoint> {
    let tbs = crate::cose::tree_head_tbs(&cp.root, &crate::cose::log_kid(&signer.public));
    Ok(StoredCheckpoint {
        size: cp.size,
        note: shinrai_tlog::sign_checkpoint(cp, signer)?,
        cose_signature: signer.sign_raw(&tbs)?.to_vec(),
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    // A bare file name has an empty parent: the directory to sync is then the current one.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

fn random_token() -> Result<String> {
    let mut b = [0u8; 32];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| Error::Inconsistent("system random generator failed".into()))?;
    Ok(format!("shinrai_{}", hex::encode(b)))
}

/// The hash under which a token is stored.
pub fn token_hash(token: &str) -> Hash {
    sha256_of(token.as_bytes())
}

fn passphrase(dir: &Path) -> Result<String> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Ok(p);
    }
    let path = dir.join(PASS_FILE);
    std::fs::read_to_string(&path)
        .map(|s| s.trim_end().to_owned())
        .map_err(|_| Error::DataDir {
            path: dir.display().to_string(),
            reason: format!(
                "set {PASSPHRASE_ENV} to the log key passphrase ({} not readable)",
                path.display()
            ),
        })
}

/// Administration of a data directory without running the sequencer (`shinrai org add`):
/// safe while a server runs on the same directory.
pub struct Admin {
    backend: SqliteBackend,
}

impl Admin {
    /// Opens the database of an initialised data directory.
    pub fn open(dir: &Path) -> Result<Self> {
        let db = dir.join(DB_FILE);
        if !db.exists() {
            return Err(Error::DataDir {
                path: dir.display().to_string(),
                reason: "not initialised; run `shinrai init --data DIR` first".into(),
            });
        }
        Ok(Admin {
            backend: SqliteBackend::open(&db)?,
        })
    }

    /// Adds an organisation with an optional first key; returns its new API token.
    pub fn add_org(&self, name: &str, key_json: Option<&[u8]>) -> Result<(Option<OrgKey>, String)> {
        use crate::storage::Registry;
        if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(Error::InvalidRequest(
                "organisation name must be 1-128 printable characters".into(),
            ));
        }
        let key = match key_json {
            Some(j) => {
                let (keyid, public_key) = parse_sslib_key(j)?;
                if self.backend.org_key(&keyid)?.is_some() {
                    return Err(Error::Conflict(format!("key {keyid}")));
                }
                Some(OrgKey {
                    keyid,
                    org: name.to_owned(),
                    public_key,
                })
            }
            None => None,
        };
        self.backend.add_org(name)?;
        if let Some(k) = &key {
            self.backend.add_org_key(k)?;
        }
        let token = self.new_token(name)?;
        Ok((key, token))
    }

    /// Adds a key to an existing organisation.
    pub fn add_key(&self, org: &str, key_json: &[u8]) -> Result<OrgKey> {
        use crate::storage::Registry;
        let (keyid, public_key) = parse_sslib_key(key_json)?;
        let k = OrgKey {
            keyid,
            org: org.to_owned(),
            public_key,
        };
        self.backend.add_org_key(&k)?;
        Ok(k)
    }

    /// Creates another API token for an organisation.
    pub fn new_token(&self, org: &str) -> Result<String> {
        use crate::storage::Registry;
        if !self.backend.orgs()?.iter().any(|o| o == org) {
            return Err(Error::NotFound(format!("organisation {org:?}")));
        }
        let token = random_token()?;
        self.backend.add_token(org, &token_hash(&token))?;
        Ok(token)
    }

    /// The backend (tests use it to simulate tampering).
    pub fn backend(&self) -> &SqliteBackend {
        &self.backend
    }
}

impl Store {
    /// Initialises a new data directory: database, config, log key (SCU soft key store), the
    /// first organisation with its key and token, and a signed checkpoint of the empty tree.
    pub fn init(dir: &Path, opts: InitOptions) -> Result<InitReport> {
        opts.config.validate()?;
        let dd = |reason: String| Error::DataDir {
            path: dir.display().to_string(),
            reason,
        };
        if dir.join(DB_FILE).exists() || dir.join(CONFIG_FILE).exists() {
            return Err(dd("already initialised".into()));
        }
        std::fs::create_dir_all(dir.join("keys")).map_err(|e| Error::io(dir, e))?;
        std::fs::create_dir_all(dir.join(CONTENT_DIR)).map_err(|e| Error::io(dir, e))?;
        let pass = match opts.passphrase {
            Some(p) => p,
            None => {
                let p = random_token()?;
                write_private(&dir.join(PASS_FILE), p.as_bytes())?;
                p
            }
        };
        let keys = SoftKeyStore::create_with(dir.join(KEYS_FILE), &pass, opts.kdf)?;
        let info = keys.generate(
            &opts.config.log_key_label,
            Algorithm::Ed25519,
            UsagePolicy::new([Purpose::checkpoint()])?,
        )?;
        keys.flush()?;
        let public: [u8; 32] = info
            .public_key
            .bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::Inconsistent("log key is not Ed25519".into()))?;
        let signer = ScuSigner {
            keys,
            label: opts.config.log_key_label.clone(),
            name: opts.config.origin.clone(),
            public,
        };
        let config_json = serde_json::to_vec_pretty(&opts.config)
            .map_err(|e| Error::Inconsistent(e.to_string()))?;
        let backend = SqliteBackend::open(&dir.join(DB_FILE))?;
        let empty = Checkpoint::new(opts.config.origin.clone(), 0, empty_root());
        backend.integrate(&Batch {
            entries: Vec::new(),
            tiles: Vec::new(),
            checkpoint: sign_checkpoint(&signer, &empty)?,
        })?;
        drop(backend);
        let admin = Admin::open(dir)?;
        let (key, token) = admin.add_org(&opts.org, Some(&opts.org_key_json))?;
        write_atomic(&dir.join(CONFIG_FILE), &config_json)?;
        Ok(InitReport {
            log_key: verifier_key(&opts.config.origin, &public)?,
            org: opts.org,
            keyid: key.map(|k| k.keyid).unwrap_or_default(),
            token,
        })
    }

    /// Opens an initialised data directory and starts the sequencer. The log key passphrase
    /// comes from `SHINRAI_LOG_PASSPHRASE` or `keys/log.pass`.
    ///
    /// Checks that the stored tiles reproduce the latest checkpoint's root and that its signature
    /// verifies; refuses to open a log that does not.
    pub fn open(dir: &Path) -> Result<Store> {
        Self::open_with_passphrase(dir, &passphrase(dir)?)
    }

    /// Like [`Store::open`] with the log key store passphrase given.
    pub fn open_with_passphrase(dir: &Path, passphrase: &str) -> Result<Store> {
        let config = Config::load(&dir.join(CONFIG_FILE)).map_err(|e| Error::DataDir {
            path: dir.display().to_string(),
            reason: format!("{e} (run `shinrai init --data DIR` first)"),
        })?;
        let keys = SoftKeyStore::open(dir.join(KEYS_FILE), passphrase)?;
        let public: [u8; 32] = keys
            .public_key(&config.log_key_label)?
            .bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::Inconsistent("log key is not Ed25519".into()))?;
        let signer = ScuSigner {
            keys,
            label: config.log_key_label.clone(),
            name: config.origin.clone(),
            public,
        };
        let backend: Arc<dyn Backend> = Arc::new(SqliteBackend::open(&dir.join(DB_FILE))?);
        let latest = backend
            .latest_checkpoint()?
            .ok_or_else(|| Error::Inconsistent("no checkpoint stored".into()))?;
        let verifier = verifier_key(&config.origin, &public)?;
        let cp = shinrai_tlog::verify_checkpoint(
            latest.note.as_bytes(),
            &config.origin,
            &[NoteVerifier::parse(&verifier)?.to_tlog()?],
        )?
        .checkpoint()
        .clone();
        let range =
            CompactRange::from_reader(&StoredTree::new(backend.as_ref(), cp.size), cp.size)?;
        if range.root() != cp.root {
            return Err(Error::Inconsistent(format!(
                "stored tiles do not reproduce the root of checkpoint {}",
                cp.size
            )));
        }
        let count = backend.read_entries(cp.size, 1)?.len();
        if count != 0 {
            return Err(Error::Inconsistent(format!(
                "entries stored beyond the latest checkpoint size {}",
                cp.size
            )));
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(config.queue_capacity);
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            config,
            backend,
            latest: RwLock::new(Arc::new(latest)),
            keys: RwLock::new(HashMap::new()),
            tokens: RwLock::new(HashMap::new()),
            pending: Mutex::new(HashSet::new()),
            tile_cache: TileHashCache::default(),
            verifier,
            public,
        });
        let seq = Sequencer {
            shared: shared.clone(),
            signer,
            range,
            // Registration times never go backwards along the log, also across restarts.
            last_ms: match cp.size.checked_sub(1) {
                Some(last) => shared
                    .backend
                    .entry(last)?
                    .map(|e| e.registered_at_ms)
                    .unwrap_or(0),
                None => 0,
            },
        };
        std::thread::Builder::new()
            .name("shinrai-sequencer".into())
            .spawn(move || seq.run(rx))
            .map_err(|e| Error::io(dir, e))?;
        let (verify_tx, verify_rx) = std::sync::mpsc::sync_channel(shared.config.queue_capacity);
        let (seq_tx, vshared) = (tx.clone(), shared.clone());
        std::thread::Builder::new()
            .name("shinrai-verifier".into())
            .spawn(move || run_verifier(&vshared, verify_rx, seq_tx))
            .map_err(|e| Error::io(dir, e))?;
        Ok(Store {
            shared,
            tx,
            verify_tx,
        })
    }

    /// The store settings.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The note verifier key of the log (`<name>+<hash>+<key>`).
    pub fn verifier_key(&self) -> &str {
        &self.shared.verifier
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> Arc<StoredCheckpoint> {
        self.shared
            .latest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The organisation a bearer token belongs to.
    pub fn authenticate(&self, token: &str) -> Result<String> {
        let h = token_hash(token);
        if let Some(o) = self
            .shared
            .tokens
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&h)
        {
            return Ok(o.clone());
        }
        let org = self
            .shared
            .backend
            .token_org(&h)?
            .ok_or(Error::Unauthorized)?;
        self.shared
            .tokens
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(h, org.clone());
        Ok(org)
    }

    fn key(&self, keyid: &str) -> Result<Option<Arc<OrgKey>>> {
        if let Some(k) = self
            .shared
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(keyid)
        {
            return Ok(Some(k.clone()));
        }
        let k = self.shared.backend.org_key(keyid)?.map(Arc::new);
        if let Some(k) = &k {
            self.shared
                .keys
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(keyid.to_owned(), k.clone());
        }
        Ok(k)
    }

    /// The policy checks that need no key: size, DSSE form, payload type and predicate type.
    /// Returns the parsed envelope and what the index will record of it.
    fn check_form(&self, bytes: &[u8]) -> Result<(Envelope, IndexRecord)> {
        let cfg = &self.shared.config;
        if bytes.len() > cfg.max_entry_bytes {
            return Err(Error::TooLarge {
                size: bytes.len(),
                max: cfg.max_entry_bytes,
            });
        }
        let env = Envelope::parse_with_limit(bytes, cfg.max_entry_bytes)?;
        if !cfg.allowed_payload_types.contains(&env.payload_type) {
            return Err(Error::Policy(format!(
                "payload type {:?} is not accepted (accepted: {})",
                env.payload_type,
                cfg.allowed_payload_types.join(", ")
            )));
        }
        let record = index_record(&env.payload_type, &env.payload)?;
        if !cfg.predicate_allowed(&record.predicate_type) {
            return Err(Error::Policy(format!(
                "predicate type {:?} is not accepted",
                record.predicate_type
            )));
        }
        Ok((env, record))
    }

    /// Applies the registration policy to entry bytes: size, DSSE form, payload and predicate
    /// type, and a signature by a registered organisation key over the received bytes.
    pub fn verify(&self, bytes: &[u8], submitter: &str) -> Result<Verified> {
        let (env, record) = self.check_form(bytes)?;
        let pae = env.pae();
        let mut bad = None;
        let mut ids = Vec::new();
        for s in env.signatures.iter().take(16) {
            // The store names keys by keyid: a signature without one names no registered key.
            let Some(keyid) = s.keyid.as_deref() else {
                ids.push(NO_KEYID.to_owned());
                continue;
            };
            ids.push(keyid.to_owned());
            let Some(key) = self.key(keyid)? else {
                continue;
            };
            if key.public_key.verify(&pae, &s.sig).is_ok() {
                let id = sha256_of(bytes);
                return Ok(Verified {
                    id,
                    leaf: leaf_hash(bytes),
                    bytes: Arc::from(bytes),
                    submitter: submitter.to_owned(),
                    issuer_org: key.org.clone(),
                    issuer_keyid: key.keyid.clone(),
                    record,
                });
            }
            bad = Some(keyid.to_owned());
        }
        match bad {
            Some(k) => Err(Error::BadSignature(k)),
            None => Err(Error::UnknownSigner(ids.join(", "))),
        }
    }

    /// Policy checks without the signature (size, form, types, a known signing key).
    fn check(&self, bytes: &[u8], submitter: &str) -> Result<Checked> {
        let (env, record) = self.check_form(bytes)?;
        let pae = env.pae();
        let mut ids = Vec::new();
        let mut candidates = Vec::new();
        for s in env.signatures.into_iter().take(16) {
            let Some(keyid) = s.keyid else {
                ids.push(NO_KEYID.to_owned());
                continue;
            };
            match self.key(&keyid)? {
                Some(key) => candidates.push((key, s.sig)),
                None => ids.push(keyid),
            }
        }
        if candidates.is_empty() {
            return Err(Error::UnknownSigner(ids.join(", ")));
        }
        Ok(Checked {
            id: sha256_of(bytes),
            leaf: leaf_hash(bytes),
            bytes: Arc::from(bytes),
            submitter: submitter.to_owned(),
            record,
            pae,
            candidates,
            preverified: false,
        })
    }

    /// The COSE_Sign1 form (SCITT clients): the signing key is named by `kid` (hex key id) and
    /// the signature is checked here, over the received bytes, by `shinrai_envelope`.
    fn check_cose(&self, bytes: &[u8], submitter: &str) -> Result<Checked> {
        use shinrai_envelope::Error as E;
        let cfg = &self.shared.config;
        let kid = crate::statement::cose_kid(bytes)?;
        let key = self
            .key(&kid)?
            .ok_or_else(|| Error::UnknownSigner(kid.clone()))?;
        let sslib = shinrai_envelope::keys::SslibKey::from_public_key(&key.public_key)
            .map_err(|e| Error::Inconsistent(format!("registered key {kid}: {e}")))?;
        let v = shinrai_envelope::cose::verify_sign1(bytes, &[sslib]).map_err(|e| match e {
            E::UnknownSigner { .. } => Error::UnknownSigner(kid.clone()),
            E::BadSignature { .. } => Error::BadSignature(kid.clone()),
            other => Error::from(other),
        })?;
        if !cfg
            .allowed_payload_types
            .iter()
            .any(|t| t == v.payload_type())
        {
            return Err(Error::Policy(format!(
                "content type {:?} is not accepted (accepted: {})",
                v.payload_type(),
                cfg.allowed_payload_types.join(", ")
            )));
        }
        let record =
            crate::statement::cose_record(v.payload_type(), v.payload_bytes(), &v.value().sub)?;
        if !cfg.predicate_allowed(&record.predicate_type) {
            return Err(Error::Policy(format!(
                "predicate type {:?} is not accepted",
                record.predicate_type
            )));
        }
        Ok(Checked {
            id: sha256_of(bytes),
            leaf: leaf_hash(bytes),
            bytes: Arc::from(bytes),
            submitter: submitter.to_owned(),
            record,
            pae: Vec::new(),
            candidates: vec![(key, Vec::new())],
            preverified: true,
        })
    }

    /// Registers entry bytes: policy checks here, then signature verification in batches on the
    /// verifier thread, then sequencing (which answers an entry already in the log with the
    /// existing one).
    pub fn register(&self, bytes: &[u8], submitter: &str) -> Result<Pending> {
        let c = if crate::statement::looks_like_cose(bytes) {
            if bytes.len() > self.shared.config.max_entry_bytes {
                return Err(Error::TooLarge {
                    size: bytes.len(),
                    max: self.shared.config.max_entry_bytes,
                });
            }
            self.check_cose(bytes, submitter)?
        } else {
            self.check(bytes, submitter)?
        };
        let (reply, rx) = tokio::sync::oneshot::channel();
        let id = c.id;
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id);
        match self.verify_tx.try_send(VerifyJob { c, reply }) {
            Ok(()) => Ok(Pending { id, rx }),
            Err(e) => {
                self.shared
                    .pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                Err(match e {
                    TrySendError::Full(_) => Error::Busy,
                    TrySendError::Disconnected(_) => Error::Stopped,
                })
            }
        }
    }

    /// Queues a verified entry for integration; an entry already in the log is answered at once.
    pub fn submit(&self, v: Verified) -> Result<Pending> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let id = v.id;
        if let Some(Some(index)) = self.shared.backend.lookup_ids(&[id])?.first() {
            let _ = reply.send(self.registered(*index, id, true));
            return Ok(Pending { id, rx });
        }
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id);
        match self.tx.try_send(Job { v, reply }) {
            Ok(()) => Ok(Pending { id, rx }),
            Err(e) => {
                self.shared
                    .pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                Err(match e {
                    TrySendError::Full(_) => Error::Busy,
                    TrySendError::Disconnected(_) => Error::Stopped,
                })
            }
        }
    }

    /// Verifies, submits and waits (blocking): the whole registration in one call.
    pub fn register_blocking(&self, bytes: &[u8], submitter: &str) -> Result<Registered> {
        self.register(bytes, submitter)?.wait_blocking()
    }

    fn registered(&self, index: u64, id: Hash, existing: bool) -> Result<Registered> {
        let receipt = self.receipt(index)?;
        Ok(Registered {
            id: hex::encode(id),
            log_index: index,
            existing,
            receipt,
        })
    }

    /// The inclusion proof of the entry at `index` against the latest checkpoint, with that
    /// checkpoint (for callers that hold the entry's bytes already).
    pub fn inclusion_proof(&self, index: u64) -> Result<(Vec<Hash>, Arc<StoredCheckpoint>)> {
        let cp = self.checkpoint();
        if index >= cp.size {
            return Err(Error::NotFound(format!("entry {index}")));
        }
        let proof = StoredTree::new(self.shared.backend.as_ref(), cp.size)
            .with_tile_cache(&self.shared.tile_cache)
            .inclusion_proof(index)?;
        Ok((proof, cp))
    }

    /// A receipt for the entry at `index` against the latest checkpoint.
    pub fn receipt(&self, index: u64) -> Result<Receipt> {
        let (proof, cp) = self.inclusion_proof(index)?;
        let bytes = self
            .shared
            .backend
            .read_entries(index, 1)?
            .pop()
            .ok_or_else(|| Error::NotFound(format!("entry {index}")))?;
        Ok(Receipt {
            id: hex::encode(sha256_of(&bytes)),
            log_index: index,
            tree_size: cp.size,
            inclusion_proof: proof.iter().map(|h| B64.encode(h)).collect(),
            checkpoint: cp.note.clone(),
        })
    }

    /// An RFC 9942 COSE receipt for the entry at `index` against the latest tree head.
    pub fn cose_receipt(&self, index: u64) -> Result<Vec<u8>> {
        let cp = self.checkpoint();
        if index >= cp.size {
            return Err(Error::NotFound(format!("entry {index}")));
        }
        let proof = StoredTree::new(self.shared.backend.as_ref(), cp.size)
            .with_tile_cache(&self.shared.tile_cache)
            .inclusion_proof(index)?;
        crate::cose::receipt(
            &crate::cose::log_kid(&self.shared.public),
            &cp.cose_signature,
            cp.size,
            index,
            &proof,
        )
    }

    /// The log's raw Ed25519 public key.
    pub fn log_public_key(&self) -> [u8; 32] {
        self.shared.public
    }

    /// Looks an entry up by id (hex SHA-256 of its bytes).
    pub fn entry_by_id(&self, id: &str) -> Result<EntryState> {
        let raw = parse_entry_id(id)?;
        if let Some(Some(index)) = self.shared.backend.lookup_ids(&[raw])?.first() {
            let cp_size = self.checkpoint().size;
            if *index < cp_size {
                return self
                    .entry(*index)
                    .map(|e| EntryState::Integrated(Box::new(e)));
            }
        }
        if self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&raw)
        {
            return Ok(EntryState::Pending);
        }
        Err(Error::NotFound(format!("entry {id}")))
    }

    /// The integrated entry whose id is `id` (64 hex digits): index, issuer and bytes in one
    /// read; `None` when the log (up to the latest checkpoint) has no such entry.
    pub fn entry_bytes_by_id(&self, id: &str) -> Result<Option<EntryBytes>> {
        let raw = parse_entry_id(id)?;
        let size = self.checkpoint().size;
        Ok(self
            .shared
            .backend
            .entry_bytes_by_id(&raw)?
            .filter(|e| e.index < size))
    }

    /// The entry at `index`.
    pub fn entry(&self, index: u64) -> Result<StoredEntry> {
        if index >= self.checkpoint().size {
            return Err(Error::NotFound(format!("entry {index}")));
        }
        self.shared
            .backend
            .entry(index)?
            .ok_or_else(|| Error::NotFound(format!("entry {index}")))
    }

    /// Searches the index (digests are normalised; the limit is clamped to 1..=1000).
    pub fn search(&self, mut q: SearchQuery) -> Result<Page> {
        q.subject_digest = q.subject_digest.map(|d| normalise_digest(&d));
        if q.limit == 0 {
            q.limit = 50;
        }
        self.shared.backend.search(&q)
    }

    /// Integrated entries of `predicate_type` with a subject of `digest` (`sha256:<hex>` or 64
    /// hex digits), with their bytes, in log order, at most `limit` (clamped to 1..=1000).
    pub fn entries_about(
        &self,
        digest: &str,
        predicate_type: &str,
        limit: usize,
    ) -> Result<Vec<EntryBytes>> {
        let size = self.checkpoint().size;
        let mut out = self.shared.backend.entries_about(
            &normalise_digest(digest),
            predicate_type,
            limit.clamp(1, 1000),
        )?;
        out.retain(|e| e.index < size);
        Ok(out)
    }

    /// Follows traceability edges from `node` transitively, up to `depth` steps.
    pub fn trace(&self, node: &str, direction: Direction, depth: u32) -> Result<Trace> {
        const MAX_EDGES: usize = 10_000;
        let root = normalise_digest(node);
        let depth = depth.min(64);
        let mut seen: HashMap<String, u32> = HashMap::from([(root.clone(), 0)]);
        let mut nodes = vec![TraceNode {
            id: root.clone(),
            depth: 0,
        }];
        let mut edges = Vec::new();
        let mut frontier = vec![root.clone()];
        let mut truncated = false;
        for d in 1..=depth {
            if frontier.is_empty() {
                break;
            }
            let found = self.shared.backend.edges(
                &frontier,
                direction,
                MAX_EDGES + 1 - edges.len().min(MAX_EDGES),
            )?;
            let mut next = Vec::new();
            for e in found {
                if edges.len() >= MAX_EDGES {
                    truncated = true;
                    break;
                }
                let other = match direction {
                    Direction::Up => e.input.clone(),
                    Direction::Down => e.output.clone(),
                };
                if !seen.contains_key(&other) {
                    seen.insert(other.clone(), d);
                    nodes.push(TraceNode {
                        id: other.clone(),
                        depth: d,
                    });
                    next.push(other);
                }
                edges.push(e);
            }
            frontier = next;
        }
        Ok(Trace {
            root,
            direction,
            depth,
            nodes,
            edges,
            truncated,
        })
    }

    /// A hash tile for the tlog-tiles API: full (`width` None) or partial of `width` hashes;
    /// `None` when the log has no such tile (yet).
    pub fn tile(&self, level: u8, index: u64, width: Option<u16>) -> Result<Option<Vec<u8>>> {
        let size = self.checkpoint().size;
        let count = size.checked_shr(8 * level as u32).unwrap_or(0);
        let available = count
            .saturating_sub(index.saturating_mul(TILE_WIDTH))
            .min(TILE_WIDTH);
        let want = width.map(u64::from).unwrap_or(TILE_WIDTH);
        if want == 0 || want > available || (width.is_some() && want >= TILE_WIDTH) {
            return Ok(None);
        }
        Ok(self
            .shared
            .backend
            .read_tile(level, index)?
            .filter(|t| t.len() as u64 >= want * 32)
            .map(|mut t| {
                t.truncate((want * 32) as usize);
                t
            }))
    }

    /// An entry bundle (C2SP tlog-tiles: big-endian u16 length then bytes, per entry).
    pub fn entry_bundle(&self, index: u64, width: Option<u16>) -> Result<Option<Vec<u8>>> {
        let size = self.checkpoint().size;
        let available = size
            .saturating_sub(index.saturating_mul(TILE_WIDTH))
            .min(TILE_WIDTH);
        let want = width.map(u64::from).unwrap_or(TILE_WIDTH);
        if want == 0 || want > available || (width.is_some() && want >= TILE_WIDTH) {
            return Ok(None);
        }
        let entries = self.shared.backend.read_entries(index * TILE_WIDTH, want)?;
        Ok(Some(shinrai_tlog::tiles::encode_entry_bundle(&entries)?))
    }

    /// Stores content by digest in the content folder (for evidence larger than an entry);
    /// returns `sha256:<hex>`.
    pub fn put_content(&self, bytes: &[u8]) -> Result<String> {
        let hex = hex::encode(sha256_of(bytes));
        let dir = self.shared.dir.join(CONTENT_DIR).join("sha256");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(&hex);
        if !path.exists() {
            write_atomic(&path, bytes)?;
        }
        Ok(format!("sha256:{hex}"))
    }

    /// Content by digest (`sha256:<hex>` or bare hex), checked against its digest.
    pub fn get_content(&self, digest: &str) -> Result<Vec<u8>> {
        let d = normalise_digest(digest);
        let hex = d
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64)
            .ok_or_else(|| {
                Error::InvalidRequest("content digest must be sha256:<64 hex>".into())
            })?;
        let path = self.shared.dir.join(CONTENT_DIR).join("sha256").join(hex);
        let bytes = std::fs::read(&path).map_err(|_| Error::NotFound(format!("content {d}")))?;
        if hex::encode(sha256_of(&bytes)) != hex {
            return Err(Error::Inconsistent(format!(
                "content {d} does not match its digest"
            )));
        }
        Ok(bytes)
    }

    /// Recreates the index from the entry bytes (the index is derived data).
    pub fn rebuild_index(&self) -> Result<u64> {
        self.shared.backend.rebuild_index(&|bytes| {
            if crate::statement::looks_like_cose(bytes) {
                return crate::statement::cose_record_unverified(bytes);
            }
            // Already accepted once: no size limit (the configured one may have shrunk since).
            let env = Envelope::parse_with_limit(bytes, usize::MAX)?;
            index_record(&env.payload_type, &env.payload)
        })
    }

    /// The storage backend as a trait object.
    pub fn backend(&self) -> Arc<dyn Backend> {
        self.shared.backend.clone()
    }
}

struct Sequencer {
    shared: Arc<Shared>,
    signer: ScuSigner,
    /// The right edge of the tree (`shinrai-tlog`): enough to append and compute the root.
    range: CompactRange,
    last_ms: i64,
}

impl Sequencer {
    fn run(mut self, rx: Receiver<Job>) {
        let max = self.shared.config.batch_max_entries;
        let delay = Duration::from_millis(self.shared.config.batch_max_delay_ms);
        while let Ok(first) = rx.recv() {
            let deadline = Instant::now() + delay;
            let mut jobs = vec![first];
            // Drain what is queued; if the batch is not full, sleep out the rest of the delay
            // once and drain again. Sleeping (rather than waiting on the queue) means senders
            // do not wake this thread once per entry.
            let mut slept = delay.is_zero();
            loop {
                while jobs.len() < max {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                if jobs.len() >= max || slept {
                    break;
                }
                let now = Instant::now();
                if now < deadline {
                    std::thread::sleep(deadline - now);
                }
                slept = true;
            }
            self.integrate(jobs);
        }
        let _ = self.signer.keys.flush();
    }

    fn integrate(&mut self, jobs: Vec<Job>) {
        let t0 = Instant::now();
        let n_jobs = jobs.len();
        let ids: Vec<Hash> = jobs.iter().map(|j| j.v.id).collect();
        let existing = match self.shared.backend.lookup_ids_for_integration(&ids) {
            Ok(e) => e,
            Err(e) => return fail(jobs, &e),
        };
        // Unique new entries in arrival order; duplicates wait on the first.
        let mut first_of: HashMap<Hash, usize> = HashMap::new();
        let mut new_entries: Vec<NewEntry> = Vec::new();
        let mut leaves = Vec::new();
        let mut waiters: Vec<(Job, Option<u64>, bool)> = Vec::with_capacity(jobs.len());
        let start = self.range.size();
        let now = now_ms().max(self.last_ms);
        for (mut job, old) in jobs.into_iter().zip(existing) {
            if let Some(i) = old {
                waiters.push((job, Some(i), true));
                continue;
            }
            if let Some(&i) = first_of.get(&job.v.id) {
                waiters.push((job, Some(start + i as u64), true));
                continue;
            }
            let i = new_entries.len();
            first_of.insert(job.v.id, i);
            // Moved, not cloned: the waiter needs only the id from here on.
            let v = &mut job.v;
            new_entries.push(NewEntry {
                index: start + i as u64,
                id: v.id,
                bytes: v.bytes.clone(),
                registered_at_ms: now,
                submitter: std::mem::take(&mut v.submitter),
                issuer_org: std::mem::take(&mut v.issuer_org),
                issuer_keyid: std::mem::take(&mut v.issuer_keyid),
                record: std::mem::take(&mut v.record),
            });
            leaves.push(v.leaf);
            waiters.push((job, Some(start + i as u64), false));
        }
        let t_lookup = t0.elapsed();
        let before = self.range.clone();
        let update = self.range.append_batch(&leaves);
        let mut t_sign = Duration::ZERO;
        let mut tiles: Vec<TileWrite> = Vec::new();
        let result = (|| -> Result<StoredCheckpoint> {
            let cp = Checkpoint::new(self.shared.config.origin.clone(), update.size, update.root);
            let stored = sign_checkpoint(&self.signer, &cp)?;
            t_sign = t0.elapsed();
            if !new_entries.is_empty() {
                tiles = changed_tiles(
                    &StoredTree::new(self.shared.backend.as_ref(), start),
                    &update,
                )?;
                self.shared.backend.integrate(&Batch {
                    entries: new_entries,
                    tiles: tiles.clone(),
                    checkpoint: stored.clone(),
                })?;
            }
            Ok(stored)
        })();
        let cp = match result {
            Ok(cp) => cp,
            Err(e) => {
                tracing::error!(error = %e, "batch integration failed");
                self.range = before;
                let jobs: Vec<Job> = waiters.into_iter().map(|(j, _, _)| j).collect();
                self.clear_pending(&jobs);
                return fail(jobs, &e);
            }
        };
        self.last_ms = now;
        let t_commit = t0.elapsed();
        let size = self.range.size();
        if size > start {
            *self
                .shared
                .latest
                .write()
                .unwrap_or_else(|p| p.into_inner()) = Arc::new(cp.clone());
        }
        let latest = self
            .shared
            .latest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        // Receipts against the latest tree, from the tiles and nodes this batch produced.
        let view = StoredTree::new(self.shared.backend.as_ref(), latest.size)
            .with_batch(&tiles, &update.new_nodes);
        let jobs: Vec<&Job> = waiters.iter().map(|(j, _, _)| j).collect();
        self.clear_pending_refs(&jobs);
        for (job, index, existing) in waiters {
            let Some(index) = index else { continue };
            let r = view.inclusion_proof(index).map(|proof| Registered {
                id: hex::encode(job.v.id),
                log_index: index,
                existing,
                receipt: Receipt {
                    id: hex::encode(job.v.id),
                    log_index: index,
                    tree_size: latest.size,
                    inclusion_proof: proof.iter().map(|h| B64.encode(h)).collect(),
                    checkpoint: latest.note.clone(),
                },
            });
            let _ = job.reply.send(r);
        }
        tracing::debug!(
            entries = n_jobs,
            lookup_us = t_lookup.as_micros() as u64,
            signed_us = t_sign.as_micros() as u64,
            committed_us = t_commit.as_micros() as u64,
            answered_us = t0.elapsed().as_micros() as u64,
            "batch integrated"
        );
    }

    fn clear_pending(&self, jobs: &[Job]) {
        let mut p = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for j in jobs {
            p.remove(&j.v.id);
        }
    }

    fn clear_pending_refs(&self, jobs: &[&Job]) {
        let mut p = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for j in jobs {
            p.remove(&j.v.id);
        }
    }
}

/// A verifier batch smaller than this, under concurrent load, waits [`VERIFY_GATHER`] once for more.
const VERIFY_GATHER_BELOW: usize = 64;
/// How long a small verifier batch waits for more entries.
const VERIFY_GATHER: Duration = Duration::from_micros(500);

/// The verifier thread: takes what is queued (up to `max`), checks the first known-key signature
/// of every Ed25519 entry in one batch (`shinrai_scu::batch`), falls back to one-by-one checks
/// for the rest and for entries whose batch item failed, and forwards verified entries to the
/// sequencer in arrival order. A bad signature is answered here and never reaches the log.
fn run_verifier(shared: &Shared, rx: Receiver<VerifyJob>, seq: SyncSender<Job>) {
    use shinrai_scu::batch::{BatchItem, verify_ed25519_batch};
    let max = shared.config.batch_max_entries;
    let forget = |id: &Hash| {
        shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    };
    let drain = |jobs: &mut Vec<VerifyJob>| {
        while jobs.len() < max {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
    };
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        drain(&mut jobs);
        // Under concurrent load (more than one entry waiting) a small batch is topped up once
        // after a short pause: batch verification costs less per signature the larger the
        // batch (19 us at 1,024 against 42 us one by one). A lone registration is not delayed.
        // Only with a non-zero `batch_max_delay_ms`: the default (0, group commit) does not
        // pause anywhere on the registration path.
        if jobs.len() > 1
            && jobs.len() < VERIFY_GATHER_BELOW
            && shared.config.batch_max_delay_ms > 0
        {
            std::thread::sleep(VERIFY_GATHER);
            drain(&mut jobs);
        }
        // ok[i] = index of the candidate key that verified, if any.
        let mut ok: Vec<Option<usize>> = vec![None; jobs.len()];
        let batch: Vec<usize> = (0..jobs.len())
            .filter(|&i| {
                !jobs[i].c.preverified
                    && jobs[i].c.candidates[0].0.public_key.algorithm == Algorithm::Ed25519
            })
            .collect();
        if !batch.is_empty() {
            let items: Vec<BatchItem<'_>> = batch
                .iter()
                .map(|&i| {
                    let (key, sig) = &jobs[i].c.candidates[0];
                    BatchItem {
                        public_key: &key.public_key,
                        message: &jobs[i].c.pae,
                        signature: sig,
                    }
                })
                .collect();
            match verify_ed25519_batch(&items) {
                Ok(()) => batch.iter().for_each(|&i| ok[i] = Some(0)),
                Err(shinrai_scu::Error::BatchFailed { invalid }) => {
                    let bad: HashSet<usize> = invalid.into_iter().collect();
                    for (pos, &i) in batch.iter().enumerate() {
                        if !bad.contains(&pos) {
                            ok[i] = Some(0);
                        }
                    }
                }
                Err(_) => {}
            }
        }
        for (i, job) in jobs.into_iter().enumerate() {
            let chosen = ok[i].or(job.c.preverified.then_some(0)).or_else(|| {
                job.c
                    .candidates
                    .iter()
                    .position(|(k, sig)| k.public_key.verify(&job.c.pae, sig).is_ok())
            });
            match chosen {
                Some(k) => {
                    let key = job.c.candidates[k].0.clone();
                    let v = job.c.verified(&key);
                    // The sequencer queue is bounded: wait for room rather than drop.
                    if let Err(e) = seq.send(Job {
                        v,
                        reply: job.reply,
                    }) {
                        forget(&e.0.v.id);
                        let _ = e.0.reply.send(Err(Error::Stopped));
                    }
                }
                None => {
                    forget(&job.c.id);
                    let keyid = job.c.candidates[0].0.keyid.clone();
                    let _ = job.reply.send(Err(Error::BadSignature(keyid)));
                }
            }
        }
    }
}

fn fail(jobs: Vec<Job>, e: &Error) {
    for j in jobs {
        let _ = j
            .reply
            .send(Err(Error::Inconsistent(format!("integration failed: {e}"))));
    }
}

/// Checks a receipt offline: the checkpoint is signed by the log key `verifier_key`, and the
/// entry bytes are included in it by the inclusion proof. Returns the verified checkpoint.
pub fn verify_receipt(entry: &[u8], receipt: &Receipt, verifier_key: &str) -> Result<Checkpoint> {
    let text = NoteVerifier::parse(verifier_key)?.verify(&receipt.checkpoint)?;
    let cp = Checkpoint::parse(text)?;
    if cp.size != receipt.tree_size {
        return Err(Error::Inconsistent(format!(
            "receipt says tree size {} but its checkpoint is for {}",
            receipt.tree_size, cp.size
        )));
    }
    if hex::encode(sha256_of(entry)) != receipt.id {
        return Err(Error::Inconsistent(
            "the statement bytes do not match the receipt's entry id".into(),
        ));
    }
    let proof = receipt
        .inclusion_proof
        .iter()
        .map(|h| {
            B64.decode(h)
                .ok()
                .and_then(|b| <Hash>::try_from(b.as_slice()).ok())
                .ok_or_else(|| {
                    Error::Inconsistent("inclusion proof hash is not 32 base64 bytes".into())
                })
        })
        .collect::<Result<Vec<Hash>>>()?;
    shinrai_tlog::verify_inclusion(
        receipt.log_index,
        cp.size,
        &leaf_hash(entry),
        &proof,
        &cp.root,
    )
    .map_err(|e| match e {
        shinrai_tlog::Error::RootMismatch => Error::Inconsistent(
            "inclusion proof does not lead to the checkpoint root: the entry is not in the log as signed".into(),
        ),
        other => Error::Inconsistent(other.to_string()),
    })?;
    Ok(cp)
}
