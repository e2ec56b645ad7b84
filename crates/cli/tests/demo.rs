//! The README's first command, `shinrai demo quickstart`, runs end to end and every check in it
//! behaves as a user is told it does.

use std::process::Command;

#[test]
fn quickstart_signs_verifies_registers_and_refuses_tampering() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_shinrai"))
        .args(["demo", "quickstart", "--dir"])
        .arg(dir.path().join("qs"))
        .output()
        .expect("shinrai runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "3. verify (threshold 2): OK",
        "tampered payload refused",
        "unknown signer refused",
        "outside its policy refused",
        "intact",
        "existing: true",
        "7. receipt checked offline",
    ] {
        assert!(text.contains(step), "missing {step:?} in:\n{text}");
    }
    // It kept its files in the directory asked for.
    assert!(dir.path().join("qs/production-record.dsse.json").exists());
    assert!(dir.path().join("qs/trust-store").is_dir());

    // A second run into the same directory refuses instead of overwriting the key store.
    let again = Command::new(env!("CARGO_BIN_EXE_shinrai"))
        .args(["demo", "quickstart", "--dir"])
        .arg(dir.path().join("qs"))
        .output()
        .expect("shinrai runs");
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
}
