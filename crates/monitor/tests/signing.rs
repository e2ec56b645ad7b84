//! Models signed with an SCU key verify only with that key and only unaltered.

mod common;

use common::*;
use shinrai_monitor::run::learn_capture;
use shinrai_monitor::signing::{MODEL_PURPOSE, sign_model, verify_model};
use shinrai_scu::soft::SoftKeyStore;
use shinrai_scu::{Algorithm, KeyStore, Purpose, UsagePolicy};

#[test]
fn signed_model_verifies_with_its_key_and_rejects_tampering_or_other_keys() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = SoftKeyStore::create(dir.path().join("ks.json"), "correct horse").expect("store");
    let policy = UsagePolicy::new([Purpose::new(MODEL_PURPOSE).expect("purpose")]).expect("policy");
    store
        .generate("analysis", Algorithm::Ed25519, policy.clone())
        .expect("key");
    store
        .generate("other", Algorithm::EcdsaP256, policy)
        .expect("key");
    let (model, _) = learn_capture(&capture(&normal(T0, 120, 0)), &mut |_| {}).expect("learn");
    let env = sign_model(&model, &store, "analysis").expect("sign");
    let pk = store.public_key("analysis").expect("pk");
    let verified = verify_model(&env, std::slice::from_ref(&pk)).expect("verifies");
    assert_eq!(verified.model(), &model);
    let other = store.public_key("other").expect("pk");
    assert!(
        verify_model(&env, &[other]).is_err(),
        "another key must not verify"
    );
    let mut v: serde_json::Value = serde_json::from_str(&env).expect("json");
    let tampered = model.to_json().replace("\"port\":502", "\"port\":503");
    use base64::Engine as _;
    v["payload"] = base64::engine::general_purpose::STANDARD
        .encode(tampered)
        .into();
    assert!(
        verify_model(&v.to_string(), &[pk]).is_err(),
        "altered model must not verify"
    );
}
