//! Trust store commands: `init`, `org`, `serve`, `register`, `get`, `search`, `trace`,
//! `receipt verify`, `log audit` and `bench store`.
//!
//! ## Wiring in main.rs (for the lead)
//! - `cmd/mod.rs`: `pub mod store;`
//! - Cargo.toml of shinrai-cli: `shinrai-store`, `shinrai-server`, `tokio`, `reqwest` (workspace).
//! - `enum Command` variants and calls (each `run_*` returns `anyhow::Result<ExitCode>`):
//!   - `Init(cmd::store::InitArgs)` -> `cmd::store::run_init(a)`
//!   - `#[command(subcommand)] Org(cmd::store::OrgCmd)` -> `cmd::store::run_org(c)`
//!   - `Serve(cmd::store::ServeArgs)` -> `cmd::store::run_serve(a)`
//!   - `Register(cmd::store::RegisterArgs)` -> `cmd::store::run_register(a)`
//!   - `Get(cmd::store::GetArgs)` -> `cmd::store::run_get(a)`
//!   - `Search(cmd::store::SearchArgs)` -> `cmd::store::run_search(a)`
//!   - `Trace(cmd::store::TraceArgs)` -> `cmd::store::run_trace(a)`
//!   - `#[command(subcommand)] Receipt(cmd::store::ReceiptCmd)` -> `cmd::store::run_receipt(c)`
//!   - `#[command(subcommand)] Log(cmd::store::LogCmd)` -> `cmd::store::run_log(c)`
//!   - in `BenchCmd`: `Store(cmd::store::BenchStoreArgs)` -> `cmd::store::run_bench_store(a)`
//!
//! Exit codes: 0 success, 1 a verification or audit that failed, 2 usage or input errors
//! (returned as `Err`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use shinrai_store::audit::{LogSource, SeenCheckpoint, audit};
use shinrai_store::{Admin, Config, InitOptions, Receipt, Store, verify_receipt};

use super::client::api_error;

const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `shinrai init`: create a trust store data directory.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// Data directory to create (SQLite database, content folder, log key store).
    #[arg(long)]
    pub data: PathBuf,
    /// Name of the first organisation.
    #[arg(long)]
    pub org: String,
    /// Its public key (securesystemslib JSON).
    #[arg(long)]
    pub org_key: PathBuf,
    /// Log origin (checkpoint first line and note key name).
    #[arg(long, default_value = "shinrai.localhost/log")]
    pub origin: String,
    /// Most entries per batch.
    #[arg(long, default_value_t = 8192)]
    pub batch_max_entries: usize,
    /// Longest wait for a batch to fill, milliseconds (<= 1000); 0 = group commit: each batch
    /// takes what queued while the previous one committed.
    #[arg(long, default_value_t = 0)]
    pub batch_max_delay_ms: u64,
    /// Accepted predicate types (repeat); default any.
    #[arg(long = "allow-predicate")]
    pub allow_predicate: Vec<String>,
}

/// Runs `shinrai init`. The log key store passphrase is `SHINRAI_LOG_PASSPHRASE` if set, else a
/// generated one saved in `DIR/keys/log.pass` (mode 0600).
pub fn run_init(a: InitArgs) -> Result<ExitCode> {
    let key =
        std::fs::read(&a.org_key).with_context(|| format!("reading {}", a.org_key.display()))?;
    let mut config = Config {
        origin: a.origin,
        batch_max_entries: a.batch_max_entries,
        batch_max_delay_ms: a.batch_max_delay_ms,
        ..Config::default()
    };
    if !a.allow_predicate.is_empty() {
        config.allowed_predicate_types = a.allow_predicate;
    }
    let report = Store::init(
        &a.data,
        InitOptions {
            config,
            org: a.org,
            org_key_json: key,
            passphrase: std::env::var(shinrai_store::PASSPHRASE_ENV).ok(),
            kdf: Default::default(),
        },
    )?;
    print_json(&report)?;
    eprintln!("keep the token: only its hash is stored");
    Ok(ExitCode::SUCCESS)
}

/// `shinrai org ...`: organisations, keys and tokens (works while a server runs).
#[derive(clap::Subcommand, Debug)]
pub enum OrgCmd {
    /// Add an organisation (optionally with a key); prints its new API token.
    Add {
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
        /// Organisation name.
        name: String,
        /// Public key file (securesystemslib JSON).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Add a key to an organisation.
    AddKey {
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
        /// Organisation name.
        name: String,
        /// Public key file (securesystemslib JSON).
        #[arg(long)]
        key: PathBuf,
    },
    /// Create another API token for an organisation.
    Token {
        /// Data directory.
        #[arg(long)]
        data: PathBuf,
        /// Organisation name.
        name: String,
    },
}

/// Runs `shinrai org`.
pub fn run_org(c: OrgCmd) -> Result<ExitCode> {
    match c {
        OrgCmd::Add { data, name, key } => {
            let key = key
                .map(std::fs::read)
                .transpose()
                .context("reading the key file")?;
            let (k, token) = Admin::open(&data)?.add_org(&name, key.as_deref())?;
            print_json(
                &serde_json::json!({"org": name, "keyid": k.map(|k| k.keyid), "token": token}),
            )?;
        }
        OrgCmd::AddKey { data, name, key } => {
            let k = Admin::open(&data)?
                .add_key(&name, &std::fs::read(&key).context("reading the key file")?)?;
            print_json(&serde_json::json!({"org": name, "keyid": k.keyid}))?;
        }
        OrgCmd::Token { data, name } => {
            let token = Admin::open(&data)?.new_token(&name)?;
            print_json(&serde_json::json!({"org": name, "token": token}))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `shinrai serve`: run the HTTP API over a data directory.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Data directory (from `shinrai init`).
    #[arg(long)]
    pub data: PathBuf,
    /// Address to listen on (port 0 picks a free port; the address is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

/// Runs `shinrai serve` until SIGINT/SIGTERM. Prints `listening on http://ADDR` on stdout.
pub fn run_serve(a: ServeArgs) -> Result<ExitCode> {
    let store = Store::open(&a.data)?;
    let rt = runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("listening on {}", a.listen))?;
        let addr = listener.local_addr()?;
        println!("listening on http://{addr}");
        use std::io::Write;
        std::io::stdout().flush()?;
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        };
        shinrai_server::serve(shinrai_server::AppState::new(store), listener, shutdown).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Where a client command finds the server.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArg {
    /// Trust store URL.
    #[arg(long, env = "SHINRAI_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
}

/// `shinrai register`: register a signed statement (DSSE envelope JSON or COSE_Sign1).
#[derive(clap::Args)]
pub struct RegisterArgs {
    /// The DSSE envelope file.
    pub file: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArg,
    /// Organisation API token.
    #[arg(long, env = "SHINRAI_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Where to save the receipt (default: FILE.receipt.json).
    #[arg(long)]
    pub receipt: Option<PathBuf>,
}

impl std::fmt::Debug for RegisterArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterArgs")
            .field("file", &self.file)
            .field("server", &self.server)
            .field("token", &"<redacted>")
            .field("receipt", &self.receipt)
            .finish()
    }
}

async fn send(req: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>)> {
    let resp = req.send().await.context("contacting the trust store")?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await?.to_vec();
    Ok((status, body))
}

/// Runs `shinrai register`: prints the entry id, saves the receipt.
pub fn run_register(a: RegisterArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let client = super::client::StoreClient::new(&a.server.server)?;
    let registered = client.register(&a.token, &bytes)?;
    let receipt: Receipt = serde_json::from_value(registered.receipt)
        .context("the store's receipt is not in the expected form")?;
    let out = a.receipt.unwrap_or_else(|| {
        let mut p = a.file.clone().into_os_string();
        p.push(".receipt.json");
        PathBuf::from(p)
    });
    std::fs::write(&out, serde_json::to_vec_pretty(&receipt)?)
        .with_context(|| format!("writing {}", out.display()))?;
    println!("{}", receipt.id);
    eprintln!(
        "log index {}, receipt saved to {}",
        receipt.log_index,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `shinrai get`: an entry's metadata (and bytes).
#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// Entry id (64 hex) or log index.
    pub id: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArg,
    /// Write the entry bytes (the signed statement) to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn get_json(url: &str) -> Result<Value> {
    let rt = runtime()?;
    rt.block_on(async {
        let (status, body) = send(reqwest::Client::new().get(url)).await?;
        if status != 200 {
            return Err(api_error(status, &body));
        }
        Ok(serde_json::from_slice(&body)?)
    })
}

/// Runs `shinrai get`.
pub fn run_get(a: GetArgs) -> Result<ExitCode> {
    let v = get_json(&format!(
        "{}/entries/{}",
        a.server.server.trim_end_matches('/'),
        a.id
    ))?;
    if let Some(out) = a.out {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v["entry"].as_str().unwrap_or_default())?;
        std::fs::write(&out, bytes).with_context(|| format!("writing {}", out.display()))?;
    }
    print_json(&v)?;
    Ok(ExitCode::SUCCESS)
}

/// `shinrai search`: query the index (filters combine with AND).
#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArg,
    /// Subject digest (`sha256:<hex>` or bare hex).
    #[arg(long)]
    pub subject_digest: Option<String>,
    /// Subject name.
    #[arg(long)]
    pub subject_name: Option<String>,
    /// Issuer organisation or key id.
    #[arg(long)]
    pub issuer: Option<String>,
    /// Predicate type.
    #[arg(long)]
    pub predicate_type: Option<String>,
    /// Registered at or after (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Registered before (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    /// Page cursor (the previous page's `next`).
    #[arg(long)]
    pub after: Option<u64>,
    /// Page size (1-1000).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

/// Runs `shinrai search`.
pub fn run_search(a: SearchArgs) -> Result<ExitCode> {
    let mut url =
        reqwest::Url::parse(&format!("{}/search", a.server.server.trim_end_matches('/')))?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in [
            ("subject_digest", a.subject_digest),
            ("subject_name", a.subject_name),
            ("issuer", a.issuer),
            ("predicate_type", a.predicate_type),
            ("since", a.since),
            ("until", a.until),
            ("after", a.after.map(|x| x.to_string())),
            ("limit", Some(a.limit.to_string())),
        ] {
            if let Some(v) = v {
                q.append_pair(k, &v);
            }
        }
    }
    print_json(&get_json(url.as_str())?)?;
    Ok(ExitCode::SUCCESS)
}

/// `shinrai trace`: follow traceability edges from a digest or EPC.
#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    /// Digest (`sha256:<hex>`) or EPC URI.
    pub node: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub server: ServerArg,
    /// `up` (inputs, trace back) or `down` (where used).
    #[arg(long, default_value = "up")]
    pub direction: String,
    /// Maximum number of steps (1-64).
    #[arg(long, default_value_t = 8)]
    pub depth: u32,
    /// Recall: list every product downstream of NODE (a lot or part: digest, EPC URI or
    /// product name) with the path that leads to it.
    #[arg(long)]
    pub where_used: bool,
    /// With --where-used: print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `shinrai trace`.
pub fn run_trace(a: TraceArgs) -> Result<ExitCode> {
    if a.where_used {
        let w = super::chain::where_used(&a.server.server, &a.node, a.depth)?;
        if a.json {
            print_json(&w)?;
        } else {
            print!("{}", super::chain::render_where_used(&w));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut url = reqwest::Url::parse(&a.server.server)?;
    url.path_segments_mut()
        .map_err(|_| anyhow!("bad server URL"))?
        .pop_if_empty()
        .push("trace")
        .push(&a.node);
    url.query_pairs_mut()
        .append_pair("direction", &a.direction)
        .append_pair("depth", &a.depth.to_string());
    print_json(&get_json(url.as_str())?)?;
    Ok(ExitCode::SUCCESS)
}

/// `shinrai receipt ...`.
#[derive(clap::Subcommand, Debug)]
pub enum ReceiptCmd {
    /// Verify a receipt offline: statement bytes + receipt + log public key, no server.
    Verify {
        /// The registered statement (DSSE envelope file, exact bytes).
        #[arg(long)]
        statement: PathBuf,
        /// The receipt: JSON (from `shinrai register`) or an RFC 9942 COSE receipt.
        #[arg(long)]
        receipt: PathBuf,
        /// Log note verifier key (`<name>+<hash>+<key>`) or a file holding it.
        #[arg(long)]
        log_key: String,
    },
}

fn read_key(k: &str) -> Result<String> {
    if Path::new(k).is_file() {
        Ok(std::fs::read_to_string(k)?.trim().to_owned())
    } else {
        Ok(k.trim().to_owned())
    }
}

/// Runs `shinrai receipt verify`: exit 0 if the statement is in the log, 1 with the reason if not.
pub fn run_receipt(c: ReceiptCmd) -> Result<ExitCode> {
    let ReceiptCmd::Verify {
        statement,
        receipt,
        log_key,
    } = c;
    let bytes =
        std::fs::read(&statement).with_context(|| format!("reading {}", statement.display()))?;
    let raw = std::fs::read(&receipt).with_context(|| format!("reading {}", receipt.display()))?;
    let key = read_key(&log_key)?;
    // A JSON receipt, or else an RFC 9942 COSE receipt (binary).
    let outcome = match serde_json::from_slice::<Receipt>(&raw) {
        Ok(r) => verify_receipt(&bytes, &r, &key).map(|cp| {
            format!(
                "entry {} is at index {} of the log {} (tree size {})",
                r.id, r.log_index, cp.origin, cp.size
            )
        }),
        Err(_) => shinrai_store::note::NoteVerifier::parse(&key).and_then(|v| {
            shinrai_store::cose::verify_cose_receipt(&bytes, &raw, &v.public_key).map(|inc| {
                format!(
                    "COSE receipt: entry at index {} of a tree of size {} signed by the log key",
                    inc.leaf_index, inc.tree_size
                )
            })
        }),
    };
    match outcome {
        Ok(msg) => {
            println!("OK: {msg}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("FAILED: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `shinrai log ...`.
#[derive(clap::Subcommand, Debug)]
pub enum LogCmd {
    /// Fetch all tiles and entries, recompute the tree, check the checkpoint signature and the
    /// consistency with the last checkpoint seen; exit 1 on any difference.
    Audit {
        #[command(flatten)]
        #[allow(missing_docs)]
        server: ServerArg,
        /// Log verifier key (or file); default: the one in the state file, else fetched from
        /// the server on first use (trust on first use).
        #[arg(long)]
        log_key: Option<String>,
        /// Where the auditor remembers the key and the last checkpoint it verified.
        #[arg(long, default_value = "shinrai-audit.json")]
        state: PathBuf,
    },
}

struct HttpSource {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
}

impl HttpSource {
    fn fetch(&mut self, path: &str) -> shinrai_store::Result<Vec<u8>> {
        let url = format!("{}{path}", self.base);
        let req = self.client.get(&url);
        let r = self.rt.block_on(send(req));
        match r {
            Ok((200, b)) => Ok(b),
            Ok((s, _)) => Err(shinrai_store::Error::NotFound(format!("{path}: HTTP {s}"))),
            Err(e) => Err(shinrai_store::Error::NotFound(format!("{path}: {e:#}"))),
        }
    }
}

/// The URL path of a tile under `/log/` (C2SP tlog-tiles); `width` `None` is a full tile.
fn tile_url(
    kind: shinrai_tlog::TileKind,
    index: u64,
    width: Option<u16>,
) -> shinrai_store::Result<String> {
    let width = width.unwrap_or(256);
    let path = match kind {
        shinrai_tlog::TileKind::Hash { level } => shinrai_tlog::TilePath::hash(level, index, width),
        shinrai_tlog::TileKind::Entries => shinrai_tlog::TilePath::entries(index, width),
    }?;
    Ok(format!("/log/{path}"))
}

impl LogSource for HttpSource {
    fn checkpoint(&mut self) -> shinrai_store::Result<String> {
        String::from_utf8(self.fetch("/log/checkpoint")?)
            .map_err(|_| shinrai_store::Error::Malformed("checkpoint is not UTF-8".into()))
    }
    fn tile(
        &mut self,
        level: u8,
        index: u64,
        width: Option<u16>,
    ) -> shinrai_store::Result<Vec<u8>> {
        self.fetch(&tile_url(
            shinrai_tlog::TileKind::Hash { level },
            index,
            width,
        )?)
    }
    fn bundle(&mut self, index: u64, width: Option<u16>) -> shinrai_store::Result<Vec<u8>> {
        self.fetch(&tile_url(shinrai_tlog::TileKind::Entries, index, width)?)
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct AuditState {
    log_key: String,
    seen: Option<SeenCheckpoint>,
}

/// Runs `shinrai log audit`.
pub fn run_log(c: LogCmd) -> Result<ExitCode> {
    let LogCmd::Audit {
        server,
        log_key,
        state,
    } = c;
    let mut src = HttpSource {
        rt: runtime()?,
        client: reqwest::Client::new(),
        base: server.server.trim_end_matches('/').to_owned(),
    };
    let saved: Option<AuditState> = std::fs::read(&state)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let key = match (log_key, &saved) {
        (Some(k), _) => read_key(&k)?,
        (None, Some(s)) => s.log_key.clone(),
        (None, None) => {
            let k = String::from_utf8(src.fetch("/log/key")?)?.trim().to_owned();
            eprintln!("warning: trusting the log key served by the server on first use: {k}");
            k
        }
    };
    if let Some(s) = saved.as_ref().filter(|s| s.log_key != key) {
        println!(
            "FAILED: the log key differs from the one recorded in {}",
            state.display()
        );
        let _ = s;
        return Ok(ExitCode::from(1));
    }
    let report = audit(&mut src, &key, saved.as_ref().and_then(|s| s.seen.as_ref()))?;
    print_json(&report)?;
    if !report.ok() {
        return Ok(ExitCode::from(1));
    }
    let new = AuditState {
        log_key: key,
        seen: Some(SeenCheckpoint {
            size: report.tree_size,
            root: report.root.clone(),
        }),
    };
    shinrai_store::write_atomic(&state, &serde_json::to_vec_pretty(&new)?)?;
    Ok(ExitCode::SUCCESS)
}

/// `shinrai bench store`: registrations/s from concurrent HTTP clients on loopback, integration
/// latency, then proof and search latency over a larger store. Not a test.
#[derive(clap::Args, Debug)]
pub struct BenchStoreArgs {
    /// Statements registered over HTTP in the throughput run.
    #[arg(long, default_value_t = 100_000)]
    pub entries: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 256)]
    pub clients: usize,
    /// Fill the store (in process, no HTTP) up to this many entries before measuring proof and
    /// search latency.
    #[arg(long, default_value_t = 1_000_000)]
    pub fill: usize,
    /// Queries for the proof and search latency runs.
    #[arg(long, default_value_t = 2000)]
    pub queries: usize,
    /// Data directory to use (default: a fresh temporary one).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// HTTP client of the throughput run: `lean` (raw HTTP/1.1 keep-alive, `cmd::loadgen`,
    /// little CPU taken from the server) or `reqwest` (a general-purpose client).
    #[arg(long, default_value = "lean", value_parser = ["lean", "reqwest"])]
    pub client: String,
}

/// CPU time (user + system) this process has used, from `/proc/self/stat` (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the full line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort();
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i].as_secs_f64() * 1000.0
}

struct BenchKey {
    key: aws_lc_rs::signature::Ed25519KeyPair,
    keyid: String,
}

impl BenchKey {
    fn sign(&self, i: usize) -> Vec<u8> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let stmt = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": format!("lot-{i}"), "digest": {"sha256": format!("{:064x}", i)}}],
            "predicateType": "https://in-toto.io/attestation/link/v0.3",
            "predicate": {"name": "assemble", "materials": [{"uri": "part", "digest": {"sha256": format!("{:064x}", i / 2 + 1_000_000_000)}}]}
        });
        let payload = serde_json::to_vec(&stmt).unwrap_or_default();
        let ty = "application/vnd.in-toto+json";
        let sig = self.key.sign(&shinrai_store::statement::pae(ty, &payload));
        serde_json::to_vec(
            &serde_json::json!({"payloadType": ty, "payload": b64.encode(&payload),
            "signatures": [{"keyid": self.keyid, "sig": b64.encode(sig.as_ref())}]}),
        )
        .unwrap_or_default()
    }
}

/// Runs `shinrai bench store` and prints a JSON summary.
pub fn run_bench_store(a: BenchStoreArgs) -> Result<ExitCode> {
    use aws_lc_rs::signature::KeyPair;
    let tmp = tempfile::tempdir()?;
    let dir = a.data.clone().unwrap_or_else(|| tmp.path().join("data"));
    let key =
        aws_lc_rs::signature::Ed25519KeyPair::generate().map_err(|_| anyhow!("key generation"))?;
    let key_json = shinrai_store::statement::sslib_ed25519_key(key.public_key().as_ref());
    let (keyid, _) = shinrai_store::statement::parse_sslib_key(key_json.as_bytes())?;
    let report = Store::init(
        &dir,
        InitOptions {
            config: Config::default(),
            org: "bench".into(),
            org_key_json: key_json.into_bytes(),
            passphrase: None,
            kdf: Default::default(),
        },
    )?;
    let bk = Arc::new(BenchKey { key, keyid });
    eprintln!("signing {} statements...", a.entries);
    let entries: Arc<Vec<Vec<u8>>> = Arc::new((0..a.entries).map(|i| bk.sign(i)).collect());
    let store = Store::open(&dir)?;
    let rt = runtime()?;
    let token = report.token.clone();
    let cpu_start = cpu_seconds();
    let (elapsed, mut lat) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let st = shinrai_server::AppState::new(store.clone());
        tokio::spawn(shinrai_server::serve(st, listener, std::future::pending()));
        if a.client == "lean" {
            let plan = super::loadgen::Plan {
                path: "/entries".into(),
                headers: vec![
                    format!("Authorization: Bearer {token}"),
                    "Content-Type: application/json".into(),
                ],
                bodies: entries.clone(),
                expect_status: 201,
            };
            let out = super::loadgen::run(addr, plan, a.clients).await?;
            return Ok((out.elapsed, out.latencies));
        }
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(a.clients)
            .build()?;
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..a.clients {
            let (client, next, entries, token) =
                (client.clone(), next.clone(), entries.clone(), token.clone());
            let url = format!("http://{addr}/entries");
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= entries.len() {
                        break;
                    }
                    let t = Instant::now();
                    let r = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(entries[i].clone())
                        .send()
                        .await?;
                    if r.status().as_u16() != 201 {
                        bail!("registration answered {}", r.status());
                    }
                    r.bytes().await?;
                    lat.push(t.elapsed());
                }
                Ok::<_, anyhow::Error>(lat)
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await??);
        }
        Ok::<_, anyhow::Error>((start.elapsed(), lat))
    })?;
    let cpu_us = (cpu_seconds() - cpu_start) * 1e6 / a.entries as f64;
    let rate = a.entries as f64 / elapsed.as_secs_f64();
    eprintln!(
        "{rate:.0} registrations/s; filling to {} entries in process...",
        a.fill
    );
    // Fill in process (no HTTP) to measure reads at scale.
    let mut i = a.entries;
    while i < a.fill {
        let end = (i + 20_000).min(a.fill);
        let pending: Vec<_> = (i..end)
            .map(|j| store.register(&bk.sign(j), "bench"))
            .collect::<shinrai_store::Result<_>>()?;
        for p in pending {
            p.wait_blocking()?;
        }
        i = end;
    }
    let size = store.checkpoint().size;
    let (mut proof_lat, mut search_lat) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(shinrai_server::serve(
            shinrai_server::AppState::new(store.clone()),
            listener,
            std::future::pending(),
        ));
        let client = reqwest::Client::new();
        let (mut p, mut s) = (Vec::new(), Vec::new());
        for q in 0..a.queries {
            let idx = (q as u64).wrapping_mul(2_654_435_761) % size;
            let t = Instant::now();
            let r = client
                .get(format!("http://{addr}/entries/{idx}/receipt"))
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("receipt answered {}", r.status());
            }
            r.bytes().await?;
            p.push(t.elapsed());
            let t = Instant::now();
            let r = client
                .get(format!(
                    "http://{addr}/search?subject_digest=sha256:{:064x}",
                    idx
                ))
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("search answered {}", r.status());
            }
            r.bytes().await?;
            s.push(t.elapsed());
        }
        Ok::<_, anyhow::Error>((p, s))
    })?;
    print_json(&serde_json::json!({
        "registrations": a.entries, "clients": a.clients, "client": a.client, "seconds": elapsed.as_secs_f64(),
        "registrations_per_s": rate,
        "cpu_us_per_registration_server_and_client": cpu_us,
        "integration_latency_ms": {"p50": pct(&mut lat, 0.5), "p99": pct(&mut lat, 0.99), "max": pct(&mut lat, 1.0)},
        "store_entries": size,
        "receipt_latency_ms": {"p50": pct(&mut proof_lat, 0.5), "p99": pct(&mut proof_lat, 0.99)},
        "search_latency_ms": {"p50": pct(&mut search_lat, 0.5), "p99": pct(&mut search_lat, 0.99)},
    }))?;
    Ok(ExitCode::SUCCESS)
}
