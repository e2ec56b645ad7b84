//! The verifier (RATS role): issues nonces and appraises evidence into attestation results.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shinrai_scu::PublicKey;

use crate::ear::{Appraisal, DeviceSummary};
use crate::evidence::{
    NonceCheck, ParsedEvidence, measurement_digests, parse_evidence, quote_qualifying_data,
};
use crate::identity::{CertificateInfo, check_current, check_issued};
use crate::{
    AttestationResult, Challenge, ComponentKind, DeviceIdentity, Error, ManufacturerCa, NonceStore,
    Reason, ReasonCode, ReferenceValues, Result, RevocationList, Sha256, Status, Tier, TrustClaim,
    TrustVector,
};

/// Default lifetime of a nonce, seconds.
pub const DEFAULT_NONCE_TTL: u64 = 300;
/// Default number of outstanding nonces kept.
pub const DEFAULT_MAX_NONCES: usize = 1_000_000;
/// Results kept per device in the verifier's in-memory history.
pub const HISTORY_PER_DEVICE: usize = 256;
const MAX_CACHED_CHAINS: usize = 100_000;

/// One appraisal in a device's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When it was appraised, Unix seconds.
    pub time: u64,
    /// Overall status.
    pub status: Status,
    /// Trust vector.
    pub trust_vector: TrustVector,
    /// Registered release compared with (matched, or closest when nothing matched).
    pub reference_version: Option<String>,
    /// Finding codes.
    pub codes: Vec<ReasonCode>,
}

/// What the verifier remembers about one device (clone and rollback detection), as saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMemory {
    /// UEID, hex.
    pub ueid: String,
    /// The first identity key seen for this UEID.
    pub key: PublicKey,
    /// Highest boot counter seen.
    pub bootcount: u64,
    /// Boot seed seen with it, hex.
    pub bootseed: String,
    /// Highest update counter seen.
    pub update_count: u64,
}

/// A verifier's whole state as JSON-serialisable data, so a command-line verifier can keep
/// nonces, clone state and history between runs ([`Verifier::export_state`],
/// [`Verifier::from_state`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierState {
    /// Format version, 1.
    pub version: u32,
    /// Trusted manufacturer CA certificates, DER as lowercase hex.
    pub manufacturers: Vec<String>,
    /// Registered reference values.
    pub reference_values: Vec<ReferenceValues>,
    /// Revoked certificates.
    pub revocations: RevocationList,
    /// Challenges issued and not yet answered.
    pub challenges: Vec<Challenge>,
    /// Clone and rollback memory.
    pub devices: Vec<DeviceMemory>,
    /// Appraisal history per device (UEID hex).
    pub history: std::collections::BTreeMap<String, Vec<HistoryEntry>>,
}

impl VerifierState {
    /// JSON form.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain structs with string keys: serialisation cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Reads the JSON form.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::InvalidArgument(format!("verifier state is not valid JSON: {e}")))
    }
}

/// A device certificate whose time-independent chain checks passed (cached by fingerprint).
struct Chain {
    cert: CertificateInfo,
    identity: DeviceIdentity,
    ueid: Vec<u8>,
    maker: usize,
    /// The device key parsed once (point decoding and validation are not repeated per appraisal).
    key: aws_lc_rs::signature::ParsedPublicKey,
}

/// What the verifier remembers about a device to detect clones and rollbacks.
struct Seen {
    key: PublicKey,
    bootcount: u64,
    bootseed: Vec<u8>,
    update_count: u64,
}

/// A verifier: trusted manufacturers, reference values, revocations, nonces, clone state and
/// result history. Appraisal needs `&mut self` (nonces are consumed); wrap it in a mutex to share.
pub struct Verifier {
    makers: Vec<ManufacturerCa>,
    references: HashMap<(String, String), Vec<ReferenceValues>>,
    revoked: RevocationList,
    nonces: NonceStore,
    chains: HashMap<Sha256, Arc<Chain>>,
    devices: HashMap<Vec<u8>, Seen>,
    history: HashMap<Vec<u8>, VecDeque<HistoryEntry>>,
    policy_id: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("makers", &self.makers.len())
            .field("models", &self.references.len())
            .field("revoked", &self.revoked.len())
            .field("outstanding_nonces", &self.nonces.outstanding())
            .finish_non_exhaustive()
    }
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

/// Builds an appraisal step by step.
struct Draft {
    v: TrustVector,
    reasons: Vec<Reason>,
}

impl Draft {
    fn add(&mut self, code: ReasonCode, claim: TrustClaim, tier: Tier, message: String) {
        self.v.degrade(claim, tier);
        self.reasons.push(Reason {
            code,
            claim,
            tier,
            message,
        });
    }
    fn bad(&mut self, code: ReasonCode, claim: TrustClaim, message: String) {
        self.add(code, claim, Tier::CONTRAINDICATED, message);
    }
    fn fails(&self, claim: TrustClaim) -> bool {
        self.v.get(claim).status() > Status::None
    }
    fn not_appraised(&mut self, why: &str) {
        for c in [
            TrustClaim::InstanceIdentity,
            TrustClaim::Hardware,
            TrustClaim::Executables,
            TrustClaim::Configuration,
        ] {
            if self.v.get(c) == Tier::NONE {
                self.reasons.push(Reason {
                    code: ReasonCode::NotAppraised,
                    claim: c,
                    tier: Tier::NONE,
                    message: format!("Not checked: {why}."),
                });
            }
        }
    }
}

fn claim_for(kind: ComponentKind) -> (TrustClaim, ReasonCode) {
    match kind {
        ComponentKind::Firmware | ComponentKind::Software => {
            (TrustClaim::Executables, ReasonCode::FirmwareModified)
        }
        ComponentKind::Hardware => (TrustClaim::Hardware, ReasonCode::HardwareModified),
        ComponentKind::Configuration => {
            (TrustClaim::Configuration, ReasonCode::ConfigurationModified)
        }
    }
}

impl Verifier {
    /// A verifier with the default nonce lifetime ([`DEFAULT_NONCE_TTL`]) and nothing registered.
    pub fn new() -> Self {
        Self::with_nonce_ttl(DEFAULT_NONCE_TTL)
    }

    /// A verifier whose nonces live `ttl_secs` seconds.
    pub fn with_nonce_ttl(ttl_secs: u64) -> Self {
        Verifier {
            makers: Vec::new(),
            references: HashMap::new(),
            revoked: RevocationList::new(),
            nonces: NonceStore::new(ttl_secs, DEFAULT_MAX_NONCES),
            chains: HashMap::new(),
            devices: HashMap::new(),
            history: HashMap::new(),
            policy_id: "shinrai/device-appraisal/v1".to_owned(),
        }
    }

    /// Trusts `ca` as a manufacturer (replaces an earlier CA with the same subject).
    pub fn register_manufacturer(&mut self, ca: ManufacturerCa) {
        self.makers.retain(|m| {
            m.certificate_der() != ca.certificate_der() && m.organisation() != ca.organisation()
        });
        self.makers.push(ca);
        self.chains.clear();
    }

    /// The registered manufacturer named `organisation`.
    pub fn manufacturer(&self, organisation: &str) -> Option<&ManufacturerCa> {
        self.makers
            .iter()
            .find(|m| m.organisation() == organisation)
    }

    /// Registers reference values for a model release (replacing the same release). Several
    /// releases of a model can be current at once (devices update at different times).
    pub fn register_reference_values(&mut self, rv: ReferenceValues) -> Result<()> {
        if self.manufacturer(&rv.maker).is_none() {
            return Err(Error::InvalidArgument(format!(
                "register the manufacturer {:?} before its reference values",
                rv.maker
            )));
        }
        let list = self
            .references
            .entry((rv.maker.clone(), rv.model.clone()))
            .or_default();
        list.retain(|r| r.version != rv.version);
        list.push(rv);
        Ok(())
    }

    /// Withdraws a release's reference values (devices still running it will fail). Returns
    /// whether it was registered.
    pub fn withdraw_reference_values(&mut self, maker: &str, model: &str, version: &str) -> bool {
        match self
            .references
            .get_mut(&(maker.to_owned(), model.to_owned()))
        {
            Some(list) => {
                let before = list.len();
                list.retain(|r| r.version != version);
                list.len() != before
            }
            None => false,
        }
    }

    /// Reference values registered for a model, oldest release first.
    pub fn reference_values(&self, maker: &str, model: &str) -> &[ReferenceValues] {
        self.references
            .get(&(maker.to_owned(), model.to_owned()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Revokes a device certificate.
    pub fn revoke(&mut self, cert: &CertificateInfo) {
        self.revoked.revoke(cert);
    }

    /// Replaces the revocation list (e.g. with the one read from the trust store).
    pub fn set_revocation_list(&mut self, list: RevocationList) {
        self.revoked = list;
    }

    /// A fresh challenge for a device, valid for the nonce lifetime from `now`.
    pub fn challenge(&mut self, now: u64) -> Result<Challenge> {
        self.nonces.issue(now)
    }

    /// Appraisals kept for the device with this UEID, oldest first.
    pub fn history(&self, ueid: &[u8]) -> Vec<HistoryEntry> {
        self.history
            .get(ueid)
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The verifier's state, to save between runs.
    pub fn export_state(&self) -> VerifierState {
        let mut reference_values: Vec<ReferenceValues> =
            self.references.values().flatten().cloned().collect();
        reference_values.sort_by(|a, b| {
            (&a.maker, &a.model, &a.version).cmp(&(&b.maker, &b.model, &b.version))
        });
        let mut devices: Vec<DeviceMemory> = self
            .devices
            .iter()
            .map(|(u, s)| DeviceMemory {
                ueid: hex::encode(u),
                key: s.key.clone(),
                bootcount: s.bootcount,
                bootseed: hex::encode(&s.bootseed),
                update_count: s.update_count,
            })
            .collect();
        devices.sort_by(|a, b| a.ueid.cmp(&b.ueid));
        VerifierState {
            version: 1,
            manufacturers: self
                .makers
                .iter()
                .map(|m| hex::encode(m.certificate_der()))
                .collect(),
            reference_values,
            revocations: self.revoked.clone(),
            challenges: self.nonces.challenges(),
            devices,
            history: self
                .history
                .iter()
                .map(|(u, h)| (hex::encode(u), h.iter().cloned().collect()))
                .collect(),
        }
    }

    /// A verifier restored from saved state (manufacturer certificates are checked again).
    pub fn from_state(state: VerifierState) -> Result<Self> {
        if state.version != 1 {
            return Err(Error::InvalidArgument(format!(
                "unknown verifier state version {}",
                state.version
            )));
        }
        let unhex = |what: &str, s: &str| {
            hex::decode(s)
                .map_err(|_| Error::InvalidArgument(format!("verifier state: {what} is not hex")))
        };
        let mut v = Verifier::new();
        for m in &state.manufacturers {
            v.register_manufacturer(ManufacturerCa::from_der(&unhex("manufacturer", m)?)?);
        }
        for rv in state.reference_values {
            v.register_reference_values(rv)?;
        }
        v.revoked = state.revocations;
        for c in &state.challenges {
            v.nonces.restore(c);
        }
        for d in state.devices {
            v.devices.insert(
                unhex("ueid", &d.ueid)?,
                Seen {
                    key: d.key,
                    bootcount: d.bootcount,
                    bootseed: unhex("bootseed", &d.bootseed)?,
                    update_count: d.update_count,
                },
            );
        }
        for (u, h) in state.history {
            v.history
                .insert(unhex("ueid", &u)?, h.into_iter().collect());
        }
        Ok(v)
    }

    fn chain(
        &mut self,
        certificate_der: &[u8],
    ) -> Result<std::result::Result<Arc<Chain>, (CertificateInfo, Error)>> {
        let fp = Sha256::of(certificate_der);
        if let Some(c) = self.chains.get(&fp) {
            return Ok(Ok(Arc::clone(c)));
        }
        let cert = CertificateInfo::parse(certificate_der)?;
        let Some(maker) = self.makers.iter().position(|m| cert.issued_by_name(m)) else {
            let issuer = cert.issuer.clone();
            return Ok(Err((cert, Error::UnknownIssuer { issuer })));
        };
        match check_issued(&self.makers[maker], &cert) {
            Ok(identity) => {
                let Ok(key) = aws_lc_rs::signature::ParsedPublicKey::new(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
                    &cert.public_key.bytes,
                ) else {
                    return Ok(Err((
                        cert,
                        Error::MalformedCertificate(
                            "the device public key is not a valid P-256 point".into(),
                        ),
                    )));
                };
                if self.chains.len() >= MAX_CACHED_CHAINS {
                    self.chains.clear();
                }
                let c = Arc::new(Chain {
                    ueid: identity.ueid(),
                    cert,
                    identity,
                    maker,
                    key,
                });
                self.chains.insert(fp, Arc::clone(&c));
                Ok(Ok(c))
            }
            Err(e) => Ok(Err((cert, e))),
        }
    }

    /// Appraises `evidence` (DSSE bytes from [`crate::Attester::attest`]) sent with the device
    /// certificate `certificate_der`, at time `now`.
    ///
    /// Returns `Err` only for input that cannot be read at all (malformed or truncated evidence,
    /// bytes that are not a certificate). Every judgement about the device, including a
    /// certificate from an unknown or forged issuer, is an [`AttestationResult`] with reasons.
    pub fn appraise(
        &mut self,
        evidence: &[u8],
        certificate_der: &[u8],
        now: u64,
    ) -> Result<AttestationResult> {
        let ev = parse_evidence(evidence)?;
        let chain = self.chain(certificate_der)?;
        let mut d = Draft {
            v: TrustVector::none(),
            reasons: Vec::new(),
        };
        let nonce_text = Some(ev.claims.eat_nonce.clone());
        let chain = match chain {
            Ok(c) => c,
            Err((cert, e)) => {
                let summary = summary(&cert, cert.device_identity().as_ref());
                let code = match e {
                    Error::UnknownIssuer { .. } => ReasonCode::UnknownManufacturer,
                    Error::BadCertificateSignature { .. } => ReasonCode::CounterfeitCertificate,
                    _ => ReasonCode::CertificateInvalid,
                };
                let msg = match code {
                    ReasonCode::UnknownManufacturer => format!(
                        "The device's certificate was issued by {:?}, which is not a registered manufacturer: the device is probably counterfeit.",
                        cert.issuer
                    ),
                    ReasonCode::CounterfeitCertificate => format!(
                        "The device's certificate claims to come from {:?} but does not carry that manufacturer's signature: the certificate is forged and the device counterfeit.",
                        cert.issuer
                    ),
                    _ => format!("The device's certificate cannot be used: {e}."),
                };
                d.bad(code, TrustClaim::InstanceIdentity, msg.clone());
                d.bad(
                    code,
                    TrustClaim::Hardware,
                    "The hardware cannot be shown to come from the manufacturer it claims.".into(),
                );
                d.not_appraised("the device's identity could not be established");
                return Ok(self.finish(d, summary, None, nonce_text, now));
            }
        };
        let ca = &self.makers[chain.maker];
        let identity = &chain.identity;
        let summary = summary(&chain.cert, Some(identity));
        let ueid = chain.ueid.clone();

        if let Err(e) = check_current(ca, &chain.cert, now, &self.revoked) {
            let (code, msg) = match &e {
                Error::CertificateRevoked { .. } => (
                    ReasonCode::CertificateRevoked,
                    format!(
                        "The manufacturer {} has revoked the certificate of device {}: it must not be trusted any more.",
                        identity.maker, identity.serial
                    ),
                ),
                Error::CertificateExpired { .. } | Error::CertificateNotYetValid { .. } => (
                    ReasonCode::CertificateOutOfDate,
                    format!("The device's certificate is not valid at this time: {e}."),
                ),
                _ => (
                    ReasonCode::CertificateInvalid,
                    format!("The device's certificate cannot be used: {e}."),
                ),
            };
            d.bad(code, TrustClaim::InstanceIdentity, msg);
            d.not_appraised("the device's certificate is not valid now");
            return Ok(self.finish(d, summary, Some(ueid), nonce_text, now));
        }

        // The evidence must be signed by the certified key.
        if !ev
            .signatures
            .iter()
            .any(|s| chain.key.verify_sig(&ev.signed, s).is_ok())
        {
            d.bad(
                ReasonCode::KeyNotCertified,
                TrustClaim::InstanceIdentity,
                format!(
                    "The evidence was not signed by the key that {} certified for device {}: the device presents a copied certificate without the matching key (counterfeit).",
                    identity.maker, identity.serial
                ),
            );
            d.bad(
                ReasonCode::KeyNotCertified,
                TrustClaim::Hardware,
                "The hardware is not the one the certificate was issued for.".into(),
            );
            d.not_appraised("the evidence is not from the certified device");
            // Not recorded under the genuine device's history: the sender is not that device.
            return Ok(self.finish(d, summary, None, nonce_text, now));
        }

        // Freshness: the nonce is consumed only by correctly signed evidence.
        let nonce = ev.claims.nonce().unwrap_or([0u8; 32]);
        match self.nonces.consume(&nonce, now) {
            NonceCheck::Fresh => {}
            NonceCheck::Expired => d.bad(
                ReasonCode::NonceExpired,
                TrustClaim::InstanceIdentity,
                "The evidence answers a challenge that had already expired: it is too old to show the device's current state.".into(),
            ),
            NonceCheck::Unknown => d.bad(
                ReasonCode::NonceReplayed,
                TrustClaim::InstanceIdentity,
                "The evidence does not answer a challenge this verifier issued, or answers one already used: it is a replay of old evidence.".into(),
            ),
        }

        self.check_identity(&ev, identity, &chain.cert.public_key, &ueid, &mut d);
        check_quote(&ev, &mut d);
        let version = self.check_measurements(&ev, identity, &mut d);
        Ok(self.finish_with(d, summary, Some(ueid), nonce_text, now, version))
    }

    fn check_identity(
        &mut self,
        ev: &ParsedEvidence,
        identity: &DeviceIdentity,
        key: &PublicKey,
        ueid: &[u8],
        d: &mut Draft,
    ) {
        let c = &ev.claims;
        if c.ueid_bytes().as_deref() != Some(ueid) || c.model().as_deref() != Some(&identity.model)
        {
            d.bad(
                ReasonCode::IdentityMismatch,
                TrustClaim::InstanceIdentity,
                format!(
                    "The device says it is a different device or model than its certificate ({} {} serial {}).",
                    identity.maker, identity.model, identity.serial
                ),
            );
        }
        let seed = c.bootseed_bytes().unwrap_or_default();
        match self.devices.get_mut(ueid) {
            None => {
                self.devices.insert(
                    ueid.to_vec(),
                    Seen {
                        key: key.clone(),
                        bootcount: c.bootcount,
                        bootseed: seed,
                        update_count: c.update_count,
                    },
                );
            }
            Some(seen) if seen.key != *key => d.bad(
                ReasonCode::DuplicateDeviceId,
                TrustClaim::InstanceIdentity,
                format!(
                    "Device {} {} serial {} was seen before with a different key: two devices claim the same identity, so one of them is a clone.",
                    identity.maker, identity.model, identity.serial
                ),
            ),
            Some(seen) => {
                if c.bootcount < seen.bootcount
                    || (c.bootcount == seen.bootcount && seed != seen.bootseed)
                {
                    d.bad(
                        ReasonCode::ClonedDevice,
                        TrustClaim::InstanceIdentity,
                        format!(
                            "Two devices answer with the certificate and key of {} serial {} ({}): the device has been cloned.",
                            identity.model,
                            identity.serial,
                            if c.bootcount < seen.bootcount {
                                format!(
                                    "its boot counter went back from {} to {}",
                                    seen.bootcount, c.bootcount
                                )
                            } else {
                                format!("boot number {} was reported twice, with different boot seeds", c.bootcount)
                            }
                        ),
                    );
                } else {
                    seen.bootcount = c.bootcount;
                    seen.bootseed = seed;
                }
                if c.update_count < seen.update_count {
                    d.bad(
                        ReasonCode::Rollback,
                        TrustClaim::Executables,
                        format!(
                            "The device reports {} firmware updates but {} were seen before: its firmware was rolled back to an older release.",
                            c.update_count, seen.update_count
                        ),
                    );
                } else {
                    seen.update_count = c.update_count;
                }
            }
        }
        if !d.fails(TrustClaim::InstanceIdentity) {
            d.add(
                ReasonCode::GenuineIdentity,
                TrustClaim::InstanceIdentity,
                Tier::AFFIRMING,
                format!(
                    "The device is {} {} serial {}, certified by its manufacturer, and answered this verifier's fresh challenge.",
                    identity.maker, identity.model, identity.serial
                ),
            );
        }
    }

    /// Compares measurements with the best-matching registered release; returns its version.
    fn check_measurements(
        &self,
        ev: &ParsedEvidence,
        identity: &DeviceIdentity,
        d: &mut Draft,
    ) -> Option<String> {
        let refs = self.reference_values(&identity.maker, &identity.model);
        if refs.is_empty() {
            d.bad(
                ReasonCode::UnknownModel,
                TrustClaim::Hardware,
                format!(
                    "{} has registered no reference values for model {}: what the device should contain is unknown.",
                    identity.maker, identity.model
                ),
            );
            d.not_appraised("there is nothing to compare the measurements with");
            return None;
        }
        let mut best: Option<(usize, Vec<Finding>)> = None;
        for (i, rv) in refs.iter().enumerate() {
            let f = findings(ev, rv);
            if best.as_ref().is_none_or(|(_, b)| f.len() <= b.len()) {
                best = Some((i, f));
            }
        }
        let (i, found) = best?;
        let rv = &refs[i];
        for (code, claim, msg) in found {
            d.bad(code, claim, msg);
        }
        for claim in [
            TrustClaim::Hardware,
            TrustClaim::Executables,
            TrustClaim::Configuration,
        ] {
            if !d.fails(claim) {
                let what = match claim {
                    TrustClaim::Hardware => "hardware parts",
                    TrustClaim::Executables => "firmware and software",
                    _ => "configuration and composition",
                };
                d.add(
                    ReasonCode::MeasurementsMatch,
                    claim,
                    Tier::AFFIRMING,
                    format!(
                        "The {what} match what {} registered for {} release {}.",
                        rv.maker, rv.model, rv.version
                    ),
                );
            }
        }
        Some(rv.version.clone())
    }

    fn finish(
        &mut self,
        d: Draft,
        device: Option<DeviceSummary>,
        ueid: Option<Vec<u8>>,
        nonce: Option<String>,
        now: u64,
    ) -> AttestationResult {
        self.finish_with(d, device, ueid, nonce, now, None)
    }

    fn finish_with(
        &mut self,
        d: Draft,
        device: Option<DeviceSummary>,
        ueid: Option<Vec<u8>>,
        nonce: Option<String>,
        now: u64,
        reference_version: Option<String>,
    ) -> AttestationResult {
        let appraisal = Appraisal {
            status: d.v.status(),
            trust_vector: d.v,
            policy_id: self.policy_id.clone(),
            reasons: d.reasons,
            device,
            reference_version,
        };
        let ear = AttestationResult::new(now, nonce, appraisal);
        if let Some(ueid) = ueid {
            self.record(&ueid, &ear);
        }
        ear
    }

    fn record(&mut self, ueid: &[u8], ear: &AttestationResult) {
        let h = self.history.entry(ueid.to_vec()).or_default();
        if h.len() >= HISTORY_PER_DEVICE {
            h.pop_front();
        }
        h.push_back(HistoryEntry {
            time: ear.iat,
            status: ear.status(),
            trust_vector: ear.trust_vector(),
            reference_version: ear.appraisal().and_then(|a| a.reference_version.clone()),
            codes: ear.reasons().iter().map(|r| r.code).collect(),
        });
    }
}

fn summary(cert: &CertificateInfo, id: Option<&DeviceIdentity>) -> Option<DeviceSummary> {
    let id = id?;
    Some(DeviceSummary {
        maker: id.maker.clone(),
        model: id.model.clone(),
        serial: id.serial.clone(),
        ueid: hex::encode(id.ueid()),
        certificate_sha256: cert.fingerprint,
    })
}

/// Checks the evidence's TPM quote, if it has one: signed by the attestation key named in the
/// (already verified) claims, answering this evidence's nonce, covering exactly the PCR values
/// claimed with it, and the measurement PCR equal to the replay of the reported measurements.
fn check_quote(ev: &ParsedEvidence, d: &mut Draft) {
    let (Some(claim), Some(q)) = (&ev.claims.tpm_quote, &ev.quote) else {
        return;
    };
    let mut ok = true;
    if !q.signature_valid(&claim.ak) {
        ok = false;
        d.bad(
            ReasonCode::TpmQuoteInvalid,
            TrustClaim::Hardware,
            "The TPM quote in the evidence is not signed by the device's attestation key: the TPM measurements cannot be trusted.".into(),
        );
    }
    let nonce = ev.claims.nonce().unwrap_or([0u8; 32]);
    if q.info.extra_data != quote_qualifying_data(&nonce) {
        ok = false;
        d.bad(
            ReasonCode::TpmQuoteInvalid,
            TrustClaim::InstanceIdentity,
            "The TPM quote answers another challenge than this evidence: it is a replayed or transplanted quote.".into(),
        );
    }
    if !q.selects_exactly(&claim.quote.pcrs) || !q.digest_matches(&claim.quote.pcrs) {
        ok = false;
        d.bad(
            ReasonCode::TpmQuoteInvalid,
            TrustClaim::Executables,
            "The PCR values sent with the TPM quote are not the ones the TPM signed.".into(),
        );
    }
    let expected = shinrai_scu::tpm_quote::replay(&measurement_digests(&ev.claims.measurements));
    match claim.quote.pcrs.get(&claim.measurement_pcr) {
        Some(v) if *v == expected => {}
        Some(_) => {
            ok = false;
            d.bad(
                ReasonCode::TpmMeasurementsMismatch,
                TrustClaim::Executables,
                format!(
                    "The device's TPM recorded other measurements (PCR {}) than the device reports: the report was altered after the components were measured.",
                    claim.measurement_pcr
                ),
            );
        }
        None => {
            ok = false;
            d.bad(
                ReasonCode::TpmQuoteInvalid,
                TrustClaim::Executables,
                format!(
                    "The TPM quote does not cover PCR {}, which should hold the measurements.",
                    claim.measurement_pcr
                ),
            );
        }
    }
    if ok {
        d.add(
            ReasonCode::TpmQuoteValid,
            TrustClaim::Hardware,
            Tier::AFFIRMING,
            format!(
                "The device's TPM signed a fresh quote confirming the reported measurements (PCR {}).",
                claim.measurement_pcr
            ),
        );
    }
}

/// A difference found: code, claim it affects, message.
type Finding = (ReasonCode, TrustClaim, String);

/// Differences between the evidence and one release's reference values.
fn findings(ev: &ParsedEvidence, rv: &ReferenceValues) -> Vec<Finding> {
    let mut out = Vec::new();
    let measured = &ev.claims.measurements;
    for r in &rv.measurements {
        let (claim, code) = claim_for(r.kind);
        match measured.iter().find(|m| m.component == r.component) {
            None => out.push((
                ReasonCode::ComponentMissing,
                claim,
                format!(
                    "The {} {:?} that {} registered for {} {} is missing from the device's report.",
                    r.kind.word(), r.component, rv.maker, rv.model, rv.version
                ),
            )),
            Some(m) if m.sha256 != r.sha256 => out.push((
                code,
                claim,
                format!(
                    "The {} {:?} measures {}… but {} registered {}… for {} release {}: it has been modified (tampered).",
                    r.kind.word(),
                    r.component,
                    m.sha256.short(),
                    rv.maker,
                    r.sha256.short(),
                    rv.model,
                    rv.version
                ),
            )),
            Some(_) => {}
        }
    }
    for m in measured {
        if !rv.measurements.iter().any(|r| r.component == m.component) {
            out.push((
                ReasonCode::UnexpectedComponent,
                TrustClaim::Configuration,
                format!(
                    "The device reports a component {:?} that {} never registered for {}: something was added.",
                    m.component, rv.maker, rv.model
                ),
            ));
        }
    }
    if ev.claims.composition_digest != rv.composition_digest {
        out.push((
            ReasonCode::CompositionMismatch,
            TrustClaim::Configuration,
            format!(
                "The device reports composition {}… but {} registered {}… for {} release {}.",
                ev.claims.composition_digest.short(),
                rv.maker,
                rv.composition_digest.short(),
                rv.model,
                rv.version
            ),
        ));
    }
    out
}
