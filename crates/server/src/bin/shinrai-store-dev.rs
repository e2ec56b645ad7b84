//! Development binary with the trust store commands of `shinrai` (compiled from the CLI module
//! `crates/cli/src/cmd/store.rs`), so that the crash-safety tests can spawn and SIGKILL a real
//! server process before `shinrai`'s main.rs wires those commands.

use std::process::ExitCode;

use clap::Parser;

#[path = "../../../cli/src/cmd/loadgen.rs"]
mod loadgen;
#[path = "../../../cli/src/cmd/store.rs"]
mod store;

/// Trust store commands (development binary; use `shinrai` instead).
#[derive(Parser, Debug)]
#[command(name = "shinrai-store-dev")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    Init(store::InitArgs),
    #[command(subcommand)]
    Org(store::OrgCmd),
    Serve(store::ServeArgs),
    Register(store::RegisterArgs),
    Get(store::GetArgs),
    Search(store::SearchArgs),
    Trace(store::TraceArgs),
    #[command(subcommand)]
    Receipt(store::ReceiptCmd),
    #[command(subcommand)]
    Log(store::LogCmd),
    BenchStore(store::BenchStoreArgs),
}

fn main() -> ExitCode {
    let r = match Cli::parse().command {
        Command::Init(a) => store::run_init(a),
        Command::Org(c) => store::run_org(c),
        Command::Serve(a) => store::run_serve(a),
        Command::Register(a) => store::run_register(a),
        Command::Get(a) => store::run_get(a),
        Command::Search(a) => store::run_search(a),
        Command::Trace(a) => store::run_trace(a),
        Command::Receipt(c) => store::run_receipt(c),
        Command::Log(c) => store::run_log(c),
        Command::BenchStore(a) => store::run_bench_store(a),
    };
    match r {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
