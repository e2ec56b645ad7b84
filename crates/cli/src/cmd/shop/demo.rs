//! `shinrai demo sensors`, `shinrai demo shop` and `shinrai bench ingest`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use shinrai_envelope::Signer;
use shinrai_evidence::sensor::{DeviceRegistry, HOUR_MS, READINGS_PAYLOAD_TYPE, RegistryFile};
use shinrai_evidence::shop::{HygieneCheck, HygieneRecord, ShopProfile, rfc3339_ms};
use shinrai_scu::Algorithm;

use super::client::{MemKey, StoreClient};
use super::sim::{self, FAILING_SHOP, SimPlan};
use super::{
    BenchIngestArgs, CertifyParams, DemoSensorsArgs, DemoShopArgs, certify, certify_shop, ingest,
    now_ms, parse_time_arg, runtime, sign_and_register,
};

/// The hygiene items of the demo checklist (the spec requires them).
const ITEMS: &[&str] = &[
    "handwash-stations",
    "fridge-temperatures",
    "surfaces-sanitised",
    "pest-control",
];

fn parse_range(s: &str) -> Result<std::ops::Range<i64>> {
    let (a, b) = s
        .split_once("..")
        .with_context(|| format!("{s:?} is not A..B"))?;
    Ok(a.trim().parse()?..b.trim().parse()?)
}

fn default_start(hours: i64) -> i64 {
    let midnight = now_ms().div_euclid(86_400_000) * 86_400_000;
    midnight - hours * HOUR_MS
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), now_ms())
}

/// All messages of `devices` as (topic, bytes), interleaved by time.
fn messages(
    devices: &[sim::SimDevice],
    plan: &SimPlan,
    prefix: &str,
) -> Result<Vec<(String, Vec<u8>)>> {
    let per: Vec<Vec<Vec<u8>>> = devices
        .iter()
        .map(|d| sim::device_messages(d, plan))
        .collect::<Result<_>>()?;
    let longest = per.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for i in 0..longest {
        for (d, msgs) in devices.iter().zip(&per) {
            if let Some(m) = msgs.get(i) {
                out.push((format!("{prefix}/shops/{}/sensors", d.shop), m.clone()));
            }
        }
    }
    Ok(out)
}

/// Runs `demo sensors`.
pub fn demo_sensors(a: DemoSensorsArgs) -> Result<ExitCode> {
    let keys = a
        .keys
        .clone()
        .unwrap_or_else(|| a.registry.with_extension("keys.json"));
    let devices = if a.registry.exists() && keys.exists() {
        sim::load(&keys)?
    } else {
        let (devices, reg) = sim::make_devices(&sim::demo_shops(a.shops))?;
        sim::save(&devices, &reg, &a.registry, &keys)?;
        eprintln!(
            "wrote the device registry {} and device keys {}",
            a.registry.display(),
            keys.display()
        );
        devices
    };
    let start = match &a.start {
        Some(s) => parse_time_arg(s)?,
        None => default_start(a.hours),
    };
    let plan = SimPlan {
        start_ms: start,
        hours: a.hours,
        interval_s: a.interval_secs,
        batch: a.batch,
        failing: vec![(FAILING_SHOP.to_owned(), parse_range(&a.failure_hours)?)],
    };
    let mut msgs = messages(&devices, &plan, &a.topic_prefix)?;
    let readings: usize = msgs.len();
    if a.with_forgeries {
        msgs.extend(forgeries(&devices, &a.topic_prefix, start)?);
    }
    let pause = (a.pause_every > 0).then(|| (a.pause_every, Duration::from_millis(a.pause_ms)));
    let n = msgs.len();
    let acked = runtime()?.block_on(sim::publish_all(&a.broker, &a.client_id, msgs, pause))?;
    println!(
        "{}",
        serde_json::json!({"messages": n, "signed_messages": readings, "acknowledged": acked,
            "devices": devices.len(), "start": rfc3339_ms(start), "hours": a.hours})
    );
    Ok(ExitCode::SUCCESS)
}

/// A forged message (payload changed after signing) and one signed by an unregistered key.
fn forgeries(
    devices: &[sim::SimDevice],
    prefix: &str,
    start: i64,
) -> Result<Vec<(String, Vec<u8>)>> {
    let Some(d) = devices.first() else {
        return Ok(Vec::new());
    };
    let batch = shinrai_evidence::sensor::ReadingBatch {
        device: d.id.clone(),
        shop: d.shop.clone(),
        seq: 9_000_000,
        readings: vec![shinrai_evidence::sensor::Reading {
            t: start + 60_000,
            kind: shinrai_evidence::sensor::Quantity::Co2,
            value: 420.0,
        }],
    };
    let topic = format!("{prefix}/shops/{}/sensors", d.shop);
    let mut env = shinrai_envelope::dsse::Envelope::parse(&batch.sign(&d.key)?)?;
    env.payload = String::from_utf8_lossy(&env.payload)
        .replace("420", "410")
        .into_bytes();
    let stranger = MemKey::generate(Algorithm::EcdsaP256)?;
    let mut b2 = batch.clone();
    b2.seq += 1;
    Ok(vec![
        (topic.clone(), env.to_json_bytes()),
        (topic, b2.sign(&stranger)?),
    ])
}

/// A running store: embedded (in a temp dir, served on 127.0.0.1:0) or external.
struct DemoStore {
    base: String,
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    first_token: Option<String>,
}

async fn start_store(
    server: Option<&str>,
    data: Option<&Path>,
    first_org: &str,
    first_key: &dyn Signer,
) -> Result<DemoStore> {
    if let Some(url) = server {
        let dir = data.context("--server needs --data")?.to_path_buf();
        return Ok(DemoStore {
            base: url.trim_end_matches('/').to_owned(),
            dir,
            _tmp: None,
            shutdown: None,
            server: None,
            first_token: None,
        });
    }
    let (dir, tmp) = match data {
        Some(d) => (d.to_path_buf(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("shinrai-shop-demo-")
                .tempdir()?;
            (t.path().join("store"), Some(t))
        }
    };
    let report = shinrai_store::Store::init(
        &dir,
        shinrai_store::InitOptions {
            config: shinrai_store::Config::default(),
            org: first_org.to_owned(),
            org_key_json: first_key.sslib_key()?.to_json_bytes(),
            passphrase: None,
            kdf: shinrai_scu::soft::KdfParams::default(),
        },
    )?;
    let store = shinrai_store::Store::open(&dir)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let _ = shinrai_server::serve(shinrai_server::AppState::new(store), listener, async {
            let _ = rx.await;
        })
        .await;
    });
    Ok(DemoStore {
        base: format!("http://{addr}"),
        dir,
        _tmp: tmp,
        shutdown: Some(tx),
        server: Some(handle),
        first_token: Some(report.token),
    })
}

/// Adds organisation `name` with `key` (or a new key if the name is taken) and returns a token.
fn add_org(dir: &Path, name: &str, key: &dyn Signer) -> Result<String> {
    let admin = shinrai_store::Admin::open(dir)?;
    let json = key.sslib_key()?.to_json_bytes();
    match admin.add_org(name, Some(&json)) {
        Ok((_, token)) => Ok(token),
        Err(_) => {
            admin.add_key(name, &json)?;
            Ok(admin.new_token(name)?)
        }
    }
}

/// Runs `demo shop`.
pub fn demo_shop(a: DemoShopArgs) -> Result<ExitCode> {
    runtime()?.block_on(demo_shop_async(a))
}

async fn demo_shop_async(a: DemoShopArgs) -> Result<ExitCode> {
    let ingester = MemKey::generate(Algorithm::Ed25519)?;
    let certifier = MemKey::generate(Algorithm::Ed25519)?;
    let suffix = unique("demo");
    let ingester_org = "air-quality-ingest";
    let mut ds = start_store(
        a.server.as_deref(),
        a.data.as_deref(),
        ingester_org,
        &ingester,
    )
    .await?;
    let ingest_token = match ds.first_token.take() {
        Some(t) => t,
        None => add_org(&ds.dir, &format!("{ingester_org}-{suffix}"), &ingester)?,
    };
    let base = ds.base.clone();
    println!("1. trust store at {base}");
    let store = StoreClient::new(&base, &ingest_token)?;
    let cert_store = store.with_token(&add_org(
        &ds.dir,
        &format!("certifier-{suffix}"),
        &certifier,
    )?);

    let shops = sim::demo_shops(4);
    let (devices, reg) = sim::make_devices(&shops)?;
    let registry = DeviceRegistry::new(reg.clone())?;
    let mut shop_keys = Vec::new();
    for (id, name, address, publish) in &shops {
        let key = MemKey::generate(Algorithm::Ed25519)?;
        let token = add_org(&ds.dir, &format!("shop-{id}-{suffix}"), &key)?;
        let st = ShopProfile {
            id: id.clone(),
            name: name.clone(),
            address: address.clone(),
            publish_readings: *publish,
        }
        .to_statement()?;
        let shop_store = store.with_token(&token);
        sign_and_register(&shop_store, &key, &st).await?;
        shop_keys.push((id.clone(), key, shop_store));
    }
    println!(
        "2. registered {} shop profiles, {} sensor devices",
        shops.len(),
        devices.len()
    );

    let start = default_start(a.hours);
    let end = start + a.hours * HOUR_MS;
    let plan = SimPlan {
        start_ms: start,
        hours: a.hours,
        interval_s: 60,
        batch: 30,
        failing: vec![(FAILING_SHOP.to_owned(), 12..17)],
    };
    let prefix = unique("shinrai-demo");
    let msgs = messages(&devices, &plan, &prefix)?;
    let n_msgs = msgs.len() as u64;
    let cfg = ingest::MqttConfig {
        broker: a.broker.clone(),
        topic: format!("{prefix}/shops/+/sensors"),
        client_id: unique("shinrai-demo-ingest"),
        lateness_ms: 300_000,
    };
    let stop = ingest::StopWhen {
        messages: Some(n_msgs),
        flag: Some(Arc::new(AtomicBool::new(false))),
        ..Default::default()
    };
    let (sub_tx, sub_rx) = tokio::sync::oneshot::channel();
    let broker = a.broker.clone();
    let pub_id = unique("shinrai-demo-sensors");
    let publisher = async move {
        sub_rx.await.context("the ingester did not subscribe")?;
        sim::publish_all(&broker, &pub_id, msgs, None).await
    };
    let ingesting = ingest::run(&cfg, &registry, &ingester, &store, &stop, move || {
        let _ = sub_tx.send(());
    });
    let (stats, published) = tokio::join!(ingesting, publisher);
    let stats = stats?;
    published?;
    println!(
        "3. sensors -> MQTT {} -> ingest: {} messages, {} readings, {} hourly evidence entries registered",
        a.broker, stats.messages, stats.readings_accepted, stats.events_registered
    );

    let mut d = start;
    let mut days = 0;
    while d < end {
        let date = rfc3339_ms(d)[..10].to_owned();
        for (id, key, shop_store) in &shop_keys {
            let rec = HygieneRecord {
                shop: id.clone(),
                date: date.clone(),
                checks: ITEMS
                    .iter()
                    .map(|i| HygieneCheck {
                        item: (*i).to_owned(),
                        done: true,
                        by: "staff-1".into(),
                        at: rfc3339_ms(d + 9 * HOUR_MS),
                    })
                    .collect(),
            };
            sign_and_register(shop_store, key, &rec.to_statement()?).await?;
        }
        d += 86_400_000;
        days += 1;
    }
    println!("4. {days} daily hygiene records per shop registered");

    let spec = certify::build_spec(
        "Clean air and hygiene guideline v1",
        "clean-air-hygiene-v1",
        now_ms() / 1000 + 365 * 86_400,
        &[ingester.sslib_key()?],
        &shop_keys
            .iter()
            .map(|(id, k, _)| Ok((id.clone(), k.sslib_key()?)))
            .collect::<Result<Vec<_>>>()?,
        certify::default_rules(
            1000.0,
            90,
            &ITEMS.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
        ),
    )?;
    let spec_bytes = spec.sign(&[&certifier])?.to_json_bytes();
    println!(
        "5. certifier's specification: CO2 hourly max < 1000 ppm, >= 90% hours covered, hygiene complete daily"
    );
    let mut certified = None;
    for (id, _, _) in &shop_keys {
        let (outcome, entry) = certify_shop(
            &cert_store,
            &certifier,
            &CertifyParams {
                shop: id,
                spec: &spec_bytes,
                start_ms: start,
                end_ms: end,
                valid_ms: 90 * 86_400_000,
                verifier_id: "https://certifier.example/shinrai",
            },
        )
        .await?;
        if outcome.passed {
            println!("   {id}: PASSED, certificate {entry}");
            certified.get_or_insert_with(|| id.clone());
        } else {
            println!(
                "   {id}: FAILED (no certificate): {}",
                outcome.reasons.join("; ")
            );
        }
    }
    let certified = certified.context("no shop passed: the demo is broken")?;
    println!("certified shop: {base}/shops/{certified}");
    println!("failing shop:   {base}/shops/{FAILING_SHOP}");
    if a.keep_serving && ds.server.is_some() {
        println!("serving until Ctrl-C");
        let _ = tokio::signal::ctrl_c().await;
    }
    if let Some(tx) = ds.shutdown.take() {
        let _ = tx.send(());
    }
    if let Some(h) = ds.server.take() {
        let _ = h.await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `bench ingest`.
pub fn bench(a: BenchIngestArgs) -> Result<ExitCode> {
    runtime()?.block_on(bench_async(a))
}

async fn bench_async(a: BenchIngestArgs) -> Result<ExitCode> {
    if a.shops == 0 || a.readings == 0 {
        bail!("--shops and --readings must be positive");
    }
    let ingester = MemKey::generate(Algorithm::Ed25519)?;
    let mut ds = start_store(None, None, "ingest", &ingester).await?;
    let store = StoreClient::new(&ds.base, ds.first_token.as_deref().unwrap_or_default())?;
    let shops = sim::demo_shops(a.shops);
    let (devices, reg): (_, RegistryFile) = sim::make_devices(&shops)?;
    let registry = DeviceRegistry::new(reg)?;
    // readings per device = samples * 3
    let per_device = a.readings.div_ceil(a.shops as u64);
    let samples = per_device.div_ceil(3) as i64;
    let hours = ((samples * a.interval_secs + 3599) / 3600).max(1);
    let plan = SimPlan {
        start_ms: default_start(hours),
        hours,
        interval_s: a.interval_secs,
        batch: a.batch,
        failing: Vec::new(),
    };
    eprintln!(
        "signing the messages ({} shops, {hours} simulated hours)...",
        a.shops
    );
    let prefix = unique("shinrai-bench");
    let msgs = messages(&devices, &plan, &prefix)?;
    let n_msgs = msgs.len() as u64;
    let total_readings: u64 = msgs
        .iter()
        .map(|(_, m)| {
            shinrai_envelope::dsse::Envelope::parse(m)
                .ok()
                .filter(|e| e.payload_type == READINGS_PAYLOAD_TYPE)
                .and_then(|e| {
                    serde_json::from_slice::<shinrai_evidence::sensor::ReadingBatch>(&e.payload)
                        .ok()
                })
                .map_or(0, |b| b.readings.len() as u64)
        })
        .sum();
    let cfg = ingest::MqttConfig {
        broker: a.broker.clone(),
        topic: format!("{prefix}/shops/+/sensors"),
        client_id: unique("shinrai-bench-ingest"),
        lateness_ms: 0,
    };
    let stop = ingest::StopWhen {
        messages: Some(n_msgs),
        ..Default::default()
    };
    let (sub_tx, sub_rx) = tokio::sync::oneshot::channel();
    let (t0_tx, t0_rx) = tokio::sync::oneshot::channel();
    let broker = a.broker.clone();
    let pub_id = unique("shinrai-bench-sensors");
    let publisher = async move {
        sub_rx.await.context("the ingester did not subscribe")?;
        let _ = t0_tx.send(Instant::now());
        sim::publish_all(&broker, &pub_id, msgs, None).await
    };
    let ingesting = ingest::run(&cfg, &registry, &ingester, &store, &stop, move || {
        let _ = sub_tx.send(());
    });
    let (stats, published) = tokio::join!(ingesting, publisher);
    let end = Instant::now();
    let stats = stats?;
    published?;
    let t0 = t0_rx.await.context("no start time")?;
    let secs = end.duration_since(t0).as_secs_f64();
    let result = serde_json::json!({
        "readings": total_readings,
        "messages": n_msgs,
        "batch": a.batch,
        "shops": a.shops,
        "hourly_evidence_registered": stats.events_registered,
        "readings_registered": stats.readings_registered,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "readings_per_second": (stats.readings_registered as f64 / secs).round(),
        "refused": stats.refused(),
        "registration_errors": stats.registration_errors,
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    if let Some(tx) = ds.shutdown.take() {
        let _ = tx.send(());
    }
    if let Some(h) = ds.server.take() {
        let _ = h.await;
    }
    if stats.readings_registered != total_readings {
        bail!(
            "only {} of {total_readings} readings reached registered evidence",
            stats.readings_registered
        );
    }
    Ok(ExitCode::SUCCESS)
}
