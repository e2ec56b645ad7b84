//! COSE_Sign1 messages from SCITT clients: verification with no trusted key never panics and
//! never succeeds.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(shinrai_envelope::cose::verify_sign1(data, &[]).is_err());
});
