//! End-to-end tests against a real server process (`shinrai serve`) on port 0: crash safety under SIGKILL, tamper evidence via `log audit`.

// The server tests' fixtures (an organisation key, a store made in process, statements).
#[path = "../../server/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use shinrai_store::audit::{LogSource, SeenCheckpoint, audit};
use shinrai_store::note::{Checkpoint, NoteVerifier};
use shinrai_store::{Admin, Receipt, verify_receipt};

use common::*;

/// Acknowledged registrations: entry bytes and their receipts.
type Acked = Vec<(Vec<u8>, Receipt)>;

const BIN: &str = env!("CARGO_BIN_EXE_shinrai");

/// A server child process, killed when dropped (also when a test fails).
struct Server(Child);

impl Server {
    fn kill(&mut self) -> std::io::Result<()> {
        self.0.kill()?;
        self.0.wait().map(|_| ())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve` and waits for its "listening on" line (readiness, not a sleep).
fn spawn_server(dir: &std::path::Path) -> (Server, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--data"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (Server(child), url)
}

struct Http(tokio::runtime::Handle, reqwest::Client, String);

impl Http {
    fn get(&self, path: &str) -> shinrai_store::Result<Vec<u8>> {
        let (c, url) = (self.1.clone(), format!("{}{path}", self.2));
        let r = self.0.block_on(async move {
            let r = c.get(url).send().await.ok()?;
            if !r.status().is_success() {
                return None;
            }
            Some(r.bytes().await.ok()?.to_vec())
        });
        r.ok_or_else(|| shinrai_store::Error::NotFound(path.to_owned()))
    }
}

fn idx(n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    let mut n = n / 1000;
    while n > 0 {
        parts.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    parts.reverse();
    parts.join("/")
}

impl LogSource for Http {
    fn checkpoint(&mut self) -> shinrai_store::Result<String> {
        Ok(String::from_utf8_lossy(&self.get("/log/checkpoint")?).into_owned())
    }
    fn tile(&mut self, l: u8, i: u64, w: Option<u16>) -> shinrai_store::Result<Vec<u8>> {
        let p = w.map(|w| format!(".p/{w}")).unwrap_or_default();
        self.get(&format!("/log/tile/{l}/{}{p}", idx(i)))
    }
    fn bundle(&mut self, i: u64, w: Option<u16>) -> shinrai_store::Result<Vec<u8>> {
        let p = w.map(|w| format!(".p/{w}")).unwrap_or_default();
        self.get(&format!("/log/tile/entries/{}{p}", idx(i)))
    }
}

#[test]
fn sigkill_during_writes_loses_no_acknowledged_entry_and_keeps_every_checkpoint_consistent() {
    let log = TestLog::new();
    let (mut child, url) = spawn_server(log.dir.path());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let acked: Arc<Mutex<Acked>> = Arc::default();
    let org = Arc::new(log.org);
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut tasks = Vec::new();
        for w in 0..16u64 {
            let (client, url, token, acked, org) = (
                client.clone(),
                url.clone(),
                log.token.clone(),
                acked.clone(),
                org.clone(),
            );
            tasks.push(tokio::spawn(async move {
                for i in 0..100_000u64 {
                    let e = org.sign(&statement("crash", &hex_of(w * 1_000_000 + i), &[]));
                    let r = client
                        .post(format!("{url}/entries"))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(e.clone())
                        .send()
                        .await;
                    let Ok(r) = r else { return };
                    if r.status().as_u16() != 201 {
                        return;
                    }
                    let Ok(v) = r.json::<Value>().await else {
                        return;
                    };
                    let receipt: Receipt =
                        serde_json::from_value(v["receipt"].clone()).expect("receipt");
                    acked.lock().expect("lock").push((e, receipt));
                }
            }));
        }
        // Kill once a good number of writes were acknowledged, while writers are still going.
        while acked.lock().expect("lock").len() < 400 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        child.kill().expect("SIGKILL");
        for t in tasks {
            let _ = t.await;
        }
    });
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 400);

    let (mut child, url) = spawn_server(log.dir.path());
    let mut http = Http(rt.handle().clone(), reqwest::Client::new(), url.clone());
    let vkey = String::from_utf8(http.get("/log/key").expect("key")).expect("utf8");
    assert_eq!(vkey.trim(), log.log_key, "same log key after restart");
    let latest = Checkpoint::parse(
        NoteVerifier::parse(&log.log_key)
            .expect("vkey")
            .verify(&http.checkpoint().expect("checkpoint"))
            .expect("signed"),
    )
    .expect("checkpoint");
    let mut seen = std::collections::BTreeMap::new();
    for (entry, receipt) in &acked {
        // Every acknowledged entry is present at the index its receipt gave...
        let e: Value = serde_json::from_slice(
            &http
                .get(&format!("/entries/{}", receipt.id))
                .expect("acknowledged entry present"),
        )
        .expect("json");
        assert_eq!(e["index"].as_u64(), Some(receipt.log_index));
        // ...and its receipt still verifies.
        let cp = verify_receipt(entry, receipt, &log.log_key).expect("receipt verifies");
        assert!(cp.size <= latest.size);
        seen.insert(cp.size, hex::encode(cp.root));
    }
    // The restarted log is consistent with every checkpoint it published before the crash.
    for (size, root) in seen.iter().rev().take(25) {
        let report = audit(
            &mut http,
            &log.log_key,
            Some(&SeenCheckpoint {
                size: *size,
                root: root.clone(),
            }),
        )
        .expect("audit runs");
        assert!(report.ok(), "checkpoint {size}: {:?}", report.problems);
    }
    // And it still takes writes.
    let e = org.sign(&statement("after", &hex_of(42), &[]));
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{url}/entries"))
            .bearer_auth(&log.token)
            .header("content-type", "application/json")
            .body(e)
            .send()
            .await
            .expect("post")
            .status()
    });
    assert_eq!(status.as_u16(), 201);
    child.kill().expect("kill");
}

fn audit_cli(url: &str, key: &str, state: &std::path::Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["log", "audit", "--server", url, "--log-key", key, "--state"])
        .arg(state)
        .output()
        .expect("run audit");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn editing_a_stored_entry_or_tile_is_reported_by_audit_and_receipt_verification() {
    let log = TestLog::new();
    let (mut child, url) = spawn_server(log.dir.path());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut entries = Vec::new();
    rt.block_on(async {
        let c = reqwest::Client::new();
        for i in 0..300u64 {
            let e = log.org.sign(&statement("t", &hex_of(i), &[]));
            let r = c
                .post(format!("{url}/entries"))
                .bearer_auth(&log.token)
                .header("content-type", "application/json")
                .body(e.clone())
                .send()
                .await
                .expect("post");
            assert_eq!(r.status().as_u16(), 201);
            let v: Value = r.json().await.expect("json");
            let receipt: Receipt = serde_json::from_value(v["receipt"].clone()).expect("receipt");
            entries.push((e, receipt));
        }
    });
    let state = log.dir.path().join("audit-state.json");
    let (ok, out) = audit_cli(&url, &log.log_key, &state);
    assert!(ok, "clean log audits clean: {out}");

    // Tamper with one entry's bytes on disk (SQLite), keeping it valid JSON.
    let admin = Admin::open(log.dir.path()).expect("admin");
    admin
        .backend()
        .execute_raw("UPDATE entries SET body = CAST(replace(body, 'payloadType', 'payloadtype') AS BLOB) WHERE idx = 7")
        .expect("tamper entry");
    let (ok, out) = audit_cli(&url, &log.log_key, &state);
    assert!(!ok, "tampered entry must fail the audit");
    assert!(
        out.contains("tile 0/0 differs") || out.contains("root"),
        "{out}"
    );
    // Receipt verification of what the server now serves fails too.
    let http = Http(rt.handle().clone(), reqwest::Client::new(), url.clone());
    let served: Value =
        serde_json::from_slice(&http.get("/entries/7").expect("entry")).expect("json");
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(served["entry"].as_str().expect("entry"))
        .expect("b64");
    assert!(verify_receipt(&bytes, &entries[7].1, &log.log_key).is_err());
    admin
        .backend()
        .execute_raw("UPDATE entries SET body = CAST(replace(body, 'payloadtype', 'payloadType') AS BLOB) WHERE idx = 7")
        .expect("undo");
    assert!(
        audit_cli(&url, &log.log_key, &state).0,
        "restored log audits clean"
    );

    // Tamper with a hash tile: flip one leaf hash in tile 0/1 (a partial tile).
    admin
        .backend()
        .execute_raw("UPDATE tiles SET data = CAST(zeroblob(32) || substr(data, 33) AS BLOB) WHERE level = 0 AND idx = 1")
        .expect("tamper tile");
    let (ok, out) = audit_cli(&url, &log.log_key, &state);
    assert!(!ok, "tampered tile must fail the audit");
    assert!(out.contains("tile 0/1 differs"), "{out}");
    // A receipt computed now from the tampered tile does not verify against the signed checkpoint.
    let fresh: Receipt =
        serde_json::from_slice(&http.get("/entries/260/receipt").expect("receipt")).expect("json");
    assert!(verify_receipt(&entries[260].0, &fresh, &log.log_key).is_err());
    child.kill().expect("kill");
    // And the store refuses to start on a log whose tiles do not reproduce its checkpoint.
    assert!(shinrai_store::Store::open(log.dir.path()).is_err());
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().expect("run cli")
}

#[test]
fn cli_registers_and_verifies_receipts_offline_in_json_and_cose() {
    let log = TestLog::new();
    let (mut child, url) = spawn_server(log.dir.path());
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("stmt.dsse.json");
    let entry = log.org.sign(&statement("cli", &hex_of(77), &[&hex_of(76)]));
    std::fs::write(&file, &entry).expect("write");
    let f = file.to_str().expect("utf8");
    let out = cli(&["register", f, "--server", &url, "--token", &log.token]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(id.len(), 64);
    let receipt = format!("{f}.receipt.json");
    let ok = cli(&[
        "receipt",
        "verify",
        "--statement",
        f,
        "--receipt",
        &receipt,
        "--log-key",
        &log.log_key,
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    // The COSE form, fetched over HTTP, verifies offline too.
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let http = Http(rt.handle().clone(), reqwest::Client::new(), url.clone());
    let cose = http
        .get(&format!("/entries/{id}/receipt?format=cose"))
        .expect("cose");
    let cose_file = dir.path().join("r.cose");
    std::fs::write(&cose_file, cose).expect("write");
    let c = cose_file.to_str().expect("utf8");
    let ok = cli(&[
        "receipt",
        "verify",
        "--statement",
        f,
        "--receipt",
        c,
        "--log-key",
        &log.log_key,
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    // A changed statement fails both, with exit code 1.
    let mut bad = entry.clone();
    let n = bad.len();
    bad[n - 5] ^= 1;
    std::fs::write(&file, bad).expect("write");
    assert_eq!(
        cli(&[
            "receipt",
            "verify",
            "--statement",
            f,
            "--receipt",
            &receipt,
            "--log-key",
            &log.log_key
        ])
        .status
        .code(),
        Some(1)
    );
    assert_eq!(
        cli(&[
            "receipt",
            "verify",
            "--statement",
            f,
            "--receipt",
            c,
            "--log-key",
            &log.log_key
        ])
        .status
        .code(),
        Some(1)
    );

    // get, search and trace answer JSON.
    let out = cli(&["get", &id, "--server", &url]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["id"], id.as_str());
    let out = cli(&["search", "--server", &url, "--subject-digest", &hex_of(77)]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["entries"].as_array().map(Vec::len), Some(1));
    let out = cli(&[
        "trace",
        &format!("sha256:{}", hex_of(77)),
        "--server",
        &url,
        "--direction",
        "up",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["edges"][0]["input"], format!("sha256:{}", hex_of(76)));
    child.kill().expect("kill");
}
