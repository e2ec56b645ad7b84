//! Signed sensor-reading messages from MQTT: the registry's check never panics and never accepts
//! a message that the registered device key did not sign.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shinrai_evidence::sensor::DeviceRegistry;
use std::sync::OnceLock;

const REGISTRY: &str = r#"{
  "shops": [{"id": "shop-1", "name": "Shop"}],
  "devices": [{"id": "dev-1", "shop": "shop-1", "key": {
    "keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256",
    "keyval": {"public": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEwdY2DomNDM8T6fOeNnf1xKlRpHsz\n/+sCApkA0KfNye3XI4tmno/5NzEPRRdIf3vJhgRkO0JRKY0nm8wzQc7KQg==\n-----END PUBLIC KEY-----\n"}}}]
}"#;

fn registry() -> &'static DeviceRegistry {
    static R: OnceLock<DeviceRegistry> = OnceLock::new();
    R.get_or_init(|| DeviceRegistry::from_json(REGISTRY.as_bytes()).expect("fuzz registry"))
}

fuzz_target!(|data: &[u8]| {
    // The private half of the registered key is not in this program: nothing can verify.
    assert!(registry().verify(data).is_err());
});
