//! `shinrai device ...` and `shinrai demo devices`: device authenticity and composition
//! (issue 5) from the command line, on top of `shinrai-attest`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use shinrai_attest::identity::{der_to_pem, device_key_policy, manufacturer_key_policy};
use shinrai_attest::voucher::VoucherHeader;
use shinrai_attest::{
    Attester, CertificateInfo, Component, ComponentKind, Composition, DeviceState, ManufacturerCa,
    OwnershipVoucher, ReferenceValues, Sha256, Status, Validity, Verifier, VerifierState, now_secs,
};
use shinrai_scu::soft::{KdfParams, SoftKeyStore};
use shinrai_scu::{Algorithm, KeyStore, UsagePolicy};

use crate::keystore::KeyStoreArgs;

/// Device identity, attestation and history commands. The maker, verifier and device state are
/// files in `--dir`: `maker-ca.pem`, `verifier.json` (verifier state), `<serial>.crt.pem`.
#[derive(clap::Subcommand, Debug)]
pub enum DeviceCmd {
    /// Maker: issue a device certificate for a device identity key (both keys in the key store;
    /// the CA key and the device key are created if missing, the CA certificate on first use).
    Provision {
        /// Directory holding `maker-ca.pem` and the certificates.
        #[arg(long)]
        dir: PathBuf,
        /// Manufacturer name (`O` of the CA).
        #[arg(long)]
        maker: String,
        /// Device model (`CN`).
        #[arg(long)]
        model: String,
        /// Device serial number.
        #[arg(long)]
        serial: String,
        /// Label of the maker's CA key in the key store.
        #[arg(long, default_value = "maker-ca")]
        ca_label: String,
        /// Label of the device's identity key in the key store.
        #[arg(long)]
        device_label: String,
        #[command(flatten)]
        keys: KeyStoreArgs,
    },
    /// Verifier: trust the maker's CA (`maker-ca.pem`) and register the reference values of a
    /// release given as CycloneDX 1.6 JSON.
    Register {
        /// Directory holding `maker-ca.pem` and `verifier.json`.
        #[arg(long)]
        dir: PathBuf,
        /// CycloneDX 1.6 composition of the release.
        #[arg(long)]
        composition: PathBuf,
    },
    /// Verifier: issue a fresh challenge (nonce) and write it as JSON.
    Challenge {
        /// Directory holding `verifier.json`.
        #[arg(long)]
        dir: PathBuf,
        /// Where to write the challenge.
        #[arg(long)]
        out: PathBuf,
    },
    /// Device: answer a challenge with signed evidence about a device built as the composition
    /// says (boot counters kept in `<certificate>.boot.json`).
    Attest {
        /// The challenge file from `shinrai device challenge`.
        #[arg(long)]
        challenge: PathBuf,
        /// The device certificate (DER or PEM).
        #[arg(long)]
        certificate: PathBuf,
        /// What the device runs (CycloneDX 1.6 JSON).
        #[arg(long)]
        composition: PathBuf,
        /// Label of the device's identity key in the key store.
        #[arg(long)]
        device_label: String,
        /// Where to write the evidence (DSSE JSON).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        keys: KeyStoreArgs,
    },
    /// Verifier: appraise evidence and certificate, print the verdict and write the attestation
    /// result (EAR JSON). Exits 0 if the device is affirmed, 1 if not.
    Appraise {
        /// Directory holding `verifier.json`.
        #[arg(long)]
        dir: PathBuf,
        /// The evidence from `shinrai device attest`.
        #[arg(long)]
        evidence: PathBuf,
        /// The device certificate (DER or PEM).
        #[arg(long)]
        certificate: PathBuf,
        /// Where to write the attestation result (EAR JSON).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Ownership vouchers (FDO style): the maker signs the device over to its first owner, each
    /// seller signs it over to the next; the buyer checks the chain before accepting the device.
    #[command(subcommand)]
    Voucher(VoucherCmd),
    /// Print the appraisal history the verifier kept for a device.
    History {
        /// Directory holding `verifier.json`.
        #[arg(long)]
        dir: PathBuf,
        /// The device certificate (DER or PEM).
        #[arg(long)]
        certificate: PathBuf,
    },
}

/// Runs a `shinrai device` command.
pub fn run(cmd: DeviceCmd) -> Result<ExitCode> {
    match cmd {
        DeviceCmd::Provision {
            dir,
            maker,
            model,
            serial,
            ca_label,
            device_label,
            keys,
        } => cli_provision(
            &dir,
            &maker,
            &model,
            &serial,
            &ca_label,
            &device_label,
            &keys,
        ),
        DeviceCmd::Register { dir, composition } => register(&dir, &composition),
        DeviceCmd::Challenge { dir, out } => challenge(&dir, &out),
        DeviceCmd::Attest {
            challenge,
            certificate,
            composition,
            device_label,
            out,
            keys,
        } => cli_attest(
            &challenge,
            &certificate,
            &composition,
            &device_label,
            &out,
            &keys,
        ),
        DeviceCmd::Appraise {
            dir,
            evidence,
            certificate,
            out,
        } => appraise(&dir, &evidence, &certificate, out.as_deref()),
        DeviceCmd::History { dir, certificate } => history(&dir, &certificate),
        DeviceCmd::Voucher(v) => voucher(v),
    }
}

/// `shinrai device voucher ...`.
#[derive(clap::Subcommand, Debug)]
pub enum VoucherCmd {
    /// Write the public key of an owner's voucher key (created if missing) as JSON.
    OwnerKey {
        /// Label of the owner's key in the key store.
        #[arg(long)]
        label: String,
        /// Where to write the public key.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        keys: KeyStoreArgs,
    },
    /// Maker: create a voucher for a device, signed over to its first owner.
    Create {
        /// Directory holding `maker-ca.pem`.
        #[arg(long)]
        dir: PathBuf,
        /// The device certificate (DER or PEM).
        #[arg(long)]
        certificate: PathBuf,
        /// Label of the maker's CA key in the key store.
        #[arg(long, default_value = "maker-ca")]
        ca_label: String,
        /// The first owner's public key (from `voucher owner-key`).
        #[arg(long)]
        to_key: PathBuf,
        /// The first owner's name.
        #[arg(long)]
        to_name: String,
        /// Where to write the voucher.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        keys: KeyStoreArgs,
    },
    /// Current owner: sign the device over to the next owner (rewrites the voucher file).
    Transfer {
        /// The voucher file.
        #[arg(long)]
        voucher: PathBuf,
        /// Label of the current owner's key in the key store.
        #[arg(long)]
        label: String,
        /// The next owner's public key (from `voucher owner-key`).
        #[arg(long)]
        to_key: PathBuf,
        /// The next owner's name.
        #[arg(long)]
        to_name: String,
        #[command(flatten)]
        keys: KeyStoreArgs,
    },
    /// Buyer: check the chain from the maker's CA key to the current owner. Exits 0 if intact.
    Verify {
        /// Directory holding `maker-ca.pem`.
        #[arg(long)]
        dir: PathBuf,
        /// The voucher file.
        #[arg(long)]
        voucher: PathBuf,
        /// The device certificate (DER or PEM).
        #[arg(long)]
        certificate: PathBuf,
    },
}

fn read_ca(dir: &Path) -> Result<ManufacturerCa> {
    let ca_path = dir.join("maker-ca.pem");
    let text = std::fs::read_to_string(&ca_path)
        .with_context(|| format!("reading {}", ca_path.display()))?;
    ManufacturerCa::from_pem(&text)
        .with_context(|| format!("reading the CA certificate {}", ca_path.display()))
}

fn read_public_key(path: &Path) -> Result<shinrai_scu::PublicKey> {
    serde_json::from_slice(&read(path)?)
        .with_context(|| format!("reading the public key {}", path.display()))
}

fn read_voucher(path: &Path) -> Result<OwnershipVoucher> {
    OwnershipVoucher::from_json(&read(path)?)
        .with_context(|| format!("reading the voucher {}", path.display()))
}

fn voucher(cmd: VoucherCmd) -> Result<ExitCode> {
    match cmd {
        VoucherCmd::OwnerKey { label, out, keys } => {
            let ks = keys.open(true)?;
            let key = match ks.public_key(&label) {
                Ok(k) => k,
                Err(_) => {
                    let purpose =
                        shinrai_scu::Purpose::new(shinrai_attest::voucher::VOUCHER_PURPOSE)?;
                    ks.generate(&label, Algorithm::EcdsaP256, UsagePolicy::new([purpose])?)?
                        .public_key
                }
            };
            write(&out, &serde_json::to_vec_pretty(&key)?)?;
            println!("owner key {label:?} -> {}", out.display());
        }
        VoucherCmd::Create {
            dir,
            certificate,
            ca_label,
            to_key,
            to_name,
            out,
            keys,
        } => {
            let ca = read_ca(&dir)?;
            let cert = read_certificate(&certificate)?;
            let id = CertificateInfo::parse(&cert)?
                .device_identity()
                .context("the certificate names no device (no model or serial number)")?;
            let header = VoucherHeader {
                version: 1,
                maker: ca.organisation().to_owned(),
                maker_key: ca.public_key().clone(),
                model: id.model,
                serial: id.serial,
                device_certificate_sha256: Sha256::of(&cert),
                created: now_secs(),
            };
            let ks = keys.open(false)?;
            let v = OwnershipVoucher::create(
                ks.as_ref(),
                &ca_label,
                header,
                &read_public_key(&to_key)?,
                &to_name,
            )?;
            write(&out, &v.to_json())?;
            println!("voucher to {to_name:?} -> {}", out.display());
        }
        VoucherCmd::Transfer {
            voucher,
            label,
            to_key,
            to_name,
            keys,
        } => {
            let mut v = read_voucher(&voucher)?;
            let ks = keys.open(false)?;
            v.transfer(ks.as_ref(), &label, &read_public_key(&to_key)?, &to_name)?;
            write(&voucher, &v.to_json())?;
            println!("transferred to {to_name:?} -> {}", voucher.display());
        }
        VoucherCmd::Verify {
            dir,
            voucher,
            certificate,
        } => {
            let ca = read_ca(&dir)?;
            let v = read_voucher(&voucher)?;
            let cert = read_certificate(&certificate)?;
            match v.verify(ca.public_key(), &Sha256::of(&cert)) {
                Ok(o) => println!(
                    "PASS: voucher chain intact, {} transfer(s), current owner {:?}",
                    o.transfers(),
                    o.owner_name()
                ),
                Err(e) => {
                    println!("FAIL: {e}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn cli_provision(
    dir: &Path,
    maker: &str,
    model: &str,
    serial: &str,
    ca_label: &str,
    device_label: &str,
    keys: &KeyStoreArgs,
) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let ks = keys.open(true)?;
    let now = now_secs();
    let ca_path = dir.join("maker-ca.pem");
    let ca = if ca_path.exists() {
        let text = std::fs::read_to_string(&ca_path)
            .with_context(|| format!("reading {}", ca_path.display()))?;
        ManufacturerCa::from_pem(&text)
            .with_context(|| format!("reading the CA certificate {}", ca_path.display()))?
    } else {
        if ks.public_key(ca_label).is_err() {
            ks.generate(ca_label, Algorithm::EcdsaP256, manufacturer_key_policy()?)?;
        }
        let ca = ManufacturerCa::create(
            ks.as_ref(),
            ca_label,
            maker,
            Validity::years_from(now - 3600, 20),
        )?;
        write(&ca_path, ca.certificate_pem().as_bytes())?;
        println!("created manufacturer CA {maker:?} -> {}", ca_path.display());
        ca
    };
    if ca.organisation() != maker {
        bail!(
            "{} belongs to {:?}, not {maker:?}",
            ca_path.display(),
            ca.organisation()
        );
    }
    let device_key = match ks.public_key(device_label) {
        Ok(k) => k,
        Err(_) => {
            ks.generate(device_label, Algorithm::EcdsaP256, device_key_policy()?)?
                .public_key
        }
    };
    let cert = ca.issue_device_certificate(
        ks.as_ref(),
        ca_label,
        model,
        serial,
        &device_key,
        Validity::years_from(now - 3600, 10),
    )?;
    let cert_path = dir.join(format!("{serial}.crt.pem"));
    write(&cert_path, der_to_pem(&cert).as_bytes())?;
    println!(
        "issued device certificate {maker} {model} serial {serial} -> {}",
        cert_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn verifier_path(dir: &Path) -> PathBuf {
    dir.join("verifier.json")
}

fn save_verifier(dir: &Path, v: &Verifier) -> Result<()> {
    write(&verifier_path(dir), &v.export_state().to_json())
}

fn read_composition(path: &Path) -> Result<Composition> {
    Composition::from_cyclonedx(&read(path)?)
        .with_context(|| format!("reading the CycloneDX composition {}", path.display()))
}

fn register(dir: &Path, composition: &Path) -> Result<ExitCode> {
    let path = verifier_path(dir);
    let mut v = if path.exists() {
        load_verifier(&path)?
    } else {
        Verifier::new()
    };
    let ca_path = dir.join("maker-ca.pem");
    let text = std::fs::read_to_string(&ca_path)
        .with_context(|| format!("reading {}", ca_path.display()))?;
    v.register_manufacturer(ManufacturerCa::from_pem(&text)?);
    let c = read_composition(composition)?;
    v.register_reference_values(ReferenceValues::from_composition(&c)?)?;
    save_verifier(dir, &v)?;
    println!(
        "registered {} {} release {} (composition {})",
        c.maker,
        c.model,
        c.version,
        c.digest()?.short()
    );
    Ok(ExitCode::SUCCESS)
}

fn challenge(dir: &Path, out: &Path) -> Result<ExitCode> {
    let path = verifier_path(dir);
    let mut v = load_verifier(&path)?;
    let ch = v.challenge(now_secs())?;
    save_verifier(dir, &v)?;
    write(out, &serde_json::to_vec_pretty(&ch)?)?;
    println!(
        "challenge -> {} (expires at {})",
        out.display(),
        ch.expires_at
    );
    Ok(ExitCode::SUCCESS)
}

/// Boot counters of a command-line device, kept next to its certificate between runs.
#[derive(serde::Serialize, serde::Deserialize)]
struct Boot {
    bootcount: u64,
    bootseed: String,
}

fn cli_attest(
    challenge: &Path,
    certificate: &Path,
    composition: &Path,
    device_label: &str,
    out: &Path,
    keys: &KeyStoreArgs,
) -> Result<ExitCode> {
    let ch: shinrai_attest::Challenge = serde_json::from_slice(&read(challenge)?)
        .with_context(|| format!("reading the challenge {}", challenge.display()))?;
    let cert = read_certificate(certificate)?;
    let mut state = DeviceState::from_composition(&read_composition(composition)?)?;
    let mut boot_path = certificate.as_os_str().to_owned();
    boot_path.push(".boot.json");
    let boot_path = PathBuf::from(boot_path);
    if boot_path.exists() {
        let b: Boot = serde_json::from_slice(&read(&boot_path)?)
            .with_context(|| format!("reading {}", boot_path.display()))?;
        let seed = hex::decode(&b.bootseed)
            .ok()
            .and_then(|s| <[u8; 32]>::try_from(s).ok());
        state.bootcount = b.bootcount;
        state.bootseed =
            seed.with_context(|| format!("bad boot seed in {}", boot_path.display()))?;
    } else {
        let b = Boot {
            bootcount: state.bootcount,
            bootseed: hex::encode(state.bootseed),
        };
        write(&boot_path, &serde_json::to_vec(&b)?)?;
    }
    let ks = keys.open(false)?;
    let evidence =
        Attester::new(ks.as_ref(), device_label, &cert)?.attest(&ch, &state, now_secs())?;
    write(out, &evidence)?;
    println!("evidence -> {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn appraise(
    dir: &Path,
    evidence: &Path,
    certificate: &Path,
    out: Option<&Path>,
) -> Result<ExitCode> {
    let mut v = load_verifier(&verifier_path(dir))?;
    let ear = v
        .appraise(
            &read(evidence)?,
            &read_certificate(certificate)?,
            now_secs(),
        )
        .context("the evidence or certificate cannot be read")?;
    save_verifier(dir, &v)?;
    if let Some(out) = out {
        write(out, &ear.to_json())?;
    }
    println!("{}", ear.explain());
    Ok(if ear.status() == Status::Affirming {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Reads a certificate given as DER or PEM.
fn read_certificate(path: &Path) -> Result<Vec<u8>> {
    let bytes = read(path)?;
    if bytes.starts_with(b"-----BEGIN") {
        let text = String::from_utf8(bytes).context("the PEM file is not UTF-8")?;
        return shinrai_attest::identity::pem_to_der(&text)
            .with_context(|| format!("reading the PEM certificate {}", path.display()));
    }
    Ok(bytes)
}

fn load_verifier(path: &Path) -> Result<Verifier> {
    let state = VerifierState::from_json(&read(path)?)
        .with_context(|| format!("reading verifier state {}", path.display()))?;
    Verifier::from_state(state).with_context(|| format!("restoring verifier {}", path.display()))
}

fn history(dir: &Path, certificate: &Path) -> Result<ExitCode> {
    let verifier = load_verifier(&verifier_path(dir))?;
    let cert = CertificateInfo::parse(&read_certificate(certificate)?)
        .context("reading the device certificate")?;
    let id = cert
        .device_identity()
        .context("the certificate names no device (no model or serial number)")?;
    let entries = verifier.history(&id.ueid());
    if entries.is_empty() {
        println!("no appraisal recorded for this device");
    }
    for e in entries {
        let codes: Vec<String> = e.codes.iter().map(|c| format!("{c:?}")).collect();
        println!(
            "{}  {:<15} release {:<8} {}",
            e.time,
            e.status.to_string(),
            e.reference_version.as_deref().unwrap_or("-"),
            codes.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Options of `shinrai demo devices`.
#[derive(clap::Args, Debug)]
pub struct DemoDevicesArgs {
    /// Working directory for the key stores [default: a new temporary directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

const MAKER: &str = "Acme Sensors";
const MODEL: &str = "TS-100";

fn release(version: &str) -> Composition {
    let c = |name: &str, kind, data: &[u8]| Component {
        name: name.into(),
        version: version.into(),
        kind,
        supplier: None,
        sha256: Sha256::of(data),
    };
    Composition {
        maker: MAKER.into(),
        model: MODEL.into(),
        version: version.into(),
        timestamp: 1_790_000_000,
        components: vec![
            c(
                "main-firmware",
                ComponentKind::Firmware,
                format!("firmware {version}").as_bytes(),
            ),
            c("radio-module", ComponentKind::Hardware, b"radio rev B"),
        ],
    }
}

/// One demo case's outcome.
struct Outcome {
    name: &'static str,
    expect_pass: bool,
    passed: bool,
}

fn verdict_word(pass: bool) -> &'static str {
    if pass { "PASS" } else { "FAIL" }
}

fn report(out: &mut Vec<Outcome>, name: &'static str, expect_pass: bool, passed: bool, why: &str) {
    let ok = passed == expect_pass;
    println!(
        "[{name}] {} (expected {}){}",
        verdict_word(passed),
        verdict_word(expect_pass),
        if ok { "" } else { "  <-- UNEXPECTED" }
    );
    for line in why.lines() {
        println!("    {line}");
    }
    println!();
    out.push(Outcome {
        name,
        expect_pass,
        passed,
    });
}

/// A soft SCU key store for one party, cheap KDF as in the attest example (demo keys only).
fn store(dir: &Path, name: &str) -> Result<SoftKeyStore> {
    let path = dir.join(format!("{name}.scu"));
    if path.exists() {
        bail!("{} exists already; pass an empty --dir", path.display());
    }
    SoftKeyStore::create_with(&path, "demo-devices", KdfParams::insecure_fast_for_tests())
        .with_context(|| format!("creating key store {}", path.display()))
}

/// A device: its own key store with its identity key, and a certificate from `ca`.
fn provision(
    dir: &Path,
    maker: &SoftKeyStore,
    ca: &ManufacturerCa,
    ca_label: &str,
    serial: &str,
    now: u64,
) -> Result<(SoftKeyStore, Vec<u8>)> {
    let ks = store(dir, &format!("device-{serial}"))?;
    let key = ks.generate("identity", Algorithm::EcdsaP256, device_key_policy()?)?;
    let cert = ca.issue_device_certificate(
        maker,
        ca_label,
        MODEL,
        serial,
        &key.public_key,
        Validity::years_from(now - 3600, 10),
    )?;
    Ok((ks, cert))
}

/// Runs `shinrai demo devices`: a maker, a distributor and an operator; genuine, counterfeit,
/// cloned, tampered, replayed, revoked and updated devices and a broken voucher chain. Exits 0
/// only if every case got the expected verdict.
pub fn demo(args: DemoDevicesArgs) -> Result<ExitCode> {
    let tmp;
    let dir = match args.dir {
        Some(d) => {
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            d
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("shinrai-demo-devices-")
                .tempdir()
                .context("creating a temporary directory")?;
            tmp.path().to_path_buf()
        }
    };
    let dir = dir.as_path();
    let now = now_secs();
    println!(
        "Key stores (soft SCU, demo passphrase) in {}\n",
        dir.display()
    );

    // The maker: CA key in its SCU, reference values for release 1.0.
    let maker = store(dir, "maker")?;
    maker.generate("maker-ca", Algorithm::EcdsaP256, manufacturer_key_policy()?)?;
    let ca = ManufacturerCa::create(
        &maker,
        "maker-ca",
        MAKER,
        Validity::years_from(now - 3600, 20),
    )?;
    // A counterfeiter using the maker's name with its own key.
    let forger = store(dir, "counterfeiter")?;
    forger.generate("fake-ca", Algorithm::EcdsaP256, manufacturer_key_policy()?)?;
    let fake_ca = ManufacturerCa::create(
        &forger,
        "fake-ca",
        MAKER,
        Validity::years_from(now - 3600, 20),
    )?;
    // Distributor and operator keys (owners in the voucher chain).
    let voucher_policy = || -> Result<UsagePolicy> {
        Ok(UsagePolicy::new([shinrai_scu::Purpose::new(
            shinrai_attest::voucher::VOUCHER_PURPOSE,
        )?])?)
    };
    let distributor = store(dir, "distributor")?;
    let dist_key = distributor.generate("distributor", Algorithm::EcdsaP256, voucher_policy()?)?;
    let operator = store(dir, "operator")?;
    let op_key = operator.generate("operator", Algorithm::EcdsaP256, voucher_policy()?)?;

    let v1 = release("1.0");
    // The operator's verifier trusts the maker's CA and its registered reference values.
    let mut verifier = Verifier::new();
    verifier.register_manufacturer(ca.clone());
    verifier.register_reference_values(ReferenceValues::from_composition(&v1)?)?;
    println!(
        "maker {MAKER:?} registered its CA and reference values for {MODEL} 1.0 (composition {})\n",
        v1.digest()?.short()
    );

    let mut out = Vec::new();
    let attest = |v: &mut Verifier,
                  ks: &SoftKeyStore,
                  cert: &[u8],
                  state: &DeviceState|
     -> Result<(Vec<u8>, shinrai_attest::AttestationResult)> {
        let ch = v.challenge(now)?;
        let evidence = Attester::new(ks, "identity", cert)?.attest(&ch, state, now)?;
        let ear = v.appraise(&evidence, cert, now)?;
        Ok((evidence, ear))
    };
    let pass = |ear: &shinrai_attest::AttestationResult| ear.status() == Status::Affirming;

    // Genuine devices.
    let state = DeviceState::from_composition(&v1)?;
    let (g1_ks, g1_cert) = provision(dir, &maker, &ca, "maker-ca", "SN-0001", now)?;
    let (g1_evidence, ear) = attest(&mut verifier, &g1_ks, &g1_cert, &state)?;
    report(
        &mut out,
        "genuine SN-0001",
        true,
        pass(&ear),
        &ear.explain(),
    );
    let (g2_ks, g2_cert) = provision(dir, &maker, &ca, "maker-ca", "SN-0002", now)?;
    let (_, ear) = attest(
        &mut verifier,
        &g2_ks,
        &g2_cert,
        &DeviceState::from_composition(&v1)?,
    )?;
    report(
        &mut out,
        "genuine SN-0002",
        true,
        pass(&ear),
        &ear.explain(),
    );

    // Counterfeit: key certified by someone using the maker's name, not by the maker.
    let (c_ks, c_cert) = provision(dir, &forger, &fake_ca, "fake-ca", "SN-0666", now)?;
    let (_, ear) = attest(&mut verifier, &c_ks, &c_cert, &state)?;
    report(&mut out, "counterfeit", false, pass(&ear), &ear.explain());

    // Cloned: SN-0001's certificate and key copied onto a second device (another boot seed).
    let mut clone_state = state.clone();
    clone_state.bootseed = [7; 32];
    let (_, ear) = attest(&mut verifier, &g1_ks, &g1_cert, &clone_state)?;
    report(&mut out, "cloned", false, pass(&ear), &ear.explain());

    // Tampered: firmware measurement differs from the registered reference value.
    let (t_ks, t_cert) = provision(dir, &maker, &ca, "maker-ca", "SN-0003", now)?;
    let mut tampered = DeviceState::from_composition(&v1)?;
    tampered.set_measurement("main-firmware", Sha256::of(b"patched firmware"));
    let (_, ear) = attest(&mut verifier, &t_ks, &t_cert, &tampered)?;
    report(&mut out, "tampered", false, pass(&ear), &ear.explain());

    // Replay: SN-0001's old evidence sent again (its nonce was already used).
    let ear = verifier.appraise(&g1_evidence, &g1_cert, now)?;
    report(
        &mut out,
        "stale-nonce replay",
        false,
        pass(&ear),
        &ear.explain(),
    );

    // Revoked certificate.
    let (r_ks, r_cert) = provision(dir, &maker, &ca, "maker-ca", "SN-0004", now)?;
    verifier.revoke(&CertificateInfo::parse(&r_cert)?);
    let (_, ear) = attest(
        &mut verifier,
        &r_ks,
        &r_cert,
        &DeviceState::from_composition(&v1)?,
    )?;
    report(
        &mut out,
        "revoked certificate",
        false,
        pass(&ear),
        &ear.explain(),
    );

    // Updated legitimately: the maker registers release 1.1, the device updates and re-attests.
    let (u_ks, u_cert) = provision(dir, &maker, &ca, "maker-ca", "SN-0005", now)?;
    let mut u_state = DeviceState::from_composition(&v1)?;
    let (_, ear) = attest(&mut verifier, &u_ks, &u_cert, &u_state)?;
    println!("SN-0005 before the update: {}", ear.status());
    let v11 = release("1.1");
    verifier.register_reference_values(ReferenceValues::from_composition(&v11)?)?;
    u_state.apply_update(&v11)?;
    let (_, ear) = attest(&mut verifier, &u_ks, &u_cert, &u_state)?;
    report(&mut out, "updated to 1.1", true, pass(&ear), &ear.explain());

    // Ownership: maker -> distributor -> operator for SN-0002; the operator checks the chain.
    let header = |cert: &[u8], serial: &str| VoucherHeader {
        version: 1,
        maker: MAKER.into(),
        maker_key: ca.public_key().clone(),
        model: MODEL.into(),
        serial: serial.into(),
        device_certificate_sha256: Sha256::of(cert),
        created: now,
    };
    let mut voucher = OwnershipVoucher::create(
        &maker,
        "maker-ca",
        header(&g2_cert, "SN-0002"),
        &dist_key.public_key,
        "Distributor GmbH",
    )?;
    voucher.transfer(
        &distributor,
        "distributor",
        &op_key.public_key,
        "Plant Operator",
    )?;
    let check = |v: &OwnershipVoucher| match v.verify(ca.public_key(), &Sha256::of(&g2_cert)) {
        Ok(o) => (
            o.owner_key() == &op_key.public_key,
            format!(
                "voucher chain intact: {} transfer(s), current owner {:?}",
                o.transfers(),
                o.owner_name()
            ),
        ),
        Err(e) => (false, format!("voucher refused: {e}")),
    };
    let (ok, why) = check(&voucher);
    report(&mut out, "voucher chain", true, ok, &why);
    // Broken chain: someone rewrites the new owner's name in the distributor's transfer.
    let mut broken = voucher.clone();
    broken.entries[1].owner_name = "Grey Market Ltd".into();
    let (ok, why) = check(&broken);
    report(&mut out, "broken voucher chain", false, ok, &why);

    let wrong: Vec<&str> = out
        .iter()
        .filter(|o| o.passed != o.expect_pass)
        .map(|o| o.name)
        .collect();
    if wrong.is_empty() {
        println!("All {} cases got the expected verdict.", out.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("UNEXPECTED verdicts: {}", wrong.join(", "));
        Ok(ExitCode::FAILURE)
    }
}
