//! The trust store over HTTP (register, search, fetch) and in-memory keys for the simulator.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use shinrai_envelope::Signer;
use shinrai_scu::{Algorithm, PublicKey, Signature};

/// A trust store reached over HTTP with one organisation's token.
#[derive(Clone)]
pub struct StoreClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for StoreClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreClient")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// One entry found by a search, with its bytes.
#[derive(Debug, Clone)]
pub struct FoundEntry {
    /// Entry id.
    pub id: String,
    /// The envelope bytes as registered.
    pub bytes: Vec<u8>,
}

impl StoreClient {
    /// A client for the store at `base` writing with `token`.
    pub fn new(base: &str, token: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(StoreClient {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
        })
    }

    /// The same store with another organisation's token.
    pub fn with_token(&self, token: &str) -> Self {
        StoreClient {
            base: self.base.clone(),
            token: token.to_owned(),
            http: self.http.clone(),
        }
    }

    /// Registers an envelope; returns the entry id once integrated (waits on 202).
    pub async fn register(&self, bytes: Vec<u8>) -> Result<String> {
        let mut delay = Duration::from_millis(50);
        let mut attempts = 0;
        let resp = loop {
            let r = self
                .http
                .post(format!("{}/entries", self.base))
                .bearer_auth(&self.token)
                .header("content-type", "application/json")
                .body(bytes.clone())
                .send()
                .await
                .context("contacting the trust store")?;
            // 503: the sequencer is busy (backpressure); retry after a pause.
            if r.status().as_u16() == 503 && attempts < 50 {
                attempts += 1;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
                continue;
            }
            break r;
        };
        let status = resp.status().as_u16();
        let body = resp.bytes().await?;
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        match status {
            200 | 201 => v["receipt"]["id"]
                .as_str()
                .or(v["id"].as_str())
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("the trust store answered {status} without an entry id")),
            202 => {
                let id = v["id"].as_str().unwrap_or_default().to_owned();
                for _ in 0..600 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let r = self
                        .http
                        .get(format!("{}/entries/{id}/receipt", self.base))
                        .send()
                        .await?;
                    if r.status().as_u16() == 200 {
                        return Ok(id);
                    }
                }
                bail!("entry {id} accepted but not integrated after 60 s")
            }
            _ => {
                let reason = v["reason"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
                bail!("the trust store refused the entry ({status}): {reason}")
            }
        }
    }

    /// Every entry whose subject is named `subject_name` (optionally of one predicate type),
    /// with its bytes, in log order.
    pub async fn search_subject(
        &self,
        subject_name: &str,
        predicate_type: Option<&str>,
    ) -> Result<Vec<FoundEntry>> {
        let mut out = Vec::new();
        let mut after: Option<u64> = None;
        loop {
            let mut url = reqwest::Url::parse(&format!("{}/search", self.base))?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("subject_name", subject_name);
                q.append_pair("limit", "1000");
                if let Some(p) = predicate_type {
                    q.append_pair("predicate_type", p);
                }
                if let Some(a) = after {
                    q.append_pair("after", &a.to_string());
                }
            }
            let r = self.http.get(url).send().await?;
            let status = r.status().as_u16();
            let v: Value =
                serde_json::from_slice(&r.bytes().await?).context("reading the search answer")?;
            if status != 200 {
                bail!("search answered {status}: {}", v["reason"]);
            }
            for e in v["entries"].as_array().into_iter().flatten() {
                let id = e["id"].as_str().unwrap_or_default().to_owned();
                let bytes = match e["entry"].as_str() {
                    Some(b) => B64.decode(b)?,
                    None => self.entry_bytes(&id).await?,
                };
                out.push(FoundEntry { id, bytes });
            }
            match v["next"].as_u64() {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        Ok(out)
    }

    /// The bytes of entry `id` exactly as registered.
    pub async fn entry_bytes(&self, id: &str) -> Result<Vec<u8>> {
        let r = self
            .http
            .get(format!("{}/entries/{id}", self.base))
            .send()
            .await?;
        let status = r.status().as_u16();
        let v: Value = serde_json::from_slice(&r.bytes().await?)?;
        if status != 200 {
            bail!(
                "entry {id}: the trust store answered {status}: {}",
                v["reason"]
            );
        }
        Ok(B64.decode(
            v["entry"]
                .as_str()
                .ok_or_else(|| anyhow!("entry {id} has no bytes"))?,
        )?)
    }
}

/// A key pair held in memory (simulated devices and demo organisations; real deployments sign
/// with SCU keys through `ScuSigner`). PKCS#8 so the simulator can keep its device keys in a file.
pub struct MemKey {
    inner: MemInner,
    public: PublicKey,
    pkcs8: Vec<u8>,
}

enum MemInner {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
}

impl std::fmt::Debug for MemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl MemKey {
    /// A new key of `algorithm`.
    pub fn generate(algorithm: Algorithm) -> Result<Self> {
        let pkcs8 = match algorithm {
            Algorithm::Ed25519 => Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| anyhow!("generating an Ed25519 key"))?
                .as_ref()
                .to_vec(),
            Algorithm::EcdsaP256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                    .map_err(|_| anyhow!("generating a P-256 key"))?
                    .as_ref()
                    .to_vec()
            }
        };
        Self::from_pkcs8(algorithm, &pkcs8)
    }

    /// A key from its PKCS#8 document.
    pub fn from_pkcs8(algorithm: Algorithm, pkcs8: &[u8]) -> Result<Self> {
        let (inner, public) = match algorithm {
            Algorithm::Ed25519 => {
                let kp = Ed25519KeyPair::from_pkcs8(pkcs8)
                    .map_err(|e| anyhow!("reading an Ed25519 key: {e}"))?;
                let pk = PublicKey::from_bytes(algorithm, kp.public_key().as_ref())?;
                (MemInner::Ed(kp), pk)
            }
            Algorithm::EcdsaP256 => {
                let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|e| anyhow!("reading a P-256 key: {e}"))?;
                let pk = PublicKey::from_bytes(algorithm, kp.public_key().as_ref())?;
                (MemInner::Ec(kp), pk)
            }
        };
        Ok(MemKey {
            inner,
            public,
            pkcs8: pkcs8.to_vec(),
        })
    }

    /// The PKCS#8 document (secret).
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }
}

impl Signer for MemKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> shinrai_envelope::Result<Signature> {
        let bytes = match &self.inner {
            MemInner::Ed(kp) => kp.sign(message).as_ref().to_vec(),
            MemInner::Ec(kp) => kp
                .sign(&SystemRandom::new(), message)
                .map_err(|_| shinrai_envelope::Error::Internal("P-256 signing failed".into()))?
                .as_ref()
                .to_vec(),
        };
        Ok(Signature {
            algorithm: self.public.algorithm,
            bytes,
        })
    }
}
