//! DER ECDSA signatures from untrusted envelopes: never panic, and a decoded value re-encodes to
//! something that decodes to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(fixed) = shinrai_scu::ecdsa_der_to_fixed(data) {
        let der = shinrai_scu::ecdsa_fixed_to_der(&fixed);
        assert_eq!(shinrai_scu::ecdsa_der_to_fixed(&der).ok(), Some(fixed));
    }
});
