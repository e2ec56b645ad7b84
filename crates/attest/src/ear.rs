//! Attestation results: EAR (draft-ietf-rats-ear) with an AR4SI trust vector and reasons.
//!
//! Tier values follow AR4SI (draft-ietf-rats-ar4si): 0 no claim, 2-31 affirming, 32-95 warning,
//! 96-127 contraindicated. This crate uses [`Tier::AFFIRMING`] (2), [`Tier::WARNING`] (32) and
//! [`Tier::CONTRAINDICATED`] (96). The overall status is the worst tier of the vector.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use shinrai_scu::{KeyStore, PublicKey, Purpose};

use crate::{Error, Result, Sha256, dsse};

/// EAR `eat_profile` value.
pub const EAR_PROFILE: &str = "tag:github.com,2023:veraison/ear";
/// DSSE `payloadType` of a signed attestation result.
pub const EAR_PAYLOAD_TYPE: &str = "application/vnd.shinrai.ear+json";
/// Name of the submodule carrying the device's appraisal.
pub const DEVICE_SUBMOD: &str = "device";

/// An AR4SI trustworthiness claim value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tier(pub i8);

impl Tier {
    /// No claim is made (not appraised).
    pub const NONE: Tier = Tier(0);
    /// Affirming: the verifier vouches for this aspect.
    pub const AFFIRMING: Tier = Tier(2);
    /// Warning: usable with care.
    pub const WARNING: Tier = Tier(32);
    /// Contraindicated: do not trust.
    pub const CONTRAINDICATED: Tier = Tier(96);

    /// The status band of this value.
    pub fn status(self) -> Status {
        match self.0 {
            2..=31 => Status::Affirming,
            32..=95 => Status::Warning,
            96..=127 => Status::Contraindicated,
            _ => Status::None,
        }
    }
}

/// EAR status (`ear.status`), ordered from best to worst for [`Ord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every aspect affirmed.
    Affirming,
    /// Some aspect not appraised.
    None,
    /// Some aspect warrants a warning.
    Warning,
    /// Some aspect is contraindicated: the device must not be trusted.
    Contraindicated,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Affirming => "affirming",
            Status::None => "none",
            Status::Warning => "warning",
            Status::Contraindicated => "contraindicated",
        })
    }
}

/// The trust-vector claims this crate appraises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrustClaim {
    /// Is this the device it claims to be (certificate, key, freshness, clones)?
    InstanceIdentity,
    /// Is its configuration (composition) the registered one?
    Configuration,
    /// Is its firmware and software the registered one?
    Executables,
    /// Is its hardware genuine and the registered one?
    Hardware,
}

/// The AR4SI trust vector (`ear.trustworthiness-vector`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TrustVector {
    /// `instance-identity`.
    pub instance_identity: Tier,
    /// `configuration`.
    pub configuration: Tier,
    /// `executables`.
    pub executables: Tier,
    /// `hardware`.
    pub hardware: Tier,
}

impl TrustVector {
    /// A vector with no claims.
    pub fn none() -> Self {
        TrustVector {
            instance_identity: Tier::NONE,
            configuration: Tier::NONE,
            executables: Tier::NONE,
            hardware: Tier::NONE,
        }
    }

    /// The value of one claim.
    pub fn get(&self, c: TrustClaim) -> Tier {
        match c {
            TrustClaim::InstanceIdentity => self.instance_identity,
            TrustClaim::Configuration => self.configuration,
            TrustClaim::Executables => self.executables,
            TrustClaim::Hardware => self.hardware,
        }
    }

    fn slot(&mut self, c: TrustClaim) -> &mut Tier {
        match c {
            TrustClaim::InstanceIdentity => &mut self.instance_identity,
            TrustClaim::Configuration => &mut self.configuration,
            TrustClaim::Executables => &mut self.executables,
            TrustClaim::Hardware => &mut self.hardware,
        }
    }

    /// Lowers claim `c` to `t` if `t` is worse than its current value (never raises it back).
    pub fn degrade(&mut self, c: TrustClaim, t: Tier) {
        let s = self.slot(c);
        if s.status() == Status::None || t.status() > s.status() {
            *s = t;
        }
    }

    /// The overall status: the worst claim's status.
    pub fn status(&self) -> Status {
        [
            self.instance_identity,
            self.configuration,
            self.executables,
            self.hardware,
        ]
        .iter()
        .map(|t| t.status())
        .max()
        .unwrap_or(Status::None)
    }
}

/// Why a claim got its value: a stable code for programs and a sentence for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ReasonCode {
    /// The certificate chains to the registered manufacturer and the evidence is signed by it.
    GenuineIdentity,
    /// The certificate names an issuer that is not a registered manufacturer.
    UnknownManufacturer,
    /// The certificate's signature is not the manufacturer's (forged certificate): counterfeit.
    CounterfeitCertificate,
    /// The evidence is not signed by the certified key: counterfeit hardware with a copied certificate.
    KeyNotCertified,
    /// The device certificate has expired or is not yet valid.
    CertificateOutOfDate,
    /// The device certificate was revoked by its manufacturer.
    CertificateRevoked,
    /// The certificate is unusable for another reason (wrong kind, missing fields).
    CertificateInvalid,
    /// The claimed device id or model differs from the certificate.
    IdentityMismatch,
    /// The same certificate and key answer from two devices (counters or boot seeds disagree).
    ClonedDevice,
    /// The same device id was seen with a different key.
    DuplicateDeviceId,
    /// The nonce was never issued or was already used: replayed evidence.
    NonceReplayed,
    /// The nonce expired before the evidence arrived.
    NonceExpired,
    /// No reference values are registered for the device's model.
    UnknownModel,
    /// Every measurement matches registered reference values.
    MeasurementsMatch,
    /// A firmware or software measurement differs from every registered release: tampered.
    FirmwareModified,
    /// A hardware measurement differs from the registered one.
    HardwareModified,
    /// A configuration measurement differs from the registered one.
    ConfigurationModified,
    /// A registered component was not reported.
    ComponentMissing,
    /// The device reported a component the maker never registered.
    UnexpectedComponent,
    /// The reported composition (CycloneDX digest) is not the registered one.
    CompositionMismatch,
    /// The update counter went backwards: firmware rolled back.
    Rollback,
    /// The aspect was not appraised because an earlier check failed.
    NotAppraised,
    /// The evidence carries a TPM quote that is fresh, signed by the attestation key and
    /// confirms the reported measurements.
    TpmQuoteValid,
    /// The TPM quote is not signed by the attestation key, answers another challenge, or does
    /// not cover the PCR values claimed with it.
    TpmQuoteInvalid,
    /// The TPM recorded other measurements (PCR value) than the device reports: the report was
    /// altered after measurement.
    TpmMeasurementsMismatch,
}

/// One finding of the appraisal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable code.
    pub code: ReasonCode,
    /// The trust-vector claim it affects.
    pub claim: TrustClaim,
    /// The value it gives that claim.
    pub tier: Tier,
    /// A sentence a non-expert can read.
    pub message: String,
}

/// Who the appraised device is, as far as the verifier could tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSummary {
    /// Manufacturer named in the certificate.
    pub maker: String,
    /// Model named in the certificate.
    pub model: String,
    /// Serial number named in the certificate.
    pub serial: String,
    /// UEID, hex.
    pub ueid: String,
    /// SHA-256 of the device certificate.
    pub certificate_sha256: Sha256,
}

/// One submodule's appraisal (`submods.<name>` in EAR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appraisal {
    /// Overall status.
    #[serde(rename = "ear.status")]
    pub status: Status,
    /// Trust vector.
    #[serde(rename = "ear.trustworthiness-vector")]
    pub trust_vector: TrustVector,
    /// Policy the verifier applied.
    #[serde(rename = "ear.appraisal-policy-id")]
    pub policy_id: String,
    /// Findings, in the order checked.
    #[serde(rename = "shinrai.reasons")]
    pub reasons: Vec<Reason>,
    /// The device, when its certificate could be read.
    #[serde(
        rename = "shinrai.device",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub device: Option<DeviceSummary>,
    /// The registered release the measurements were compared with: the one that matched, or
    /// the closest one when none did.
    #[serde(
        rename = "shinrai.reference-version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reference_version: Option<String>,
}

/// The verifier's identity (`ear.verifier-id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierId {
    /// Who built the verifier.
    pub developer: String,
    /// Which build.
    pub build: String,
}

/// An attestation result (EAR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationResult {
    /// [`EAR_PROFILE`].
    pub eat_profile: String,
    /// When the appraisal was made, Unix seconds.
    pub iat: u64,
    /// The verifier.
    #[serde(rename = "ear.verifier-id")]
    pub verifier_id: VerifierId,
    /// The nonce of the appraised evidence, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eat_nonce: Option<String>,
    /// Appraisals; this crate writes one, [`DEVICE_SUBMOD`].
    pub submods: BTreeMap<String, Appraisal>,
}

impl AttestationResult {
    pub(crate) fn new(iat: u64, nonce: Option<String>, appraisal: Appraisal) -> Self {
        let mut submods = BTreeMap::new();
        submods.insert(DEVICE_SUBMOD.to_owned(), appraisal);
        AttestationResult {
            eat_profile: EAR_PROFILE.to_owned(),
            iat,
            verifier_id: VerifierId {
                developer: "shinrai".to_owned(),
                build: concat!("shinrai-attest ", env!("CARGO_PKG_VERSION")).to_owned(),
            },
            eat_nonce: nonce,
            submods,
        }
    }

    /// The device appraisal, if present.
    pub fn appraisal(&self) -> Option<&Appraisal> {
        self.submods.get(DEVICE_SUBMOD)
    }

    /// The overall status (contraindicated when there is no device appraisal).
    pub fn status(&self) -> Status {
        self.appraisal()
            .map(|a| a.status)
            .unwrap_or(Status::Contraindicated)
    }

    /// The trust vector (all "no claim" when there is no device appraisal).
    pub fn trust_vector(&self) -> TrustVector {
        self.appraisal()
            .map(|a| a.trust_vector)
            .unwrap_or_else(TrustVector::none)
    }

    /// The findings.
    pub fn reasons(&self) -> &[Reason] {
        self.appraisal()
            .map(|a| a.reasons.as_slice())
            .unwrap_or(&[])
    }

    /// Whether a finding with `code` is present.
    pub fn has(&self, code: ReasonCode) -> bool {
        self.reasons().iter().any(|r| r.code == code)
    }

    /// The appraised device, when known.
    pub fn device(&self) -> Option<&DeviceSummary> {
        self.appraisal().and_then(|a| a.device.as_ref())
    }

    /// A short text for people: the verdict, then each problem (or the good news) on its own line.
    pub fn explain(&self) -> String {
        let mut out = match self.status() {
            Status::Affirming => "PASS: the device is genuine and as registered.".to_owned(),
            Status::Warning => "WARNING: the device may be used with care.".to_owned(),
            Status::None => "UNKNOWN: the device could not be fully appraised.".to_owned(),
            Status::Contraindicated => "FAIL: do not trust this device.".to_owned(),
        };
        let bad: Vec<&Reason> = self
            .reasons()
            .iter()
            .filter(|r| r.tier.status() != Status::Affirming && r.code != ReasonCode::NotAppraised)
            .collect();
        let shown: Vec<&Reason> = if bad.is_empty() {
            self.reasons().iter().collect()
        } else {
            bad
        };
        for r in shown {
            out.push_str("\n  - ");
            out.push_str(&r.message);
        }
        out
    }

    /// The EAR as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain structs with string keys: serialisation cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads an EAR from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::MalformedEvidence(format!("attestation result: {e}")))
    }

    /// Signs the EAR (DSSE, payload type [`EAR_PAYLOAD_TYPE`]) with the verifier's key `label`
    /// for `purpose` (typically `statement`), for registration in the trust store.
    pub fn sign(&self, store: &dyn KeyStore, label: &str, purpose: &Purpose) -> Result<Vec<u8>> {
        dsse::sign(store, label, purpose, EAR_PAYLOAD_TYPE, &self.to_json())
    }

    /// Reads a signed EAR and checks its signature with the verifier's public key.
    pub fn verify_signed(bytes: &[u8], verifier_key: &PublicKey) -> Result<Self> {
        let opened = dsse::open(bytes, "signed attestation result")?;
        if opened.payload_type != EAR_PAYLOAD_TYPE {
            return Err(Error::MalformedEvidence(format!(
                "payload type {:?} is not an attestation result",
                opened.payload_type
            )));
        }
        let pae = opened.pae();
        if !opened
            .signatures
            .iter()
            .any(|s| crate::verify_signature(verifier_key, pae, s, true))
        {
            return Err(Error::MalformedEvidence(
                "the attestation result is not signed by the given verifier key".into(),
            ));
        }
        Self::from_json(&opened.payload)
    }
}
