//! `shinrai bench tpm`: the cost of TPM operations (quote, sign) on the `tpm` SCU backend.

use std::process::ExitCode;

use anyhow::{Result, bail};

/// Options of `bench tpm`.
#[derive(clap::Args, Debug)]
pub struct BenchTpmArgs {}

/// Runs `bench tpm`.
pub fn bench(_args: BenchTpmArgs) -> Result<ExitCode> {
    bail!("bench tpm is being built")
}
