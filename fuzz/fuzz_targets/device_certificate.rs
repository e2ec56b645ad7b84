//! Device certificates and CycloneDX compositions received from devices and makers: parsing
//! never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = shinrai_attest::CertificateInfo::parse(data);
    let _ = shinrai_attest::Composition::from_cyclonedx(data);
});
