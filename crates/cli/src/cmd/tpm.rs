//! `shinrai bench tpm`: the cost of TPM operations (key creation, sign, PCR extend, quote, quote
//! verification) on the `tpm` SCU backend. Needs a build with `--features tpm`.

use std::process::ExitCode;

use anyhow::Result;

/// Options of `bench tpm`.
#[derive(clap::Args, Debug)]
pub struct BenchTpmArgs {
    /// TPM to measure (TCTI). Without it a private swtpm is started for the run.
    #[arg(long, env = "SHINRAI_TPM_TCTI")]
    tcti: Option<String>,
    /// Operations of each kind to time.
    #[arg(long, default_value_t = 50)]
    iterations: usize,
    /// Print the figures as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `bench tpm`.
#[cfg(not(feature = "tpm"))]
pub fn bench(_args: BenchTpmArgs) -> Result<ExitCode> {
    anyhow::bail!(
        "this shinrai was built without TPM support: build it with \
         `cargo build -p shinrai-cli --features tpm` (needs libtss2-dev)"
    )
}

/// Runs `bench tpm`.
#[cfg(feature = "tpm")]
pub fn bench(args: BenchTpmArgs) -> Result<ExitCode> {
    use std::time::Instant;

    use anyhow::{Context, bail};
    use shinrai_scu::tpm::{Swtpm, TpmKeyStore};
    use shinrai_scu::{Algorithm, KeyStore, Purpose, UsagePolicy};

    if args.iterations == 0 {
        bail!("--iterations must be at least 1");
    }
    let private;
    let tcti = match &args.tcti {
        Some(t) => t.clone(),
        None => {
            private = Swtpm::start().context("starting a private swtpm (or pass --tcti)")?;
            private.tcti()
        }
    };
    let dir = tempfile::tempdir().context("temporary key folder")?;
    let store = TpmKeyStore::create(&tcti, dir.path(), "bench-pin")
        .with_context(|| format!("creating a TPM key store on {tcti:?}"))?;
    let policy = UsagePolicy::new([Purpose::statement()])?;
    let n = args.iterations;

    /// Times `n` calls of `op`; returns (mean ms, median ms, ops/s).
    fn time(n: usize, mut op: impl FnMut(usize) -> Result<()>) -> Result<(f64, f64, f64)> {
        op(usize::MAX)?; // warm-up (loads the library paths, creates the AK, ...)
        let mut ms = Vec::with_capacity(n);
        let all = Instant::now();
        for i in 0..n {
            let t = Instant::now();
            op(i)?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let total = all.elapsed().as_secs_f64();
        ms.sort_by(f64::total_cmp);
        let mean = ms.iter().sum::<f64>() / n as f64;
        Ok((mean, ms[n / 2], n as f64 / total))
    }

    let create = time(n, |i| {
        store.generate(&format!("k{i}"), Algorithm::EcdsaP256, policy.clone())?;
        Ok(())
    })?;
    let sign = time(n, |_| {
        store.sign(
            "k0",
            &Purpose::statement(),
            b"a 100-byte in-toto statement ...",
        )?;
        Ok(())
    })?;
    let extend = time(n, |_| {
        store.pcr_extend(16, &[7u8; 32])?;
        Ok(())
    })?;
    let nonce = [9u8; 32];
    let quote = time(n, |_| {
        store.quote(&nonce, &[16, 23])?;
        Ok(())
    })?;
    let q = store.quote(&nonce, &[16, 23])?;
    let verify = time(n, |_| {
        q.quote.verify(&q.ak, &nonce)?;
        Ok(())
    })?;
    let rows = [
        ("key creation (TPM2_Create + files)", create),
        ("sign (load + TPM2_Sign + flush)", sign),
        ("PCR extend", extend),
        ("quote, 2 PCRs (load AK + PCR read + TPM2_Quote)", quote),
        ("quote verification (host, no TPM)", verify),
    ];
    if args.json {
        let obj: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .zip(["create", "sign", "pcr_extend", "quote", "verify_quote"])
            .map(|((_, (mean, median, rate)), key)| {
                (
                    key.to_owned(),
                    serde_json::json!({"mean_ms": mean, "median_ms": median, "per_second": rate}),
                )
            })
            .collect();
        let out = serde_json::json!({"tcti": tcti, "iterations": n, "results": obj});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("TPM: {tcti} ({n} operations each; every operation connects, loads, flushes)");
        println!(
            "{:<52} {:>10} {:>10} {:>10}",
            "operation", "mean ms", "median ms", "per s"
        );
        for (name, (mean, median, rate)) in rows {
            println!("{name:<52} {mean:>10.2} {median:>10.2} {rate:>10.1}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
