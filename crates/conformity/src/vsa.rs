//! SLSA Verification Summary Attestation v1: the result of a conformity verification.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shinrai_envelope::keys::SslibKey;
use shinrai_envelope::statement::{Predicate, Statement, Subject, verify_statement};

use crate::spec::{VerifiedSpec, sha256_hex};
use crate::{Error, Result};

/// Predicate type of a VSA v1.
pub const VSA_PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";
/// The level written in `verifiedLevels` when every check passed.
pub const LEVEL_CONFORMANT: &str = "SHINRAI_CONFORMITY_PASSED";

/// Who verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VsaVerifier {
    /// URI naming the verifier (e.g. `https://certifier.example/shinrai`).
    pub id: String,
    /// Component versions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
}

/// A resource named by URI and digests (`policy`, `inputAttestations` entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    /// Where it is or what it is called.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
    /// Digests by algorithm (`sha256`).
    pub digest: BTreeMap<String, String>,
}

impl ResourceRef {
    /// A reference with one SHA-256 digest.
    pub fn sha256(uri: &str, hex: &str) -> Self {
        ResourceRef {
            uri: uri.to_owned(),
            digest: BTreeMap::from([("sha256".to_owned(), hex.to_owned())]),
        }
    }
}

/// One failed check, naming the evidence and the value that failed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// What was checked: `spec-expiry`, `evidence`, `step`, `threshold`, `artifact-rules`,
    /// `po`, or `rule:<name>`.
    pub check: String,
    /// The step concerned, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub step: String,
    /// The evidence concerned (evidence URIs or EPCIS event ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// The offending value(s), e.g. `Torque=26.1 NU`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Why it failed, for people.
    pub reason: String,
}

/// `PASSED` or `FAILED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VerificationResult {
    /// Every check passed.
    Passed,
    /// At least one check failed (see the failures).
    Failed,
}

/// The VSA v1 predicate, with Shinrai's `failures` extension (one entry per failed check;
/// VSA consumers ignore unknown fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VsaPredicate {
    /// Who verified.
    pub verifier: VsaVerifier,
    /// When, RFC 3339.
    pub time_verified: String,
    /// The resource verified (e.g. the lot's URI).
    pub resource_uri: String,
    /// The order specification: `digest.sha256` = SHA-256 of the signed specification envelope.
    pub policy: ResourceRef,
    /// The evidence envelopes used, by digest.
    pub input_attestations: Vec<ResourceRef>,
    /// The verdict.
    pub verification_result: VerificationResult,
    /// `[SHINRAI_CONFORMITY_PASSED]` when passed, empty when failed.
    pub verified_levels: Vec<String>,
    /// Levels of upstream dependencies (materials' own VSAs), level -> count.
    #[serde(default)]
    pub dependency_levels: BTreeMap<String, u64>,
    /// Why it failed (empty when passed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Failure>,
}

impl Predicate for VsaPredicate {
    const PREDICATE_TYPE: &'static str = VSA_PREDICATE_TYPE;
}

impl VsaPredicate {
    /// Whether the verdict is PASSED.
    pub fn passed(&self) -> bool {
        self.verification_result == VerificationResult::Passed
    }
}

/// Reads the VSA of `statement` (which the caller verified) and checks it was made against
/// `spec`: its `policy.digest.sha256` must equal the specification envelope's SHA-256.
pub fn check_vsa_for_spec(statement: &Statement, spec: &VerifiedSpec) -> Result<VsaPredicate> {
    check_vsa_for_spec_digest(statement, spec.envelope_sha256())
}

/// [`check_vsa_for_spec`] with the specification envelope's SHA-256 given directly.
pub fn check_vsa_for_spec_digest(statement: &Statement, spec_sha256: &str) -> Result<VsaPredicate> {
    let vsa: VsaPredicate = statement.predicate_as()?;
    let found = vsa.policy.digest.get("sha256").cloned().unwrap_or_default();
    if found != spec_sha256 {
        return Err(Error::PolicyMismatch {
            expected: spec_sha256.to_owned(),
            found,
        });
    }
    Ok(vsa)
}

/// A VSA whose signature verified against the verifier's keys. Only [`verify_vsa`] builds it;
/// the chain walk checks each tier with it.
#[derive(Debug, Clone)]
pub struct VerifiedVsa {
    subjects: Vec<Subject>,
    predicate: VsaPredicate,
    signer_keyids: Vec<String>,
    envelope_sha256: String,
}

impl VerifiedVsa {
    /// What the VSA is about (the verified products).
    pub fn subjects(&self) -> &[Subject] {
        &self.subjects
    }

    /// The VSA predicate.
    pub fn predicate(&self) -> &VsaPredicate {
        &self.predicate
    }

    /// Keyids of the verifier keys that signed.
    pub fn signer_keyids(&self) -> &[String] {
        &self.signer_keyids
    }

    /// SHA-256 of the VSA envelope bytes as received.
    pub fn envelope_sha256(&self) -> &str {
        &self.envelope_sha256
    }

    /// Checks the VSA was made against the specification whose envelope SHA-256 is
    /// `spec_sha256`.
    pub fn check_policy(&self, spec_sha256: &str) -> Result<()> {
        let found = self
            .predicate
            .policy
            .digest
            .get("sha256")
            .cloned()
            .unwrap_or_default();
        if found == spec_sha256 {
            Ok(())
        } else {
            Err(Error::PolicyMismatch {
                expected: spec_sha256.to_owned(),
                found,
            })
        }
    }
}

/// Verifies a signed VSA: DSSE signature by `threshold` of `verifier_keys` over the bytes
/// received, statement shape, and predicate type [`VSA_PREDICATE_TYPE`].
pub fn verify_vsa(
    envelope_bytes: &[u8],
    verifier_keys: &[SslibKey],
    threshold: usize,
) -> Result<VerifiedVsa> {
    let verified = verify_statement(envelope_bytes, verifier_keys, threshold)?;
    let predicate: VsaPredicate = verified.value().predicate_as()?;
    Ok(VerifiedVsa {
        subjects: verified.value().subject.clone(),
        predicate,
        signer_keyids: verified.signer_keyids(),
        envelope_sha256: sha256_hex(envelope_bytes),
    })
}
