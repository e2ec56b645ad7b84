//! What signs statements: the [`Signer`] trait and its SCU implementation.

use shinrai_scu::{KeyStore, PublicKey, Purpose, Signature};

use crate::keys::SslibKey;
use crate::{Error, Result};

/// Something that signs with one key and can name it.
///
/// ECDSA P-256 signers return the fixed `r || s` form, as [`KeyStore::sign`] does; the DSSE code
/// converts to DER itself and COSE uses the fixed form.
pub trait Signer {
    /// The public half of the signing key.
    fn public_key(&self) -> &PublicKey;

    /// Signs `message` (Ed25519 over the message, ECDSA P-256 over its SHA-256 digest).
    fn sign(&self, message: &[u8]) -> Result<Signature>;

    /// The key in securesystemslib form.
    fn sslib_key(&self) -> Result<SslibKey> {
        SslibKey::from_public_key(self.public_key())
    }

    /// The securesystemslib keyid of the signing key, written into signatures as a hint.
    fn keyid(&self) -> Result<String> {
        Ok(self.sslib_key()?.keyid())
    }
}

/// A [`Signer`] backed by a key in an SCU key store; every signature passes the key's usage
/// policy and lands in the store's audit log.
pub struct ScuSigner<'a> {
    store: &'a dyn KeyStore,
    label: String,
    purpose: Purpose,
    public: PublicKey,
}

impl<'a> ScuSigner<'a> {
    /// A signer for key `label` in `store`, signing for `purpose` (usually
    /// [`Purpose::statement`]). Reads the public key once.
    pub fn new(store: &'a dyn KeyStore, label: &str, purpose: Purpose) -> Result<Self> {
        let public = store.public_key(label).map_err(Error::Signing)?;
        Ok(ScuSigner {
            store,
            label: label.to_owned(),
            purpose,
            public,
        })
    }
}

impl std::fmt::Debug for ScuSigner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScuSigner")
            .field("label", &self.label)
            .field("purpose", &self.purpose)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl Signer for ScuSigner<'_> {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Signature> {
        self.store
            .sign(&self.label, &self.purpose, message)
            .map_err(Error::Signing)
    }
}
