//! Backend `tpm`: keys created inside a TPM 2.0 (swtpm in tests), hardware assurance.
//!
//! Every key is a child of a primary storage key (SRK: ECC P-256, restricted decryption, owner
//! hierarchy, standard template) that the TPM re-derives from its owner seed on every connection,
//! so nothing has to stay loaded and nothing global (NV index, persistent handle) is written. A
//! key's TPM blob (`TPM2B_PUBLIC` area and `TPM2B_PRIVATE`, the latter encrypted by the TPM under
//! the SRK) lives in the store folder and is only usable by the TPM that made it.
//!
//! Store folder (`dir`):
//! * `store.json`: format, version, the blob of the store's HMAC root key (a TPM keyed-hash key).
//! * `keys/<label>.key`: one key: a JSON record (label, algorithm, public key, TPM blob, usage
//!   policy, uses, creation time), a newline, and the hex HMAC of that line under the store's
//!   record key. A record edited outside the store (policy widened, count lowered) fails to open.
//! * `ak.key`: the restricted attestation key (AK) that signs quotes, same form.
//! * `audit.log` and `audit.anchor` (anchor line + HMAC): the key-use audit log of [`crate::audit`].
//!
//! The PIN: every object gets `userAuth = SHA-256(PIN)`, used through an HMAC session (never sent
//! in clear). The store's record and audit keys are HMACs computed *by the TPM* with the root
//! key (so they exist only while the TPM and the PIN are present), kept in memory while the store
//! is open. Objects are `noDA`: a wrong PIN never puts a shared TPM into dictionary-attack lockout;
//! see `docs/design/tpm.md` for what that trades away.
//!
//! swtpm has three transient object slots and no resource manager, and its TCTI reconnects for
//! every command, so the commands of two clients interleave. Each operation therefore takes a
//! machine-wide lock for the TPM (`flock` on a file named after the TCTI), connects, loads what it
//! needs, flushes every object and disconnects: other processes wait for at most one operation,
//! any number of keys works, and a PCR read and the quote that follows see the same PCRs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};

use aws_lc_rs::{digest, hmac};
use serde::{Deserialize, Serialize};
use tss_esapi::attributes::ObjectAttributesBuilder;
use tss_esapi::constants::response_code::Tss2ResponseCodeKind;
use tss_esapi::constants::tss::{TPM2_RH_NULL, TPM2_ST_HASHCHECK};
use tss_esapi::constants::{PropertyTag, StartupType};
use tss_esapi::handles::{KeyHandle, ObjectHandle, PcrHandle};
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::structures::{
    Auth, Data, Digest, DigestValues, EccPoint, EccScheme, HashScheme, HashcheckTicket,
    KeyDerivationFunctionScheme, KeyedHashScheme, MaxBuffer, PcrSelectionListBuilder, PcrSlot,
    Private, Public, PublicBuilder, PublicEccParametersBuilder, PublicKeyedHashParameters,
    SignatureScheme, SymmetricDefinitionObject,
};
use tss_esapi::traits::{Marshall, UnMarshall};
use tss_esapi::tss2_esys::TPMT_TK_HASHCHECK;
use tss_esapi::{Context, TctiNameConf};
use zeroize::Zeroizing;

use crate::audit::{self, AuditAnchor, AuditEvent, AuditLog, AuditMac, AuditReport, Operation};
use crate::tpm_quote::{PcrValue, TpmQuote};
use crate::{
    Algorithm, Assurance, Capabilities, Error, KeyInfo, KeyStore, PublicKey, Purpose, Result,
    Signature, UsagePolicy,
};

/// Environment variable the CLI and tests read the TCTI from.
pub const TCTI_ENV: &str = "SHINRAI_TPM_TCTI";
/// The purpose of the attestation key: quotes only.
pub const QUOTE_PURPOSE: &str = "tpm-quote";
/// Label under which the attestation key's uses appear in the audit log.
pub const AK_LABEL: &str = "attestation-key";
const FORMAT: &str = "shinrai-scu-tpm";
const MAX_QUOTE_PCRS: usize = 8;

fn tss(what: &str) -> impl Fn(tss_esapi::Error) -> Error + '_ {
    move |e| Error::Tpm(format!("{what}: {e}"))
}

fn is_auth_failure(e: &tss_esapi::Error) -> bool {
    matches!(e, tss_esapi::Error::Tss2Error(rc)
        if matches!(rc.kind(), Some(Tss2ResponseCodeKind::AuthFail | Tss2ResponseCodeKind::BadAuth)))
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename, fsync directory), mode 0600.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Templates

fn srk_template() -> tss_esapi::Result<Public> {
    let attrs = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_no_da(true)
        .with_restricted(true)
        .with_decrypt(true)
        .build()?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attrs)
        .with_ecc_parameters(
            PublicEccParametersBuilder::new_restricted_decryption_key(
                SymmetricDefinitionObject::AES_128_CFB,
                EccCurve::NistP256,
            )
            .build()?,
        )
        .with_ecc_unique_identifier(EccPoint::default())
        .build()
}

fn ecdsa_template(restricted: bool) -> tss_esapi::Result<Public> {
    let attrs = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_no_da(true)
        .with_sign_encrypt(true)
        .with_restricted(restricted)
        .build()?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attrs)
        .with_ecc_parameters(
            PublicEccParametersBuilder::new()
                .with_symmetric(SymmetricDefinitionObject::Null)
                .with_ecc_scheme(EccScheme::EcDsa(HashScheme::new(HashingAlgorithm::Sha256)))
                .with_curve(EccCurve::NistP256)
                .with_key_derivation_function_scheme(KeyDerivationFunctionScheme::Null)
                .with_is_signing_key(true)
                .with_is_decryption_key(false)
                .with_restricted(restricted)
                .build()?,
        )
        .with_ecc_unique_identifier(EccPoint::default())
        .build()
}

fn hmac_template() -> tss_esapi::Result<Public> {
    let attrs = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_no_da(true)
        .with_sign_encrypt(true)
        .build()?;
    PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::KeyedHash)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attrs)
        .with_keyed_hash_parameters(PublicKeyedHashParameters::new(
            KeyedHashScheme::HMAC_SHA_256,
        ))
        .with_keyed_hash_unique_identifier(Digest::default())
        .build()
}

fn pcr_handle(index: u8) -> Result<PcrHandle> {
    use PcrHandle::*;
    const HANDLES: [PcrHandle; 24] = [
        Pcr0, Pcr1, Pcr2, Pcr3, Pcr4, Pcr5, Pcr6, Pcr7, Pcr8, Pcr9, Pcr10, Pcr11, Pcr12, Pcr13,
        Pcr14, Pcr15, Pcr16, Pcr17, Pcr18, Pcr19, Pcr20, Pcr21, Pcr22, Pcr23,
    ];
    HANDLES
        .get(index as usize)
        .copied()
        .ok_or_else(|| Error::InvalidArgument(format!("PCR index {index} out of range (0 to 23)")))
}

fn ecc_point(public: &Public) -> Result<Vec<u8>> {
    match public {
        Public::Ecc { unique, .. } => {
            let (x, y) = (unique.x().value(), unique.y().value());
            if x.len() > 32 || y.len() > 32 {
                return Err(Error::Tpm(
                    "the TPM returned an oversized P-256 point".into(),
                ));
            }
            let mut out = vec![0x04u8];
            out.extend(std::iter::repeat_n(0u8, 32 - x.len()));
            out.extend_from_slice(x);
            out.extend(std::iter::repeat_n(0u8, 32 - y.len()));
            out.extend_from_slice(y);
            Ok(out)
        }
        _ => Err(Error::Tpm("the TPM returned a non-ECC public area".into())),
    }
}

// ---------------------------------------------------------------------------------------------
// One connection to the TPM

/// A TPM connection with the SRK loaded. Dropping it flushes every object it loaded (tss-esapi
/// tracks them) and closes the connection; the methods flush eagerly as well.
struct Conn {
    ctx: Context,
    srk: KeyHandle,
    /// Exclusive lock for this TPM, released after `ctx` is dropped (fields drop in order).
    _lock: std::fs::File,
}

/// Takes the machine-wide lock of the TPM named by `tcti`: a file in the temporary directory
/// named after a hash of the TCTI string, locked exclusively with `flock`.
///
/// Needed because the swtpm TCTI opens a new socket per command, so without a resource manager
/// the commands of two clients interleave: their transient objects would together exceed the
/// TPM's slots, and a PCR could change between a read and a quote. The kernel resource manager
/// (`/dev/tpmrm0`) virtualises handles, but the lock costs nothing there.
fn lock_tpm(tcti: &str) -> Result<std::fs::File> {
    let name = hex::encode(&digest::digest(&digest::SHA256, tcti.as_bytes()).as_ref()[..8]);
    let path = std::env::temp_dir().join(format!("shinrai-tpm-{name}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    file.lock().map_err(io_err(&path))?;
    Ok(file)
}

impl Conn {
    fn open(tcti: &str) -> Result<Conn> {
        let lock = lock_tpm(tcti)?;
        let conf = TctiNameConf::from_str(tcti).map_err(|e| {
            Error::Tpm(format!(
                "bad TCTI {tcti:?} ({e}); use e.g. swtpm:host=127.0.0.1,port=2321 or device:/dev/tpmrm0"
            ))
        })?;
        let mut ctx = Context::new(conf).map_err(|e| {
            Error::Tpm(format!(
                "cannot connect to the TPM through {tcti:?}: {e} (is swtpm running? set {TCTI_ENV})"
            ))
        })?;
        let template = srk_template().map_err(tss("SRK template"))?;
        let create = |ctx: &mut Context| {
            ctx.execute_with_nullauth_session(|c| {
                c.create_primary(Hierarchy::Owner, template.clone(), None, None, None, None)
            })
        };
        let srk = match create(&mut ctx) {
            Ok(r) => r.key_handle,
            Err(tss_esapi::Error::Tss2Error(rc))
                if rc.kind() == Some(Tss2ResponseCodeKind::Initialize) =>
            {
                // A TPM that was never started (swtpm without --flags startup-clear).
                ctx.startup(StartupType::Clear)
                    .map_err(tss("TPM2_Startup(CLEAR)"))?;
                create(&mut ctx)
                    .map_err(tss("creating the storage root key"))?
                    .key_handle
            }
            Err(e) => return Err(tss("creating the storage root key")(e)),
        };
        Ok(Conn {
            ctx,
            srk,
            _lock: lock,
        })
    }

    /// Loads a key blob and sets its auth value.
    fn load(&mut self, blob: &Blob, auth: &[u8]) -> Result<KeyHandle> {
        let public = Public::unmarshall(&blob.public)
            .map_err(|e| Error::Damaged(format!("TPM public area: {e}")))?;
        let private = Private::try_from(blob.private.clone())
            .map_err(|e| Error::Damaged(format!("TPM private blob: {e}")))?;
        let srk = self.srk;
        let handle = self
            .ctx
            .execute_with_nullauth_session(|c| c.load(srk, private, public))
            .map_err(|e| {
                Error::Tpm(format!(
                    "this TPM cannot load the key blob ({e}): it was made by another TPM or the TPM was cleared"
                ))
            })?;
        let auth = Auth::try_from(auth.to_vec()).map_err(tss("auth value"))?;
        self.ctx
            .tr_set_auth(handle.into(), auth)
            .map_err(tss("setting the key's auth value"))?;
        Ok(handle)
    }

    fn flush(&mut self, handle: KeyHandle) -> Result<()> {
        self.ctx
            .flush_context(ObjectHandle::from(handle))
            .map_err(tss("flushing a transient object"))
    }

    /// Creates a child of the SRK from `template` with `auth`; returns its blob and public key.
    fn create(&mut self, template: Public, auth: &[u8]) -> Result<(Blob, Public)> {
        let auth = Auth::try_from(auth.to_vec()).map_err(tss("auth value"))?;
        let srk = self.srk;
        let r = self
            .ctx
            .execute_with_nullauth_session(|c| {
                c.create(srk, template, Some(auth), None, None, None)
            })
            .map_err(tss("creating a key under the storage root key"))?;
        let blob = Blob {
            public: r
                .out_public
                .marshall()
                .map_err(tss("encoding the public area"))?,
            private: r.out_private.value().to_vec(),
        };
        Ok((blob, r.out_public))
    }

    /// HMAC-SHA256 by the TPM with the loaded keyed-hash key `key`.
    fn hmac(&mut self, key: KeyHandle, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let buf = MaxBuffer::try_from(data.to_vec()).map_err(tss("HMAC input"))?;
        let d = self
            .ctx
            .execute_with_nullauth_session(|c| c.hmac(key.into(), buf, HashingAlgorithm::Sha256))
            .map_err(|e| {
                if is_auth_failure(&e) {
                    Error::WrongPin
                } else {
                    tss("TPM2_HMAC")(e)
                }
            })?;
        Ok(Zeroizing::new(d.value().to_vec()))
    }

    fn sign_digest(&mut self, key: KeyHandle, digest: &[u8]) -> Result<Vec<u8>> {
        let digest = Digest::try_from(digest.to_vec()).map_err(tss("digest"))?;
        let ticket = HashcheckTicket::try_from(TPMT_TK_HASHCHECK {
            tag: TPM2_ST_HASHCHECK,
            hierarchy: TPM2_RH_NULL,
            digest: Default::default(),
        })
        .map_err(tss("null hashcheck ticket"))?;
        let sig = self
            .ctx
            .execute_with_nullauth_session(|c| c.sign(key, digest, SignatureScheme::Null, ticket))
            .map_err(|e| {
                if is_auth_failure(&e) {
                    Error::WrongPin
                } else {
                    tss("TPM2_Sign")(e)
                }
            })?;
        match sig {
            tss_esapi::structures::Signature::EcDsa(s) => {
                let mut out = vec![0u8; 64];
                for (i, v) in [s.signature_r().value(), s.signature_s().value()]
                    .into_iter()
                    .enumerate()
                {
                    let v = if v.len() > 32 { &v[v.len() - 32..] } else { v };
                    out[i * 32 + 32 - v.len()..(i + 1) * 32].copy_from_slice(v);
                }
                Ok(out)
            }
            other => Err(Error::Tpm(format!(
                "the TPM returned a {:?} signature, expected ECDSA",
                other.algorithm()
            ))),
        }
    }

    fn read_pcrs(&mut self, pcrs: &[u8]) -> Result<BTreeMap<u8, PcrValue>> {
        let slots = pcrs
            .iter()
            .map(|i| {
                PcrSlot::try_from(1u32 << i)
                    .map_err(|_| Error::InvalidArgument(format!("PCR {i} does not exist")))
            })
            .collect::<Result<Vec<_>>>()?;
        let selection = PcrSelectionListBuilder::new()
            .with_selection(HashingAlgorithm::Sha256, &slots)
            .build()
            .map_err(tss("PCR selection"))?;
        let (_, read_sel, values) = self.ctx.pcr_read(selection).map_err(tss("TPM2_PCR_Read"))?;
        let mut sorted = pcrs.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let values = values.value();
        if read_sel.is_empty() || values.len() != sorted.len() {
            return Err(Error::Tpm(format!(
                "the TPM returned {} of {} SHA-256 PCR values (is the SHA-256 bank active?)",
                values.len(),
                sorted.len()
            )));
        }
        let mut out = BTreeMap::new();
        for (i, v) in sorted.iter().zip(values) {
            let bytes: [u8; 32] = v
                .value()
                .try_into()
                .map_err(|_| Error::Tpm("a SHA-256 PCR value is not 32 bytes".into()))?;
            out.insert(*i, PcrValue(bytes));
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Files

/// A TPM key blob: the marshalled `TPMT_PUBLIC` and the `TPM2B_PRIVATE` buffer.
#[derive(Clone, Serialize, Deserialize)]
struct Blob {
    #[serde(with = "hex_serde")]
    public: Vec<u8>,
    #[serde(with = "hex_serde")]
    private: Vec<u8>,
}

mod hex_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[derive(Serialize, Deserialize)]
struct StoreFile {
    format: String,
    version: u32,
    root: Blob,
    created: u64,
}

/// One key as kept in `keys/<label>.key`.
#[derive(Clone, Serialize, Deserialize)]
struct KeyRecord {
    label: String,
    algorithm: Algorithm,
    public_key: PublicKey,
    blob: Blob,
    policy: UsagePolicy,
    uses: u64,
    created: u64,
}

impl KeyRecord {
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

/// Writes `value` as one JSON line followed by a line with its HMAC.
fn write_maced<T: Serialize>(path: &Path, key: &hmac::Key, value: &T) -> Result<()> {
    let mut line = serde_json::to_vec(value).map_err(|e| Error::Crypto(e.to_string()))?;
    let tag = hex::encode(hmac::sign(key, &line).as_ref());
    line.push(b'\n');
    line.extend_from_slice(tag.as_bytes());
    line.push(b'\n');
    write_atomic(path, &line)
}

/// Reads a file written by [`write_maced`], checking the HMAC over the line as stored.
fn read_maced<T: for<'de> Deserialize<'de>>(path: &Path, key: &hmac::Key) -> Result<T> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let damaged = |why: &str| Error::Damaged(format!("{}: {why}", path.display()));
    let text = std::str::from_utf8(&bytes).map_err(|_| damaged("not UTF-8"))?;
    let mut lines = text.lines();
    let (Some(body), Some(tag), None) = (lines.next(), lines.next(), lines.next()) else {
        return Err(damaged("expected a record line and a MAC line"));
    };
    let tag = hex::decode(tag.trim()).map_err(|_| damaged("MAC is not hex"))?;
    hmac::verify(key, body.as_bytes(), &tag)
        .map_err(|_| damaged("integrity check failed: edited outside the key store"))?;
    serde_json::from_str(body).map_err(|e| damaged(&format!("unreadable record: {e}")))
}

struct HostMac(hmac::Key);

impl AuditMac for HostMac {
    fn mac(&self, data: &[u8]) -> Result<Vec<u8>> {
        Ok(hmac::sign(&self.0, data).as_ref().to_vec())
    }
}

struct Inner {
    keys: BTreeMap<String, KeyRecord>,
    ak: Option<KeyRecord>,
    audit: AuditLog,
}

/// A key store whose keys live in a TPM 2.0, reached through a TCTI (swtpm, `/dev/tpmrm0`).
pub struct TpmKeyStore {
    tcti: String,
    dir: PathBuf,
    auth: Zeroizing<Vec<u8>>,
    records: hmac::Key,
    audit_mac: HostMac,
    detail: String,
    inner: Mutex<Inner>,
}

impl fmt::Debug for TpmKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TpmKeyStore")
            .field("tcti", &self.tcti)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// A quote made by [`TpmKeyStore::quote`], with the public key of the AK that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The quote: `TPMS_ATTEST`, `TPMT_SIGNATURE`, PCR values read in the same TPM session.
    pub quote: TpmQuote,
    /// The attestation key's public key.
    pub ak: PublicKey,
}

fn pin_auth(pin: &str) -> Zeroizing<Vec<u8>> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"shinrai-scu/v1/tpm-pin\0");
    ctx.update(pin.as_bytes());
    Zeroizing::new(ctx.finish().as_ref().to_vec())
}

fn derive(root: &[u8], label: &[u8]) -> hmac::Key {
    let k = hmac::Key::new(hmac::HMAC_SHA256, root);
    let d = Zeroizing::new(hmac::sign(&k, label).as_ref().to_vec());
    hmac::Key::new(hmac::HMAC_SHA256, &d)
}

impl TpmKeyStore {
    /// Creates a new key store in the folder `dir` (created if missing; must not hold a store)
    /// on the TPM reached through `tcti`, protected by `pin`.
    pub fn create(tcti: &str, dir: impl AsRef<Path>, pin: &str) -> Result<Self> {
        let dir = dir.as_ref();
        let store_path = dir.join("store.json");
        if store_path.exists() {
            return Err(Error::InvalidArgument(format!(
                "{} already holds a TPM key store; open it instead",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir.join("keys")).map_err(io_err(dir))?;
        let auth = pin_auth(pin);
        let mut conn = Conn::open(tcti)?;
        let (root, _) = conn.create(hmac_template().map_err(tss("HMAC template"))?, &auth)?;
        drop(conn);
        let file = StoreFile {
            format: FORMAT.into(),
            version: 1,
            root,
            created: audit::now_secs(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| Error::Crypto(e.to_string()))?;
        write_atomic(&store_path, &bytes)?;
        Self::open(tcti, dir, pin)
    }

    /// Opens the key store in `dir` on the TPM reached through `tcti`. A wrong PIN is
    /// [`Error::WrongPin`]; an unreachable TPM or one that did not make this store is
    /// [`Error::Tpm`].
    pub fn open(tcti: &str, dir: impl AsRef<Path>, pin: &str) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let store_path = dir.join("store.json");
        if !store_path.exists() {
            return Err(Error::InvalidArgument(format!(
                "no TPM key store in {} (create one first)",
                dir.display()
            )));
        }
        let bytes = std::fs::read(&store_path).map_err(io_err(&store_path))?;
        let file: StoreFile = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Damaged(format!("{}: {e}", store_path.display())))?;
        if file.format != FORMAT || file.version != 1 {
            return Err(Error::Damaged(format!(
                "{}: not a version 1 {FORMAT} file",
                store_path.display()
            )));
        }
        let auth = pin_auth(pin);
        let mut conn = Conn::open(tcti)?;
        let root_key = conn.load(&file.root, &auth)?;
        let root = conn.hmac(root_key, b"shinrai-scu/v1/tpm-root");
        conn.flush(root_key)?;
        let detail = tpm_detail(&mut conn.ctx);
        drop(conn);
        let root = root?;
        let records = derive(&root, b"shinrai-scu/v1/records");
        let audit_mac = HostMac(derive(&root, b"shinrai-scu/v1/audit"));

        let mut keys = BTreeMap::new();
        let key_dir = dir.join("keys");
        for entry in std::fs::read_dir(&key_dir).map_err(io_err(&key_dir))? {
            let path = entry.map_err(io_err(&key_dir))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("key") {
                continue;
            }
            let rec: KeyRecord = read_maced(&path, &records)?;
            if path.file_stem().and_then(|s| s.to_str()) != Some(rec.label.as_str()) {
                return Err(Error::Damaged(format!(
                    "{}: holds key {:?} under another name",
                    path.display(),
                    rec.label
                )));
            }
            keys.insert(rec.label.clone(), rec);
        }
        let ak_path = dir.join("ak.key");
        let ak = if ak_path.exists() {
            Some(read_maced::<KeyRecord>(&ak_path, &records)?)
        } else {
            None
        };
        let anchor_path = dir.join("audit.anchor");
        let anchor = if anchor_path.exists() {
            read_maced::<AuditAnchor>(&anchor_path, &records)?
        } else {
            AuditAnchor::default()
        };
        let audit = AuditLog::open(&dir.join("audit.log"), &anchor, &audit_mac)?;
        Ok(TpmKeyStore {
            tcti: tcti.to_owned(),
            dir,
            auth,
            records,
            audit_mac,
            detail,
            inner: Mutex::new(Inner { keys, ak, audit }),
        })
    }

    /// Opens the store in `dir`, creating it first if the folder holds none.
    pub fn open_or_create(tcti: &str, dir: impl AsRef<Path>, pin: &str) -> Result<Self> {
        if dir.as_ref().join("store.json").exists() {
            Self::open(tcti, dir, pin)
        } else {
            Self::create(tcti, dir, pin)
        }
    }

    /// The store's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the audit log.
    pub fn audit_path(&self) -> PathBuf {
        self.dir.join("audit.log")
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Mutations under the lock are single map inserts/removes and counter writes: a poisoned
        // lock still guards consistent data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn key_path(&self, label: &str) -> PathBuf {
        self.dir.join("keys").join(format!("{label}.key"))
    }

    fn record(&self, inner: &mut Inner, event: AuditEvent<'_>) -> Result<()> {
        inner.audit.append(&self.audit_mac, event)?;
        inner.audit.sync()?;
        write_maced(
            &self.dir.join("audit.anchor"),
            &self.records,
            inner.audit.head(),
        )
    }

    /// The attestation key (restricted ECDSA P-256 signing key that signs only TPM-made data),
    /// created on first use and kept in `ak.key`.
    pub fn attestation_key(&self) -> Result<PublicKey> {
        let mut inner = self.lock();
        Ok(self.ensure_ak(&mut inner)?.public_key.clone())
    }

    fn ensure_ak<'a>(&self, inner: &'a mut Inner) -> Result<&'a KeyRecord> {
        if inner.ak.is_none() {
            let mut conn = Conn::open(&self.tcti)?;
            let (blob, public) = conn.create(
                ecdsa_template(true).map_err(tss("AK template"))?,
                &self.auth,
            )?;
            drop(conn);
            let rec = KeyRecord {
                label: AK_LABEL.into(),
                algorithm: Algorithm::EcdsaP256,
                public_key: PublicKey::from_bytes(Algorithm::EcdsaP256, &ecc_point(&public)?)?,
                blob,
                policy: UsagePolicy::new([Purpose::new(QUOTE_PURPOSE)?])?,
                uses: 0,
                created: audit::now_secs(),
            };
            write_maced(&self.dir.join("ak.key"), &self.records, &rec)?;
            self.record(
                inner,
                AuditEvent {
                    key: AK_LABEL,
                    purpose: None,
                    operation: Operation::Generate,
                    message: None,
                    outcome: "ok: ecdsa-p256 restricted attestation key",
                },
            )?;
            inner.ak = Some(rec);
        }
        inner
            .ak
            .as_ref()
            .ok_or_else(|| Error::Crypto("attestation key missing after creation".into()))
    }

    /// Extends SHA-256 PCR `index` with `digest` (`PCR = SHA-256(PCR || digest)`), as a boot
    /// stage does when it measures the next one.
    pub fn pcr_extend(&self, index: u8, digest: &[u8; 32]) -> Result<()> {
        self.pcr_sequence(index, false, std::slice::from_ref(digest))
            .map(|_| ())
    }

    /// Resets PCR `index` to zeros (only PCRs the platform lets locality 0 reset: 16 and 23 on a
    /// PC-client TPM).
    pub fn pcr_reset(&self, index: u8) -> Result<()> {
        self.pcr_sequence(index, true, &[]).map(|_| ())
    }

    /// Under the TPM lock (no other Shinrai client in between): optionally resets PCR
    /// `index`, extends it with each of `digests` in order, and returns its value.
    pub fn pcr_sequence(&self, index: u8, reset: bool, digests: &[[u8; 32]]) -> Result<PcrValue> {
        let handle = pcr_handle(index)?;
        let mut conn = Conn::open(&self.tcti)?;
        pcr_steps(&mut conn, handle, index, reset, digests)?;
        conn.read_pcrs(&[index])?
            .remove(&index)
            .ok_or_else(|| Error::Tpm(format!("PCR {index} not returned")))
    }

    /// Reads SHA-256 PCR values.
    pub fn pcr_read(&self, pcrs: &[u8]) -> Result<BTreeMap<u8, PcrValue>> {
        Conn::open(&self.tcti)?.read_pcrs(pcrs)
    }

    /// Quotes SHA-256 PCRs `pcrs` (at most 8) with the attestation key over `qualifying_data`
    /// (at most 64 bytes; a verifier passes a hash of its nonce). The PCR values are read in the
    /// same locked connection just before the quote, so they are the quoted ones (unless a client
    /// outside Shinrai extends the PCR in between: the verifier then sees a digest mismatch).
    pub fn quote(&self, qualifying_data: &[u8], pcrs: &[u8]) -> Result<Quote> {
        self.quote_inner(qualifying_data, pcrs, None)
    }

    /// Resets PCR `pcr`, extends it with `measurements` in order, then quotes it, all under one
    /// TPM lock. This replays a boot's measurements into a resettable PCR (16 or 23) on a TPM
    /// shared by several simulated devices; on a real device the boot chain extends the PCRs and
    /// [`TpmKeyStore::quote`] alone is used.
    pub fn measure_and_quote(
        &self,
        pcr: u8,
        measurements: &[[u8; 32]],
        qualifying_data: &[u8],
    ) -> Result<Quote> {
        self.quote_inner(qualifying_data, &[pcr], Some((pcr, measurements)))
    }

    fn quote_inner(
        &self,
        qualifying_data: &[u8],
        pcrs: &[u8],
        replay: Option<(u8, &[[u8; 32]])>,
    ) -> Result<Quote> {
        if pcrs.is_empty() || pcrs.len() > MAX_QUOTE_PCRS {
            return Err(Error::InvalidArgument(format!(
                "quote 1 to {MAX_QUOTE_PCRS} PCRs, not {}",
                pcrs.len()
            )));
        }
        if qualifying_data.len() > 64 {
            return Err(Error::InvalidArgument(
                "qualifying data is at most 64 bytes".into(),
            ));
        }
        let mut guard = self.lock();
        let inner = &mut *guard;
        let ak = self.ensure_ak(inner)?.clone();
        let purpose = Purpose::new(QUOTE_PURPOSE)?;
        let mut conn = Conn::open(&self.tcti)?;
        if let Some((index, digests)) = replay {
            pcr_steps(&mut conn, pcr_handle(index)?, index, true, digests)?;
        }
        let values = conn.read_pcrs(pcrs)?;
        let slots = values
            .keys()
            .map(|i| {
                PcrSlot::try_from(1u32 << i)
                    .map_err(|_| Error::InvalidArgument(format!("PCR {i} does not exist")))
            })
            .collect::<Result<Vec<_>>>()?;
        let selection = PcrSelectionListBuilder::new()
            .with_selection(HashingAlgorithm::Sha256, &slots)
            .build()
            .map_err(tss("PCR selection"))?;
        let handle = conn.load(&ak.blob, &self.auth)?;
        let data = Data::try_from(qualifying_data.to_vec()).map_err(tss("qualifying data"))?;
        let result = conn.ctx.execute_with_nullauth_session(|c| {
            c.quote(handle, data, SignatureScheme::Null, selection)
        });
        conn.flush(handle)?;
        drop(conn);
        let (attest, signature) = result.map_err(|e| {
            if is_auth_failure(&e) {
                Error::WrongPin
            } else {
                tss("TPM2_Quote")(e)
            }
        })?;
        let quote = TpmQuote {
            attest: attest.marshall().map_err(tss("encoding TPMS_ATTEST"))?,
            signature: signature
                .marshall()
                .map_err(tss("encoding TPMT_SIGNATURE"))?,
            pcrs: values,
        };
        if let Some(a) = inner.ak.as_mut() {
            a.uses += 1;
        }
        self.record(
            inner,
            AuditEvent {
                key: AK_LABEL,
                purpose: Some(purpose.as_str()),
                operation: Operation::Sign,
                message: Some(&quote.attest),
                outcome: "ok: quote",
            },
        )?;
        Ok(Quote {
            quote,
            ak: ak.public_key,
        })
    }
}

fn pcr_steps(
    conn: &mut Conn,
    handle: PcrHandle,
    index: u8,
    reset: bool,
    digests: &[[u8; 32]],
) -> Result<()> {
    if reset {
        conn.ctx
            .execute_with_nullauth_session(|c| c.pcr_reset(handle))
            .map_err(|e| {
                Error::Tpm(format!(
                    "PCR {index} cannot be reset from locality 0 ({e}); use 16 or 23"
                ))
            })?;
    }
    for d in digests {
        let mut vals = DigestValues::new();
        vals.set(
            HashingAlgorithm::Sha256,
            Digest::try_from(d.to_vec()).map_err(tss("PCR digest"))?,
        );
        conn.ctx
            .execute_with_nullauth_session(|c| c.pcr_extend(handle, vals))
            .map_err(tss("TPM2_PCR_Extend"))?;
    }
    Ok(())
}

/// "manufacturer MFR, firmware X.Y" from the TPM's properties (empty parts when unreadable).
fn tpm_detail(ctx: &mut Context) -> String {
    let text = |v: Option<u32>| {
        v.map(|v| {
            v.to_be_bytes()
                .iter()
                .filter(|b| b.is_ascii_graphic())
                .map(|b| *b as char)
                .collect::<String>()
        })
        .unwrap_or_default()
    };
    let mfr = text(
        ctx.get_tpm_property(PropertyTag::Manufacturer)
            .ok()
            .flatten(),
    );
    let fw = ctx
        .get_tpm_property(PropertyTag::FirmwareVersion1)
        .ok()
        .flatten()
        .map(|v| format!("{}.{}", v >> 16, v & 0xffff))
        .unwrap_or_default();
    format!("manufacturer {mfr}, firmware {fw}")
}

impl KeyStore for TpmKeyStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            backend: "tpm".into(),
            algorithms: vec![Algorithm::EcdsaP256],
            exportable_keys: false,
            assurance: Assurance::Hardware,
            detail: format!(
                "TPM 2.0 via {:?} ({}); keys in {}; Ed25519 unavailable (not a TPM 2.0 algorithm)",
                self.tcti,
                self.detail,
                self.dir.display()
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
        if algorithm != Algorithm::EcdsaP256 {
            return Err(Error::Unsupported(format!(
                "a TPM 2.0 cannot hold {algorithm} keys (TPM 2.0 has no Ed25519); use ecdsa-p256"
            )));
        }
        let mut guard = self.lock();
        let inner = &mut *guard;
        if inner.keys.contains_key(label) {
            return Err(Error::KeyExists(label.to_owned()));
        }
        let mut conn = Conn::open(&self.tcti)?;
        let (blob, public) = conn.create(
            ecdsa_template(false).map_err(tss("key template"))?,
            &self.auth,
        )?;
        drop(conn);
        let rec = KeyRecord {
            label: label.to_owned(),
            algorithm,
            public_key: PublicKey::from_bytes(algorithm, &ecc_point(&public)?)?,
            blob,
            policy,
            uses: 0,
            created: audit::now_secs(),
        };
        write_maced(&self.key_path(label), &self.records, &rec)?;
        let info = rec.info();
        inner.keys.insert(label.to_owned(), rec);
        self.record(
            inner,
            AuditEvent {
                key: label,
                purpose: None,
                operation: Operation::Generate,
                message: None,
                outcome: &format!("ok: {algorithm}"),
            },
        )?;
        Ok(info)
    }

    fn list(&self) -> Result<Vec<KeyInfo>> {
        Ok(self.lock().keys.values().map(KeyRecord::info).collect())
    }

    fn public_key(&self, label: &str) -> Result<PublicKey> {
        self.lock()
            .keys
            .get(label)
            .map(|k| k.public_key.clone())
            .ok_or_else(|| Error::KeyNotFound(label.to_owned()))
    }

    fn sign(&self, label: &str, purpose: &Purpose, message: &[u8]) -> Result<Signature> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let key = inner
            .keys
            .get(label)
            .ok_or_else(|| Error::KeyNotFound(label.to_owned()))?;
        if let Err(e) = key.policy.check(label, purpose, key.uses) {
            self.record(
                inner,
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
        // Count the use on disk before signing: a crash never gives an extra use.
        let mut updated = key.clone();
        updated.uses += 1;
        write_maced(&self.key_path(label), &self.records, &updated)?;
        let blob = updated.blob.clone();
        inner.keys.insert(label.to_owned(), updated);
        let digest = digest::digest(&digest::SHA256, message);
        let mut conn = Conn::open(&self.tcti)?;
        let handle = conn.load(&blob, &self.auth)?;
        let bytes = conn.sign_digest(handle, digest.as_ref());
        conn.flush(handle)?;
        drop(conn);
        let bytes = bytes?;
        self.record(
            inner,
            AuditEvent {
                key: label,
                purpose: Some(purpose.as_str()),
                operation: Operation::Sign,
                message: Some(message),
                outcome: "ok",
            },
        )?;
        Ok(Signature {
            algorithm: Algorithm::EcdsaP256,
            bytes,
        })
    }

    fn delete(&self, label: &str) -> Result<()> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if !inner.keys.contains_key(label) {
            return Err(Error::KeyNotFound(label.to_owned()));
        }
        // The blob is only usable with this TPM's SRK: removing the file destroys the key.
        let path = self.key_path(label);
        std::fs::remove_file(&path).map_err(io_err(&path))?;
        inner.keys.remove(label);
        self.record(
            inner,
            AuditEvent {
                key: label,
                purpose: None,
                operation: Operation::Delete,
                message: None,
                outcome: "ok",
            },
        )
    }

    fn audit(&self) -> Result<AuditReport> {
        let inner = self.lock();
        inner.audit.sync()?;
        let anchor_path = self.dir.join("audit.anchor");
        let anchor: AuditAnchor = if anchor_path.exists() {
            read_maced(&anchor_path, &self.records)?
        } else {
            AuditAnchor::default()
        };
        audit::verify_log(&self.audit_path(), &self.audit_mac, Some(&anchor))
    }
}

/// A private software TPM: `swtpm socket` (Debian `swtpm`) on free loopback ports with its state
/// in a fresh temporary folder, stopped and removed on drop. For tests, benchmarks and demos.
#[derive(Debug)]
pub struct Swtpm {
    child: std::process::Child,
    state: PathBuf,
    port: u16,
}

impl Swtpm {
    /// Starts swtpm and waits until it accepts connections. [`Error::Tpm`] when the `swtpm`
    /// program cannot be run (not installed) or does not come up.
    pub fn start() -> Result<Swtpm> {
        use std::net::{TcpListener, TcpStream};
        use std::process::{Command, Stdio};
        let mut random = [0u8; 8];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| Error::Crypto("random".into()))?;
        let state = std::env::temp_dir().join(format!("shinrai-swtpm-{}", hex::encode(random)));
        std::fs::create_dir_all(&state).map_err(io_err(&state))?;
        for _attempt in 0..5 {
            // The swtpm TCTI talks to the control channel on the server port + 1.
            let port = loop {
                let l = TcpListener::bind("127.0.0.1:0").map_err(io_err(Path::new("127.0.0.1")))?;
                let p = l
                    .local_addr()
                    .map_err(io_err(Path::new("127.0.0.1")))?
                    .port();
                if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                    break p;
                }
            };
            let mut child = Command::new("swtpm")
                .arg("socket")
                .arg("--tpm2")
                .arg("--tpmstate")
                .arg(format!("dir={}", state.display()))
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
                .args(["--flags", "not-need-init,startup-clear"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    let _ = std::fs::remove_dir_all(&state);
                    Error::Tpm(format!(
                        "cannot run swtpm ({e}): apt-get install swtpm swtpm-tools"
                    ))
                })?;
            // Readiness: the server port accepts a connection, or swtpm exits (port taken).
            for _ in 0..1000 {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(Swtpm { child, state, port });
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&state);
        Err(Error::Tpm(
            "swtpm did not start listening on a loopback port".into(),
        ))
    }

    /// The TCTI string that reaches it (`swtpm:host=127.0.0.1,port=N`).
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}
