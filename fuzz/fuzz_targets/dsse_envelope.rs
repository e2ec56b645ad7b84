//! DSSE envelopes from the network: parsing and verification never panic; a parsed envelope
//! re-serialises to one that parses to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shinrai_envelope::dsse::Envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::parse(data) {
        let again = Envelope::parse(&env.to_json_bytes()).expect("re-serialised envelope parses");
        assert_eq!(again, env);
        let _ = shinrai_envelope::statement::verify_statement(data, &[], 1);
    }
});
