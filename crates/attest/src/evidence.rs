//! Evidence: EAT claims (RFC 9711 names) signed by the device key, and the verifier's nonces.
//!
//! Wire form: a DSSE envelope with `payloadType` [`EVIDENCE_PAYLOAD_TYPE`] whose payload is the
//! claims set as JSON (an EAT "unprotected claims set", RFC 9782 media type), signed with the
//! device's ECDSA P-256 identity key for purpose `device-evidence`.
//!
//! A device whose SCU is a TPM adds a quote ([`QuoteClaim`], claim `tpm_quote`): its TPM's
//! attestation key (AK) signs the SHA-256 PCR [`MEASUREMENT_PCR`], into which the component
//! measurements were extended in the order reported, over `extraData` = [`quote_qualifying_data`]
//! of the verifier's nonce. The AK public key travels inside the claims, so the certified device
//! key vouches for it.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use shinrai_scu::tpm_quote::{ParsedQuote, TpmQuote};
use shinrai_scu::{KeyStore, PublicKey, Purpose};

use crate::identity::{CertificateInfo, DeviceIdentity};
use crate::{Composition, Error, Result, Sha256, dsse};

/// DSSE `payloadType` of evidence.
pub const EVIDENCE_PAYLOAD_TYPE: &str = "application/eat-ucs+json";
/// The EAT profile (`eat_profile` claim) this crate produces and accepts.
pub const EAT_PROFILE: &str = "urn:shinrai:eat:device:v1";
/// Size of a verifier nonce in bytes.
pub const NONCE_BYTES: usize = 32;
/// The SHA-256 PCR a TPM-backed device extends its component measurements into (23: the
/// PC-client "application support" PCR, resettable from locality 0).
pub const MEASUREMENT_PCR: u8 = 23;

/// A TPM quote carried in evidence (claim `tpm_quote`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteClaim {
    /// The public key of the TPM's attestation key that signed the quote.
    pub ak: PublicKey,
    /// The PCR holding the measurements (normally [`MEASUREMENT_PCR`]).
    pub measurement_pcr: u8,
    /// `TPMS_ATTEST` and `TPMT_SIGNATURE` bytes as the TPM returned them, and the PCR values.
    pub quote: TpmQuote,
}

/// The `extraData` a quote must carry for `nonce`: SHA-256 of the nonce.
pub fn quote_qualifying_data(nonce: &[u8; NONCE_BYTES]) -> [u8; 32] {
    Sha256::of(nonce).0
}

/// The digests to extend into [`MEASUREMENT_PCR`], in the order the claims report them.
pub fn measurement_digests(measurements: &[Measurement]) -> Vec<[u8; 32]> {
    measurements.iter().map(|m| m.sha256.0).collect()
}

/// One per-component measurement reported by the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measurement {
    /// Component name, as in the composition.
    pub component: String,
    /// SHA-256 the device measured.
    pub sha256: Sha256,
}

/// The EAT claims set a device signs. Binary claims are base64url without padding (RFC 9711
/// JSON encoding); `measurements`, `composition_digest` and `update_count` are this profile's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// EAT profile, [`EAT_PROFILE`].
    pub eat_profile: String,
    /// The verifier's nonce, base64url.
    pub eat_nonce: String,
    /// Universal entity id: see [`DeviceIdentity::ueid`], base64url.
    pub ueid: String,
    /// Hardware model: the model name's UTF-8 bytes, base64url.
    pub hwmodel: String,
    /// Issued-at time, Unix seconds.
    pub iat: u64,
    /// Boots since manufacture (RFC 9711 `bootcount`).
    pub bootcount: u64,
    /// Random value fixed for the current boot (RFC 9711 `bootseed`), base64url.
    pub bootseed: String,
    /// Firmware updates applied since manufacture; never decreases on a genuine device.
    pub update_count: u64,
    /// Per-component measurements.
    pub measurements: Vec<Measurement>,
    /// Digest of the CycloneDX composition the device reports it is made of.
    pub composition_digest: Sha256,
    /// A TPM quote over the measurements, when the device's SCU is a TPM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm_quote: Option<QuoteClaim>,
}

impl Claims {
    /// The claims for `identity` in `state`, answering `challenge`, at time `now`.
    pub fn new(
        identity: &DeviceIdentity,
        challenge: &Challenge,
        state: &DeviceState,
        now: u64,
    ) -> Self {
        Claims {
            eat_profile: EAT_PROFILE.to_owned(),
            eat_nonce: URL_SAFE_NO_PAD.encode(challenge.nonce),
            ueid: URL_SAFE_NO_PAD.encode(identity.ueid()),
            hwmodel: URL_SAFE_NO_PAD.encode(identity.model.as_bytes()),
            iat: now,
            bootcount: state.bootcount,
            bootseed: URL_SAFE_NO_PAD.encode(state.bootseed),
            update_count: state.update_count,
            measurements: state.measurements.clone(),
            composition_digest: state.composition_digest,
            tpm_quote: None,
        }
    }

    /// The decoded nonce, if well formed.
    pub fn nonce(&self) -> Option<[u8; NONCE_BYTES]> {
        URL_SAFE_NO_PAD
            .decode(self.eat_nonce.as_bytes())
            .ok()?
            .try_into()
            .ok()
    }

    /// The decoded UEID bytes, if well formed.
    pub fn ueid_bytes(&self) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(self.ueid.as_bytes()).ok()
    }

    /// The model name, if `hwmodel` is base64url of UTF-8.
    pub fn model(&self) -> Option<String> {
        String::from_utf8(URL_SAFE_NO_PAD.decode(self.hwmodel.as_bytes()).ok()?).ok()
    }

    /// The decoded boot seed.
    pub fn bootseed_bytes(&self) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(self.bootseed.as_bytes()).ok()
    }
}

/// What a device currently is: its measurements and counters (held by the attester).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceState {
    /// Measurements of every component, taken at boot.
    pub measurements: Vec<Measurement>,
    /// Digest of the composition the device reports.
    pub composition_digest: Sha256,
    /// Boots since manufacture.
    pub bootcount: u64,
    /// Random value for the current boot.
    pub bootseed: [u8; 32],
    /// Firmware updates applied.
    pub update_count: u64,
}

impl DeviceState {
    /// The state of a device built exactly as `composition` says, first boot, no update.
    pub fn from_composition(composition: &Composition) -> Result<Self> {
        Ok(DeviceState {
            measurements: composition
                .components
                .iter()
                .map(|c| Measurement {
                    component: c.name.clone(),
                    sha256: c.sha256,
                })
                .collect(),
            composition_digest: composition.digest()?,
            bootcount: 1,
            bootseed: random32()?,
            update_count: 0,
        })
    }

    /// Simulates a reboot: the boot counter goes up and a new boot seed is drawn.
    pub fn reboot(&mut self) -> Result<()> {
        self.bootcount += 1;
        self.bootseed = random32()?;
        Ok(())
    }

    /// Applies an update to `composition`: new measurements and digest, update counter + 1.
    pub fn apply_update(&mut self, composition: &Composition) -> Result<()> {
        let next = DeviceState::from_composition(composition)?;
        self.measurements = next.measurements;
        self.composition_digest = next.composition_digest;
        self.update_count += 1;
        self.reboot()
    }

    /// Sets the measurement of `component` (adds it if missing): used to model tampering.
    pub fn set_measurement(&mut self, component: &str, sha256: Sha256) {
        match self
            .measurements
            .iter_mut()
            .find(|m| m.component == component)
        {
            Some(m) => m.sha256 = sha256,
            None => self.measurements.push(Measurement {
                component: component.to_owned(),
                sha256,
            }),
        }
    }
}

pub(crate) fn random32() -> Result<[u8; 32]> {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b)
        .map_err(|_| Error::InvalidArgument("the system random generator failed".into()))?;
    Ok(b)
}

/// A verifier's challenge: a fresh random nonce and the time after which it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// 32 random bytes.
    #[serde(with = "b64url32")]
    pub nonce: [u8; NONCE_BYTES],
    /// Last second (Unix) the nonce is accepted.
    pub expires_at: u64,
}

mod b64url32 {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(s.as_bytes())
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| serde::de::Error::custom("nonce must be 32 bytes, base64url"))
    }
}

/// What the nonce store says about a nonce found in evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Issued by this verifier, not expired, not used before (now consumed).
    Fresh,
    /// Issued by this verifier but past its expiry.
    Expired,
    /// Never issued by this verifier, or already used: a replay.
    Unknown,
}

/// Nonces a verifier has issued and not yet seen back. Each nonce is accepted once.
#[derive(Debug)]
pub struct NonceStore {
    outstanding: HashMap<[u8; NONCE_BYTES], u64>,
    ttl: u64,
    max_outstanding: usize,
}

impl NonceStore {
    /// A store whose nonces live `ttl_secs` seconds and that keeps at most `max_outstanding`
    /// (the oldest-expiring ones are dropped first when full).
    pub fn new(ttl_secs: u64, max_outstanding: usize) -> Self {
        NonceStore {
            outstanding: HashMap::new(),
            ttl: ttl_secs,
            max_outstanding: max_outstanding.max(1),
        }
    }

    /// Draws a fresh nonce valid until `now + ttl`.
    pub fn issue(&mut self, now: u64) -> Result<Challenge> {
        if self.outstanding.len() >= self.max_outstanding {
            self.outstanding.retain(|_, exp| *exp >= now);
            if self.outstanding.len() >= self.max_outstanding {
                // Still full of live nonces: drop the ones closest to expiry.
                let mut exps: Vec<u64> = self.outstanding.values().copied().collect();
                exps.sort_unstable();
                let cut = exps[exps.len() / 2];
                self.outstanding.retain(|_, exp| *exp > cut);
            }
        }
        let nonce = random32()?;
        let expires_at = now.saturating_add(self.ttl);
        self.outstanding.insert(nonce, expires_at);
        Ok(Challenge { nonce, expires_at })
    }

    /// Checks and consumes `nonce` at time `now`.
    pub fn consume(&mut self, nonce: &[u8; NONCE_BYTES], now: u64) -> NonceCheck {
        match self.outstanding.remove(nonce) {
            None => NonceCheck::Unknown,
            Some(exp) if now > exp => NonceCheck::Expired,
            Some(_) => NonceCheck::Fresh,
        }
    }

    /// Number of nonces issued and not yet used or purged.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// The outstanding challenges (for saving a verifier's state).
    pub fn challenges(&self) -> Vec<Challenge> {
        let mut v: Vec<Challenge> = self
            .outstanding
            .iter()
            .map(|(n, e)| Challenge {
                nonce: *n,
                expires_at: *e,
            })
            .collect();
        v.sort_by_key(|c| (c.expires_at, c.nonce));
        v
    }

    /// Restores an outstanding challenge (when loading a verifier's state).
    pub fn restore(&mut self, challenge: &Challenge) {
        self.outstanding
            .insert(challenge.nonce, challenge.expires_at);
    }
}

/// Signs `claims` with the device key `label` of `store` (purpose `device-evidence`) and returns
/// the DSSE evidence bytes (the signature's keyid is the key's securesystemslib keyid).
pub fn sign_claims(store: &dyn KeyStore, label: &str, claims: &Claims) -> Result<Vec<u8>> {
    let payload = serde_json::to_vec(claims)
        .map_err(|e| Error::InvalidArgument(format!("encode claims: {e}")))?;
    dsse::sign(
        store,
        label,
        &Purpose::device_evidence(),
        EVIDENCE_PAYLOAD_TYPE,
        &payload,
    )
}

/// Evidence read from bytes but not yet verified.
pub(crate) struct ParsedEvidence {
    pub claims: Claims,
    pub signed: Vec<u8>,
    pub signatures: Vec<Vec<u8>>,
    /// The claims' TPM quote, read (not yet checked).
    pub quote: Option<ParsedQuote>,
}

/// Reads evidence bytes: DSSE envelope, payload type, claims JSON, profile.
pub(crate) fn parse_evidence(bytes: &[u8]) -> Result<ParsedEvidence> {
    let opened = dsse::open(bytes, "evidence")?;
    if opened.payload_type != EVIDENCE_PAYLOAD_TYPE {
        return Err(Error::MalformedEvidence(format!(
            "payload type is {:?}, expected {EVIDENCE_PAYLOAD_TYPE:?}",
            opened.payload_type
        )));
    }
    let claims: Claims = serde_json::from_slice(&opened.payload).map_err(|e| {
        Error::MalformedEvidence(format!("claims are not a valid EAT claims set ({e})"))
    })?;
    if claims.eat_profile != EAT_PROFILE {
        return Err(Error::MalformedEvidence(format!(
            "unknown eat_profile {:?}",
            claims.eat_profile
        )));
    }
    if claims.nonce().is_none() {
        return Err(Error::MalformedEvidence(
            "eat_nonce must be 32 bytes, base64url".into(),
        ));
    }
    let quote = match &claims.tpm_quote {
        None => None,
        Some(q) => Some(ParsedQuote::parse(&q.quote).map_err(|e| {
            Error::MalformedEvidence(format!(
                "the TPM quote cannot be read: {e} (truncated or garbled)"
            ))
        })?),
    };
    Ok(ParsedEvidence {
        quote,
        signed: opened.pae().to_vec(),
        signatures: opened.signatures,
        claims,
    })
}

/// A device's attester: holds its certificate and signs evidence with its key in the SCU.
pub struct Attester<'a> {
    store: &'a dyn KeyStore,
    label: String,
    certificate: CertificateInfo,
    identity: DeviceIdentity,
}

impl std::fmt::Debug for Attester<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attester")
            .field("label", &self.label)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl<'a> Attester<'a> {
    /// An attester for the key `label` of `store` and its device certificate (DER). Fails if
    /// the certificate does not certify that key or lacks the device identity fields.
    pub fn new(store: &'a dyn KeyStore, label: &str, certificate_der: &[u8]) -> Result<Self> {
        let certificate = CertificateInfo::parse(certificate_der)?;
        let identity = certificate.device_identity().ok_or_else(|| {
            Error::MalformedCertificate("not a device certificate (O, CN, serialNumber)".into())
        })?;
        if store.public_key(label)? != certificate.public_key {
            return Err(Error::InvalidArgument(format!(
                "key {label:?} is not the key certified by {:?}",
                certificate.subject
            )));
        }
        Ok(Attester {
            store,
            label: label.to_owned(),
            certificate,
            identity,
        })
    }

    /// The device certificate, DER (sent with the evidence).
    pub fn certificate_der(&self) -> &[u8] {
        self.certificate.der()
    }

    /// Who the device is.
    pub fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }

    /// Answers `challenge` with signed evidence about `state` at time `now`.
    pub fn attest(&self, challenge: &Challenge, state: &DeviceState, now: u64) -> Result<Vec<u8>> {
        let claims = Claims::new(&self.identity, challenge, state, now);
        sign_claims(self.store, &self.label, &claims)
    }

    /// Like [`Attester::attest`], with the device TPM's `quote` in the claims. The caller makes
    /// it with the TPM (`shinrai_scu::tpm::TpmKeyStore::measure_and_quote` over
    /// [`measurement_digests`] of `state`, with [`quote_qualifying_data`] of the challenge's
    /// nonce).
    pub fn attest_with_quote(
        &self,
        challenge: &Challenge,
        state: &DeviceState,
        now: u64,
        quote: QuoteClaim,
    ) -> Result<Vec<u8>> {
        let mut claims = Claims::new(&self.identity, challenge, state, now);
        claims.tpm_quote = Some(quote);
        sign_claims(self.store, &self.label, &claims)
    }
}
