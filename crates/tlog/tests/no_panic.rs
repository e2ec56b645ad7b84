//! Parsers of untrusted input return errors, never panic, on mutated and truncated input
//! (a cheap stand-in until fuzz targets exist).

use shinrai_tlog::tiles::{decode_entry_bundle, decode_hash_tile};
use shinrai_tlog::{
    Checkpoint, Note, NoteVerifier, TilePath, verify_consistency_bytes, verify_inclusion_bytes,
    verify_note,
};

/// Small deterministic xorshift generator, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn mutations(seed: &[u8], rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for cut in 0..=seed.len() {
        out.push(seed[..cut].to_vec());
    }
    for _ in 0..2000 {
        let mut m = seed.to_vec();
        for _ in 0..(rng.next() % 4 + 1) {
            if m.is_empty() {
                break;
            }
            let i = (rng.next() % m.len() as u64) as usize;
            match rng.next() % 3 {
                0 => m[i] = rng.next() as u8,
                1 => {
                    m.remove(i);
                }
                _ => {
                    let pool = b"/.\n+0x\xe2\x80\x94 ";
                    m.insert(i, pool[(rng.next() % pool.len() as u64) as usize]);
                }
            }
        }
        out.push(m);
    }
    out
}

#[test]
fn parsers_do_not_panic_on_mutated_input() {
    let mut rng = Rng(0x5eed);
    let note = "shinrai.example/log\n5\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\next\n\n\u{2014} shinrai.example/log AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let v =
        NoteVerifier::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
            .expect("vkey");
    for m in mutations(note.as_bytes(), &mut rng) {
        let _ = Note::parse(&m);
        let _ = verify_note(&m, std::slice::from_ref(&v));
        if let Ok(s) = std::str::from_utf8(&m) {
            let _ = Checkpoint::parse(s);
            let _ = NoteVerifier::parse(s);
        }
    }
    for seed in [
        "tile/0/x001/x234/067.p/8",
        "tile/entries/x018/x446/x744/x073/x709/x551/615",
    ] {
        for m in mutations(seed.as_bytes(), &mut rng) {
            if let Ok(s) = std::str::from_utf8(&m)
                && let Ok(t) = TilePath::parse(s)
            {
                assert_eq!(t.to_string(), s, "only canonical paths parse");
            }
        }
    }
    let bundle = [0u8, 3, b'a', b'b', b'c', 0, 0, 1, 0];
    for m in mutations(&bundle, &mut rng) {
        let _ = decode_entry_bundle(&m);
        let _ = decode_hash_tile(&m, 1);
    }
}

#[test]
fn verifiers_do_not_panic_on_extreme_sizes() {
    let h = [0u8; 32];
    for (a, b) in [
        (0, 0),
        (0, u64::MAX),
        (u64::MAX, u64::MAX),
        (u64::MAX - 1, u64::MAX),
        (1, u64::MAX),
        (u64::MAX, 1),
    ] {
        for n in [0usize, 1, 63, 64, 65, 200] {
            let proof = vec![h; n];
            let _ = verify_inclusion_bytes(a, b, &h, &proof, &h);
            let _ = verify_consistency_bytes(a, b, &proof, &h, &h);
        }
        let _ = shinrai_tlog::inclusion_plan(a, b);
        let _ = shinrai_tlog::consistency_plan(a, b);
    }
}
