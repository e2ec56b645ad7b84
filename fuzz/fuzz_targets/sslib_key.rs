//! securesystemslib key files: never panic; a parsed key's public key is well formed.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = shinrai_envelope::keys::SslibKey::parse(data) {
        let _ = key.keyid();
        assert!(key.to_public_key().is_ok());
    }
});
