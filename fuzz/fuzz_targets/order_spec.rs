//! Order specifications (their predicate JSON, CEL rules included): parsing and validation
//! (which compiles every CEL rule) never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = serde_json::from_slice::<shinrai_conformity::spec::OrderSpec>(data) {
        let _ = spec.validate();
    }
});
