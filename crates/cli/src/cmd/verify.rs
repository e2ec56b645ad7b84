//! `shinrai verify`: checks a DSSE envelope against public keys and prints a verdict.
//!
//! Exit status: 0 the envelope verifies (and covers every `--subject` given), 1 it does not (the
//! reason is printed), 2 the command itself could not run (unreadable key file, bad option).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use shinrai_envelope::keys::SslibKey;
use shinrai_envelope::statement::verify_statement;

/// Options of `shinrai verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The DSSE envelope file (`-` for standard input).
    envelope: PathBuf,
    /// A trusted public key file in securesystemslib JSON (`shinrai key export`); repeatable.
    #[arg(long = "key", value_name = "KEY.json", required = true)]
    keys: Vec<PathBuf>,
    /// How many distinct trusted keys must have signed.
    #[arg(long, default_value_t = 1)]
    threshold: usize,
    /// A file the statement must name as a subject (by SHA-256); repeatable.
    #[arg(long = "subject", value_name = "FILE")]
    subjects: Vec<PathBuf>,
    /// Print the verdict as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `shinrai verify`.
pub fn run(a: VerifyArgs) -> Result<ExitCode> {
    let mut trusted = Vec::new();
    for path in &a.keys {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading key file {}", path.display()))?;
        trusted.push(
            SslibKey::parse(&bytes).with_context(|| {
                format!("key file {} is not a usable public key", path.display())
            })?,
        );
    }
    let bytes = if a.envelope.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
            .context("reading the envelope from standard input")?;
        b
    } else {
        std::fs::read(&a.envelope)
            .with_context(|| format!("reading envelope {}", a.envelope.display()))?
    };
    let mut wanted = Vec::new();
    for path in &a.subjects {
        let content =
            std::fs::read(path).with_context(|| format!("reading subject {}", path.display()))?;
        wanted.push((path.display().to_string(), sha256_hex(&content)));
    }

    let verdict = match verify_statement(&bytes, &trusted, a.threshold) {
        Err(e) => Err(e.to_string()),
        Ok(v) => {
            let st = v.value();
            let missing: Vec<&str> = wanted
                .iter()
                .filter(|(_, d)| !st.subject.iter().any(|s| s.sha256() == Some(d.as_str())))
                .map(|(n, _)| n.as_str())
                .collect();
            if missing.is_empty() {
                Ok((
                    v.signer_keyids(),
                    st.predicate_type.clone(),
                    st.subject.len(),
                ))
            } else {
                Err(format!(
                    "the signature is valid but the statement does not cover {}",
                    missing.join(", ")
                ))
            }
        }
    };
    match verdict {
        Ok((signers, predicate_type, n)) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"verified": true, "signers": signers,
                        "predicateType": predicate_type, "subjects": n})
                );
            } else {
                println!(
                    "OK: statement ({predicate_type}, {n} subject(s)) signed by {}",
                    signers.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(reason) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"verified": false, "reason": reason})
                );
            } else {
                println!("FAILED: {reason}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}
