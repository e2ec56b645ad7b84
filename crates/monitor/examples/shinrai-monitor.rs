//! `shinrai monitor ...` as a stand-alone binary (the same CLI module the `shinrai` binary
//! mounts), used by `scripts/ot-eval/` and for trying the CLI:
//! `cargo run -p shinrai-monitor --example shinrai-monitor -- learn --pcap x.pcap --model m.json`.

#[path = "../../cli/src/cmd/monitor.rs"]
mod monitor;

use clap::Parser;

// Parsed once at start-up: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Parser, Debug)]
#[command(name = "shinrai-monitor", about = "Shinrai OT anomaly detection")]
enum Cli {
    /// Monitor commands.
    #[command(flatten)]
    Monitor(monitor::MonitorCmd),
    /// `shinrai bench monitor`.
    Bench(monitor::BenchMonitorArgs),
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    match Cli::parse() {
        Cli::Monitor(c) => monitor::run(c),
        Cli::Bench(a) => monitor::bench(a).map(|()| std::process::ExitCode::SUCCESS),
    }
}
