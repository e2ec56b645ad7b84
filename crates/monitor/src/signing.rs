//! Signed models: a learned model travels from the analysis server to sensors as a DSSE envelope
//! (`payloadType` [`MODEL_PAYLOAD_TYPE`]) signed by an SCU key with purpose [`MODEL_PURPOSE`].
//! Verification is over the received payload bytes; only [`verify_model`] builds a
//! [`VerifiedModel`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use shinrai_scu::{KeyStore, PublicKey, Purpose};

use crate::engine::Model;
use crate::error::{MonitorError, Result};

/// DSSE payload type of a monitor model.
pub const MODEL_PAYLOAD_TYPE: &str = "application/vnd.shinrai.monitor-model+json";
/// SCU usage purpose a key needs to sign models.
pub const MODEL_PURPOSE: &str = "monitor-model";

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Hex SHA-256 of the public key bytes.
    pub keyid: String,
    /// Base64 signature over the DSSE pre-authentication encoding.
    pub sig: String,
}

/// A DSSE envelope holding a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelEnvelope {
    /// Always [`MODEL_PAYLOAD_TYPE`].
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Base64 of the model JSON.
    pub payload: String,
    /// Signatures.
    pub signatures: Vec<EnvelopeSignature>,
}

/// A model whose signature was checked against a trusted key.
#[derive(Debug, Clone)]
pub struct VerifiedModel {
    model: Model,
    keyid: String,
}

impl VerifiedModel {
    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Key id of the key that signed it.
    pub fn keyid(&self) -> &str {
        &self.keyid
    }
}

/// DSSE v1 pre-authentication encoding.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

/// Key id of a public key: hex SHA-256 of its bytes.
pub fn keyid(key: &PublicKey) -> String {
    hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &key.bytes,
    ))
}

/// Signs a model with the key `label` of an SCU key store (the key must allow the purpose
/// [`MODEL_PURPOSE`]). Returns the envelope as JSON.
pub fn sign_model(model: &Model, store: &dyn KeyStore, label: &str) -> Result<String> {
    let body = model.to_json().into_bytes();
    let purpose =
        Purpose::new(MODEL_PURPOSE).map_err(|e| MonitorError::Signature(e.to_string()))?;
    let sig = store
        .sign(label, &purpose, &pae(MODEL_PAYLOAD_TYPE, &body))
        .map_err(|e| MonitorError::Signature(format!("signing with key `{label}`: {e}")))?;
    let pk = store
        .public_key(label)
        .map_err(|e| MonitorError::Signature(e.to_string()))?;
    let env = ModelEnvelope {
        payload_type: MODEL_PAYLOAD_TYPE.into(),
        payload: B64.encode(&body),
        signatures: vec![EnvelopeSignature {
            keyid: keyid(&pk),
            sig: B64.encode(&sig.bytes),
        }],
    };
    serde_json::to_string(&env).map_err(|e| MonitorError::Signature(e.to_string()))
}

/// True if the text looks like a model envelope rather than a bare model.
pub fn is_envelope(text: &str) -> bool {
    serde_json::from_str::<ModelEnvelope>(text).is_ok()
}

/// Verifies an envelope against trusted keys and parses the signed bytes as a model.
pub fn verify_model(envelope_json: &str, trusted: &[PublicKey]) -> Result<VerifiedModel> {
    let bad = |m: &str| MonitorError::Signature(m.to_string());
    let env: ModelEnvelope = serde_json::from_str(envelope_json)
        .map_err(|e| bad(&format!("not a DSSE envelope: {e}")))?;
    if env.payload_type != MODEL_PAYLOAD_TYPE {
        return Err(bad(&format!(
            "payload type `{}` is not a monitor model",
            env.payload_type
        )));
    }
    let body = B64
        .decode(&env.payload)
        .map_err(|_| bad("payload is not base64"))?;
    let msg = pae(&env.payload_type, &body);
    for s in &env.signatures {
        let Ok(sig) = B64.decode(&s.sig) else {
            continue;
        };
        for k in trusted {
            if keyid(k) == s.keyid && k.verify(&msg, &sig).is_ok() {
                let text = std::str::from_utf8(&body).map_err(|_| bad("payload is not UTF-8"))?;
                return Ok(VerifiedModel {
                    model: Model::from_json(text)?,
                    keyid: s.keyid.clone(),
                });
            }
        }
    }
    Err(bad(
        "no signature by a trusted key verifies; the model was altered or signed by another key",
    ))
}
