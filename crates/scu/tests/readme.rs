//! The README example, run as a test; a second test checks the README still shows this code.

#[test]
fn readme_example_runs() -> Result<(), Box<dyn std::error::Error>> {
    use shinrai_scu::soft::{KdfParams, SoftKeyStore};
    use shinrai_scu::{Algorithm, KeyStore, Purpose, UsagePolicy};

    let dir = tempfile::tempdir()?;
    let store = SoftKeyStore::create_with(
        dir.path().join("keys.scu"),
        "correct horse battery staple",
        KdfParams::insecure_fast_for_tests(), // KdfParams::default() outside tests
    )?;
    let policy = UsagePolicy::new([Purpose::statement()])?.with_max_uses(1000);
    store.generate("org", Algorithm::Ed25519, policy)?;
    let sig = store.sign("org", &Purpose::statement(), b"payload")?;
    store.public_key("org")?.verify(b"payload", &sig.bytes)?;
    assert!(store.sign("org", &Purpose::checkpoint(), b"x").is_err()); // not in the policy
    assert!(store.audit()?.is_intact());
    Ok(())
}

#[test]
fn readme_shows_the_tested_example() {
    let readme = include_str!("../README.md");
    let start = readme.find("```rust\n").expect("rust block in README") + "```rust\n".len();
    let end = start + readme[start..].find("```").expect("end of block");
    let normalise = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    };
    let snippet = normalise(&readme[start..end]);
    let me = normalise(include_str!("readme.rs"));
    let found = me.windows(snippet.len()).any(|w| w == snippet.as_slice());
    assert!(
        found,
        "README example differs from tests/readme.rs: update one or the other"
    );
}
