//! DSSE envelopes for evidence and attestation results, through `shinrai-envelope`.
//!
//! The wire form is the project's DSSE JSON (`payloadType`, padded standard base64 `payload`,
//! `signatures[{keyid, sig}]` with the securesystemslib keyid, ECDSA signatures in DER), so
//! securesystemslib and Python in-toto can read what devices sign. Verification here checks the
//! signatures over the received bytes against one known public key (the certified device key),
//! which is all appraisal needs and avoids re-deriving a securesystemslib key per appraisal.

use shinrai_envelope::ScuSigner;
use shinrai_envelope::dsse::{Envelope, MAX_ENVELOPE_BYTES};
use shinrai_scu::{KeyStore, Purpose};

use crate::{Error, Result};

/// Largest signed object this crate reads (the trust store's entry limit).
pub const MAX_SIGNED_BYTES: usize = MAX_ENVELOPE_BYTES;

fn signing_error(e: shinrai_envelope::Error) -> Error {
    match e {
        shinrai_envelope::Error::Signing(scu) => Error::Scu(scu),
        other => Error::InvalidArgument(format!("could not sign: {other}")),
    }
}

/// Signs `payload` with key `label` of `store` for `purpose`; returns the DSSE JSON bytes.
pub(crate) fn sign(
    store: &dyn KeyStore,
    label: &str,
    purpose: &Purpose,
    payload_type: &str,
    payload: &[u8],
) -> Result<Vec<u8>> {
    let signer = ScuSigner::new(store, label, purpose.clone()).map_err(signing_error)?;
    let env = Envelope::sign(payload_type, payload, &[&signer]).map_err(signing_error)?;
    Ok(env.to_json_bytes())
}

/// A parsed, not yet verified, DSSE envelope.
pub(crate) struct Opened {
    pub payload_type: String,
    pub payload: Vec<u8>,
    /// Raw signature bytes (DER for ECDSA).
    pub signatures: Vec<Vec<u8>>,
    pae: Vec<u8>,
}

impl Opened {
    /// The bytes the signatures cover.
    pub fn pae(&self) -> &[u8] {
        &self.pae
    }
}

/// Reads DSSE JSON bytes; `what` names the object in error messages.
pub(crate) fn open(bytes: &[u8], what: &str) -> Result<Opened> {
    let env = Envelope::parse(bytes).map_err(|e| {
        Error::MalformedEvidence(format!("{what} is not a valid DSSE envelope: {e}"))
    })?;
    let pae = env.pae();
    Ok(Opened {
        pae,
        payload_type: env.payload_type,
        payload: env.payload,
        signatures: env.signatures.into_iter().map(|s| s.sig).collect(),
    })
}
