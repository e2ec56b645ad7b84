//! Shop trust: `shinrai ingest mqtt`, `shinrai shop ...`, `shinrai demo sensors|shop` and
//! `shinrai bench ingest`.

use std::process::ExitCode;

use anyhow::{Result, bail};

/// `shinrai ingest` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum IngestCmd {
    /// Subscribe to signed sensor readings on an MQTT broker and register hourly evidence.
    Mqtt(IngestMqttArgs),
}

/// Options of `ingest mqtt`.
#[derive(clap::Args, Debug)]
pub struct IngestMqttArgs {}

/// `shinrai shop` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ShopCmd {}

/// Options of `demo sensors`.
#[derive(clap::Args, Debug)]
pub struct DemoSensorsArgs {}

/// Options of `demo shop`.
#[derive(clap::Args, Debug)]
pub struct DemoShopArgs {}

/// Options of `bench ingest`.
#[derive(clap::Args, Debug)]
pub struct BenchIngestArgs {}

/// Runs an `ingest` subcommand.
pub fn run_ingest(_cmd: IngestCmd) -> Result<ExitCode> {
    bail!("ingest is being built")
}

/// Runs a `shop` subcommand.
pub fn run_shop(cmd: ShopCmd) -> Result<ExitCode> {
    match cmd {}
}

/// Runs `demo sensors`.
pub fn demo_sensors(_args: DemoSensorsArgs) -> Result<ExitCode> {
    bail!("demo sensors is being built")
}

/// Runs `demo shop`.
pub fn demo_shop(_args: DemoShopArgs) -> Result<ExitCode> {
    bail!("demo shop is being built")
}

/// Runs `bench ingest`.
pub fn bench(_args: BenchIngestArgs) -> Result<ExitCode> {
    bail!("bench ingest is being built")
}
