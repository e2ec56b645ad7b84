//! `shinrai demo ...`: scenarios that run end to end on this machine with nothing to install.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use shinrai_envelope::keys::SslibKey;
use shinrai_envelope::statement::{Statement, Subject, sign_statement, verify_statement};
use shinrai_envelope::{ScuSigner, Signer};
use shinrai_scu::soft::SoftKeyStore;
use shinrai_scu::{Algorithm, KeyStore, Purpose, UsagePolicy};

/// Demonstrations.
#[derive(clap::Subcommand, Debug)]
pub enum DemoCmd {
    /// Make a key store, sign a production record with an organisation key and a device key,
    /// verify it, show that a tampered copy and a wrong key are refused, then register it in an
    /// embedded trust store and check its receipt offline.
    Quickstart {
        /// Working directory for the key store and files [default: a new temporary directory].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// A maker, a distributor and an operator with genuine, counterfeit, cloned, tampered and
    /// legitimately updated devices: prints each verdict with its reasons.
    Devices(super::device::DemoDevicesArgs),
    /// Material supplier, parts makers, car-body maker and dealer against a running store: one
    /// parts lot out of specification caught at verification and traced to the affected bodies.
    Manufacturing(super::manufacturing::DemoManufacturingArgs),
    /// Restaurant sensors publishing signed readings over MQTT, one shop's ventilation failing.
    Sensors(super::shop::DemoSensorsArgs),
    /// Shop trust end to end: sensors -> MQTT -> evidence -> certifier -> certificates.
    Shop(super::shop::DemoShopArgs),
}

/// Runs a demo.
pub fn run(cmd: DemoCmd) -> Result<ExitCode> {
    match cmd {
        DemoCmd::Quickstart { dir } => quickstart(dir),
        DemoCmd::Devices(a) => super::device::demo(a),
        DemoCmd::Manufacturing(a) => super::manufacturing::demo(a),
        DemoCmd::Sensors(a) => super::shop::demo_sensors(a),
        DemoCmd::Shop(a) => super::shop::demo_shop(a),
    }
}

fn quickstart(dir: Option<PathBuf>) -> Result<ExitCode> {
    let tmp;
    let dir = match dir {
        Some(d) => {
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            d
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("shinrai-quickstart-")
                .tempdir()
                .context("creating a temporary directory")?;
            tmp.path().to_path_buf()
        }
    };
    let ks_path = dir.join("keystore.json");
    if ks_path.exists() {
        bail!("{} exists already; pass an empty --dir", ks_path.display());
    }
    println!(
        "1. key store (soft SCU backend, sealed with Argon2id + AEAD): {}",
        ks_path.display()
    );
    let ks = SoftKeyStore::create(&ks_path, "quickstart-demo-passphrase")?;
    let org = ks.generate(
        "acme-org",
        Algorithm::Ed25519,
        UsagePolicy::new([Purpose::statement()])?,
    )?;
    let dev = ks.generate(
        "press-07",
        Algorithm::EcdsaP256,
        UsagePolicy::new([Purpose::statement(), Purpose::device_evidence()])?.with_max_uses(1000),
    )?;
    let org_key = SslibKey::from_public_key(&org.public_key)?;
    let dev_key = SslibKey::from_public_key(&dev.public_key)?;
    println!(
        "   organisation key acme-org  ed25519     keyid {}",
        org_key.keyid()
    );
    println!(
        "   device key       press-07  ecdsa-p256  keyid {}",
        dev_key.keyid()
    );

    let record = br#"{"lot":"L-2026-1126","part":"bracket-A","torque_nm":[22.1,22.4,21.9]}"#;
    let record_path = dir.join("production-record.json");
    std::fs::write(&record_path, record)
        .with_context(|| format!("writing {}", record_path.display()))?;
    let statement = Statement::new(
        vec![Subject::for_content("production-record.json", record)],
        "https://shinrai.dev/attestation/production-step/v1",
        serde_json::json!({"step": "tighten", "lot": "L-2026-1126", "po": "PO-4711"}),
    )?;
    let org_signer = ScuSigner::new(&ks, "acme-org", Purpose::statement())?;
    let dev_signer = ScuSigner::new(&ks, "press-07", Purpose::statement())?;
    let envelope = sign_statement(&statement, &[&org_signer as &dyn Signer, &dev_signer])?;
    let env_bytes = envelope.to_json_bytes();
    let env_path = dir.join("production-record.dsse.json");
    std::fs::write(&env_path, &env_bytes)
        .with_context(|| format!("writing {}", env_path.display()))?;
    println!(
        "2. signed an in-toto statement about {} with both keys -> {}",
        record_path.display(),
        env_path.display()
    );

    let v = verify_statement(&env_bytes, &[org_key.clone(), dev_key.clone()], 2)?;
    println!(
        "3. verify (threshold 2): OK, signed by {}",
        v.signer_keyids().join(", ")
    );

    let mut tampered = envelope.clone();
    tampered.payload = String::from_utf8_lossy(&tampered.payload)
        .replace("PO-4711", "PO-4712")
        .into_bytes();
    let tampered_result =
        verify_statement(&tampered.to_json_bytes(), std::slice::from_ref(&org_key), 1);
    let other = ks.generate(
        "someone-else",
        Algorithm::Ed25519,
        UsagePolicy::new([Purpose::statement()])?,
    )?;
    let wrong_key = SslibKey::from_public_key(&other.public_key)?;
    let wrong_result = verify_statement(&env_bytes, &[wrong_key], 1);
    let refused = ks.sign("press-07", &Purpose::checkpoint(), b"not allowed");
    match (&tampered_result, &wrong_result, &refused) {
        (Err(t), Err(w), Err(r)) => {
            println!("4. tampered payload refused: {t}");
            println!("   unknown signer refused:   {w}");
            println!("   key used outside its policy refused: {r}");
        }
        _ => {
            bail!("a tampered envelope, a wrong key or a policy breach was accepted: this is a bug")
        }
    }
    let report = ks.audit()?;
    println!(
        "5. key-use audit log: {}",
        crate::report::audit(&report).trim_end()
    );
    if !report.is_intact() {
        return Ok(ExitCode::from(1));
    }

    let store_dir = dir.join("trust-store");
    let init = shinrai_store::Store::init(
        &store_dir,
        shinrai_store::InitOptions {
            config: shinrai_store::Config::default(),
            org: "acme".into(),
            org_key_json: org_key.to_json_bytes(),
            passphrase: None,
            kdf: shinrai_scu::soft::KdfParams::default(),
        },
    )?;
    let store = shinrai_store::Store::open(&store_dir)?;
    let registered = store.register_blocking(&env_bytes, "acme")?;
    let again = store.register_blocking(&env_bytes, "acme")?;
    println!(
        "6. registered in the embedded trust store {} (SQLite): entry {} at log index {}; \
         registering again returns the same entry (existing: {})",
        store_dir.display(),
        &registered.id[..16],
        registered.log_index,
        again.existing
    );
    shinrai_store::verify_receipt(&env_bytes, &registered.receipt, &init.log_key)?;
    let forged = shinrai_store::verify_receipt(
        &tampered.to_json_bytes(),
        &registered.receipt,
        &init.log_key,
    );
    if forged.is_ok() || !again.existing || again.log_index != registered.log_index {
        bail!(
            "the trust store accepted a receipt for other bytes or registered a duplicate: \
             this is a bug"
        );
    }
    println!(
        "7. receipt checked offline with the log key only: inclusion proof in a tree of {} \
         entries under a signed checkpoint; the same receipt for the tampered envelope is refused",
        registered.receipt.tree_size
    );
    println!("done: every check behaved as it should.");
    Ok(ExitCode::SUCCESS)
}
