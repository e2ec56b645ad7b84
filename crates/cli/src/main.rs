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
    /// Create a trust store (SQLite + content folder) with its log key and first organisation.
    Init(cmd::store::InitArgs),
    /// Manage the organisations a trust store knows (keys and write tokens).
    #[command(subcommand)]
    Org(cmd::store::OrgCmd),
    /// Serve the trust store over HTTP (registration, tiles, search, trace, OpenAPI).
    Serve(cmd::store::ServeArgs),
    /// Register a signed statement in a trust store; prints the entry id, saves the receipt.
    Register(cmd::store::RegisterArgs),
    /// Fetch a registered entry.
    Get(cmd::store::GetArgs),
    /// Search the trust store (subject, issuer, predicate type, time range).
    Search(cmd::store::SearchArgs),
    /// Trace a subject upstream (inputs) or downstream (where used).
    Trace(cmd::store::TraceArgs),
    /// Verify a product's chain of trust across organisations through the trust store.
    #[command(subcommand)]
    Chain(cmd::chain::ChainCmd),
    /// Ingest signed sensor readings (MQTT) into hourly evidence in the trust store.
    #[command(subcommand)]
    Ingest(cmd::shop::IngestCmd),
    /// Shop trust: hygiene records, certification against a certifier's spec, revocation.
    #[command(subcommand)]
    Shop(cmd::shop::ShopCmd),
    /// Check receipts offline.
    #[command(subcommand)]
    Receipt(cmd::store::ReceiptCmd),
    /// Audit a log: fetch every tile, recompute the tree, check checkpoints and consistency.
    #[command(subcommand)]
    Log(cmd::store::LogCmd),
    /// Device authenticity and composition: provision, attest, appraise, history, vouchers.
    #[command(subcommand)]
    Device(cmd::device::DeviceCmd),
    /// OT anomaly detection: learn, detect, live capture, sensors and the monitoring centre.
    #[command(subcommand)]
    Monitor(cmd::monitor::MonitorCmd),
    /// Measure performance (not a test): `bench crypto`, `bench store`, `bench monitor`.
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
        Command::Init(a) => cmd::store::run_init(a),
        Command::Org(c) => cmd::store::run_org(c),
        Command::Serve(a) => cmd::store::run_serve(a),
        Command::Register(a) => cmd::store::run_register(a),
        Command::Get(a) => cmd::store::run_get(a),
        Command::Search(a) => cmd::store::run_search(a),
        Command::Trace(a) => cmd::store::run_trace(a),
        Command::Chain(c) => cmd::chain::run(c),
        Command::Ingest(c) => cmd::shop::run_ingest(c),
        Command::Shop(c) => cmd::shop::run_shop(c),
        Command::Receipt(c) => cmd::store::run_receipt(c),
        Command::Log(c) => cmd::store::run_log(c),
        Command::Device(c) => cmd::device::run(c),
        Command::Monitor(c) => cmd::monitor::run(c),
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
