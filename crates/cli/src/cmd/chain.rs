//! `shinrai chain ...` and `shinrai bench chain`: chain-of-trust verification across
//! organisations, walked upstream through a trust store.

use std::process::ExitCode;

use anyhow::{Result, bail};

/// `shinrai chain` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ChainCmd {
    /// Verify a product's chain of trust upstream through the trust store.
    Verify(VerifyArgs),
}

/// Options of `chain verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The product: a digest (`sha256:<hex>`) or an EPC URI.
    pub product: String,
}

/// Options of `bench chain`.
#[derive(clap::Args, Debug)]
pub struct BenchChainArgs {}

/// Runs a `chain` subcommand.
pub fn run(cmd: ChainCmd) -> Result<ExitCode> {
    match cmd {
        ChainCmd::Verify(_) => bail!("chain verify is being built"),
    }
}

/// Runs `bench chain`.
pub fn bench(_args: BenchChainArgs) -> Result<ExitCode> {
    bail!("bench chain is being built")
}
