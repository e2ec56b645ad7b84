//! A blocking client of the trust store's HTTP API for the commands that register or read
//! statements (`register`, `device`, `monitor register`, the demos): one place that knows how
//! `POST /entries` answers (201 with a receipt, or 202 while the batch integrates), how errors
//! read, and how `/search` pages.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

/// How long a registration answered with 202 is polled for its receipt.
const INTEGRATION_WAIT: Duration = Duration::from_secs(30);

/// A registered entry: its id and its receipt (JSON, as `GET /entries/{id}/receipt` gives it).
#[derive(Debug, Clone)]
pub struct Registered {
    /// Entry id (64 hex).
    pub id: String,
    /// The receipt: log index, tree size, inclusion proof, checkpoint.
    pub receipt: Value,
}

/// The trust store at one base URL, with its own small runtime (call it from synchronous code,
/// not from inside another tokio runtime).
pub struct StoreClient {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
}

impl std::fmt::Debug for StoreClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreClient")
            .field("base", &self.base)
            .finish()
    }
}

/// The store's `{"error","reason"}` answer as an error a user can act on.
pub fn api_error(status: u16, body: &[u8]) -> anyhow::Error {
    let reason = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["reason"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    anyhow!("the trust store answered {status}: {reason}")
}

impl StoreClient {
    /// A client for the store at `base` (`http://host:port`).
    pub fn new(base: &str) -> Result<Self> {
        Ok(StoreClient {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?,
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET base + path_and_query`: status and body.
    pub fn get(&self, path_and_query: &str) -> Result<(u16, Vec<u8>)> {
        let url = format!("{}{path_and_query}", self.base);
        self.rt.block_on(async {
            let r = self
                .http
                .get(&url)
                .send()
                .await
                .with_context(|| format!("contacting the trust store at {}", self.base))?;
            let status = r.status().as_u16();
            Ok((status, r.bytes().await?.to_vec()))
        })
    }

    /// `GET` a JSON resource; any status but 200 is an error with the store's reason.
    pub fn get_json(&self, path_and_query: &str) -> Result<Value> {
        match self.get(path_and_query)? {
            (200, b) => serde_json::from_slice(&b)
                .with_context(|| format!("{path_and_query}: the answer is not JSON")),
            (s, b) => Err(api_error(s, &b)),
        }
    }

    /// Registers a signed statement (DSSE JSON or COSE_Sign1) with an organisation token and
    /// waits for its receipt (polling while the store answers 202).
    pub fn register(&self, token: &str, bytes: &[u8]) -> Result<Registered> {
        let content_type = if shinrai_store::statement::looks_like_cose(bytes) {
            "application/cose"
        } else {
            "application/json"
        };
        let (status, body) = self.rt.block_on(async {
            let r = self
                .http
                .post(format!("{}/entries", self.base))
                .bearer_auth(token)
                .header("content-type", content_type)
                .body(bytes.to_vec())
                .send()
                .await
                .with_context(|| format!("contacting the trust store at {}", self.base))?;
            let status = r.status().as_u16();
            anyhow::Ok((status, r.bytes().await?.to_vec()))
        })?;
        let v: Value = match status {
            200..=202 => serde_json::from_slice(&body).context("the store's answer")?,
            _ => return Err(api_error(status, &body)),
        };
        let id = v["id"]
            .as_str()
            .context("the store's answer has no entry id")?
            .to_owned();
        if status != 202 {
            return Ok(Registered {
                id,
                receipt: v["receipt"].clone(),
            });
        }
        let deadline = std::time::Instant::now() + INTEGRATION_WAIT;
        while std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            if let (200, b) = self.get(&format!("/entries/{id}/receipt"))? {
                let receipt = serde_json::from_slice(&b).context("the store's receipt")?;
                return Ok(Registered { id, receipt });
            }
        }
        bail!(
            "entry {id} accepted but not integrated after {} s",
            INTEGRATION_WAIT.as_secs()
        )
    }

    /// Every search result for `params` (`subject_digest`, `subject_name`, `issuer`,
    /// `predicate_type`, `since`, `until`), following the pages, up to `max` entries.
    pub fn search_all(&self, params: &[(&str, &str)], max: usize) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut after: Option<u64> = None;
        loop {
            let mut url = reqwest::Url::parse("http://x/search")?;
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
                q.append_pair("limit", "1000");
                if let Some(a) = after {
                    q.append_pair("after", &a.to_string());
                }
            }
            let page = self.get_json(&format!("/search?{}", url.query().unwrap_or_default()))?;
            out.extend(page["entries"].as_array().into_iter().flatten().cloned());
            match page["next"].as_u64() {
                Some(n) if out.len() < max => after = Some(n),
                _ => break,
            }
        }
        out.truncate(max);
        Ok(out)
    }
}

/// An organisation API token from the command line or the environment: never printed in
/// `Debug` output (arguments end up in logs).
#[derive(Clone)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Token {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Token(s.to_owned()))
    }
}
