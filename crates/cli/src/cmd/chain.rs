//! `shinrai chain ...` and `shinrai bench chain`: chain-of-trust verification across
//! organisations, walked upstream through a trust store; and the where-used (recall) query
//! behind `shinrai trace --where-used`.
//!
//! The verification itself is `shinrai_conformity::chain`; this file gives it the store to
//! read: [`HttpSource`] (the HTTP API, what `chain verify` uses) and [`StoreSource`] (an
//! in-process `shinrai_store::Store`, what the benchmark uses).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shinrai_conformity::chain::{
    ChainOptions, ChainReport, ChainSource, ChainTrust, DEFAULT_MAX_DEPTH, SourceEntry,
    SourceError, SourceReceipt, render_text, verify_chain,
};
use shinrai_conformity::vsa::VSA_PREDICATE_TYPE;
use shinrai_envelope::keys::SslibKey;
use shinrai_store::Store;
use shinrai_store::storage::{Registry, SearchQuery};

/// `shinrai chain` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ChainCmd {
    /// Verify a product's chain of trust upstream through the trust store.
    Verify(VerifyArgs),
}

/// Options of `chain verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The product: a digest (`sha256:<hex>`) or a product name (e.g. a lot URN).
    pub product: String,
    /// Trust store URL.
    #[arg(long, env = "SHINRAI_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Print the report as JSON (shape: docs/design/chain.md).
    #[arg(long)]
    pub json: bool,
    /// How many tiers below the product to walk.
    #[arg(long, default_value_t = DEFAULT_MAX_DEPTH)]
    pub depth: u32,
    /// Trusted organisation keys: a JSON file `{"<org>": [<securesystemslib public key>, ...]}`
    /// (as `shinrai demo manufacturing --out DIR` writes to DIR/trust.json).
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Read the trusted organisation keys from the registry of this store data directory
    /// instead (on the store's machine).
    #[arg(long, conflicts_with = "keys")]
    pub data: Option<PathBuf>,
    /// The log's note verifier key (or a file holding it); default: fetched from the server,
    /// trusted on first use (a warning says so).
    #[arg(long)]
    pub log_key: Option<String>,
}

/// Options of `bench chain`.
#[derive(clap::Args, Debug)]
pub struct BenchChainArgs {
    /// Products in the synthetic supply network.
    #[arg(long, default_value_t = 10_000)]
    pub nodes: usize,
    /// Tiers below the root product.
    #[arg(long, default_value_t = 6)]
    pub depth: u32,
    /// Verification runs to time (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Skip the Python in-toto comparison.
    #[arg(long)]
    pub no_python: bool,
    /// Python with in-toto 3.1 (default: .venv/bin/python, else python3).
    #[arg(long, env = "SHINRAI_PYTHON")]
    pub python: Option<PathBuf>,
}

/// Runs a `chain` subcommand.
pub fn run(cmd: ChainCmd) -> Result<ExitCode> {
    match cmd {
        ChainCmd::Verify(a) => verify(a),
    }
}

/// Runs `bench chain`.
pub fn bench(args: BenchChainArgs) -> Result<ExitCode> {
    super::manufacturing::bench_chain(args)
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn read_key_arg(k: &str) -> Result<String> {
    if Path::new(k).is_file() {
        Ok(std::fs::read_to_string(k)?.trim().to_owned())
    } else {
        Ok(k.trim().to_owned())
    }
}

/// Reads a trust file `{"<org>": [<sslib public key JSON>, ...]}`.
pub fn read_trust_file(path: &Path) -> Result<BTreeMap<String, Vec<SslibKey>>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let v: BTreeMap<String, Vec<Value>> = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: expected {{\"org\": [keys]}}", path.display()))?;
    let mut out = BTreeMap::new();
    for (org, keys) in v {
        let mut ks = Vec::new();
        for k in keys {
            ks.push(
                SslibKey::parse(&serde_json::to_vec(&k)?)
                    .with_context(|| format!("{}: a key of {org}", path.display()))?,
            );
        }
        out.insert(org, ks);
    }
    Ok(out)
}

/// The registered organisation keys of a store data directory.
pub fn registry_keys(data: &Path) -> Result<BTreeMap<String, Vec<SslibKey>>> {
    let admin = shinrai_store::Admin::open(data)?;
    let mut out: BTreeMap<String, Vec<SslibKey>> = BTreeMap::new();
    for k in admin.backend().org_keys()? {
        out.entry(k.org.clone())
            .or_default()
            .push(SslibKey::from_public_key(&k.public_key)?);
    }
    Ok(out)
}

fn verify(a: VerifyArgs) -> Result<ExitCode> {
    let organisations = match (&a.keys, &a.data) {
        (Some(f), _) => read_trust_file(f)?,
        (None, Some(d)) => registry_keys(d)?,
        (None, None) => bail!(
            "say whom to trust: --keys FILE (organisation keys) or --data DIR (the store's registry)"
        ),
    };
    let source = HttpSource::new(&a.server)?;
    let log_key = match &a.log_key {
        Some(k) => read_key_arg(k)?,
        None => {
            let k = source.get_text("/log/key")?;
            eprintln!("warning: trusting the log key served by the server on first use: {k}");
            k
        }
    };
    let trust = ChainTrust {
        log_key,
        organisations,
    };
    let report = verify_chain(
        &source,
        &trust,
        &a.product,
        &ChainOptions {
            max_depth: a.depth,
            now_unix: now_unix(),
        },
    );
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_text(&report));
    }
    Ok(exit_for(&report))
}

/// 0 when the whole chain passed, 1 otherwise.
pub fn exit_for(report: &ChainReport) -> ExitCode {
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The trust store over its HTTP API (blocking: one request at a time).
pub struct HttpSource {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
}

impl HttpSource {
    /// A client for the store at `base` (`http://host:port`).
    pub fn new(base: &str) -> Result<Self> {
        Ok(HttpSource {
            // Several walk threads wait on it at once (`concurrency`), so it drives IO on its
            // own worker rather than inside whichever `block_on` holds it.
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .context("starting the async runtime")?,
            client: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    fn get(&self, path_and_query: &str) -> Result<(u16, Vec<u8>), SourceError> {
        let url = format!("{}{path_and_query}", self.base);
        self.rt.block_on(async {
            let r = self
                .client
                .get(&url)
                .send()
                .await
                .map_err(|e| SourceError(format!("GET {url}: {e}")))?;
            let status = r.status().as_u16();
            let body = r
                .bytes()
                .await
                .map_err(|e| SourceError(format!("GET {url}: {e}")))?;
            Ok((status, body.to_vec()))
        })
    }

    fn get_json(&self, path_and_query: &str) -> Result<Option<Value>, SourceError> {
        match self.get(path_and_query)? {
            (200, b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| SourceError(format!("{path_and_query}: not JSON: {e}"))),
            (404 | 202, _) => Ok(None),
            (s, b) => Err(SourceError(format!(
                "{path_and_query}: HTTP {s}: {}",
                String::from_utf8_lossy(&b)
            ))),
        }
    }

    /// A text resource (e.g. `/log/key`), trimmed.
    pub fn get_text(&self, path: &str) -> Result<String> {
        match self.get(path)? {
            (200, b) => Ok(String::from_utf8(b)?.trim().to_owned()),
            (s, _) => bail!("{path}: HTTP {s}"),
        }
    }

    fn entry_from_json(v: &Value) -> Result<SourceEntry, SourceError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v["entry"].as_str().unwrap_or_default())
            .map_err(|e| SourceError(format!("entry bytes are not base64: {e}")))?;
        Ok(SourceEntry {
            index: v["index"]
                .as_u64()
                .ok_or_else(|| SourceError("entry without index".into()))?,
            id: v["id"].as_str().unwrap_or_default().to_owned(),
            issuer_org: v["issuer_org"].as_str().unwrap_or_default().to_owned(),
            bytes,
        })
    }

    fn search_vsas(
        &self,
        key: &str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<SourceEntry>, SourceError> {
        let mut url =
            reqwest::Url::parse("http://x/search").map_err(|e| SourceError(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair(key, value)
            .append_pair("predicate_type", VSA_PREDICATE_TYPE)
            .append_pair("limit", &limit.clamp(1, 1000).to_string());
        let q = format!("/search?{}", url.query().unwrap_or_default());
        let Some(page) = self.get_json(&q)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for e in page["entries"].as_array().into_iter().flatten() {
            let index = e["index"]
                .as_u64()
                .ok_or_else(|| SourceError("search result without index".into()))?;
            if let Some(full) = self.get_json(&format!("/entries/{index}"))? {
                out.push(Self::entry_from_json(&full)?);
            }
        }
        Ok(out)
    }
}

impl ChainSource for HttpSource {
    /// Requests in flight at once: the walk waits on the network more than on the CPU.
    fn concurrency(&self) -> usize {
        8
    }

    fn vsas_for_digest(&self, digest: &str, limit: usize) -> Result<Vec<SourceEntry>, SourceError> {
        self.search_vsas("subject_digest", digest, limit)
    }
    fn vsas_for_name(&self, name: &str, limit: usize) -> Result<Vec<SourceEntry>, SourceError> {
        self.search_vsas("subject_name", name, limit)
    }
    fn entry(&self, id: &str) -> Result<Option<SourceEntry>, SourceError> {
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        self.get_json(&format!("/entries/{id}"))?
            .map(|v| Self::entry_from_json(&v))
            .transpose()
    }
    fn receipt(&self, entry: &SourceEntry) -> Result<Option<SourceReceipt>, SourceError> {
        self.get_json(&format!("/entries/{}/receipt", entry.index))?
            .map(|v| serde_json::from_value(v).map_err(|e| SourceError(format!("receipt: {e}"))))
            .transpose()
    }
}

/// An in-process trust store.
pub struct StoreSource<'a> {
    /// The store.
    pub store: &'a Store,
}

fn store_err(e: shinrai_store::Error) -> SourceError {
    SourceError(e.to_string())
}

impl StoreSource<'_> {
    fn vsas(&self, q: SearchQuery) -> Result<Vec<SourceEntry>, SourceError> {
        let page = self.store.search(q).map_err(store_err)?;
        let backend = self.store.backend();
        page.entries
            .into_iter()
            .map(|e| {
                // The search result has the metadata; only the bytes are read again.
                let bytes = backend
                    .read_entries(e.index, 1)
                    .map_err(store_err)?
                    .pop()
                    .ok_or_else(|| SourceError(format!("entry {} vanished", e.index)))?;
                Ok(SourceEntry {
                    index: e.index,
                    id: e.id,
                    issuer_org: e.issuer_org,
                    bytes,
                })
            })
            .collect()
    }
}

impl ChainSource for StoreSource<'_> {
    fn vsas_for_digest(&self, digest: &str, limit: usize) -> Result<Vec<SourceEntry>, SourceError> {
        Ok(self
            .store
            .entries_about(digest, VSA_PREDICATE_TYPE, limit)
            .map_err(store_err)?
            .into_iter()
            .map(|e| SourceEntry {
                index: e.index,
                id: hex::encode(shinrai_store::merkle::sha256_of(&e.bytes)),
                issuer_org: e.issuer_org,
                bytes: e.bytes,
            })
            .collect())
    }
    fn vsas_for_name(&self, name: &str, limit: usize) -> Result<Vec<SourceEntry>, SourceError> {
        self.vsas(SearchQuery {
            subject_name: Some(name.to_owned()),
            predicate_type: Some(VSA_PREDICATE_TYPE.to_owned()),
            limit: limit.clamp(1, 1000) as u32,
            ..Default::default()
        })
    }
    fn entry(&self, id: &str) -> Result<Option<SourceEntry>, SourceError> {
        match self.store.entry_bytes_by_id(id) {
            Ok(e) => Ok(e.map(|e| SourceEntry {
                index: e.index,
                id: id.to_ascii_lowercase(),
                issuer_org: e.issuer_org,
                bytes: e.bytes,
            })),
            Err(shinrai_store::Error::InvalidRequest(_)) => Ok(None),
            Err(e) => Err(store_err(e)),
        }
    }
    fn receipt(&self, entry: &SourceEntry) -> Result<Option<SourceReceipt>, SourceError> {
        // The walk holds the bytes: only the proof and its checkpoint are read.
        match self.store.inclusion_proof(entry.index) {
            Ok((proof, cp)) => Ok(Some(SourceReceipt {
                log_index: entry.index,
                tree_size: cp.size,
                inclusion_proof: proof.iter().map(|h| B64.encode(h)).collect(),
                checkpoint: cp.note.clone(),
            })),
            Err(shinrai_store::Error::NotFound(_)) => Ok(None),
            Err(e) => Err(store_err(e)),
        }
    }
}

/// One product downstream of a lot or part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Downstream {
    /// The node (digest `sha256:<hex>` or EPC URI).
    pub node: String,
    /// Its name (a statement subject name), when the store has one.
    pub name: String,
    /// Steps from the start.
    pub depth: u32,
    /// The path from the start to it (nodes), start first.
    pub path: Vec<String>,
    /// The same path by name (node where no name is known).
    pub path_names: Vec<String>,
}

/// The answer of `trace --where-used`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WhereUsed {
    /// What was asked for.
    pub query: String,
    /// The nodes it resolved to (the name's digests, or the digest/EPC itself).
    pub starts: Vec<String>,
    /// Every downstream product with its path.
    pub downstream: Vec<Downstream>,
    /// Whether the store cut a trace short (limits).
    pub truncated: bool,
}

/// Where-used over the HTTP API: resolves a name to digests (statement subjects), follows the
/// traceability edges downstream (`/trace/{node}?direction=down`) and lists every product
/// reached with one path to it (the first found, breadth first: a shortest path).
pub fn where_used(server: &str, query: &str, depth: u32) -> Result<WhereUsed> {
    let src = HttpSource::new(server)?;
    let q = query.trim();
    let hex = q.strip_prefix("sha256:").unwrap_or(q).to_ascii_lowercase();
    let mut starts = Vec::new();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        starts.push(format!("sha256:{hex}"));
    } else {
        starts.push(q.to_owned());
        let mut url = reqwest::Url::parse("http://x/search")?;
        url.query_pairs_mut()
            .append_pair("subject_name", q)
            .append_pair("limit", "1000");
        let page = src
            .get_json(&format!("/search?{}", url.query().unwrap_or_default()))?
            .unwrap_or(Value::Null);
        for e in page["entries"].as_array().into_iter().flatten() {
            for s in e["subjects"].as_array().into_iter().flatten() {
                if s["name"].as_str() == Some(q) {
                    for d in s["digests"].as_array().into_iter().flatten() {
                        if let Some(d) = d.as_str().filter(|d| d.starts_with("sha256:"))
                            && !starts.iter().any(|x| x == d)
                        {
                            starts.push(d.to_owned());
                        }
                    }
                }
            }
        }
    }
    let mut truncated = false;
    let mut parent: HashMap<String, String> = HashMap::new();
    let mut depth_of: HashMap<String, u32> = starts.iter().map(|s| (s.clone(), 0)).collect();
    let mut order = Vec::new();
    let mut children: HashMap<String, Vec<String>> = HashMap::new();
    for s in &starts {
        let mut url = reqwest::Url::parse("http://x/trace")?;
        url.path_segments_mut()
            .map_err(|_| anyhow!("bad URL"))?
            .push(s);
        url.query_pairs_mut()
            .append_pair("direction", "down")
            .append_pair("depth", &depth.clamp(1, 64).to_string());
        let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        let Some(t) = src.get_json(&path)? else {
            continue;
        };
        truncated |= t["truncated"].as_bool().unwrap_or(false);
        for e in t["edges"].as_array().into_iter().flatten() {
            let (Some(i), Some(o)) = (e["input"].as_str(), e["output"].as_str()) else {
                continue;
            };
            let c = children.entry(i.to_owned()).or_default();
            if !c.iter().any(|x| x == o) {
                c.push(o.to_owned());
            }
        }
    }
    // Breadth first from all starts: the first parent found gives a shortest path.
    let mut queue: VecDeque<String> = starts.iter().cloned().collect();
    while let Some(n) = queue.pop_front() {
        let d = depth_of[&n];
        for c in children.get(&n).cloned().unwrap_or_default() {
            if depth_of.contains_key(&c) {
                continue;
            }
            depth_of.insert(c.clone(), d + 1);
            parent.insert(c.clone(), n.clone());
            order.push(c.clone());
            queue.push_back(c);
        }
    }
    let mut names: HashMap<String, String> = HashMap::new();
    let mut name_of = |node: &str| -> String {
        if let Some(n) = names.get(node) {
            return n.clone();
        }
        let mut n = String::new();
        if node.starts_with("sha256:") {
            let mut url = reqwest::Url::parse("http://x/search").ok();
            if let Some(u) = url.as_mut() {
                u.query_pairs_mut()
                    .append_pair("subject_digest", node)
                    .append_pair("limit", "1");
            }
            if let Some(u) = url
                && let Ok(Some(page)) =
                    src.get_json(&format!("/search?{}", u.query().unwrap_or_default()))
            {
                for s in page["entries"][0]["subjects"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let has = s["digests"]
                        .as_array()
                        .is_some_and(|ds| ds.iter().any(|d| d.as_str() == Some(node)));
                    if has {
                        n = s["name"].as_str().unwrap_or_default().to_owned();
                    }
                }
            }
        }
        names.insert(node.to_owned(), n.clone());
        n
    };
    let mut downstream = Vec::new();
    for node in order {
        let mut path = vec![node.clone()];
        let mut cur = node.clone();
        while let Some(p) = parent.get(&cur) {
            path.push(p.clone());
            cur = p.clone();
        }
        path.reverse();
        let path_names = path
            .iter()
            .map(|p| {
                let n = name_of(p);
                if n.is_empty() { p.clone() } else { n }
            })
            .collect();
        downstream.push(Downstream {
            name: name_of(&node),
            depth: depth_of[&node],
            node,
            path,
            path_names,
        });
    }
    Ok(WhereUsed {
        query: q.to_owned(),
        starts,
        downstream,
        truncated,
    })
}

/// Text form of a where-used answer: one line per downstream product with its path.
pub fn render_where_used(w: &WhereUsed) -> String {
    let mut out = format!(
        "where used: {} ({} downstream product(s))\n",
        w.query,
        w.downstream.len()
    );
    for d in &w.downstream {
        let name = if d.name.is_empty() { &d.node } else { &d.name };
        out.push_str(&format!(
            "  {name}  [{}]\n    path: {}\n",
            d.node,
            d.path_names.join(" -> ")
        ));
    }
    if w.truncated {
        out.push_str("  (the store cut the trace short: more may be affected)\n");
    }
    out
}
