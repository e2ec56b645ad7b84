//! The trust store through the `shinrai` binary, as the README shows it: init, serve, register,
//! search, receipt verify, log audit.

mod common;
use common::*;

#[test]
fn register_search_receipt_and_audit_as_the_readme_shows() {
    let env = Env::new(Backend::Soft);
    let public = env.key("acme", "ed25519");
    let part = env.write("part.bin", b"bracket A, lot 7");
    env.ok(&[
        "sign",
        "--key",
        "acme",
        "--subject",
        &part,
        "--out",
        "part.dsse.json",
    ]);
    let init: serde_json::Value = serde_json::from_str(&env.ok(&[
        "init",
        "--data",
        "store",
        "--org",
        "acme",
        "--org-key",
        &public,
    ]))
    .expect("init prints JSON");
    let token = init["token"].as_str().expect("token").to_owned();
    let log_key = init["log_key"].as_str().expect("log key").to_owned();

    let server = serve(&env, "store");
    let id = env.ok(&[
        "register",
        "part.dsse.json",
        "--server",
        &server.url,
        "--token",
        &token,
    ]);
    assert_eq!(id.trim().len(), 64, "register prints the entry id: {id}");

    let found = env.ok(&[
        "search",
        "--server",
        &server.url,
        "--subject-name",
        "part.bin",
    ]);
    assert!(found.contains(id.trim()), "{found}");

    let ok = env.ok(&[
        "receipt",
        "verify",
        "--statement",
        "part.dsse.json",
        "--receipt",
        "part.dsse.json.receipt.json",
        "--log-key",
        &log_key,
    ]);
    assert!(ok.starts_with("OK"), "{ok}");

    // The receipt does not vouch for other bytes.
    let other = env.write("other.json", b"{}");
    let (code, text) = outcome(&env.run(&[
        "receipt",
        "verify",
        "--statement",
        &other,
        "--receipt",
        "part.dsse.json.receipt.json",
        "--log-key",
        &log_key,
    ]));
    assert_eq!(code, Some(1), "{text}");

    // `log audit` with its default state file in the current directory (a bare file name).
    env.ok(&[
        "log",
        "audit",
        "--server",
        &server.url,
        "--log-key",
        &log_key,
    ]);
    assert!(
        env.path("shinrai-audit.json").exists(),
        "the auditor remembers what it saw"
    );

    // A wrong token is refused and nothing is registered.
    let second = env.write("second.bin", b"other part");
    env.ok(&[
        "sign",
        "--key",
        "acme",
        "--subject",
        &second,
        "--out",
        "second.dsse.json",
    ]);
    let (code, text) = outcome(&env.run(&[
        "register",
        "second.dsse.json",
        "--server",
        &server.url,
        "--token",
        "shinrai_not_a_token",
    ]));
    assert_ne!(code, Some(0), "{text}");
    let found = env.ok(&[
        "search",
        "--server",
        &server.url,
        "--subject-name",
        "second.bin",
    ]);
    assert!(
        !found.contains("second.bin"),
        "an unauthenticated write was stored: {found}"
    );
}
