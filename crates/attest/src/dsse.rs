//! A minimal DSSE v1 envelope (sign and open) used for evidence and attestation results.
//!
//! Isolated on purpose: when `shinrai-envelope` is stable, these two functions can be replaced by
//! its `Envelope::sign`/`Envelope::parse` without touching callers, because the wire form is the
//! same DSSE JSON (`payloadType`, base64 `payload`, `signatures[{keyid, sig}]`, standard base64
//! with padding, ECDSA signatures in DER).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use shinrai_scu::{KeyStore, Purpose};

use crate::{Error, Result};

/// Largest signed object this crate reads (the trust store's entry limit).
pub const MAX_SIGNED_BYTES: usize = 64 * 1024;

#[derive(Serialize, Deserialize)]
struct Wire {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<WireSig>,
}

#[derive(Serialize, Deserialize)]
struct WireSig {
    #[serde(default)]
    keyid: String,
    sig: String,
}

/// DSSE pre-authentication encoding: `"DSSEv1" SP len(type) SP type SP len(body) SP body`.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Signs `payload` with key `label` of `store` for `purpose`; returns the DSSE JSON bytes.
pub(crate) fn sign(
    store: &dyn KeyStore,
    label: &str,
    purpose: &Purpose,
    keyid: &str,
    payload_type: &str,
    payload: &[u8],
) -> Result<Vec<u8>> {
    let sig = store.sign(label, purpose, &pae(payload_type, payload))?;
    let wire = Wire {
        payload_type: payload_type.to_owned(),
        payload: STANDARD.encode(payload),
        signatures: vec![WireSig {
            keyid: keyid.to_owned(),
            sig: STANDARD.encode(sig.to_der()),
        }],
    };
    serde_json::to_vec(&wire).map_err(|e| Error::InvalidArgument(format!("encode envelope: {e}")))
}

/// A parsed, not yet verified, DSSE envelope.
pub(crate) struct Opened {
    pub payload_type: String,
    pub payload: Vec<u8>,
    /// Raw signature bytes (DER for ECDSA).
    pub signatures: Vec<Vec<u8>>,
}

impl Opened {
    /// The bytes the signatures cover.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

/// Reads DSSE JSON bytes; `what` names the object in error messages.
pub(crate) fn open(bytes: &[u8], what: &str) -> Result<Opened> {
    if bytes.len() > MAX_SIGNED_BYTES {
        return Err(Error::MalformedEvidence(format!(
            "{what} is {} bytes, more than the {MAX_SIGNED_BYTES}-byte limit",
            bytes.len()
        )));
    }
    let wire: Wire = serde_json::from_slice(bytes).map_err(|e| {
        Error::MalformedEvidence(format!("{what} is not a DSSE JSON envelope ({e})"))
    })?;
    let payload = STANDARD
        .decode(wire.payload.as_bytes())
        .map_err(|_| Error::MalformedEvidence(format!("{what}: payload is not base64")))?;
    if wire.signatures.is_empty() {
        return Err(Error::MalformedEvidence(format!(
            "{what} carries no signature"
        )));
    }
    let mut signatures = Vec::with_capacity(wire.signatures.len());
    for s in wire.signatures.iter().take(8) {
        signatures.push(
            STANDARD.decode(s.sig.as_bytes()).map_err(|_| {
                Error::MalformedEvidence(format!("{what}: a signature is not base64"))
            })?,
        );
    }
    Ok(Opened {
        payload_type: wire.payload_type,
        payload,
        signatures,
    })
}
