//! [`Verified`]: a value that passed signature verification.

use crate::keys::SslibKey;

/// A value read from a payload whose signatures verified against trusted keys.
///
/// Only this crate's verify functions build it, so code that accepts a `Verified<T>` knows the
/// check ran. It keeps the payload bytes exactly as signed (for hashing and logging) and the
/// trusted keys that signed them.
#[derive(Debug, Clone)]
pub struct Verified<T> {
    value: T,
    signers: Vec<SslibKey>,
    payload_type: String,
    payload: Vec<u8>,
}

impl<T> Verified<T> {
    pub(crate) fn new(
        value: T,
        signers: Vec<SslibKey>,
        payload_type: String,
        payload: Vec<u8>,
    ) -> Self {
        Verified {
            value,
            signers,
            payload_type,
            payload,
        }
    }

    /// Replaces the value, keeping the proof (crate-internal: only for values parsed from
    /// [`Verified::payload_bytes`]).
    pub(crate) fn with_value<U>(self, value: U) -> Verified<U> {
        Verified {
            value,
            signers: self.signers,
            payload_type: self.payload_type,
            payload: self.payload,
        }
    }

    /// The verified value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The verified value, dropping the proof.
    pub fn into_value(self) -> T {
        self.value
    }

    /// The distinct trusted keys whose signatures verified, in the order of the trusted list.
    pub fn signers(&self) -> &[SslibKey] {
        &self.signers
    }

    /// The keyids of [`Verified::signers`].
    pub fn signer_keyids(&self) -> Vec<String> {
        self.signers.iter().map(SslibKey::keyid).collect()
    }

    /// The payload type that was signed (DSSE `payloadType`, COSE content type).
    pub fn payload_type(&self) -> &str {
        &self.payload_type
    }

    /// The payload bytes exactly as signed and received.
    pub fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }
}
