//! An in-memory signer on aws-lc-rs key pairs, for unit tests only.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use shinrai_envelope::Signer;
use shinrai_scu::{Algorithm, PublicKey, Signature};

pub(crate) enum MemSigner {
    Ed(Ed25519KeyPair, PublicKey),
    Ec(EcdsaKeyPair, PublicKey),
}

impl MemSigner {
    pub(crate) fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Ed25519 => {
                let kp = Ed25519KeyPair::generate().expect("ed25519 keygen");
                let pk = PublicKey::from_bytes(algorithm, kp.public_key().as_ref()).expect("pk");
                MemSigner::Ed(kp, pk)
            }
            Algorithm::EcdsaP256 => {
                let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("keygen");
                let pk = PublicKey::from_bytes(algorithm, kp.public_key().as_ref()).expect("pk");
                MemSigner::Ec(kp, pk)
            }
        }
    }
}

impl Signer for MemSigner {
    fn public_key(&self) -> &PublicKey {
        match self {
            MemSigner::Ed(_, pk) | MemSigner::Ec(_, pk) => pk,
        }
    }

    fn sign(&self, message: &[u8]) -> shinrai_envelope::Result<Signature> {
        Ok(match self {
            MemSigner::Ed(kp, pk) => Signature {
                algorithm: pk.algorithm,
                bytes: kp.sign(message).as_ref().to_vec(),
            },
            MemSigner::Ec(kp, pk) => Signature {
                algorithm: pk.algorithm,
                bytes: kp
                    .sign(&SystemRandom::new(), message)
                    .expect("sign")
                    .as_ref()
                    .to_vec(),
            },
        })
    }
}
