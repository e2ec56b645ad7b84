//! Shop trust: `shinrai ingest mqtt`, `shinrai shop ...`, `shinrai demo sensors|shop` and
//! `shinrai bench ingest` (issue 7). The protocol-free core (message verification, hourly
//! aggregation, evidence and certification variables) is in `shinrai_evidence::{sensor, shop}`;
//! here are MQTT, HTTP, keys and files. Data contract: `docs/design/shop.md`.

pub mod certify;
pub mod client;
mod demo;
pub mod ingest;
pub mod sim;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;
use shinrai_envelope::keys::SslibKey;
use shinrai_envelope::statement::{Statement, sign_statement};
use shinrai_envelope::{ScuSigner, Signer};
use shinrai_evidence::sensor::DeviceRegistry;
use shinrai_evidence::shop::{
    HygieneCheck, HygieneRecord, Revocation, ShopProfile, parse_date, parse_rfc3339_ms, rfc3339_ms,
    shop_urn,
};
use shinrai_scu::Purpose;

use crate::keystore::KeyStoreArgs;
use client::StoreClient;

pub use demo::{bench, demo_sensors, demo_shop};

/// `shinrai ingest` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum IngestCmd {
    /// Subscribe to signed sensor readings on an MQTT broker and register hourly evidence.
    Mqtt(IngestMqttArgs),
}

/// Where the trust store is and the organisation token to write with.
#[derive(clap::Args, Clone)]
pub struct StoreArgs {
    /// Trust store URL.
    #[arg(long, env = "SHINRAI_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Organisation API token.
    #[arg(long, env = "SHINRAI_TOKEN", hide_env_values = true)]
    pub token: String,
}

impl std::fmt::Debug for StoreArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreArgs")
            .field("server", &self.server)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The signing key: a label in an SCU key store (the key store options of `shinrai key`, with
/// the PKCS#11 token label as `--pkcs11-token`, since `--token` is the trust store's API token).
#[derive(clap::Args, Debug, Clone)]
pub struct SignArgs {
    /// Label of the organisation's signing key in the key store.
    #[arg(long)]
    pub key: String,
    /// Key store backend.
    #[arg(long, value_enum, default_value = "soft", env = "SHINRAI_BACKEND")]
    pub backend: crate::keystore::Backend,
    /// Soft backend: the sealed key store file [default: $HOME/.shinrai/keystore.json].
    #[arg(long, env = "SHINRAI_KEYSTORE")]
    pub keystore: Option<PathBuf>,
    /// PKCS#11 backend: path of the module (.so) to load.
    #[arg(
        long,
        env = "SHINRAI_PKCS11_MODULE",
        default_value = "/usr/lib/softhsm/libsofthsm2.so"
    )]
    pub pkcs11_module: PathBuf,
    /// PKCS#11 backend: label of the token holding the keys.
    #[arg(long, env = "SHINRAI_PKCS11_TOKEN", default_value = "shinrai")]
    pub pkcs11_token: String,
    /// Environment variable that holds the PIN or passphrase.
    #[arg(long, default_value = "SHINRAI_PIN")]
    pub pin_env: String,
    /// Read the PIN or passphrase from this file instead (first line).
    #[arg(long)]
    pub pin_file: Option<PathBuf>,
}

impl SignArgs {
    fn keystore_args(&self) -> KeyStoreArgs {
        KeyStoreArgs {
            backend: self.backend,
            keystore: self.keystore.clone(),
            pkcs11_module: self.pkcs11_module.clone(),
            token: self.pkcs11_token.clone(),
            pin_env: self.pin_env.clone(),
            pin_file: self.pin_file.clone(),
        }
    }
}

/// Options of `ingest mqtt`.
#[derive(clap::Args, Debug)]
pub struct IngestMqttArgs {
    /// MQTT broker HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub broker: String,
    /// Topic filter to subscribe to (QoS 1).
    #[arg(long, default_value = "shinrai/shops/+/sensors")]
    pub topic: String,
    /// MQTT client id: fixed, so the broker keeps the session (clean_session=false) and
    /// queues QoS 1 messages while the ingester or the broker restarts.
    #[arg(long, default_value = "shinrai-ingest")]
    pub client_id: String,
    /// Device registry (JSON: shops and devices with public keys; see docs/design/shop.md).
    #[arg(long)]
    pub registry: PathBuf,
    /// Close an hour once a shop's newest reading is this many seconds past its end.
    #[arg(long, default_value_t = 300)]
    pub lateness_secs: i64,
    /// Stop after this many messages (default: run until SIGINT/SIGTERM).
    #[arg(long)]
    pub max_messages: Option<u64>,
    /// Stop after this many accepted readings.
    #[arg(long)]
    pub max_readings: Option<u64>,
    /// Stop after this many seconds without a message.
    #[arg(long)]
    pub idle_exit_secs: Option<u64>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub store: StoreArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sign: SignArgs,
}

/// `shinrai shop` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ShopCmd {
    /// Register the shop's public profile (signed by the shop's organisation key).
    Profile(ProfileArgs),
    /// Register a daily hygiene checklist (HACCP-style) as signed evidence.
    Hygiene(HygieneArgs),
    /// Write and sign a certifier's specification (CEL rules with the thresholds).
    Spec(SpecArgs),
    /// Evaluate a shop's evidence against a certifier's specification; registers a signed
    /// certificate (VSA, PASSED, with validity) or the FAILED VSA with its reasons (exit 1).
    Certify(CertifyArgs),
    /// Revoke a certificate (signed by the certifier).
    Revoke(RevokeArgs),
}

/// Options of `shop profile`.
#[derive(clap::Args, Debug)]
pub struct ProfileArgs {
    /// Shop id (`[a-z0-9-]{1,64}`).
    #[arg(long)]
    pub shop: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// Postal address.
    #[arg(long, default_value = "")]
    pub address: String,
    /// Publish raw readings on the shop page (otherwise hourly aggregates only).
    #[arg(long)]
    pub publish_readings: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub store: StoreArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sign: SignArgs,
}

/// Options of `shop hygiene`.
#[derive(clap::Args, Debug)]
pub struct HygieneArgs {
    /// Shop id.
    #[arg(long)]
    pub shop: String,
    /// The day, YYYY-MM-DD (UTC).
    #[arg(long)]
    pub date: String,
    /// Items done (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub done: Vec<String>,
    /// Items not done (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub not_done: Vec<String>,
    /// Who checked: a staff pseudonym or role, never a person's name.
    #[arg(long, default_value = "staff")]
    pub by: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub store: StoreArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sign: SignArgs,
}

/// Options of `shop spec`.
#[derive(clap::Args, Debug)]
pub struct SpecArgs {
    /// Public key files (securesystemslib JSON) of the ingesting organisations.
    #[arg(long = "ingester-key", required = true)]
    pub ingester_keys: Vec<PathBuf>,
    /// Shops and their organisation keys, `SHOP=KEYFILE` (repeat).
    #[arg(long = "shop-key", required = true)]
    pub shop_keys: Vec<String>,
    /// Hourly CO2 maximum must stay below this (ppm).
    #[arg(long, default_value_t = 1000.0)]
    pub co2_max_ppm: f64,
    /// Hours of the period that need CO2 evidence (percent).
    #[arg(long, default_value_t = 90)]
    pub coverage_percent: u32,
    /// Hygiene checklist items required every day.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "handwash-stations,fridge-temperatures,surfaces-sanitised,pest-control"
    )]
    pub items: Vec<String>,
    /// Specification name (shown on the shop page as the guideline).
    #[arg(long, default_value = "Clean air and hygiene guideline v1")]
    pub name: String,
    /// Scheme id (the spec's `parameters.poNumber`).
    #[arg(long, default_value = "clean-air-hygiene-v1")]
    pub scheme: String,
    /// Days until the specification expires.
    #[arg(long, default_value_t = 365)]
    pub expires_days: i64,
    /// Where to write the signed specification (DSSE envelope).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sign: SignArgs,
}

/// Options of `shop certify`.
#[derive(clap::Args, Debug)]
pub struct CertifyArgs {
    /// Shop id.
    #[arg(long)]
    pub shop: String,
    /// The signed specification (from `shop spec`); registered if it is not yet.
    #[arg(long)]
    pub spec: PathBuf,
    /// Period start (RFC 3339 or YYYY-MM-DD, UTC midnight).
    #[arg(long)]
    pub from: String,
    /// Period end, exclusive (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub to: String,
    /// Days a certificate is valid from now.
    #[arg(long, default_value_t = 90)]
    pub valid_days: i64,
    /// The VSA `verifier.id`.
    #[arg(long, default_value = "https://certifier.example/shinrai")]
    pub verifier_id: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub store: StoreArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sign: SignArgs,
}

/// Options of `shop revoke`.
#[derive(clap::Args, Debug)]
pub struct RevokeArgs {
    /// Entry id of the certificate.
    #[arg(long)]
    pub certificate: String,
    /// Why.
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub store: StoreArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sign: SignArgs,
}

/// Options of `demo sensors`.
#[derive(clap::Args, Debug)]
pub struct DemoSensorsArgs {
    /// MQTT broker HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub broker: String,
    /// Topic prefix: messages go to `<prefix>/shops/<shop>/sensors`.
    #[arg(long, default_value = "shinrai")]
    pub topic_prefix: String,
    /// Device registry to write (or read, with the key file, when both exist).
    #[arg(long)]
    pub registry: PathBuf,
    /// Device key file (secret; written with mode 0600 next to the registry by default).
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Number of shops (the first four have names; `bistro-paris` has the ventilation failure).
    #[arg(long, default_value_t = 4)]
    pub shops: usize,
    /// Simulated hours.
    #[arg(long, default_value_t = 48)]
    pub hours: i64,
    /// Simulated start (RFC 3339 or YYYY-MM-DD); default: `hours` before the last midnight UTC.
    #[arg(long)]
    pub start: Option<String>,
    /// Seconds between samples (each sample: CO2, temperature, humidity).
    #[arg(long, default_value_t = 60)]
    pub interval_secs: i64,
    /// Readings per message.
    #[arg(long, default_value_t = 30)]
    pub batch: usize,
    /// Hours (from the start) during which the failing shop's ventilation is off, `A..B`.
    #[arg(long, default_value = "12..17")]
    pub failure_hours: String,
    /// MQTT client id of the publisher (fixed: persistent session).
    #[arg(long, default_value = "shinrai-sensors")]
    pub client_id: String,
    /// Pause this many milliseconds after every `--pause-every` messages (to stretch a run).
    #[arg(long, default_value_t = 0)]
    pub pause_ms: u64,
    /// See `--pause-ms`.
    #[arg(long, default_value_t = 0)]
    pub pause_every: usize,
    /// Also publish one forged message (changed after signing) and one from an unknown device.
    #[arg(long)]
    pub with_forgeries: bool,
}

/// Options of `demo shop`.
#[derive(clap::Args, Debug)]
pub struct DemoShopArgs {
    /// Use a running trust store (needs `--data` of that store to add the demo organisations);
    /// default: an embedded store and server on 127.0.0.1:0 in a temporary directory.
    #[arg(long, requires = "data")]
    pub server: Option<String>,
    /// Data directory of the store given by `--server` (or where to create the embedded one).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// MQTT broker HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub broker: String,
    /// Simulated hours (two days by default).
    #[arg(long, default_value_t = 48)]
    pub hours: i64,
    /// Keep serving the embedded store (and the pages) after the scenario, until Ctrl-C.
    #[arg(long)]
    pub keep_serving: bool,
}

/// Options of `bench ingest`.
#[derive(clap::Args, Debug)]
pub struct BenchIngestArgs {
    /// MQTT broker HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub broker: String,
    /// Total readings to publish.
    #[arg(long, default_value_t = 1_000_000)]
    pub readings: u64,
    /// Readings per message.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Shops (one device each).
    #[arg(long, default_value_t = 20)]
    pub shops: usize,
    /// Seconds between simulated samples.
    #[arg(long, default_value_t = 10)]
    pub interval_secs: i64,
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Opens the key store and runs `f` with a signer for `sign.key`.
fn with_signer<T>(sign: &SignArgs, f: impl FnOnce(&dyn Signer) -> Result<T>) -> Result<T> {
    let ks = sign.keystore_args().open(false)?;
    let signer = ScuSigner::new(ks.as_ref(), &sign.key, Purpose::statement())
        .with_context(|| format!("key {:?}", sign.key))?;
    f(&signer)
}

/// Reads a time: RFC 3339, or YYYY-MM-DD as midnight UTC.
pub fn parse_time_arg(s: &str) -> Result<i64> {
    if s.len() == 10 {
        let d = parse_date(s)?;
        return Ok(d.midnight().assume_utc().unix_timestamp() * 1000);
    }
    Ok(parse_rfc3339_ms(s)?)
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn print_json(v: &serde_json::Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Runs an `ingest` subcommand.
pub fn run_ingest(cmd: IngestCmd) -> Result<ExitCode> {
    let IngestCmd::Mqtt(a) = cmd;
    let bytes = std::fs::read(&a.registry)
        .with_context(|| format!("reading the device registry {}", a.registry.display()))?;
    let registry = DeviceRegistry::from_json(&bytes)
        .with_context(|| format!("device registry {}", a.registry.display()))?;
    let store = StoreClient::new(&a.store.server, &a.store.token)?;
    let cfg = ingest::MqttConfig {
        broker: a.broker.clone(),
        topic: a.topic.clone(),
        client_id: a.client_id.clone(),
        lateness_ms: a.lateness_secs.saturating_mul(1000),
    };
    let stop = ingest::StopWhen {
        messages: a.max_messages,
        readings: a.max_readings,
        idle: a.idle_exit_secs.map(Duration::from_secs),
        flag: None,
    };
    let stats = with_signer(&a.sign, |signer| {
        runtime()?.block_on(ingest::run(&cfg, &registry, signer, &store, &stop, || {
            eprintln!("subscribed to {} on {}", cfg.topic, cfg.broker);
        }))
    })?;
    print_json(&serde_json::to_value(&stats)?)?;
    Ok(if stats.registration_errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Signs `st` and registers it; returns the entry id.
pub(crate) async fn sign_and_register(
    store: &StoreClient,
    signer: &dyn Signer,
    st: &Statement,
) -> Result<(String, Vec<u8>)> {
    let bytes = sign_statement(st, &[signer])?.to_json_bytes();
    let id = store.register(bytes.clone()).await?;
    Ok((id, bytes))
}

/// Everything a certification needs besides the evidence.
pub struct CertifyParams<'a> {
    /// Shop id.
    pub shop: &'a str,
    /// Signed specification bytes.
    pub spec: &'a [u8],
    /// Period `[start, end)`, Unix ms.
    pub start_ms: i64,
    /// End of the period.
    pub end_ms: i64,
    /// Validity from now, ms.
    pub valid_ms: i64,
    /// VSA verifier id.
    pub verifier_id: &'a str,
}

/// Registers the spec (idempotent), fetches the shop's evidence, evaluates, signs and registers
/// the VSA. Returns the outcome and the VSA's entry id.
pub async fn certify_shop(
    store: &StoreClient,
    certifier: &dyn Signer,
    p: &CertifyParams<'_>,
) -> Result<(certify::CertifyOutcome, String)> {
    let spec_id = store
        .register(p.spec.to_vec())
        .await
        .context("registering the specification")?;
    let found = store.search_subject(&shop_urn(p.shop), None).await?;
    let entries: Vec<certify::EntryInput<'_>> = found
        .iter()
        .map(|e| certify::EntryInput {
            id: &e.id,
            bytes: &e.bytes,
        })
        .collect();
    let key = certifier.sslib_key()?;
    let outcome = certify::evaluate(&certify::CertifyRequest {
        spec_envelope: p.spec,
        certifier_keys: std::slice::from_ref(&key),
        spec_entry_id: &spec_id,
        shop: p.shop,
        start_ms: p.start_ms,
        end_ms: p.end_ms,
        now_ms: now_ms(),
        valid_ms: p.valid_ms,
        verifier_id: p.verifier_id,
        entries: &entries,
    })?;
    let (id, _) = sign_and_register(store, certifier, &outcome.statement).await?;
    Ok((outcome, id))
}

/// Revokes certificate `certificate` (which `certifier` must have signed).
pub async fn revoke_certificate(
    store: &StoreClient,
    certifier: &dyn Signer,
    certificate: &str,
    reason: &str,
) -> Result<String> {
    let bytes = store.entry_bytes(certificate).await?;
    let key = certifier.sslib_key()?;
    let verified = shinrai_conformity::vsa::verify_vsa(&bytes, std::slice::from_ref(&key), 1)
        .context("the certificate is not a VSA signed by this certifier's key")?;
    let shop = verified
        .predicate()
        .resource_uri
        .strip_prefix("urn:shinrai:shop:")
        .context("the certificate is not about a shop")?
        .to_owned();
    let sha = verified.envelope_sha256().to_owned();
    let st = Revocation {
        revokes: certificate.to_owned(),
        reason: reason.to_owned(),
    }
    .to_statement(&shop, &sha)?;
    Ok(sign_and_register(store, certifier, &st).await?.0)
}

/// Runs a `shop` subcommand.
pub fn run_shop(cmd: ShopCmd) -> Result<ExitCode> {
    match cmd {
        ShopCmd::Profile(a) => {
            let st = ShopProfile {
                id: a.shop.clone(),
                name: a.name,
                address: a.address,
                publish_readings: a.publish_readings,
            }
            .to_statement()?;
            let store = StoreClient::new(&a.store.server, &a.store.token)?;
            let id = with_signer(&a.sign, |s| {
                runtime()?.block_on(sign_and_register(&store, s, &st))
            })?
            .0;
            print_json(&json!({"shop": a.shop, "profile": id}))?;
            Ok(ExitCode::SUCCESS)
        }
        ShopCmd::Hygiene(a) => {
            let at = rfc3339_ms(now_ms());
            let checks = a
                .done
                .iter()
                .map(|i| (i, true))
                .chain(a.not_done.iter().map(|i| (i, false)))
                .filter(|(i, _)| !i.is_empty())
                .map(|(i, done)| HygieneCheck {
                    item: i.clone(),
                    done,
                    by: a.by.clone(),
                    at: at.clone(),
                })
                .collect();
            let st = HygieneRecord {
                shop: a.shop.clone(),
                date: a.date.clone(),
                checks,
            }
            .to_statement()?;
            let store = StoreClient::new(&a.store.server, &a.store.token)?;
            let id = with_signer(&a.sign, |s| {
                runtime()?.block_on(sign_and_register(&store, s, &st))
            })?
            .0;
            print_json(&json!({"shop": a.shop, "date": a.date, "hygiene": id}))?;
            Ok(ExitCode::SUCCESS)
        }
        ShopCmd::Spec(a) => {
            let read_key = |p: &PathBuf| -> Result<SslibKey> {
                let b = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                SslibKey::parse(&b).with_context(|| format!("key {}", p.display()))
            };
            let ingesters = a
                .ingester_keys
                .iter()
                .map(read_key)
                .collect::<Result<Vec<_>>>()?;
            let mut shops = Vec::new();
            for s in &a.shop_keys {
                let (shop, file) = s
                    .split_once('=')
                    .with_context(|| format!("--shop-key {s:?} is not SHOP=KEYFILE"))?;
                shops.push((shop.to_owned(), read_key(&PathBuf::from(file))?));
            }
            let spec = certify::build_spec(
                &a.name,
                &a.scheme,
                now_ms() / 1000 + a.expires_days * 86_400,
                &ingesters,
                &shops,
                certify::default_rules(a.co2_max_ppm, a.coverage_percent, &a.items),
            )?;
            let env = with_signer(&a.sign, |s| Ok(spec.sign(&[s])?))?;
            std::fs::write(&a.out, env.to_json_bytes())
                .with_context(|| format!("writing {}", a.out.display()))?;
            eprintln!("signed specification written to {}", a.out.display());
            Ok(ExitCode::SUCCESS)
        }
        ShopCmd::Certify(a) => {
            let spec =
                std::fs::read(&a.spec).with_context(|| format!("reading {}", a.spec.display()))?;
            let start_ms = parse_time_arg(&a.from)?;
            let end_ms = parse_time_arg(&a.to)?;
            if end_ms <= start_ms {
                bail!("--to must be after --from");
            }
            let store = StoreClient::new(&a.store.server, &a.store.token)?;
            let (outcome, id) = with_signer(&a.sign, |s| {
                runtime()?.block_on(certify_shop(
                    &store,
                    s,
                    &CertifyParams {
                        shop: &a.shop,
                        spec: &spec,
                        start_ms,
                        end_ms,
                        valid_ms: a.valid_days * 86_400_000,
                        verifier_id: &a.verifier_id,
                    },
                ))
            })?;
            print_json(&json!({
                "shop": a.shop,
                "result": if outcome.passed { "PASSED" } else { "FAILED" },
                "entry": id,
                "certificate": if outcome.passed { Some(&id) } else { None },
                "hours": outcome.hours_used,
                "hygieneRecords": outcome.hygiene_used,
                "reasons": outcome.reasons,
            }))?;
            Ok(if outcome.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        ShopCmd::Revoke(a) => {
            let store = StoreClient::new(&a.store.server, &a.store.token)?;
            let id = with_signer(&a.sign, |s| {
                runtime()?.block_on(revoke_certificate(&store, s, &a.certificate, &a.reason))
            })?;
            print_json(&json!({"certificate": a.certificate, "revocation": id}))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
