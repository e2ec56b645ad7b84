//! Tile paths from HTTP requests and tile bytes from a mirror: parsing never panics, and a parsed
//! path formats back to the same string.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(p) = shinrai_tlog::tiles::TilePath::parse(s) {
            assert_eq!(p.to_string(), s);
        }
    }
    let _ = shinrai_tlog::tiles::decode_entry_bundle(data);
    if let Some((&w, rest)) = data.split_first() {
        let _ = shinrai_tlog::tiles::decode_hash_tile(rest, u16::from(w) + 1);
        let _ = shinrai_tlog::tiles::decode_entry_bundle_exact(rest, u16::from(w) + 1);
    }
});
