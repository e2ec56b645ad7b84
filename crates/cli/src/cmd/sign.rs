//! `shinrai sign`: an in-toto Statement v1 about files or digests, signed into a DSSE envelope.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use shinrai_envelope::statement::{Statement, Subject, sign_statement};
use shinrai_envelope::{ScuSigner, Signer};
use shinrai_scu::Purpose;

use crate::keystore::KeyStoreArgs;

/// Options of `shinrai sign`.
#[derive(clap::Args, Debug)]
pub struct SignArgs {
    #[command(flatten)]
    store: KeyStoreArgs,
    /// Label of the signing key in the key store.
    #[arg(long)]
    key: String,
    /// A subject file: its name and SHA-256 go into the statement (repeatable).
    #[arg(long = "subject", value_name = "FILE")]
    subjects: Vec<PathBuf>,
    /// A subject given by digest, as NAME=sha256:HEX (repeatable).
    #[arg(long = "subject-digest", value_name = "NAME=sha256:HEX")]
    subject_digests: Vec<String>,
    /// The predicate type URI.
    #[arg(long, default_value = "https://shinrai.dev/attestation/note/v1")]
    predicate_type: String,
    /// The predicate: a JSON file, or `-` for standard input [default: {}].
    #[arg(long)]
    predicate: Option<PathBuf>,
    /// The purpose to sign for; the key's usage policy must allow it.
    #[arg(long, default_value = "statement")]
    purpose: String,
    /// Write the envelope here instead of standard output.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// Runs `shinrai sign`.
pub fn run(a: SignArgs) -> Result<ExitCode> {
    let mut subjects = Vec::new();
    for path in &a.subjects {
        let content =
            std::fs::read(path).with_context(|| format!("reading subject {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        subjects.push(Subject::for_content(&name, &content));
    }
    for spec in &a.subject_digests {
        let (name, digest) = spec
            .split_once('=')
            .with_context(|| format!("--subject-digest {spec:?}: expected NAME=sha256:HEX"))?;
        let hex = digest.strip_prefix("sha256:").with_context(|| {
            format!("--subject-digest {spec:?}: the digest must start with sha256:")
        })?;
        subjects.push(Subject::new(name, hex)?);
    }
    if subjects.is_empty() {
        bail!(
            "a statement needs at least one subject: pass --subject FILE or --subject-digest NAME=sha256:HEX"
        );
    }
    let predicate: serde_json::Value = match &a.predicate {
        None => serde_json::json!({}),
        Some(p) => {
            let bytes = if p.as_os_str() == "-" {
                let mut b = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
                    .context("reading the predicate from standard input")?;
                b
            } else {
                std::fs::read(p).with_context(|| format!("reading predicate {}", p.display()))?
            };
            serde_json::from_slice(&bytes).context("the predicate is not valid JSON")?
        }
    };
    let statement = Statement::new(subjects, &a.predicate_type, predicate)?;
    let ks = a.store.open(false)?;
    let signer = ScuSigner::new(ks.as_ref(), &a.key, Purpose::new(&a.purpose)?)?;
    let envelope = sign_statement(&statement, &[&signer as &dyn Signer])?;
    let mut bytes = envelope.to_json_bytes();
    bytes.push(b'\n');
    match &a.out {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "signed statement ({} subject(s)) with key {:?} -> {}",
                statement.subject.len(),
                a.key,
                path.display()
            );
        }
        None => std::io::Write::write_all(&mut std::io::stdout(), &bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}
