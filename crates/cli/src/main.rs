//! `shinrai`: every Shinrai capability from the command line.
//!
//! A thin binary over the library crates: it parses arguments, opens key stores and files, calls
//! the libraries and turns their errors into messages and exit codes (0 success, 1 a verification
//! or check that failed, 2 a usage or input error).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod keystore;
mod report;

/// Shinrai (信頼): a verifiable chain of trust for IoT devices and supply chains.
#[derive(Parser, Debug)]
#[command(name = "shinrai", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Log verbosity (error, warn, info, debug, trace); RUST_LOG overrides it.
    #[arg(long, global = true, default_value = "warn", env = "SHINRAI_LOG")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Manage keys in a Secure Cryptographic Unit (soft key store or PKCS#11 token).
    #[command(subcommand)]
    Key(cmd::key::KeyCmd),
    /// Sign an in-toto Statement v1 about subject files or digests into a DSSE envelope.
    Sign(cmd::sign::SignArgs),
    /// Verify a DSSE envelope against public keys; exit 0 if valid, 1 with the reason if not.
    Verify(cmd::verify::VerifyArgs),
    /// Measure performance (not a test): `bench crypto`.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCmd),
    /// Run a scenario end to end.
    #[command(subcommand)]
    Demo(cmd::demo::DemoCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // cryptoki logs every mechanism a token lacks at ERROR level: noise for a user.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!("{},cryptoki=off", cli.log))
        });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Key(c) => cmd::key::run(c),
        Command::Sign(a) => cmd::sign::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Bench(c) => cmd::bench::run(c),
        Command::Demo(c) => cmd::demo::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
