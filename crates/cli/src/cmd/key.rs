//! `shinrai key ...`: generate, list, export, audit and delete SCU keys.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use shinrai_envelope::keys::SslibKey;
use shinrai_scu::{Algorithm, Purpose, UsagePolicy};

use crate::keystore::KeyStoreArgs;

/// Key management commands.
#[derive(clap::Subcommand, Debug)]
pub enum KeyCmd {
    /// Generate a key in the key store (creating a soft key store if there is none).
    Generate {
        #[command(flatten)]
        store: KeyStoreArgs,
        /// Name of the new key.
        label: String,
        /// Algorithm: ed25519 (organisations, logs) or ecdsa-p256 (devices, hardware).
        #[arg(long, default_value = "ed25519")]
        algorithm: Algorithm,
        /// Purposes the key may sign for (repeat or comma-separate): statement, checkpoint,
        /// device-evidence, certificate, or any lowercase name.
        #[arg(long = "purpose", value_delimiter = ',', default_value = "statement")]
        purposes: Vec<String>,
        /// Limit on the total number of signatures the key may ever make.
        #[arg(long)]
        max_uses: Option<u64>,
    },
    /// List the keys in the key store.
    List {
        #[command(flatten)]
        store: KeyStoreArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print a key's public key (securesystemslib JSON with its keyid, or raw hex).
    Export {
        #[command(flatten)]
        store: KeyStoreArgs,
        /// The key to export.
        label: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "sslib")]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Check the key store's hash-chained audit log of key uses; exit 1 if it was tampered with.
    Audit {
        #[command(flatten)]
        store: KeyStoreArgs,
        /// Also print every record.
        #[arg(long)]
        verbose: bool,
    },
    /// Delete a key for good.
    Delete {
        #[command(flatten)]
        store: KeyStoreArgs,
        /// The key to delete.
        label: String,
    },
    /// Show what the backend can do and how much assurance it gives.
    Info {
        #[command(flatten)]
        store: KeyStoreArgs,
    },
}

/// Public key output formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ExportFormat {
    /// securesystemslib / in-toto JSON key with `keyid`.
    Sslib,
    /// The raw public key in hex (Ed25519: 32 bytes; P-256: uncompressed SEC1 point).
    Hex,
}

/// Runs a key command.
pub fn run(cmd: KeyCmd) -> Result<ExitCode> {
    match cmd {
        KeyCmd::Generate {
            store,
            label,
            algorithm,
            purposes,
            max_uses,
        } => {
            let ks = store.open(true)?;
            let purposes = purposes
                .iter()
                .map(|p| Purpose::new(p.trim()))
                .collect::<Result<Vec<_>, _>>()?;
            let mut policy = UsagePolicy::new(purposes)?;
            if let Some(m) = max_uses {
                policy = policy.with_max_uses(m);
            }
            let info = ks.generate(&label, algorithm, policy)?;
            let key = SslibKey::from_public_key(&info.public_key)?;
            println!(
                "generated {} key {:?} keyid {}",
                info.algorithm,
                info.label,
                key.keyid()
            );
            Ok(ExitCode::SUCCESS)
        }
        KeyCmd::List { store, json } => {
            let ks = store.open(false)?;
            let keys = ks.list()?;
            if json {
                let out: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "label": k.label,
                            "algorithm": k.algorithm,
                            "keyid": keyid_of(&k.public_key),
                            "purposes": k.policy.purposes,
                            "max_uses": k.policy.max_uses,
                            "uses": k.uses,
                            "created": k.created,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "{:<20} {:<11} {:<16} {:>6} {:>8}  PURPOSES",
                    "LABEL", "ALGORITHM", "KEYID", "USES", "LIMIT"
                );
                for k in &keys {
                    let keyid = keyid_of(&k.public_key);
                    let purposes: Vec<&str> =
                        k.policy.purposes.iter().map(|p| p.as_str()).collect();
                    println!(
                        "{:<20} {:<11} {:<16} {:>6} {:>8}  {}",
                        k.label,
                        k.algorithm.as_str(),
                        &keyid[..16.min(keyid.len())],
                        k.uses,
                        k.policy
                            .max_uses
                            .map_or_else(|| "-".to_owned(), |m| m.to_string()),
                        purposes.join(",")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        KeyCmd::Export {
            store,
            label,
            format,
            out,
        } => {
            let ks = store.open(false)?;
            let public = ks.public_key(&label)?;
            let text = match format {
                ExportFormat::Sslib => {
                    let key = SslibKey::from_public_key(&public)?;
                    String::from_utf8(key.to_json_bytes())? + "\n"
                }
                ExportFormat::Hex => hex::encode(&public.bytes) + "\n",
            };
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        KeyCmd::Audit { store, verbose } => {
            let ks = store.open(false)?;
            let report = ks.audit()?;
            if verbose {
                for r in &report.records {
                    println!("{}", serde_json::to_string(r)?);
                }
            }
            print!("{}", crate::report::audit(&report));
            Ok(if report.is_intact() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        KeyCmd::Delete { store, label } => {
            let ks = store.open(false)?;
            ks.delete(&label)?;
            println!("deleted key {label:?}");
            Ok(ExitCode::SUCCESS)
        }
        KeyCmd::Info { store } => {
            let ks = store.open(false)?;
            println!("{}", serde_json::to_string_pretty(&ks.capabilities())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The securesystemslib keyid of a public key, or a marker if the key is malformed.
fn keyid_of(key: &shinrai_scu::PublicKey) -> String {
    SslibKey::from_public_key(key)
        .map(|k| k.keyid())
        .unwrap_or_else(|_| "(invalid key)".to_owned())
}
