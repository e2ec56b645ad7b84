//! Measures DSSE statement signing and verification and COSE_Sign1 verification per algorithm.
//! Run: `cargo run --release -p shinrai-envelope --example envelope_throughput`.

use std::time::Instant;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use shinrai_envelope::statement::{Statement, Subject, sign_statement, verify_statement};
use shinrai_envelope::{Result, Signer, cose};
use shinrai_scu::{Algorithm, PublicKey, Signature};

enum KeyPair {
    Ed(Ed25519KeyPair, PublicKey),
    Ec(EcdsaKeyPair, PublicKey),
}

impl Signer for KeyPair {
    fn public_key(&self) -> &PublicKey {
        match self {
            KeyPair::Ed(_, pk) | KeyPair::Ec(_, pk) => pk,
        }
    }
    fn sign(&self, message: &[u8]) -> Result<Signature> {
        let bytes = match self {
            KeyPair::Ed(kp, _) => kp.sign(message).as_ref().to_vec(),
            KeyPair::Ec(kp, _) => kp
                .sign(&SystemRandom::new(), message)
                .map_err(|_| shinrai_envelope::Error::Internal("sign".into()))?
                .as_ref()
                .to_vec(),
        };
        Ok(Signature {
            algorithm: self.public_key().algorithm,
            bytes,
        })
    }
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let ed = Ed25519KeyPair::generate()?;
    let ed_pk = PublicKey::from_bytes(Algorithm::Ed25519, ed.public_key().as_ref())?;
    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?;
    let ec_pk = PublicKey::from_bytes(Algorithm::EcdsaP256, ec.public_key().as_ref())?;
    let statement = Statement::new(
        vec![Subject::for_content("event", b"event bytes")],
        "https://example.org/torque/v1",
        serde_json::json!({ "torqueMilliNm": 22500, "readings": vec![1; 50] }),
    )?;
    for (name, signer) in [
        ("ed25519", KeyPair::Ed(ed, ed_pk)),
        ("p256", KeyPair::Ec(ec, ec_pk)),
    ] {
        let key = signer.sslib_key()?;
        let n = 2000;
        let t = Instant::now();
        let mut env = Vec::new();
        for _ in 0..n {
            env = sign_statement(&statement, &[&signer])?.to_json_bytes();
        }
        let sign = t.elapsed().as_secs_f64() / n as f64;
        let t = Instant::now();
        for _ in 0..n {
            verify_statement(&env, std::slice::from_ref(&key), 1)?;
        }
        let verify = t.elapsed().as_secs_f64() / n as f64;
        let msg = cose::sign1(&env, "application/json", "iss", "sub", &signer)?;
        let t = Instant::now();
        for _ in 0..n {
            cose::verify_sign1(&msg, std::slice::from_ref(&key))?;
        }
        let cose_verify = t.elapsed().as_secs_f64() / n as f64;
        println!(
            "{name}: envelope {} bytes; DSSE sign {:.1} µs, DSSE parse+verify {:.1} µs ({:.0}/s), COSE verify {:.1} µs",
            env.len(),
            sign * 1e6,
            verify * 1e6,
            1.0 / verify,
            cose_verify * 1e6
        );
    }
    Ok(())
}
