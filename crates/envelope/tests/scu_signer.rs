//! Signing with real SCU keys (the soft backend): policy and algorithms carry through.

use shinrai_envelope::cose::{sign1, verify_sign1};
use shinrai_envelope::statement::{Statement, Subject, sign_statement, verify_statement};
use shinrai_envelope::{Error, ScuSigner, Signer};
use shinrai_scu::soft::{KdfParams, SoftKeyStore};
use shinrai_scu::{Algorithm, KeyStore, Purpose, UsagePolicy};

fn store(dir: &tempfile::TempDir) -> SoftKeyStore {
    SoftKeyStore::create_with(
        dir.path().join("keys.scu"),
        "pw",
        KdfParams::insecure_fast_for_tests(),
    )
    .expect("store")
}

fn statement() -> Statement {
    Statement::new(
        vec![Subject::for_content("a", b"a")],
        "https://example.org/p/v1",
        serde_json::json!({}),
    )
    .expect("statement")
}

#[test]
fn scu_keys_sign_statements_and_cose_messages_that_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    for (label, alg) in [
        ("org", Algorithm::Ed25519),
        ("device", Algorithm::EcdsaP256),
    ] {
        let policy = UsagePolicy::new([Purpose::statement()]).expect("policy");
        store.generate(label, alg, policy).expect("generate");
        let signer = ScuSigner::new(&store, label, Purpose::statement()).expect("signer");
        let key = signer.sslib_key().expect("key");

        let env = sign_statement(&statement(), &[&signer]).expect("sign");
        let v =
            verify_statement(&env.to_json_bytes(), std::slice::from_ref(&key), 1).expect("verify");
        assert_eq!(v.signers(), std::slice::from_ref(&key));

        let cose = sign1(b"{}", "application/json", "org:acme", "lot-1", &signer).expect("cose");
        let v = verify_sign1(&cose, &[key]).expect("verify cose");
        assert_eq!(v.value().sub, "lot-1");
    }
}

#[test]
fn key_store_policy_refusal_surfaces_as_a_signing_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(&dir);
    let policy = UsagePolicy::new([Purpose::checkpoint()]).expect("policy");
    store
        .generate("log", Algorithm::Ed25519, policy)
        .expect("generate");
    let signer = ScuSigner::new(&store, "log", Purpose::statement()).expect("signer");
    let err = sign_statement(&statement(), &[&signer]).expect_err("policy refuses");
    assert!(
        matches!(
            err,
            Error::Signing(shinrai_scu::Error::PolicyViolation { .. })
        ),
        "{err}"
    );
}
