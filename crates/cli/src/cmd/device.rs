//! `shinrai device ...` and `shinrai demo devices`: device authenticity and composition
//! (issue 5) from the command line, on top of `shinrai-attest`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use shinrai_attest::identity::{der_to_pem, device_key_policy, manufacturer_key_policy};
use shinrai_attest::statements;
use shinrai_attest::voucher::VoucherHeader;
use shinrai_attest::{
    Attester, CertificateInfo, Component, ComponentKind, Composition, DeviceRecord, DeviceState,
    LifecycleEvent, LifecycleState, ManufacturerCa, OwnershipVoucher, ReferenceValues,
    RevocationList, Sha256, Status, Validity, Verifier, VerifierState, now_secs,
    validate_device_certificate,
};
use shinrai_envelope::keys::SslibKey;
use shinrai_scu::soft::{KdfParams, SoftKeyStore};
use shinrai_scu::{Algorithm, KeyStore, UsagePolicy};

use super::client::{Registered, StoreClient};

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
        #[command(flatten)]
        publish: Publish,
        #[command(flatten)]
        keys: KeyStoreArgs,
    },
    /// Maker: revoke a device certificate. Adds it to the maker's revocation list
    /// (`maker-revoked.json`) and issues a new X.509 CRL signed by the CA key into
    /// `crls/maker-ca.crl`, which every later appraisal in `--dir` applies.
    Revoke {
        /// Directory holding `maker-ca.pem`.
        #[arg(long)]
        dir: PathBuf,
        /// The device certificate to revoke (DER or PEM).
        #[arg(long)]
        certificate: PathBuf,
        /// Label of the maker's CA key in the key store.
        #[arg(long, default_value = "maker-ca")]
        ca_label: String,
        /// Days until the CRL's nextUpdate (verifiers refuse it afterwards).
        #[arg(long, default_value_t = 7)]
        crl_days: u64,
        #[command(flatten)]
        publish: Publish,
        #[command(flatten)]
        keys: KeyStoreArgs,
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
        #[command(flatten)]
        result: ResultOpts,
    },
    /// Maker: prove a device's configuration before shipping (fresh evidence appraised as
    /// affirming) and start its lifecycle record `records/<serial>.json` in state `shipped`.
    /// Exits 0 if shipped, 1 if the device failed appraisal.
    Ship {
        /// Directory holding `verifier.json`.
        #[arg(long)]
        dir: PathBuf,
        /// Fresh evidence from `shinrai device attest`.
        #[arg(long)]
        evidence: PathBuf,
        /// The device certificate (DER or PEM).
        #[arg(long)]
        certificate: PathBuf,
        #[command(flatten)]
        result: ResultOpts,
    },
    /// Operator: confirm a shipped device's configuration by a fresh attestation, check the
    /// ownership voucher names this operator as owner, and record the device as installed.
    /// Exits 0 if installed, 1 if the device or its voucher failed the checks.
    Install {
        /// Directory holding `verifier.json`, `maker-ca.pem` and `records/`.
        #[arg(long)]
        dir: PathBuf,
        /// Fresh evidence from `shinrai device attest`.
        #[arg(long)]
        evidence: PathBuf,
        /// The device certificate (DER or PEM).
        #[arg(long)]
        certificate: PathBuf,
        /// The device's ownership voucher.
        #[arg(long)]
        voucher: PathBuf,
        /// Label of the operator's voucher key in the key store (the voucher's last owner).
        #[arg(long)]
        operator_label: String,
        /// Where the device is installed.
        #[arg(long)]
        site: String,
        #[command(flatten)]
        result: ResultOpts,
    },
    /// Re-attest an installed device after a firmware update or function addition (or
    /// routinely). `--composition` first registers the vendor's new release (reference values
    /// from its CycloneDX). The record gets an `updated` (release changed) or `reattested`
    /// entry. Exits 0 if the device passed, 1 if not (the record is then unchanged).
    Update {
        /// Directory holding `verifier.json` and `records/`.
        #[arg(long)]
        dir: PathBuf,
        /// Fresh evidence from `shinrai device attest`.
        #[arg(long)]
        evidence: PathBuf,
        /// The device certificate (DER or PEM).
        #[arg(long)]
        certificate: PathBuf,
        /// The vendor's CycloneDX 1.6 composition of the new release, registered first.
        #[arg(long)]
        composition: Option<PathBuf>,
        #[command(flatten)]
        result: ResultOpts,
    },
    /// Ownership vouchers (FDO style): the maker signs the device over to its first owner, each
    /// seller signs it over to the next; the buyer checks the chain before accepting the device.
    #[command(subcommand)]
    Voucher(VoucherCmd),
    /// Print a device's lifecycle record and the appraisal history the verifier kept; with
    /// `--server`, also the signed attestation results registered in the trust store (each
    /// checked against `--trust-key`). Exits 1 if a registered result fails its check.
    History {
        /// Directory holding `verifier.json`.
        #[arg(long)]
        dir: PathBuf,
        /// The device certificate (DER or PEM).
        #[arg(long)]
        certificate: PathBuf,
        /// Trust store URL to read registered results from.
        #[arg(long, requires = "trust_key")]
        server: Option<String>,
        /// Public key (securesystemslib JSON, `shinrai key export`) of a verifier whose signed
        /// results are trusted; repeatable.
        #[arg(long)]
        trust_key: Vec<PathBuf>,
    },
}

/// Where signed statements go: signed with `--sign-key` and, with `--server`, registered in the
/// trust store with the organisation's API token.
#[derive(clap::Args, Clone)]
pub struct Publish {
    /// Label of the key (purpose `statement`) in the key store that signs what is written or
    /// registered: the maker's organisation key for CA, reference values and CRLs, the
    /// verifier's for attestation results.
    #[arg(long)]
    sign_key: Option<String>,
    /// Trust store URL: register the signed statements there (needs --sign-key, --store-token).
    #[arg(long, requires_all = ["sign_key", "store_token"])]
    server: Option<String>,
    /// The organisation's API token for the trust store (named so as not to clash with the
    /// PKCS#11 `--token`).
    #[arg(long, env = "SHINRAI_TOKEN", hide_env_values = true)]
    store_token: Option<String>,
}

impl std::fmt::Debug for Publish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publish")
            .field("sign_key", &self.sign_key)
            .field("server", &self.server)
            .field(
                "store_token",
                &self.store_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What to do with an attestation result: sign it (DSSE in-toto statement), write it, register it.
#[derive(clap::Args, Debug, Clone)]
pub struct ResultOpts {
    #[command(flatten)]
    publish: Publish,
    /// Where to write the signed result [default: `results/<serial>.<digest>.ear.dsse.json` in
    /// `--dir`]; only with --sign-key.
    #[arg(long, requires = "sign_key")]
    signed_out: Option<PathBuf>,
    #[command(flatten)]
    keys: KeyStoreArgs,
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
        DeviceCmd::Register {
            dir,
            composition,
            publish,
            keys,
        } => register(&dir, &composition, &publish, &keys),
        DeviceCmd::Revoke {
            dir,
            certificate,
            ca_label,
            crl_days,
            publish,
            keys,
        } => revoke(&dir, &certificate, &ca_label, crl_days, &publish, &keys),
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
            result,
        } => appraise(&dir, &evidence, &certificate, out.as_deref(), &result),
        DeviceCmd::Ship {
            dir,
            evidence,
            certificate,
            result,
        } => ship(&dir, &evidence, &certificate, &result),
        DeviceCmd::Install {
            dir,
            evidence,
            certificate,
            voucher,
            operator_label,
            site,
            result,
        } => install(
            &dir,
            &evidence,
            &certificate,
            &voucher,
            &operator_label,
            &site,
            &result,
        ),
        DeviceCmd::Update {
            dir,
            evidence,
            certificate,
            composition,
            result,
        } => update(
            &dir,
            &evidence,
            &certificate,
            composition.as_deref(),
            &result,
        ),
        DeviceCmd::History {
            dir,
            certificate,
            server,
            trust_key,
        } => history(&dir, &certificate, server.as_deref(), &trust_key),
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

fn register(
    dir: &Path,
    composition: &Path,
    publish: &Publish,
    keys: &KeyStoreArgs,
) -> Result<ExitCode> {
    let path = verifier_path(dir);
    let mut v = if path.exists() {
        load_verifier(&path)?
    } else {
        Verifier::new()
    };
    let ca = read_ca(dir)?;
    v.register_manufacturer(ca.clone());
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
    if let Some(label) = &publish.sign_key {
        let ks = keys.open(false)?;
        let ca_signed =
            statements::sign(ks.as_ref(), label, &statements::maker_ca_statement(&ca)?)?;
        let rv_signed =
            statements::sign(ks.as_ref(), label, &statements::reference_statement(&c)?)?;
        let out = dir.join("published");
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        let ca_path = out.join(format!(
            "maker-ca.{}.dsse.json",
            Sha256::of(&ca_signed).short()
        ));
        let rv_path = out.join(format!(
            "{}-{}.{}.dsse.json",
            file_safe(&c.model),
            file_safe(&c.version),
            Sha256::of(&rv_signed).short()
        ));
        write(&ca_path, &ca_signed)?;
        write(&rv_path, &rv_signed)?;
        println!("signed maker CA -> {}", ca_path.display());
        println!(
            "signed reference values and CycloneDX -> {}",
            rv_path.display()
        );
        publish_files(
            publish,
            &[("maker CA", &ca_path), ("reference values", &rv_path)],
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A name usable as (part of) a file name: anything but ASCII letters, digits, `-`, `_`, `.`
/// becomes `_`.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The maker's list of revoked certificates and the number of its last CRL.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct MakerRevocations {
    crl_number: u64,
    /// Revoked device certificates, DER as hex.
    revoked: Vec<String>,
}

fn crl_dir(dir: &Path) -> PathBuf {
    dir.join("crls")
}

fn revoke(
    dir: &Path,
    certificate: &Path,
    ca_label: &str,
    crl_days: u64,
    publish: &Publish,
    keys: &KeyStoreArgs,
) -> Result<ExitCode> {
    if crl_days == 0 || crl_days > 3650 {
        bail!("--crl-days must be 1..=3650");
    }
    let ca = read_ca(dir)?;
    let cert = read_certificate(certificate)?;
    let info = CertificateInfo::parse(&cert).context("reading the device certificate")?;
    if !info.issued_by_name(&ca) {
        bail!(
            "the certificate was issued by {:?}, not by this maker's CA {:?}: only its issuer can revoke it",
            info.issuer,
            ca.organisation()
        );
    }
    let list_path = dir.join("maker-revoked.json");
    let mut list: MakerRevocations = if list_path.exists() {
        serde_json::from_slice(&read(&list_path)?)
            .with_context(|| format!("reading {}", list_path.display()))?
    } else {
        MakerRevocations::default()
    };
    let hex_der = hex::encode(&cert);
    if !list.revoked.contains(&hex_der) {
        list.revoked.push(hex_der);
    }
    let mut infos = Vec::with_capacity(list.revoked.len());
    for h in &list.revoked {
        let der =
            hex::decode(h).with_context(|| format!("bad entry in {}", list_path.display()))?;
        infos.push(CertificateInfo::parse(&der)?);
    }
    list.crl_number += 1;
    let now = now_secs();
    let ks = keys.open(false)?;
    let crl = ca.issue_crl(
        ks.as_ref(),
        ca_label,
        &infos,
        list.crl_number,
        now.saturating_sub(60),
        now + crl_days * 86_400,
    )?;
    write(&list_path, &serde_json::to_vec_pretty(&list)?)?;
    let crls = crl_dir(dir);
    std::fs::create_dir_all(&crls).with_context(|| format!("creating {}", crls.display()))?;
    let crl_path = crls.join("maker-ca.crl");
    write(&crl_path, &crl)?;
    let id = info.device_identity();
    println!(
        "revoked the certificate of {} (serial number {}); CRL number {} with {} entr{} -> {}",
        id.as_ref()
            .map(|i| format!("{} {} {}", i.maker, i.model, i.serial))
            .unwrap_or_else(|| info.subject.clone()),
        info.serial_hex,
        list.crl_number,
        infos.len(),
        if infos.len() == 1 { "y" } else { "ies" },
        crl_path.display()
    );
    if let Some(label) = &publish.sign_key {
        let signed = statements::sign(ks.as_ref(), label, &statements::crl_statement(&ca, &crl)?)?;
        let out = dir.join("published");
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        let path = out.join(format!("crl-{}.dsse.json", list.crl_number));
        write(&path, &signed)?;
        println!("signed CRL -> {}", path.display());
        publish_files(publish, &[("CRL", &path)])?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Applies every CRL in `<dir>/crls/` to the verifier: each must come from a registered maker
/// and be current, else appraisal stops with an error (a stale list cannot prove a device is
/// not revoked).
fn apply_crls(dir: &Path, v: &mut Verifier, now: u64) -> Result<()> {
    let crls = crl_dir(dir);
    if !crls.exists() {
        return Ok(());
    }
    let state = v.export_state();
    let mut makers = Vec::new();
    for m in &state.manufacturers {
        makers.push(ManufacturerCa::from_der(&hex::decode(m)?)?);
    }
    let mut list = state.revocations;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&crls)
        .with_context(|| format!("reading {}", crls.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "crl"))
        .collect();
    entries.sort();
    for path in entries {
        let der = read(&path)?;
        let mut applied = false;
        for ca in &makers {
            match RevocationList::from_crl(ca, &der, now) {
                Ok(l) => {
                    list.merge(l);
                    applied = true;
                    break;
                }
                Err(shinrai_attest::Error::UnknownIssuer { .. }) => continue,
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!(
                        "the revocation list {} cannot be used",
                        path.display()
                    )));
                }
            }
        }
        if !applied {
            bail!(
                "the revocation list {} is not from a registered manufacturer",
                path.display()
            );
        }
    }
    v.set_revocation_list(list);
    Ok(())
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
    /// Updates applied so far.
    #[serde(default)]
    update_count: u64,
    /// Composition digest the device last ran, hex.
    #[serde(default)]
    composition: Option<String>,
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
    let digest = state.composition_digest.to_hex();
    if boot_path.exists() {
        let b: Boot = serde_json::from_slice(&read(&boot_path)?)
            .with_context(|| format!("reading {}", boot_path.display()))?;
        let seed = hex::decode(&b.bootseed)
            .ok()
            .and_then(|s| <[u8; 32]>::try_from(s).ok());
        state.bootcount = b.bootcount;
        state.bootseed =
            seed.with_context(|| format!("bad boot seed in {}", boot_path.display()))?;
        state.update_count = b.update_count;
        // Running another composition than last time is an update: the update counter goes
        // up and the device reboots (new boot number and seed).
        if b.composition.as_deref().is_some_and(|c| c != digest) {
            state.update_count += 1;
            state.reboot()?;
        }
    }
    let b = Boot {
        bootcount: state.bootcount,
        bootseed: hex::encode(state.bootseed),
        update_count: state.update_count,
        composition: Some(digest),
    };
    write(&boot_path, &serde_json::to_vec(&b)?)?;
    let evidence = sign_evidence(keys, device_label, &cert, &ch, &state)?;
    write(out, &evidence)?;
    println!("evidence -> {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// Signs the device's evidence with its identity key. On the `tpm` backend the evidence also
/// carries a TPM quote: the measurements are extended into PCR 23 and quoted by the TPM's
/// restricted attestation key over the challenge's nonce, so the verifier checks them against
/// what the TPM recorded, not only against what the device says.
fn sign_evidence(
    keys: &KeyStoreArgs,
    device_label: &str,
    cert: &[u8],
    ch: &shinrai_attest::Challenge,
    state: &DeviceState,
) -> Result<Vec<u8>> {
    #[cfg(feature = "tpm")]
    if keys.backend == crate::keystore::Backend::Tpm {
        use shinrai_attest::evidence::{
            MEASUREMENT_PCR, QuoteClaim, measurement_digests, quote_qualifying_data,
        };
        let tpm = keys.open_tpm(false)?;
        let q = tpm.measure_and_quote(
            MEASUREMENT_PCR,
            &measurement_digests(&state.measurements),
            &quote_qualifying_data(&ch.nonce),
        )?;
        let claim = QuoteClaim {
            ak: q.ak,
            measurement_pcr: MEASUREMENT_PCR,
            quote: q.quote,
        };
        return Ok(Attester::new(&tpm, device_label, cert)?.attest_with_quote(
            ch,
            state,
            now_secs(),
            claim,
        )?);
    }
    let ks = keys.open(false)?;
    Ok(Attester::new(ks.as_ref(), device_label, cert)?.attest(ch, state, now_secs())?)
}

/// Loads the verifier, applies the current CRLs, appraises, saves the verifier; then signs,
/// writes and registers the result as `opts` say.
fn run_appraisal(
    dir: &Path,
    evidence: &Path,
    certificate: &Path,
    opts: &ResultOpts,
) -> Result<(Verifier, shinrai_attest::AttestationResult, Vec<u8>)> {
    let now = now_secs();
    let mut v = load_verifier(&verifier_path(dir))?;
    apply_crls(dir, &mut v, now)?;
    let cert = read_certificate(certificate)?;
    let ear = v
        .appraise(&read(evidence)?, &cert, now)
        .context("the evidence or certificate cannot be read")?;
    save_verifier(dir, &v)?;
    if let Some(label) = &opts.publish.sign_key {
        let ks = opts.keys.open(false)?;
        let signed = statements::sign(
            ks.as_ref(),
            label,
            &statements::result_statement(&ear, &cert)?,
        )?;
        let path = match &opts.signed_out {
            Some(p) => p.clone(),
            None => {
                let results = dir.join("results");
                std::fs::create_dir_all(&results)
                    .with_context(|| format!("creating {}", results.display()))?;
                let serial = ear
                    .device()
                    .map(|d| file_safe(&d.serial))
                    .unwrap_or_else(|| "unknown-device".into());
                results.join(format!(
                    "{serial}.{}.ear.dsse.json",
                    Sha256::of(&signed).short()
                ))
            }
        };
        write(&path, &signed)?;
        println!("signed attestation result -> {}", path.display());
        publish_files(&opts.publish, &[("attestation result", &path)])?;
    }
    Ok((v, ear, cert))
}

fn appraise(
    dir: &Path,
    evidence: &Path,
    certificate: &Path,
    out: Option<&Path>,
    opts: &ResultOpts,
) -> Result<ExitCode> {
    let (_, ear, _) = run_appraisal(dir, evidence, certificate, opts)?;
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

fn record_path(dir: &Path, cert: &[u8]) -> Result<PathBuf> {
    let id = CertificateInfo::parse(cert)?
        .device_identity()
        .context("the certificate names no device (no model or serial number)")?;
    Ok(dir
        .join("records")
        .join(format!("{}.json", file_safe(&id.serial))))
}

fn load_record(dir: &Path, cert: &[u8]) -> Result<(PathBuf, Option<DeviceRecord>)> {
    let path = record_path(dir, cert)?;
    if !path.exists() {
        return Ok((path, None));
    }
    let r = DeviceRecord::from_json(&read(&path)?)
        .with_context(|| format!("reading the device record {}", path.display()))?;
    if r.certificate_sha256 != Sha256::of(cert) {
        bail!(
            "{} is the record of another certificate of serial number {} (maker {:?})",
            path.display(),
            r.serial,
            r.maker
        );
    }
    Ok((path, Some(r)))
}

fn save_record(path: &Path, r: &DeviceRecord) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    write(path, &r.to_json())
}

/// Prints a failed appraisal for a lifecycle step and returns exit code 1.
fn refused(step: &str, ear: &shinrai_attest::AttestationResult) -> ExitCode {
    println!("{}", ear.explain());
    println!(
        "{step} refused: the device did not pass attestation ({}).",
        ear.status()
    );
    ExitCode::FAILURE
}

fn ship(dir: &Path, evidence: &Path, certificate: &Path, opts: &ResultOpts) -> Result<ExitCode> {
    let cert = read_certificate(certificate)?;
    let (path, existing) = load_record(dir, &cert)?;
    if let Some(r) = &existing
        && r.state() != LifecycleState::Manufactured
    {
        bail!(
            "device {} was already shipped (state {:?}, {})",
            r.serial,
            r.state(),
            path.display()
        );
    }
    let (v, ear, cert) = run_appraisal(dir, evidence, certificate, opts)?;
    if ear.status() != Status::Affirming {
        return Ok(refused("shipping", &ear));
    }
    let mut record = match existing {
        Some(r) => r,
        None => DeviceRecord::new(&verified_device(&v, &cert)?),
    };
    record.ship(&ear)?;
    save_record(&path, &record)?;
    println!("{}", ear.explain());
    println!(
        "SHIPPED: {} {} {} with release {} -> {}",
        record.maker,
        record.model,
        record.serial,
        record.release().unwrap_or("-"),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The certificate chain checked again for the record (after an affirming appraisal).
fn verified_device(v: &Verifier, cert: &[u8]) -> Result<shinrai_attest::VerifiedDevice> {
    let id = CertificateInfo::parse(cert)?
        .device_identity()
        .context("the certificate names no device")?;
    let ca = v
        .manufacturer(&id.maker)
        .with_context(|| format!("{:?} is not a registered manufacturer", id.maker))?;
    Ok(validate_device_certificate(
        ca,
        cert,
        now_secs(),
        &v.export_state().revocations,
    )?)
}

#[allow(clippy::too_many_arguments)]
fn install(
    dir: &Path,
    evidence: &Path,
    certificate: &Path,
    voucher: &Path,
    operator_label: &str,
    site: &str,
    opts: &ResultOpts,
) -> Result<ExitCode> {
    let cert = read_certificate(certificate)?;
    let (path, record) = load_record(dir, &cert)?;
    let mut record = record.with_context(|| {
        format!(
            "no shipping record for this device ({} missing): the maker proves the configuration with `shinrai device ship` first",
            path.display()
        )
    })?;
    let ca = read_ca(dir)?;
    let v = read_voucher(voucher)?;
    let operator_key = opts
        .keys
        .open(false)?
        .public_key(operator_label)
        .with_context(|| format!("reading the operator key {operator_label:?}"))?;
    let ownership = match v.verify(ca.public_key(), &Sha256::of(&cert)) {
        Ok(o) => o,
        Err(e) => {
            println!("FAIL: installation refused: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if ownership.owner_key() != &operator_key {
        println!(
            "FAIL: installation refused: the voucher makes {:?} the owner of this device, not the holder of key {operator_label:?}",
            ownership.owner_name()
        );
        return Ok(ExitCode::FAILURE);
    }
    let (_, ear, _) = run_appraisal(dir, evidence, certificate, opts)?;
    if ear.status() != Status::Affirming {
        return Ok(refused("installation", &ear));
    }
    record.install(&ear, &ownership, &operator_key, site)?;
    save_record(&path, &record)?;
    println!("{}", ear.explain());
    println!(
        "INSTALLED: {} {} {} at {site:?} by {:?}, release {} confirmed -> {}",
        record.maker,
        record.model,
        record.serial,
        ownership.owner_name(),
        record.release().unwrap_or("-"),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn update(
    dir: &Path,
    evidence: &Path,
    certificate: &Path,
    composition: Option<&Path>,
    opts: &ResultOpts,
) -> Result<ExitCode> {
    let cert = read_certificate(certificate)?;
    let (path, record) = load_record(dir, &cert)?;
    let mut record = record.with_context(|| {
        format!(
            "no lifecycle record for this device ({} missing): ship and install it first",
            path.display()
        )
    })?;
    if let Some(c) = composition {
        let c = read_composition(c)?;
        let mut v = load_verifier(&verifier_path(dir))?;
        v.register_reference_values(ReferenceValues::from_composition(&c)?)?;
        save_verifier(dir, &v)?;
        println!(
            "registered {} {} release {} (composition {})",
            c.maker,
            c.model,
            c.version,
            c.digest()?.short()
        );
    }
    let before = record.release().map(str::to_owned);
    let (_, ear, _) = run_appraisal(dir, evidence, certificate, opts)?;
    if ear.status() != Status::Affirming {
        return Ok(refused("re-attestation", &ear));
    }
    record.reattest(&ear)?;
    save_record(&path, &record)?;
    println!("{}", ear.explain());
    let after = record.release().unwrap_or("-");
    match before.as_deref() {
        Some(b) if b != after => println!(
            "UPDATED: {} {} {} from release {b} to {after} -> {}",
            record.maker,
            record.model,
            record.serial,
            path.display()
        ),
        _ => println!(
            "RE-ATTESTED: {} {} {} still on release {after} -> {}",
            record.maker,
            record.model,
            record.serial,
            path.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Registers each signed file in the trust store when `--server` is given; prints entry ids and
/// saves receipts as `<file>.receipt.json`.
fn publish_files(publish: &Publish, files: &[(&str, &Path)]) -> Result<()> {
    let Some(server) = &publish.server else {
        return Ok(());
    };
    let token = publish
        .store_token
        .as_deref()
        .context("--server needs --store-token (or SHINRAI_TOKEN)")?;
    let client = StoreClient::new(server)?;
    for (what, path) in files {
        let bytes = read(path)?;
        let Registered { id, receipt } = client
            .register(token, &bytes)
            .with_context(|| format!("registering the {what} {} in {server}", path.display()))?;
        let mut rp = path.as_os_str().to_owned();
        rp.push(".receipt.json");
        write(Path::new(&rp), &serde_json::to_vec_pretty(&receipt)?)?;
        println!("registered the {what} in the trust store: entry {id}");
    }
    Ok(())
}

/// Every registered attestation result about the certificate with this SHA-256, as full
/// entries (search answers carry metadata; the signed bytes come from `/entries/{id}`).
fn registered_results(server: &str, cert_sha256: &Sha256) -> Result<Vec<serde_json::Value>> {
    let client = StoreClient::new(server)?;
    let digest = format!("sha256:{}", cert_sha256.to_hex());
    let found = client.search_all(
        &[
            ("subject_digest", digest.as_str()),
            ("predicate_type", statements::RESULT_PREDICATE_TYPE),
        ],
        100_000,
    )?;
    found
        .iter()
        .map(|e| {
            client.get_json(&format!(
                "/entries/{}",
                e["id"].as_str().unwrap_or_default()
            ))
        })
        .collect()
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

fn history(
    dir: &Path,
    certificate: &Path,
    server: Option<&str>,
    trust_keys: &[PathBuf],
) -> Result<ExitCode> {
    let verifier = load_verifier(&verifier_path(dir))?;
    let der = read_certificate(certificate)?;
    let cert = CertificateInfo::parse(&der).context("reading the device certificate")?;
    let id = cert
        .device_identity()
        .context("the certificate names no device (no model or serial number)")?;
    println!("device {} {} {}", id.maker, id.model, id.serial);
    let (_, record) = load_record(dir, &der)?;
    match &record {
        None => println!("lifecycle: no record (not shipped through `shinrai device ship`)"),
        Some(r) => {
            println!(
                "lifecycle: {:?}, release {}",
                r.state(),
                r.release().unwrap_or("-")
            );
            for e in r.history() {
                let what = match &e.event {
                    LifecycleEvent::Shipped { by, release } => {
                        format!("shipped by {by:?} with release {release}")
                    }
                    LifecycleEvent::Installed {
                        operator,
                        site,
                        release,
                        ..
                    } => format!("installed by {operator:?} at {site:?}, release {release}"),
                    LifecycleEvent::Updated { from, to } => {
                        format!("updated from release {from} to {to}")
                    }
                    LifecycleEvent::Reattested { release } => {
                        format!("re-attested on release {release}")
                    }
                };
                println!(
                    "  {}  {what}  (result {}, sha256 {})",
                    e.time,
                    e.status,
                    e.result_sha256.short()
                );
            }
        }
    }
    let entries = verifier.history(&id.ueid());
    println!("appraisals: {}", entries.len());
    for e in entries {
        let codes: Vec<String> = e.codes.iter().map(|c| format!("{c:?}")).collect();
        println!(
            "  {}  {:<15} release {:<8} {}",
            e.time,
            e.status.to_string(),
            e.reference_version.as_deref().unwrap_or("-"),
            codes.join(", ")
        );
    }
    let Some(server) = server else {
        return Ok(ExitCode::SUCCESS);
    };
    let mut trusted = Vec::new();
    for k in trust_keys {
        trusted.push(
            SslibKey::parse(&read(k)?)
                .with_context(|| format!("reading the verifier key {}", k.display()))?,
        );
    }
    let fingerprint = Sha256::of(&der);
    let found = registered_results(server, &fingerprint)?;
    println!("registered results in {server}: {}", found.len());
    let mut bad = 0;
    for e in &found {
        let index = e["index"].as_u64().unwrap_or_default();
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            e["entry"].as_str().unwrap_or_default(),
        )
        .unwrap_or_default();
        match statements::verify_result(&bytes, &trusted, &fingerprint) {
            Ok(r) => println!(
                "  log index {index}  {}  {:<15} release {:<8} signed by {}",
                r.result.iat,
                r.result.status().to_string(),
                r.result
                    .appraisal()
                    .and_then(|a| a.reference_version.as_deref())
                    .unwrap_or("-"),
                r.signers.join(",")
            ),
            Err(err) => {
                bad += 1;
                println!("  log index {index}  REFUSED: {err}");
            }
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
    let g2_state = DeviceState::from_composition(&v1)?;
    let (_, g2_ship_ear) = attest(&mut verifier, &g2_ks, &g2_cert, &g2_state)?;
    report(
        &mut out,
        "genuine SN-0002",
        true,
        pass(&g2_ship_ear),
        &g2_ship_ear.explain(),
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

    // Lifecycle of SN-0002: shipped on the maker's appraisal above, then installed by the
    // operator with a fresh attestation and the intact voucher.
    let mut record = DeviceRecord::new(&validate_device_certificate(
        &ca,
        &g2_cert,
        now,
        &RevocationList::new(),
    )?);
    let installed = (|| -> Result<String> {
        record.ship(&g2_ship_ear)?;
        let ownership = voucher.verify(ca.public_key(), &Sha256::of(&g2_cert))?;
        let (_, ear) = attest(&mut verifier, &g2_ks, &g2_cert, &g2_state)?;
        record.install(&ear, &ownership, &op_key.public_key, "Plant 1, line 3")?;
        Ok(format!(
            "shipped by {MAKER:?} and installed by {:?} with release {} ({} lifecycle steps recorded)",
            ownership.owner_name(),
            record.release().unwrap_or("-"),
            record.history().len()
        ))
    })();
    let (ok, why) = match installed {
        Ok(why) => (true, why),
        Err(e) => (false, format!("{e:#}")),
    };
    report(&mut out, "installed SN-0002", true, ok, &why);

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
