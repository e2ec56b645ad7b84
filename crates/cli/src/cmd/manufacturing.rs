//! `shinrai demo manufacturing`: the seed's supply-chain scenario against a running store, and
//! the synthetic network of `shinrai bench chain`.
//!
//! Material supplier -> parts makers A, B, C -> car-body maker -> dealer, six organisations,
//! each with its own soft SCU key store (organisation key Ed25519, production devices ECDSA
//! P-256). Specifications are issued downstream-up (the dealer orders bodies, the body maker
//! orders parts, each parts maker orders its steel); each customer verifies its supplier's
//! evidence against its specification and registers the VSA. Everything is registered through
//! the HTTP API. Parts lot B-2 is made with an out-of-spec torque: its VSA FAILS, where-used
//! finds the bodies it went into, and chain verification fails them while BODY-1 passes.
//! `--fault` injects one more failure into lot A-1 (used by BODY-1 and BODY-3) to show each
//! failure path of the chain verification.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use shinrai_conformity::chain::{ChainOptions, ChainReport, ChainTrust, render_text, verify_chain};
use shinrai_conformity::spec::{AttributeRule, OrderParameters, OrderSpec, SpecStep, verify_spec};
use shinrai_conformity::verify::{EvidenceInput, VerifyOptions, verify_conformity};
use shinrai_envelope::keys::SslibKey;
use shinrai_envelope::statement::{Statement, Subject, sign_statement};
use shinrai_envelope::{ScuSigner, Signer};
use shinrai_evidence::epcis::{
    BizTransaction, Event, EventType, SensorElement, SensorReport, Timestamp,
};
use shinrai_evidence::step::{Artifact, EventEvidence, StepRecord};
use shinrai_scu::soft::{KdfParams, SoftKeyStore};
use shinrai_scu::{Algorithm, KeyStore, Purpose, UsagePolicy};

use super::chain::{BenchChainArgs, HttpSource, exit_for, render_where_used, where_used};

/// A failure injected into lot A-1 (used by BODY-1 and BODY-3).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing more than the scenario's out-of-spec lot B-2.
    None,
    /// A-1's torque readings are signed by a device the specification does not name.
    WrongDevice,
    /// A-1's torque readings were verified but never registered in the store.
    EvidenceMissing,
    /// Parts maker A widens the torque range of the body maker's specification, re-signs it
    /// with its own key and verifies its own lot against it.
    SpecTampered,
    /// A-1's VSA is made against the specification of lot A-2.
    OtherSpec,
    /// The body maker's record of BODY-1 claims an A-1 with another digest than parts maker A
    /// delivered.
    BrokenLink,
}

/// Options of `demo manufacturing`.
#[derive(clap::Args, Debug)]
pub struct DemoManufacturingArgs {
    /// A running trust store (default: an embedded store and server on 127.0.0.1, port 0).
    #[arg(long)]
    pub server: Option<String>,
    /// API token for every registration (default: each organisation's own token).
    #[arg(long, env = "SHINRAI_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The store's data directory: created for the embedded store if absent (and kept); with
    /// --server, the running store's directory, where the organisations and their keys are
    /// added (as `shinrai org add` does).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Where to write key stores, trust.json (organisation keys), log-key.txt and
    /// products.json (default: a temporary directory, removed at the end).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Inject one more failure into lot A-1.
    #[arg(long, value_enum, default_value = "none")]
    pub fault: Fault,
}

const KEYSTORE_PASS: &str = "shinrai-demo-manufacturing";
const T0_MS: i64 = 1_780_000_000_000;

/// One organisation: its key store and the keys in it.
struct Org {
    name: &'static str,
    ks: SoftKeyStore,
    key: SslibKey,
    /// device label -> key.
    devices: BTreeMap<String, SslibKey>,
    token: String,
}

impl Org {
    fn signer(&self) -> Result<ScuSigner<'_>> {
        Ok(ScuSigner::new(&self.ks, "org", Purpose::statement())?)
    }
    fn device(&self, label: &str) -> Result<ScuSigner<'_>> {
        Ok(ScuSigner::new(&self.ks, label, Purpose::statement())?)
    }
}

/// Registration over HTTP.
struct Api {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
    token_override: Option<String>,
}

impl Api {
    /// Registers `bytes` with `token`; returns the entry id.
    fn register(&self, bytes: &[u8], token: &str) -> Result<String> {
        let token = self.token_override.as_deref().unwrap_or(token);
        let (status, body) = self.post(bytes, token)?;
        match status {
            200 | 201 => Ok(serde_json::from_slice::<Value>(&body)?["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()),
            202 => {
                let id = serde_json::from_slice::<Value>(&body)?["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                for _ in 0..120 {
                    std::thread::sleep(Duration::from_millis(250));
                    let s = self.rt.block_on(async {
                        self.client
                            .get(format!("{}/entries/{id}/receipt", self.base))
                            .send()
                            .await
                            .map(|r| r.status().as_u16())
                    })?;
                    if s == 200 {
                        return Ok(id);
                    }
                }
                bail!("entry {id} accepted but not integrated after 30 s")
            }
            _ => bail!(
                "the store refused a registration: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            ),
        }
    }

    fn post(&self, bytes: &[u8], token: &str) -> Result<(u16, Vec<u8>)> {
        self.rt.block_on(async {
            let r = self
                .client
                .post(format!("{}/entries", self.base))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(bytes.to_vec())
                .send()
                .await
                .context("contacting the trust store")?;
            let s = r.status().as_u16();
            Ok((s, r.bytes().await?.to_vec()))
        })
    }
}

/// A lot: name and content digest.
fn lot(name: &str, content: &str) -> Artifact {
    Artifact::for_content(name, content.as_bytes())
}

fn words(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_owned).collect()
}

/// One tier's production: the specification, the records and events, who verifies.
struct Order {
    /// Lot produced.
    product: Artifact,
    /// Lots consumed (as the producer records them).
    materials: Vec<Artifact>,
    /// Producer and its device.
    producer: usize,
    device: String,
    /// Customer (issues the specification, verifies, signs the VSA).
    customer: usize,
    step: &'static str,
    sensor: &'static str,
    readings: Vec<f64>,
    po: String,
}

fn spec_for(o: &Order, orgs: &[Org]) -> Result<OrderSpec> {
    let producer = &orgs[o.producer];
    let mut spec = OrderSpec {
        name: format!("{} for {}", o.step, o.product.name),
        expires: "2099-01-01T00:00:00Z".into(),
        parameters: OrderParameters {
            po_number: o.po.clone(),
            lot: o.product.name.clone(),
            ..Default::default()
        },
        keys: Default::default(),
        steps: Vec::new(),
        rules: Vec::new(),
    };
    let fid = spec.add_key(&producer.key);
    let did = spec.add_key(
        producer
            .devices
            .get(&o.device)
            .ok_or_else(|| anyhow!("no device {}", o.device))?,
    );
    let mut step = SpecStep::new(o.step, vec![fid]);
    step.device_keys = vec![did];
    step.expected_materials = o
        .materials
        .iter()
        .map(|m| vec!["ALLOW".to_owned(), m.name.clone()])
        .chain([words("DISALLOW *")])
        .collect();
    step.expected_products = vec![
        vec!["CREATE".to_owned(), o.product.name.clone()],
        words("DISALLOW *"),
    ];
    spec.steps = vec![step];
    let (kind, lo, hi) = match o.sensor {
        "Torque" => ("Torque", 20.0, 25.0),
        _ => ("Temperature", 1450.0, 1650.0),
    };
    spec.rules = vec![
        AttributeRule {
            name: format!("{}-in-range", kind.to_lowercase()),
            step: o.step.into(),
            expr: format!(
                "readings.filter(r, r.type == '{kind}').all(r, r.value >= {lo:.1} && r.value <= {hi:.1})"
            ),
            description: format!("every {kind} reading within {lo}..{hi}"),
        },
        AttributeRule {
            name: format!("{}-measured", kind.to_lowercase()),
            step: o.step.into(),
            expr: format!("size(readings.filter(r, r.type == '{kind}')) >= 3"),
            description: format!("at least three {kind} readings"),
        },
    ];
    Ok(spec)
}

fn sensor_event(o: &Order, n: i64, device_uri: &str) -> Result<Event> {
    let t = Timestamp::from_unix_millis(T0_MS + n * 60_000, 60)?;
    let mut e = Event::new(EventType::ObjectEvent, t);
    e.epc_list.push(o.product.name.clone());
    e.biz_step = Some(
        if o.sensor == "Torque" {
            "assembling"
        } else {
            "commissioning"
        }
        .into(),
    );
    e.biz_transaction_list.push(BizTransaction {
        kind: "po".into(),
        id: format!("urn:shinrai:po:{}", o.po),
    });
    let reports = o
        .readings
        .iter()
        .map(|v| {
            if o.sensor == "Torque" {
                SensorReport::torque_nm(*v)
            } else {
                SensorReport::temperature_celsius(*v)
            }
        })
        .collect();
    e.sensor_element_list
        .push(SensorElement::new(device_uri, t, reports));
    Ok(e)
}

/// What the demo checks at the end.
struct Outcome {
    what: String,
    expected: bool,
    got: bool,
}

/// Runs `demo manufacturing`.
pub fn demo(args: DemoManufacturingArgs) -> Result<ExitCode> {
    let tmp = tempfile::Builder::new()
        .prefix("shinrai-manufacturing-")
        .tempdir()
        .context("creating a temporary directory")?;
    let out = match &args.out {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    let fault = args.fault;
    println!("== Shinrai manufacturing scenario (fault: {fault:?}) ==");
    println!(
        "1. six organisations, each with its own soft SCU key store under {}",
        out.display()
    );
    std::fs::create_dir_all(out.join("keys"))?;
    let devices: [(&str, &[&str]); 6] = [
        ("material-supplier", &["furnace-1"]),
        ("parts-maker-a", &["press-a1", "rogue-wrench"]),
        ("parts-maker-b", &["wrench-b1"]),
        ("parts-maker-c", &["press-c1"]),
        ("car-body-maker", &["welder-1"]),
        ("dealer", &[]),
    ];
    let mut orgs = Vec::new();
    for (name, devs) in devices {
        let path = out.join("keys").join(format!("{name}.scu"));
        if path.exists() {
            bail!("{} exists already; pass an empty --out", path.display());
        }
        let ks = SoftKeyStore::create_with(&path, KEYSTORE_PASS, KdfParams::default())?;
        let info = ks.generate(
            "org",
            Algorithm::Ed25519,
            UsagePolicy::new([Purpose::statement()])?,
        )?;
        let key = SslibKey::from_public_key(&info.public_key)?;
        let mut dk = BTreeMap::new();
        for d in devs {
            let info = ks.generate(
                d,
                Algorithm::EcdsaP256,
                UsagePolicy::new([Purpose::statement(), Purpose::device_evidence()])?,
            )?;
            dk.insert(
                (*d).to_owned(),
                SslibKey::from_public_key(&info.public_key)?,
            );
        }
        println!(
            "   {name:<18} org key ed25519 {}…{}",
            &key.keyid()[..12],
            if dk.is_empty() {
                String::new()
            } else {
                format!(
                    ", devices (P-256): {}",
                    dk.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            }
        );
        orgs.push(Org {
            name,
            ks,
            key,
            devices: dk,
            token: String::new(),
        });
    }

    // The store: embedded (default) or external.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (base, log_key, _server_guard) = match &args.server {
        Some(url) => {
            let data = args.data.as_ref().ok_or_else(|| {
                anyhow!("with --server, pass --data DIR (the running store's data directory) so the scenario's organisations and keys can be added, as `shinrai org add` does")
            })?;
            let admin = shinrai_store::Admin::open(data)?;
            for o in &mut orgs {
                o.token = add_org(&admin, o)?;
            }
            let log_key = HttpSource::new(url)?.get_text("/log/key")?;
            (url.trim_end_matches('/').to_owned(), log_key, None)
        }
        None => {
            let data = args.data.clone().unwrap_or_else(|| out.join("store"));
            if data.exists() {
                bail!(
                    "{} exists already; pass a new --data directory",
                    data.display()
                );
            }
            let init = shinrai_store::Store::init(
                &data,
                shinrai_store::InitOptions {
                    config: shinrai_store::Config::default(),
                    org: orgs[0].name.into(),
                    org_key_json: orgs[0].key.to_json_bytes(),
                    passphrase: None,
                    kdf: KdfParams::default(),
                },
            )?;
            let admin = shinrai_store::Admin::open(&data)?;
            orgs[0].token = init.token.clone();
            for (name, k) in &orgs[0].devices {
                admin
                    .add_key(orgs[0].name, &k.to_json_bytes())
                    .with_context(|| format!("device {name}"))?;
            }
            for o in orgs.iter_mut().skip(1) {
                o.token = add_org(&admin, o)?;
            }
            let store = shinrai_store::Store::open(&data)?;
            let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
            let addr = listener.local_addr()?;
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let handle = rt.spawn(shinrai_server::serve(
                shinrai_server::AppState::new(store),
                listener,
                async {
                    let _ = stop_rx.await;
                },
            ));
            println!(
                "2. embedded trust store {} served at http://{addr}",
                data.display()
            );
            (
                format!("http://{addr}"),
                init.log_key,
                Some((stop_tx, handle)),
            )
        }
    };
    if args.server.is_some() {
        println!("2. external trust store at {base}");
    }
    let api = Api {
        rt,
        client: reqwest::Client::new(),
        base: base.clone(),
        token_override: args.token.clone(),
    };
    // Trust material for the verifiers: the organisations' keys and the log key.
    let trust_json: BTreeMap<&str, Vec<Value>> = orgs
        .iter()
        .map(|o| {
            Ok((
                o.name,
                vec![serde_json::from_slice(&o.key.to_json_bytes())?],
            ))
        })
        .collect::<Result<_>>()?;
    std::fs::write(
        out.join("trust.json"),
        serde_json::to_vec_pretty(&trust_json)?,
    )?;
    std::fs::write(out.join("log-key.txt"), format!("{log_key}\n"))?;
    let trust = ChainTrust {
        log_key: log_key.clone(),
        organisations: orgs
            .iter()
            .map(|o| (o.name.to_owned(), vec![o.key.clone()]))
            .collect(),
    };

    // The supply network.
    let (sup, pa, pb, pc, body, dealer) = (0, 1, 2, 3, 4, 5);
    let steel = |x: &str| {
        lot(
            &format!("urn:shinrai:lot:steel:S-{x}"),
            &format!("steel coil S-{x}, 2 t"),
        )
    };
    let part = |x: &str| {
        lot(
            &format!("urn:shinrai:lot:part:{x}"),
            &format!("parts lot {x}, 500 pcs"),
        )
    };
    let bodies = ["BODY-1", "BODY-2", "BODY-3"];
    let body_lot = |x: &str| lot(&format!("urn:shinrai:body:{x}"), &format!("car body {x}"));
    let mut orders: Vec<Order> = Vec::new();
    for (maker, x, dev) in [
        (pa, "A", "press-a1"),
        (pb, "B", "wrench-b1"),
        (pc, "C", "press-c1"),
    ] {
        let _ = dev;
        orders.push(Order {
            product: steel(x),
            materials: vec![],
            producer: sup,
            device: "furnace-1".into(),
            customer: maker,
            step: "melt",
            sensor: "Temperature",
            readings: vec![1530.0, 1541.5, 1528.0, 1536.0],
            po: format!("PO-S-{x}"),
        });
    }
    for (maker, x, dev) in [
        (pa, "A", "press-a1"),
        (pb, "B", "wrench-b1"),
        (pc, "C", "press-c1"),
    ] {
        for n in 1..=2 {
            let bad = x == "B" && n == 2;
            orders.push(Order {
                product: part(&format!("{x}-{n}")),
                materials: vec![steel(x)],
                producer: maker,
                device: dev.into(),
                customer: body,
                step: "form",
                sensor: "Torque",
                readings: if bad {
                    vec![22.4, 27.3, 23.1, 26.8]
                } else {
                    vec![22.4, 21.8, 23.1, 22.9]
                },
                po: format!("PO-P-{x}{n}"),
            });
        }
    }
    let uses = [
        ("BODY-1", ["A-1", "B-1", "C-1"]),
        ("BODY-2", ["A-2", "B-2", "C-2"]),
        ("BODY-3", ["A-1", "B-2", "C-1"]),
    ];
    for (b, parts) in uses {
        let mut materials: Vec<Artifact> = parts.iter().map(|p| part(p)).collect();
        if fault == Fault::BrokenLink && b == "BODY-1" {
            materials[0] = lot(&materials[0].name, "parts lot A-1, 480 pcs (re-counted)");
        }
        orders.push(Order {
            product: body_lot(b),
            materials,
            producer: body,
            device: "welder-1".into(),
            customer: dealer,
            step: "weld",
            sensor: "Temperature",
            readings: vec![1480.0, 1502.0, 1495.5],
            po: format!("PO-D-{b}"),
        });
    }

    // 3. Specifications, downstream-up: dealer first, then the body maker, then parts makers.
    println!(
        "3. specifications issued downstream-up and registered (each signed by the customer):"
    );
    let mut order_idx: Vec<usize> = (0..orders.len()).collect();
    order_idx.reverse();
    let mut spec_env: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for &i in &order_idx {
        let o = &orders[i];
        let c = &orgs[o.customer];
        let env = spec_for(o, &orgs)?
            .sign(&[&c.signer()? as &dyn Signer])?
            .to_json_bytes();
        api.register(&env, &c.token)?;
        println!(
            "   {:<16} orders {:<28} from {} (PO {})",
            c.name, o.product.name, orgs[o.producer].name, o.po
        );
        spec_env.insert(o.product.name.clone(), env);
    }
    if fault == Fault::SpecTampered {
        let a1 = &part("A-1").name;
        let genuine = spec_env
            .get(a1)
            .cloned()
            .ok_or_else(|| anyhow!("no spec for A-1"))?;
        let mut env: Value = serde_json::from_slice(&genuine)?;
        let payload = base64_decode(env["payload"].as_str().unwrap_or_default())?;
        let widened = String::from_utf8(payload)?.replace("r.value <= 25.0", "r.value <= 30.0");
        env["payload"] = Value::String(base64_encode(widened.as_bytes()));
        let tampered = serde_json::to_vec(&env)?;
        let (status, _) = api.post(&tampered, &orgs[pa].token)?;
        println!(
            "   fault: {} edits the torque range of its order (25 -> 30 N·m) keeping the body maker's signature: the store answers HTTP {status}",
            orgs[pa].name
        );
        if status < 400 {
            bail!("the store accepted a specification tampered after signing: this is a bug");
        }
        let mut spec: OrderSpec = verify_spec(&genuine, std::slice::from_ref(&orgs[body].key), 1)?
            .spec()
            .clone();
        spec.rules[0].expr = spec.rules[0].expr.replace("<= 25.0", "<= 30.0");
        let resigned = spec
            .sign(&[&orgs[pa].signer()? as &dyn Signer])?
            .to_json_bytes();
        api.register(&resigned, &orgs[pa].token)?;
        println!(
            "   fault: {} re-signs the widened specification itself and registers it",
            orgs[pa].name
        );
        spec_env.insert(format!("{a1}#tampered"), resigned);
    }

    // 4. Production bottom-up, each tier verified by its customer.
    println!(
        "4. production: step records (organisation key) and sensor events (device key), registered; each customer verifies and registers a VSA:"
    );
    let mut vsa_passed: BTreeMap<String, bool> = BTreeMap::new();
    for (n, o) in orders.iter().enumerate() {
        let p = &orgs[o.producer];
        let c = &orgs[o.customer];
        let is_a1 = o.product.name == part("A-1").name;
        let record = StepRecord::new(o.step, o.materials.clone(), vec![o.product.clone()]);
        let rec_env = sign_statement(&record.to_statement()?, &[&p.signer()? as &dyn Signer])?
            .to_json_bytes();
        let rec_id = api.register(&rec_env, &p.token)?;
        let device_label = if is_a1 && fault == Fault::WrongDevice {
            "rogue-wrench"
        } else {
            o.device.as_str()
        };
        let event = EventEvidence::new(
            o.step,
            sensor_event(o, n as i64, &format!("urn:shinrai:device:{device_label}"))?,
        )?;
        let ev_env = sign_statement(
            &event.to_statement()?,
            &[&p.device(device_label)? as &dyn Signer],
        )?
        .to_json_bytes();
        let ev_id = if is_a1 && fault == Fault::EvidenceMissing {
            println!(
                "   fault: the torque readings of {} are verified but never registered in the store",
                o.product.name
            );
            hex_sha256(&ev_env)
        } else {
            api.register(&ev_env, &p.token)?
        };
        // The customer verifies against its specification (or, with the faults, another one).
        let (spec_bytes, verifier) = match fault {
            Fault::SpecTampered if is_a1 => {
                (spec_env[&format!("{}#tampered", o.product.name)].clone(), p)
            }
            _ => (spec_env[&o.product.name].clone(), c),
        };
        let spec_signers: Vec<SslibKey> = orgs.iter().map(|o| o.key.clone()).collect();
        let spec = verify_spec(&spec_bytes, &spec_signers, 1)?;
        let rec_uri = format!("{base}/entries/{rec_id}");
        let ev_uri = format!("{base}/entries/{ev_id}");
        let report = verify_conformity(
            &spec,
            &[
                EvidenceInput {
                    uri: &rec_uri,
                    envelope: &rec_env,
                },
                EvidenceInput {
                    uri: &ev_uri,
                    envelope: &ev_env,
                },
            ],
            &VerifyOptions {
                verifier_id: format!("urn:shinrai:verifier:{}", verifier.name),
                now_unix: T0_MS / 1000 + 3600,
                resource_uri: o.product.name.clone(),
                policy_uri: None,
                dependency_levels: Default::default(),
            },
        )?;
        let subjects = vec![Subject::new(&o.product.name, &o.product.sha256)?];
        let vsa_env = if fault == Fault::OtherSpec && is_a1 {
            // The verification ran against A-1's specification, but the VSA names A-2's.
            let mut vsa = report.vsa().clone();
            let other = hex_sha256(&spec_env[&part("A-2").name]);
            vsa.policy.digest.insert("sha256".into(), other);
            println!(
                "   fault: the VSA of {} names the specification of lot A-2",
                o.product.name
            );
            sign_statement(
                &Statement::with_predicate(subjects, &vsa)?,
                &[&verifier.signer()? as &dyn Signer],
            )?
        } else {
            report.sign(Some(subjects), &[&verifier.signer()? as &dyn Signer])?
        }
        .to_json_bytes();
        api.register(&vsa_env, &verifier.token)?;
        println!(
            "   {:<17} {:<28} verified by {:<15} {}",
            p.name,
            o.product.name,
            verifier.name,
            if report.passed() {
                "PASSED".to_owned()
            } else {
                format!(
                    "FAILED: {}",
                    report
                        .failures()
                        .iter()
                        .map(|f| format!("{} {}", f.check, f.value))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            }
        );
        vsa_passed.insert(o.product.name.clone(), report.passed());
    }

    // 5. Recall: where was the failed lot used?
    let bad_lot = part("B-2").name;
    println!("5. {bad_lot} failed its verification: where was it used?");
    let wu = where_used(&base, &bad_lot, 8)?;
    for l in render_where_used(&wu).lines() {
        println!("   {l}");
    }
    let affected: Vec<String> = wu
        .downstream
        .iter()
        .filter(|d| d.name.starts_with("urn:shinrai:body:"))
        .map(|d| d.name.clone())
        .collect();

    // 6. Chain verification of every body through the HTTP API.
    println!(
        "6. chain verification of each body (HTTP API, organisation keys + log key as trust anchors):"
    );
    let source = HttpSource::new(&base)?;
    let opts = ChainOptions {
        max_depth: 8,
        now_unix: now_unix(),
    };
    let mut reports: BTreeMap<String, ChainReport> = BTreeMap::new();
    for b in bodies {
        let r = verify_chain(&source, &trust, &body_lot(b).name, &opts);
        println!(
            "   {:<26} chain {}",
            body_lot(b).name,
            if r.passed() { "PASSED" } else { "FAILED" }
        );
        reports.insert(b.to_owned(), r);
    }

    // Expectations.
    let mut outcomes = Vec::new();
    for o in &orders {
        let mut expect = o.product.name != bad_lot;
        if o.product.name == part("A-1").name && fault == Fault::WrongDevice {
            expect = false;
        }
        outcomes.push(Outcome {
            what: format!("conformity of {}", o.product.name),
            expected: expect,
            got: vsa_passed.get(&o.product.name).copied().unwrap_or(false),
        });
    }
    for b in bodies {
        let expect = b == "BODY-1" && fault == Fault::None;
        outcomes.push(Outcome {
            what: format!("chain of {}", body_lot(b).name),
            expected: expect,
            got: reports[b].passed(),
        });
    }
    for b in ["BODY-2", "BODY-3"] {
        outcomes.push(Outcome {
            what: format!("where-used of {bad_lot} finds {b}"),
            expected: true,
            got: affected.contains(&body_lot(b).name),
        });
    }
    outcomes.push(Outcome {
        what: format!("where-used of {bad_lot} does not list BODY-1"),
        expected: true,
        got: !affected.contains(&body_lot("BODY-1").name),
    });

    println!(
        "7. chain report of a good product ({}):",
        body_lot("BODY-1").name
    );
    print!("{}", indent(&render_text(&reports["BODY-1"])));
    println!(
        "8. chain report of an affected product ({}):",
        body_lot("BODY-2").name
    );
    print!("{}", indent(&render_text(&reports["BODY-2"])));

    let products = json!({
        "good": body_lot("BODY-1").name,
        "affected": affected,
        "bad_lot": bad_lot,
        "bodies": bodies.iter().map(|b| (body_lot(b).name, format!("sha256:{}", body_lot(b).sha256))).collect::<BTreeMap<_, _>>(),
        "server": base,
        "fault": format!("{fault:?}"),
    });
    std::fs::write(
        out.join("products.json"),
        serde_json::to_vec_pretty(&products)?,
    )?;
    let wrong: Vec<&Outcome> = outcomes.iter().filter(|o| o.expected != o.got).collect();
    if let Some((stop, handle)) = _server_guard {
        let _ = stop.send(());
        let _ = api.rt.block_on(handle);
    }
    if wrong.is_empty() {
        println!("done: all {} verdicts as expected.", outcomes.len());
        Ok(ExitCode::SUCCESS)
    } else {
        for w in wrong {
            println!(
                "UNEXPECTED: {}: expected {}, got {}",
                w.what,
                pass(w.expected),
                pass(w.got)
            );
        }
        Ok(ExitCode::from(1))
    }
}

fn pass(b: bool) -> &'static str {
    if b { "pass" } else { "fail" }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("   {l}\n")).collect()
}

fn add_org(admin: &shinrai_store::Admin, o: &Org) -> Result<String> {
    let token = match admin.add_org(o.name, Some(&o.key.to_json_bytes())) {
        Ok((_, token)) => token,
        Err(shinrai_store::Error::Conflict(_)) => {
            admin.add_key(o.name, &o.key.to_json_bytes())?;
            admin.new_token(o.name)?
        }
        Err(e) => return Err(e.into()),
    };
    for (name, k) in &o.devices {
        admin
            .add_key(o.name, &k.to_json_bytes())
            .with_context(|| format!("registering device {name} of {}", o.name))?;
    }
    Ok(token)
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn hex_sha256(b: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b))
}

fn base64_decode(s: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    Ok(base64::engine::general_purpose::STANDARD.decode(s)?)
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// The Python side of `bench chain`: loads the layout and verifies the links with in-toto's
/// `in_toto_verify`, timing load and verification inside the interpreter (no start-up cost).
const PY_BENCH: &str = r#"
import json, os, sys, time
from in_toto.models.metadata import Metadata
from in_toto.verifylib import in_toto_verify
d = sys.argv[1]
t0 = time.perf_counter()
layout = Metadata.load(os.path.join(d, "root.layout"))
with open(os.path.join(d, "layout-key.json"), encoding="utf-8") as f:
    key = json.load(f)
t1 = time.perf_counter()
try:
    in_toto_verify(layout, {key["keyid"]: key}, link_dir_path=d)
    ok, err = True, ""
except Exception as e:
    ok, err = False, f"{type(e).__name__}: {e}"
t2 = time.perf_counter()
print(json.dumps({"accepted": ok, "error": err[:500], "load_s": t1 - t0, "verify_s": t2 - t1}))
"#;

/// Runs `bench chain`: builds a synthetic supply network in an in-process store (keys in
/// memory, statements registered through the store library, no HTTP), times chain verification
/// of the root product from that store, and times Python in-toto on the same step chain
/// exported as one layout with a step per product.
/// CPU time (user + system) this process has used so far, in seconds, from `/proc/self/stat`
/// (Linux; `None` elsewhere). Clock ticks are taken as 1/100 s, as on every Linux port.
fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

pub fn bench_chain(args: BenchChainArgs) -> Result<ExitCode> {
    use shinrai_conformity::bench::EphemeralSigner;
    use shinrai_conformity::intoto::{layout_metablock, link_metablock};
    use std::time::Instant;

    if args.nodes == 0 || args.depth == 0 {
        bail!("--nodes and --depth must be at least 1");
    }
    // Tree shape: breadth-first, branching b = the smallest that reaches `nodes` within `depth`.
    let mut b = 2usize;
    while (0..=args.depth).map(|d| b.pow(d)).sum::<usize>() < args.nodes {
        b += 1;
    }
    let mut level = vec![0u32];
    let mut children: Vec<Vec<usize>> = vec![Vec::new()];
    let mut next = 0usize;
    while level.len() < args.nodes {
        let parent = next;
        for _ in 0..b {
            if level.len() >= args.nodes {
                break;
            }
            let i = level.len();
            level.push(level[parent] + 1);
            children.push(Vec::new());
            children[parent].push(i);
        }
        next += 1;
    }
    let max_depth = *level.iter().max().unwrap_or(&0);
    eprintln!(
        "network: {} products, branching {b}, depth {max_depth}",
        args.nodes
    );

    let tmp = tempfile::Builder::new()
        .prefix("shinrai-bench-chain-")
        .tempdir()?;
    // Organisations: "customer" orders the root; "tier-k" makes the products at depth k.
    let customer = EphemeralSigner::generate(Algorithm::Ed25519)?;
    let tiers: Vec<EphemeralSigner> = (0..=max_depth)
        .map(|_| EphemeralSigner::generate(Algorithm::Ed25519))
        .collect::<std::result::Result<_, _>>()?;
    let data = tmp.path().join("store");
    let init = shinrai_store::Store::init(
        &data,
        shinrai_store::InitOptions {
            config: shinrai_store::Config::default(),
            org: "customer".into(),
            org_key_json: customer.key()?.to_json_bytes(),
            passphrase: None,
            kdf: KdfParams::default(),
        },
    )?;
    let admin = shinrai_store::Admin::open(&data)?;
    for (k, t) in tiers.iter().enumerate() {
        admin.add_org(&format!("tier-{k}"), Some(&t.key()?.to_json_bytes()))?;
    }
    drop(admin);
    let store = shinrai_store::Store::open(&data)?;
    let product = |i: usize| lot(&format!("urn:bench:product:{i}"), &format!("product {i}"));
    let consumer = |i: usize| -> &EphemeralSigner {
        if level[i] == 0 {
            &customer
        } else {
            &tiers[level[i] as usize - 1]
        }
    };
    let consumer_name = |i: usize| {
        if level[i] == 0 {
            "customer".to_owned()
        } else {
            format!("tier-{}", level[i] - 1)
        }
    };

    let t_build = Instant::now();
    let mut pending = Vec::new();
    let mut entries = 0usize;
    for i in 0..args.nodes {
        let producer = &tiers[level[i] as usize];
        let p = product(i);
        let materials: Vec<Artifact> = children[i].iter().map(|&c| product(c)).collect();
        let mut spec = OrderSpec {
            name: format!("order {i}"),
            expires: "2099-01-01T00:00:00Z".into(),
            parameters: OrderParameters {
                po_number: format!("PO-{i}"),
                lot: p.name.clone(),
                ..Default::default()
            },
            keys: Default::default(),
            steps: Vec::new(),
            rules: vec![AttributeRule {
                name: "one-product".into(),
                step: "make".into(),
                expr: "products.size() == 1".into(),
                description: String::new(),
            }],
        };
        let fid = spec.add_key(&producer.key()?);
        let mut step = SpecStep::new("make", vec![fid]);
        step.expected_materials = materials
            .iter()
            .map(|m| vec!["ALLOW".to_owned(), m.name.clone()])
            .chain([words("DISALLOW *")])
            .collect();
        step.expected_products = vec![
            vec!["CREATE".to_owned(), p.name.clone()],
            words("DISALLOW *"),
        ];
        spec.steps = vec![step];
        let spec_env = spec.sign(&[consumer(i) as &dyn Signer])?.to_json_bytes();
        let record = StepRecord::new("make", materials, vec![p.clone()]);
        let rec_env =
            sign_statement(&record.to_statement()?, &[producer as &dyn Signer])?.to_json_bytes();
        let vspec = verify_spec(&spec_env, &[consumer(i).key()?], 1)?;
        let uri = format!("urn:bench:record:{i}");
        let report = verify_conformity(
            &vspec,
            &[EvidenceInput {
                uri: &uri,
                envelope: &rec_env,
            }],
            &VerifyOptions {
                verifier_id: "urn:shinrai:verifier:bench".into(),
                now_unix: now_unix(),
                resource_uri: p.name.clone(),
                policy_uri: None,
                dependency_levels: Default::default(),
            },
        )?;
        if !report.passed() {
            bail!(
                "synthetic node {i} does not conform: {:?}",
                report.failures()
            );
        }
        let vsa_env = report
            .sign(
                Some(vec![Subject::new(&p.name, &p.sha256)?]),
                &[consumer(i) as &dyn Signer],
            )?
            .to_json_bytes();
        let cname = consumer_name(i);
        let pname = format!("tier-{}", level[i]);
        pending.push(store.register(&spec_env, &cname)?);
        pending.push(store.register(&rec_env, &pname)?);
        pending.push(store.register(&vsa_env, &cname)?);
        entries += 3;
        if pending.len() >= 6000 {
            for p in pending.drain(..) {
                p.wait_blocking()?;
            }
        }
    }
    for p in pending.drain(..) {
        p.wait_blocking()?;
    }
    let build_s = t_build.elapsed().as_secs_f64();
    eprintln!("built and registered {entries} statements in {build_s:.1} s; verifying...");

    let trust = ChainTrust {
        log_key: init.log_key.clone(),
        organisations: std::iter::once(("customer".to_owned(), vec![customer.key()?]))
            .chain(
                tiers
                    .iter()
                    .enumerate()
                    .map(|(k, t)| Ok((format!("tier-{k}"), vec![t.key()?])))
                    .collect::<Result<Vec<_>>>()?,
            )
            .collect(),
    };
    let source = super::chain::StoreSource { store: &store };
    let root = format!("sha256:{}", product(0).sha256);
    let opts = ChainOptions {
        max_depth: max_depth + 1,
        now_unix: now_unix(),
    };
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let mut last = None;
    for _ in 0..args.runs.max(1) {
        let c = process_cpu_s();
        let t = Instant::now();
        let r = verify_chain(&source, &trust, &root, &opts);
        times.push(t.elapsed().as_secs_f64());
        if let (Some(before), Some(after)) = (c, process_cpu_s()) {
            cpu.push(after - before);
        }
        last = Some(r);
    }
    let report = last.ok_or_else(|| anyhow!("no run"))?;
    if !report.passed() || report.summary.products != args.nodes {
        bail!(
            "the synthetic chain did not verify: {} of {} products, overall {:?}",
            report.summary.passed,
            args.nodes,
            report.overall
        );
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];

    // Python in-toto on the same step chain: one layout, one step and link per product.
    let mut python = Value::Null;
    if !args.no_python {
        let dir = tmp.path().join("intoto");
        std::fs::create_dir_all(&dir)?;
        let mut layout = OrderSpec {
            name: "synthetic supply network".into(),
            expires: "2099-01-01T00:00:00Z".into(),
            parameters: OrderParameters {
                po_number: "PO-BENCH".into(),
                ..Default::default()
            },
            keys: Default::default(),
            steps: Vec::new(),
            rules: Vec::new(),
        };
        let ids: Vec<String> = tiers
            .iter()
            .map(|t| Ok(layout.add_key(&t.key()?)))
            .collect::<Result<_>>()?;
        for i in 0..args.nodes {
            let mut step =
                SpecStep::new(&format!("make-{i}"), vec![ids[level[i] as usize].clone()]);
            step.expected_materials = children[i]
                .iter()
                .map(|&c| {
                    words(&format!(
                        "MATCH {} WITH PRODUCTS FROM make-{c}",
                        product(c).name
                    ))
                })
                .chain([words("DISALLOW *")])
                .collect();
            step.expected_products = vec![
                vec!["CREATE".to_owned(), product(i).name],
                words("DISALLOW *"),
            ];
            layout.steps.push(step);
            let record = StepRecord::new(
                &format!("make-{i}"),
                children[i].iter().map(|&c| product(c)).collect(),
                vec![product(i)],
            );
            let (name, bytes) = link_metablock(&record, &tiers[level[i] as usize])?;
            std::fs::write(dir.join(name), bytes)?;
        }
        std::fs::write(
            dir.join("root.layout"),
            layout_metablock(&layout, &[&customer as &dyn Signer])?,
        )?;
        std::fs::write(dir.join("layout-key.json"), customer.key()?.to_json_bytes())?;
        let py = args.python.clone().unwrap_or_else(|| {
            let venv = PathBuf::from(".venv/bin/python");
            if venv.exists() {
                venv
            } else {
                PathBuf::from("python3")
            }
        });
        let t = Instant::now();
        let out = std::process::Command::new(&py)
            .arg("-c")
            .arg(PY_BENCH)
            .arg(&dir)
            .output()
            .with_context(|| format!("running {}", py.display()))?;
        let wall = t.elapsed().as_secs_f64();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut v: Value = serde_json::from_str(stdout.trim()).with_context(|| {
            format!(
                "in-toto bench output: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        v["process_wall_s"] = json!(wall);
        python = v;
    }
    let result = json!({
        "products": args.nodes,
        "depth": max_depth,
        "branching": b,
        "store_entries": store.checkpoint().size,
        "build_and_register_s": build_s,
        "shinrai_chain_verify_s": {"median": median, "runs": times, "cpu_s_per_run": cpu, "threads": std::thread::available_parallelism().map_or(1, |n| n.get())},
        "shinrai_checks": "per product: VSA signature, issuer, receipt (inclusion proof + checkpoint), specification signature + receipt + expiry + lot, authority, ordering party, evidence present with the VSA's digests, product produced, link to the tier below",
        "python_in_toto": python,
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(exit_for(&report))
}
