//! Backend `pkcs11`: keys inside a PKCS#11 token (an HSM; SoftHSM2 in tests), hardware assurance.
//!
//! Private keys are generated on the token with `CKA_SENSITIVE = true`, `CKA_EXTRACTABLE = false`
//! and `CKA_TOKEN = true`: they never leave it. Each key has three token objects sharing one
//! random `CKA_ID`: the private key, the public key, and a private `CKO_DATA` object
//! (`CKA_APPLICATION = "shinrai-scu"`, `CKA_LABEL` = key label) whose value is JSON with the key's
//! algorithm, public key, usage policy and use count, so policy and counts survive reopening.
//!
//! The audit log is chained with `CKM_SHA256_HMAC` under a non-extractable `CKK_GENERIC_SECRET`
//! key on the token (label `shinrai-audit-hmac`, created at first open); its anchor is a private
//! data object (`CKA_APPLICATION = "shinrai-scu-audit"`) rewritten after every record.
//!
//! ECDSA P-256 signs a SHA-256 digest computed on the host with plain `CKM_ECDSA` (SoftHSM 2.6
//! rejects the combined `CKM_ECDSA_SHA256`); Ed25519 uses `CKM_EDDSA` when the token lists it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Function, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditAnchor, AuditEvent, AuditLog, AuditMac, AuditReport, Operation};
use crate::{
    Algorithm, Assurance, Capabilities, Error, KeyInfo, KeyStore, PublicKey, Purpose, Result,
    Signature, UsagePolicy,
};

const APP_KEYS: &[u8] = b"shinrai-scu";
const APP_AUDIT: &[u8] = b"shinrai-scu-audit";
const HMAC_LABEL: &[u8] = b"shinrai-audit-hmac";
const ANCHOR_LABEL: &[u8] = b"shinrai-audit-anchor";
/// DER OID 1.3.101.112 (id-Ed25519).
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// DER OID 1.2.840.10045.3.1.7 (prime256v1).
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// One PKCS#11 context per module per process: C_Initialize must run once per process.
static CONTEXTS: Mutex<Vec<(PathBuf, Pkcs11)>> = Mutex::new(Vec::new());

fn p11(e: cryptoki::error::Error) -> Error {
    Error::Pkcs11(e.to_string())
}

fn context(module: &Path) -> Result<Pkcs11> {
    let mut contexts = CONTEXTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, c)) = contexts.iter().find(|(p, _)| p == module) {
        return Ok(c.clone());
    }
    let ctx = Pkcs11::new(module).map_err(|e| {
        Error::Pkcs11(format!(
            "cannot load PKCS#11 module {}: {e} (for SoftHSM2: apt-get install softhsm2)",
            module.display()
        ))
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => {}
        Err(cryptoki::error::Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(p11(e)),
    }
    contexts.push((module.to_path_buf(), ctx.clone()));
    Ok(ctx)
}

/// What the data object of a key holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyMeta {
    label: String,
    algorithm: Algorithm,
    id: String,
    public_key: PublicKey,
    policy: UsagePolicy,
    uses: u64,
    created: u64,
}

impl KeyMeta {
    fn info(&self) -> KeyInfo {
        KeyInfo {
            label: self.label.clone(),
            algorithm: self.algorithm,
            public_key: self.public_key.clone(),
            policy: self.policy.clone(),
            uses: self.uses,
            created: self.created,
        }
    }
}

struct TokenKey {
    meta: KeyMeta,
    private: ObjectHandle,
    public: Option<ObjectHandle>,
    data: ObjectHandle,
}

struct TokenMac<'a> {
    session: &'a Session,
    key: ObjectHandle,
}

impl AuditMac for TokenMac<'_> {
    fn mac(&self, data: &[u8]) -> Result<Vec<u8>> {
        self.session
            .sign(&Mechanism::Sha256Hmac, self.key, data)
            .map_err(p11)
    }
}

struct Inner {
    session: Session,
    hmac_key: ObjectHandle,
    anchor_obj: ObjectHandle,
    audit: AuditLog,
    keys: BTreeMap<String, TokenKey>,
}

impl Inner {
    fn record(&mut self, event: AuditEvent<'_>) -> Result<()> {
        let mac = TokenMac {
            session: &self.session,
            key: self.hmac_key,
        };
        self.audit.append(&mac, event)?;
        self.audit.sync()?;
        let value =
            serde_json::to_vec(self.audit.head()).map_err(|e| Error::Crypto(e.to_string()))?;
        self.anchor_obj = replace_data(
            &self.session,
            self.anchor_obj,
            APP_AUDIT,
            ANCHOR_LABEL,
            value,
        )?;
        Ok(())
    }
}

/// Creates a private token data object.
fn create_data(
    session: &Session,
    app: &[u8],
    label: &[u8],
    value: Vec<u8>,
) -> Result<ObjectHandle> {
    session
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Application(app.to_vec()),
            Attribute::Label(label.to_vec()),
            Attribute::Value(value),
        ])
        .map_err(p11)
}

/// Replaces a data object's value. Tokens (SoftHSM2 among them) may refuse to change `CKA_VALUE`
/// in place, so the new object is created first and the old one destroyed after: a crash in
/// between leaves two objects, and opening keeps the most advanced one (highest count).
fn replace_data(
    session: &Session,
    old: ObjectHandle,
    app: &[u8],
    label: &[u8],
    value: Vec<u8>,
) -> Result<ObjectHandle> {
    let new = create_data(session, app, label, value)?;
    session.destroy_object(old).map_err(p11)?;
    Ok(new)
}

fn write_meta(session: &Session, key: &mut TokenKey) -> Result<()> {
    let value = serde_json::to_vec(&key.meta).map_err(|e| Error::Crypto(e.to_string()))?;
    key.data = replace_data(
        session,
        key.data,
        APP_KEYS,
        key.meta.label.as_bytes(),
        value,
    )?;
    Ok(())
}

/// A key store on a PKCS#11 token, opened with the user PIN.
pub struct Pkcs11KeyStore {
    module: PathBuf,
    token_label: String,
    library: String,
    algorithms: Vec<Algorithm>,
    audit_path: PathBuf,
    inner: Mutex<Inner>,
}

impl fmt::Debug for Pkcs11KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11KeyStore")
            .field("module", &self.module)
            .field("token_label", &self.token_label)
            .field("audit_path", &self.audit_path)
            .finish_non_exhaustive()
    }
}

fn get_value(session: &Session, obj: ObjectHandle, what: AttributeType) -> Result<Vec<u8>> {
    let attrs = session.get_attributes(obj, &[what]).map_err(p11)?;
    for a in attrs {
        match a {
            Attribute::Value(v) | Attribute::EcPoint(v) | Attribute::Id(v) => return Ok(v),
            _ => {}
        }
    }
    Err(Error::Damaged(format!(
        "token object lacks attribute {what}"
    )))
}

/// The EC point from `CKA_EC_POINT`: a DER OCTET STRING around the point, or the bare point.
fn unwrap_ec_point(v: &[u8]) -> Vec<u8> {
    if v.len() >= 2 && v[0] == 0x04 {
        if v[1] < 0x80 && v.len() == 2 + v[1] as usize {
            return v[2..].to_vec();
        }
        if v[1] == 0x81 && v.len() >= 3 && v.len() == 3 + v[2] as usize {
            return v[3..].to_vec();
        }
    }
    v.to_vec()
}

fn default_audit_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SHINRAI_SCU_AUDIT_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(d).join("shinrai");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/state/shinrai"),
        None => PathBuf::from("."),
    }
}

impl Pkcs11KeyStore {
    /// Opens the token labelled `token_label` in the PKCS#11 module at `module_path` and logs in
    /// with the user `pin`. The audit log goes to `$SHINRAI_SCU_AUDIT_DIR` (else
    /// `$XDG_STATE_HOME/shinrai`, else `~/.local/state/shinrai`) as
    /// `pkcs11-<token serial>.audit`.
    ///
    /// Errors: [`Error::WrongPin`] for a wrong PIN, [`Error::Pkcs11`] when the module cannot be
    /// loaded, the token is missing, the PIN is locked or the token is already open in this process.
    pub fn open(module_path: impl AsRef<Path>, token_label: &str, pin: &str) -> Result<Self> {
        Self::open_inner(module_path.as_ref(), token_label, pin, None)
    }

    /// Like [`Pkcs11KeyStore::open`] with the audit log at `audit_path`.
    pub fn open_with_audit_log(
        module_path: impl AsRef<Path>,
        token_label: &str,
        pin: &str,
        audit_path: impl AsRef<Path>,
    ) -> Result<Self> {
        Self::open_inner(
            module_path.as_ref(),
            token_label,
            pin,
            Some(audit_path.as_ref().to_path_buf()),
        )
    }

    fn open_inner(
        module: &Path,
        token_label: &str,
        pin: &str,
        audit_path: Option<PathBuf>,
    ) -> Result<Self> {
        let ctx = context(module)?;
        let mut found: Option<(Slot, String)> = None;
        for slot in ctx.get_slots_with_token().map_err(p11)? {
            let info = ctx.get_token_info(slot).map_err(p11)?;
            if info.label().trim_end() == token_label && info.token_initialized() {
                found = Some((slot, info.serial_number().trim().to_owned()));
                break;
            }
        }
        let Some((slot, serial)) = found else {
            return Err(Error::Pkcs11(format!(
                "no initialised token labelled {token_label:?} in {} (softhsm2-util --show-slots lists them)",
                module.display()
            )));
        };
        let session = ctx.open_rw_session(slot).map_err(p11)?;
        match session.login(UserType::User, Some(&AuthPin::new(pin.into()))) {
            Ok(()) => {}
            Err(cryptoki::error::Error::Pkcs11(rv, Function::Login)) => {
                return Err(match rv {
                    RvError::PinIncorrect | RvError::PinLenRange => Error::WrongPin,
                    RvError::PinLocked => Error::Pkcs11(
                        "the user PIN is locked after too many wrong tries; the security officer must reset it".into(),
                    ),
                    RvError::UserAlreadyLoggedIn => Error::Pkcs11(format!(
                        "token {token_label:?} is already open in this process; use that key store"
                    )),
                    other => Error::Pkcs11(format!("login failed: {other}")),
                });
            }
            Err(e) => return Err(p11(e)),
        }
        let mechanisms = ctx.get_mechanism_list(slot).map_err(p11)?;
        let has = |m: MechanismType| mechanisms.contains(&m);
        let mut algorithms = Vec::new();
        if has(MechanismType::ECC_EDWARDS_KEY_PAIR_GEN) && has(MechanismType::EDDSA) {
            algorithms.push(Algorithm::Ed25519);
        }
        if has(MechanismType::ECC_KEY_PAIR_GEN) && has(MechanismType::ECDSA) {
            algorithms.push(Algorithm::EcdsaP256);
        }
        let library = ctx
            .get_library_info()
            .map(|i| {
                format!(
                    "{} {} (library {})",
                    i.manufacturer_id().trim(),
                    i.library_description().trim(),
                    i.library_version()
                )
            })
            .unwrap_or_default();

        // The audit HMAC key, created once per token.
        let hmac_key = match session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Label(HMAC_LABEL.to_vec()),
            ])
            .map_err(p11)?
            .first()
        {
            Some(h) => *h,
            None => session
                .generate_key(
                    &Mechanism::GenericSecretKeyGen,
                    &[
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::KeyType(KeyType::GENERIC_SECRET),
                        Attribute::ValueLen(32.into()),
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Sensitive(true),
                        Attribute::Extractable(false),
                        Attribute::Sign(true),
                        Attribute::Verify(true),
                        Attribute::Label(HMAC_LABEL.to_vec()),
                    ],
                )
                .map_err(p11)?,
        };
        let anchor_objs = session
            .find_objects(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Application(APP_AUDIT.to_vec()),
                Attribute::Label(ANCHOR_LABEL.to_vec()),
            ])
            .map_err(p11)?;
        let mut best: Option<(ObjectHandle, AuditAnchor)> = None;
        for h in anchor_objs {
            let v = get_value(&session, h, AttributeType::Value)?;
            let a: AuditAnchor = serde_json::from_slice(&v)
                .map_err(|e| Error::Damaged(format!("audit anchor on the token: {e}")))?;
            match &best {
                Some((_, b)) if b.count >= a.count => {
                    // A leftover of an interrupted update.
                    session.destroy_object(h).map_err(p11)?;
                }
                _ => {
                    if let Some((old, _)) = best.take() {
                        session.destroy_object(old).map_err(p11)?;
                    }
                    best = Some((h, a));
                }
            }
        }
        let (anchor_obj, anchor) = match best {
            Some(b) => b,
            None => {
                let a = AuditAnchor::default();
                let v = serde_json::to_vec(&a).map_err(|e| Error::Crypto(e.to_string()))?;
                (create_data(&session, APP_AUDIT, ANCHOR_LABEL, v)?, a)
            }
        };

        let mut keys = BTreeMap::new();
        for data in session
            .find_objects(&[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Application(APP_KEYS.to_vec()),
            ])
            .map_err(p11)?
        {
            let v = get_value(&session, data, AttributeType::Value)?;
            let meta: KeyMeta = serde_json::from_slice(&v)
                .map_err(|e| Error::Damaged(format!("key metadata object on the token: {e}")))?;
            let id = hex::decode(&meta.id)
                .map_err(|_| Error::Damaged(format!("key {:?}: bad id", meta.label)))?;
            let private = session
                .find_objects(&[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::Id(id.clone()),
                ])
                .map_err(p11)?;
            let Some(private) = private.first().copied() else {
                tracing::warn!(label = %meta.label, "key metadata without a private key on the token; ignored");
                continue;
            };
            let public = session
                .find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Id(id)])
                .map_err(p11)?
                .first()
                .copied();
            if let Some(existing) = keys.get(&meta.label) {
                let existing: &TokenKey = existing;
                // Two metadata objects: a leftover of an interrupted update; keep the higher count.
                if existing.meta.uses >= meta.uses {
                    session.destroy_object(data).map_err(p11)?;
                    continue;
                }
                session.destroy_object(existing.data).map_err(p11)?;
            }
            keys.insert(
                meta.label.clone(),
                TokenKey {
                    meta,
                    private,
                    public,
                    data,
                },
            );
        }

        let audit_path = match audit_path {
            Some(p) => p,
            None => {
                let dir = default_audit_dir();
                std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
                    path: dir.display().to_string(),
                    source,
                })?;
                let safe: String = serial
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                dir.join(format!("pkcs11-{safe}.audit"))
            }
        };
        let audit = AuditLog::open(
            &audit_path,
            &anchor,
            &TokenMac {
                session: &session,
                key: hmac_key,
            },
        )?;
        Ok(Pkcs11KeyStore {
            module: module.to_path_buf(),
            token_label: token_label.to_owned(),
            library,
            algorithms,
            audit_path,
            inner: Mutex::new(Inner {
                session,
                hmac_key,
                anchor_obj,
                audit,
                keys,
            }),
        })
    }

    /// Path of the audit log.
    pub fn audit_path(&self) -> &Path {
        &self.audit_path
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every mutation under the lock is a single map insert/remove or counter write, so a
        // poisoned lock still guards consistent data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the token attributes `(CKA_SENSITIVE, CKA_EXTRACTABLE)` of key `label`'s private
    /// half, so callers and tests can check that it cannot leave the token.
    pub fn private_key_protection(&self, label: &str) -> Result<(bool, bool)> {
        let inner = self.lock();
        let key = inner
            .keys
            .get(label)
            .ok_or_else(|| Error::KeyNotFound(label.to_owned()))?;
        let attrs = inner
            .session
            .get_attributes(
                key.private,
                &[AttributeType::Sensitive, AttributeType::Extractable],
            )
            .map_err(p11)?;
        let (mut sensitive, mut extractable) = (false, true);
        for a in attrs {
            match a {
                Attribute::Sensitive(b) => sensitive = b,
                Attribute::Extractable(b) => extractable = b,
                _ => {}
            }
        }
        Ok((sensitive, extractable))
    }

    /// Tries to read the private key value (`CKA_VALUE`) of key `label` from the token. A
    /// correctly protected key makes this fail; it exists so tests can prove that.
    pub fn try_read_private_value(&self, label: &str) -> Result<Vec<u8>> {
        let inner = self.lock();
        let key = inner
            .keys
            .get(label)
            .ok_or_else(|| Error::KeyNotFound(label.to_owned()))?;
        get_value(&inner.session, key.private, AttributeType::Value)
    }
}

impl KeyStore for Pkcs11KeyStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            backend: "pkcs11".into(),
            algorithms: self.algorithms.clone(),
            exportable_keys: false,
            assurance: Assurance::Hardware,
            detail: format!(
                "token {:?} via {} {}",
                self.token_label,
                self.module.display(),
                self.library
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
        if !self.algorithms.contains(&algorithm) {
            return Err(Error::Unsupported(format!(
                "token {:?} cannot generate {algorithm} keys",
                self.token_label
            )));
        }
        let mut inner = self.lock();
        if inner.keys.contains_key(label) {
            return Err(Error::KeyExists(label.to_owned()));
        }
        let mut id = [0u8; 16];
        SystemRandom::new()
            .fill(&mut id)
            .map_err(|_| Error::Crypto("random key id".into()))?;
        let (mechanism, oid, key_type) = match algorithm {
            Algorithm::Ed25519 => (
                Mechanism::EccEdwardsKeyPairGen,
                OID_ED25519,
                KeyType::EC_EDWARDS,
            ),
            Algorithm::EcdsaP256 => (Mechanism::EccKeyPairGen, OID_P256, KeyType::EC),
        };
        let label_bytes = label.as_bytes().to_vec();
        let public_template = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(oid.to_vec()),
            Attribute::Label(label_bytes.clone()),
            Attribute::Id(id.to_vec()),
        ];
        let private_template = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::KeyType(key_type),
            Attribute::Label(label_bytes.clone()),
            Attribute::Id(id.to_vec()),
        ];
        let (public, private) = inner
            .session
            .generate_key_pair(&mechanism, &public_template, &private_template)
            .map_err(p11)?;
        let point = unwrap_ec_point(&get_value(&inner.session, public, AttributeType::EcPoint)?);
        let public_key = PublicKey::from_bytes(algorithm, &point)?;
        let meta = KeyMeta {
            label: label.to_owned(),
            algorithm,
            id: hex::encode(id),
            public_key,
            policy,
            uses: 0,
            created: audit::now_secs(),
        };
        let value = serde_json::to_vec(&meta).map_err(|e| Error::Crypto(e.to_string()))?;
        let data = create_data(&inner.session, APP_KEYS, &label_bytes, value)?;
        let info = meta.info();
        inner.keys.insert(
            label.to_owned(),
            TokenKey {
                meta,
                private,
                public: Some(public),
                data,
            },
        );
        inner.record(AuditEvent {
            key: label,
            purpose: None,
            operation: Operation::Generate,
            message: None,
            outcome: &format!("ok: {algorithm}"),
        })?;
        Ok(info)
    }

    fn list(&self) -> Result<Vec<KeyInfo>> {
        Ok(self.lock().keys.values().map(|k| k.meta.info()).collect())
    }

    fn public_key(&self, label: &str) -> Result<PublicKey> {
        self.lock()
            .keys
            .get(label)
            .map(|k| k.meta.public_key.clone())
            .ok_or_else(|| Error::KeyNotFound(label.to_owned()))
    }

    fn sign(&self, label: &str, purpose: &Purpose, message: &[u8]) -> Result<Signature> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let key = inner
            .keys
            .get_mut(label)
            .ok_or_else(|| Error::KeyNotFound(label.to_owned()))?;
        if let Err(e) = key.meta.policy.check(label, purpose, key.meta.uses) {
            inner.record(AuditEvent {
                key: label,
                purpose: Some(purpose.as_str()),
                operation: Operation::Refused,
                message: Some(message),
                outcome: &audit::refusal_outcome(&e),
            })?;
            return Err(e);
        }
        // Count the use on the token before signing, so a crash can never give an extra use.
        key.meta.uses += 1;
        let algorithm = key.meta.algorithm;
        let private = key.private;
        write_meta(&inner.session, key)?;
        let bytes = match algorithm {
            Algorithm::Ed25519 => inner
                .session
                .sign(
                    &Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                    private,
                    message,
                )
                .map_err(p11)?,
            Algorithm::EcdsaP256 => {
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
                inner
                    .session
                    .sign(&Mechanism::Ecdsa, private, digest.as_ref())
                    .map_err(p11)?
            }
        };
        if bytes.len() != 64 {
            return Err(Error::Pkcs11(format!(
                "token returned a {}-byte {algorithm} signature, expected 64",
                bytes.len()
            )));
        }
        inner.record(AuditEvent {
            key: label,
            purpose: Some(purpose.as_str()),
            operation: Operation::Sign,
            message: Some(message),
            outcome: "ok",
        })?;
        Ok(Signature { algorithm, bytes })
    }

    fn delete(&self, label: &str) -> Result<()> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let key = inner
            .keys
            .remove(label)
            .ok_or_else(|| Error::KeyNotFound(label.to_owned()))?;
        inner.session.destroy_object(key.private).map_err(p11)?;
        if let Some(p) = key.public {
            inner.session.destroy_object(p).map_err(p11)?;
        }
        inner.session.destroy_object(key.data).map_err(p11)?;
        inner.record(AuditEvent {
            key: label,
            purpose: None,
            operation: Operation::Delete,
            message: None,
            outcome: "ok",
        })
    }

    fn audit(&self) -> Result<AuditReport> {
        let inner = self.lock();
        let stored = get_value(&inner.session, inner.anchor_obj, AttributeType::Value)?;
        let anchor: AuditAnchor = serde_json::from_slice(&stored)
            .map_err(|e| Error::Damaged(format!("audit anchor on the token: {e}")))?;
        let mac = TokenMac {
            session: &inner.session,
            key: inner.hmac_key,
        };
        audit::verify_log(&self.audit_path, &mac, Some(&anchor))
    }
}
