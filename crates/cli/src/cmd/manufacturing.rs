//! `shinrai demo manufacturing`: the seed's supply-chain scenario against a running store.

use std::process::ExitCode;

use anyhow::{Result, bail};

/// Options of `demo manufacturing`.
#[derive(clap::Args, Debug)]
pub struct DemoManufacturingArgs {}

/// Runs `demo manufacturing`.
pub fn demo(_args: DemoManufacturingArgs) -> Result<ExitCode> {
    bail!("demo manufacturing is being built")
}
