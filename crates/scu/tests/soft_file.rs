//! The soft backend's sealed file: permissions, and damage reported as errors, never panics.

use std::os::unix::fs::PermissionsExt;

use shinrai_scu::soft::{KdfParams, SoftKeyStore};
use shinrai_scu::{Algorithm, Error, KeyStore, Purpose, UsagePolicy};

const PASS: &str = "correct horse battery staple";

fn store_with_a_key() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("keys.scu");
    let store = SoftKeyStore::create_with(&path, PASS, KdfParams::insecure_fast_for_tests())
        .expect("create");
    store
        .generate(
            "k",
            Algorithm::Ed25519,
            UsagePolicy::new([Purpose::statement()]).expect("policy"),
        )
        .expect("generate");
    drop(store);
    (dir, path)
}

fn open_err(path: &std::path::Path) -> Error {
    SoftKeyStore::open(path, PASS)
        .map(|_| ())
        .expect_err("damaged store must not open")
}

#[test]
fn store_file_and_audit_log_have_mode_0600() {
    let (_dir, path) = store_with_a_key();
    for p in [path.clone(), SoftKeyStore::audit_path_for(&path)] {
        let mode = std::fs::metadata(&p)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", p.display());
    }
}

#[test]
fn refuses_to_overwrite_an_existing_store() {
    let (_dir, path) = store_with_a_key();
    assert!(matches!(
        SoftKeyStore::create_with(&path, PASS, KdfParams::insecure_fast_for_tests()),
        Err(Error::Io { .. })
    ));
    SoftKeyStore::open(&path, PASS).expect("still opens");
}

#[test]
fn truncated_file_is_reported_damaged() {
    let (_dir, path) = store_with_a_key();
    let bytes = std::fs::read(&path).expect("read");
    for len in [0, 1, bytes.len() / 2, bytes.len() - 2] {
        std::fs::write(&path, &bytes[..len]).expect("write");
        assert!(matches!(open_err(&path), Error::Damaged(_)), "length {len}");
    }
}

#[test]
fn file_that_is_not_json_is_reported_damaged() {
    let (_dir, path) = store_with_a_key();
    std::fs::write(&path, b"\x00\xffnot a key store").expect("write");
    assert!(matches!(open_err(&path), Error::Damaged(_)));
    std::fs::write(&path, b"{\"format\": \"something else\"}").expect("write");
    assert!(matches!(open_err(&path), Error::Damaged(_)));
}

#[test]
fn flipped_ciphertext_byte_is_reported_damaged_not_wrong_passphrase() {
    let (_dir, path) = store_with_a_key();
    let text = std::fs::read_to_string(&path).expect("read");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let ct = v["ciphertext"].as_str().expect("ciphertext").to_owned();
    // Change one base64 character in the middle: still base64, different bytes.
    let mut chars: Vec<char> = ct.chars().collect();
    let mid = chars.len() / 2;
    chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
    v["ciphertext"] = chars.into_iter().collect::<String>().into();
    std::fs::write(&path, v.to_string()).expect("write");
    let err = open_err(&path);
    assert!(matches!(err, Error::Damaged(_)), "{err}");
    assert!(err.to_string().contains("authentication"), "{err}");
}

#[test]
fn any_flipped_bit_gives_a_clear_error_and_never_a_panic() {
    let (_dir, path) = store_with_a_key();
    let bytes = std::fs::read(&path).expect("read");
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x01;
        std::fs::write(&path, &damaged).expect("write");
        match SoftKeyStore::open(&path, PASS) {
            Err(Error::Damaged(_) | Error::WrongPin) => {}
            Err(other) => panic!("byte {i}: unexpected error {other}"),
            // Flipping a bit can leave the JSON meaning unchanged only in a way that does not
            // matter (none known); anything that opens must still hold the key.
            Ok(store) => assert_eq!(store.list().expect("list").len(), 1, "byte {i}"),
        }
    }
}

#[test]
fn wrong_passphrase_is_reported_as_such() {
    let (_dir, path) = store_with_a_key();
    assert!(matches!(
        SoftKeyStore::open(&path, "Correct horse battery staple").map(|_| ()),
        Err(Error::WrongPin)
    ));
}

#[test]
fn debug_output_has_no_secrets() {
    let (_dir, path) = store_with_a_key();
    let store = SoftKeyStore::open(&path, PASS).expect("open");
    let debug = format!("{store:?}");
    assert!(!debug.contains(PASS));
    assert!(!debug.to_lowercase().contains("pkcs8"));
    assert!(debug.contains("keys.scu"));
}

#[test]
fn signing_unlimited_key_does_not_rewrite_the_sealed_file() {
    let (_dir, path) = store_with_a_key();
    let store = SoftKeyStore::open(&path, PASS).expect("open");
    let before = std::fs::read(&path).expect("read");
    for _ in 0..10 {
        store.sign("k", &Purpose::statement(), b"m").expect("sign");
    }
    assert_eq!(std::fs::read(&path).expect("read"), before);
    drop(store);
    // Closing the store saves the use count and the audit head.
    let store = SoftKeyStore::open(&path, PASS).expect("reopen");
    assert_eq!(store.list().expect("list")[0].uses, 10);
    assert!(store.audit().expect("audit").is_intact());
}

#[test]
fn store_cannot_be_opened_twice_at_once() {
    let (_dir, path) = store_with_a_key();
    let first = SoftKeyStore::open(&path, PASS).expect("open");
    let err = SoftKeyStore::open(&path, PASS)
        .map(|_| ())
        .expect_err("second open");
    assert!(err.to_string().contains("in use"), "{err}");
    drop(first);
    SoftKeyStore::open(&path, PASS).expect("open after close");
}

#[test]
fn file_asking_for_huge_argon2_memory_is_refused_before_deriving() {
    let (_dir, path) = store_with_a_key();
    let text = std::fs::read_to_string(&path).expect("read");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["header"]["kdf"]["m_kib"] = 4_000_000_000u32.into();
    std::fs::write(&path, v.to_string()).expect("write");
    let err = open_err(&path);
    assert!(matches!(err, Error::Damaged(_)), "{err}");
    assert!(err.to_string().contains("Argon2id"), "{err}");
}
