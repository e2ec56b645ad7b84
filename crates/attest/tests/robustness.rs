//! Every single-byte change to evidence or certificate is refused or contraindicated, never a
//! panic and never a pass on altered content (a cheap, deterministic stand-in for fuzzing).

mod common;

use common::{NOW, World, on_soft};
use shinrai_attest::{Attester, Status};

#[test]
fn no_single_byte_change_to_evidence_passes_or_panics() {
    on_soft(|store| {
        let mut w = World::new(store);
        let cert = w.device("dev-1", "SN-0001");
        let state = w.genuine_state();
        let ch = w.verifier.challenge(NOW).expect("challenge");
        let evidence = Attester::new(store, "dev-1", &cert)
            .expect("attester")
            .attest(&ch, &state, NOW)
            .expect("evidence");
        let original: serde_json::Value = serde_json::from_slice(&evidence).expect("json");
        for i in 0..evidence.len() {
            let mut m = evidence.clone();
            m[i] ^= 0x01;
            if let Ok(ear) = w.verifier.appraise(&m, &cert, NOW)
                && ear.status() == Status::Affirming
            {
                // Only a change outside the signed bytes (the keyid hint) may pass.
                let doc: serde_json::Value = serde_json::from_slice(&m).expect("parsed before");
                assert_eq!(doc["payload"], original["payload"], "byte {i}");
                assert_eq!(doc["payloadType"], original["payloadType"], "byte {i}");
            }
        }
    });
}

#[test]
fn no_single_byte_change_to_the_certificate_passes_or_panics() {
    on_soft(|store| {
        let mut w = World::new(store);
        let cert = w.device("dev-1", "SN-0001");
        let state = w.genuine_state();
        let ch = w.verifier.challenge(NOW).expect("challenge");
        let evidence = Attester::new(store, "dev-1", &cert)
            .expect("attester")
            .attest(&ch, &state, NOW)
            .expect("evidence");
        for flip in [0x01u8, 0x80, 0xff] {
            for i in 0..cert.len() {
                let mut m = cert.clone();
                m[i] ^= flip;
                if let Ok(ear) = w.verifier.appraise(&evidence, &m, NOW) {
                    let status = ear.status();
                    assert_ne!(
                        status,
                        Status::Affirming,
                        "byte {i} ^ {flip:#x}: {}",
                        ear.explain()
                    );
                }
            }
        }
        // The untouched pair still passes: no mutation consumed the nonce.
        let ear = w
            .verifier
            .appraise(&evidence, &cert, NOW)
            .expect("appraise");
        assert_eq!(ear.status(), Status::Affirming, "{}", ear.explain());
    });
}
