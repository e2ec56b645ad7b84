//! `shinrai bench ...`: whole-system benchmarks (not tests; figures go in BENCHMARKS.md).

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use shinrai_scu::soft::{KdfParams, SoftKeyStore};
use shinrai_scu::{Algorithm, KeyStore, Purpose, UsagePolicy};

/// Benchmarks.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCmd {
    /// Sign and verify operations per second on the soft SCU backend, beside `openssl speed`.
    Crypto(CryptoArgs),
    /// Registrations per second over HTTP, integration latency, proof and search latency.
    Store(super::store::BenchStoreArgs),
    /// Packets per second for learning and detection, beside a Kitsune-style baseline.
    Monitor(super::monitor::BenchMonitorArgs),
    /// Chain verification over a synthetic supply network, beside Python in-toto.
    Chain(super::chain::BenchChainArgs),
    /// Sensor readings per second from MQTT to registered evidence; shop-page latency.
    Ingest(super::shop::BenchIngestArgs),
    /// The cost of TPM quotes and signatures on the `tpm` backend (swtpm).
    Tpm(super::tpm::BenchTpmArgs),
}

/// Options of `bench crypto`.
#[derive(clap::Args, Debug)]
pub struct CryptoArgs {
    /// Seconds to run each operation.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Skip the `openssl speed` peer measurement.
    #[arg(long)]
    no_openssl: bool,
}

/// Runs a benchmark.
pub fn run(cmd: BenchCmd) -> Result<ExitCode> {
    match cmd {
        BenchCmd::Crypto(a) => crypto(a),
        BenchCmd::Store(a) => super::store::run_bench_store(a),
        BenchCmd::Monitor(a) => super::monitor::bench(a).map(|()| ExitCode::SUCCESS),
        BenchCmd::Chain(a) => super::chain::bench(a),
        BenchCmd::Ingest(a) => super::shop::bench(a),
        BenchCmd::Tpm(a) => super::tpm::bench(a),
    }
}

/// Calls `op` repeatedly for about `dur` and returns operations per second.
fn rate(dur: Duration, mut op: impl FnMut() -> Result<()>) -> Result<f64> {
    // Warm up caches and lazy initialisation.
    for _ in 0..100 {
        op()?;
    }
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < dur {
        for _ in 0..64 {
            op()?;
        }
        n += 64;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// One row of the results table.
struct Row {
    name: &'static str,
    ours: f64,
    peer: Option<f64>,
}

fn crypto(a: CryptoArgs) -> Result<ExitCode> {
    let dur = Duration::from_secs(a.seconds);
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let path = dir.path().join("bench-keys.json");
    let ks = SoftKeyStore::create_with(
        &path,
        "bench-passphrase",
        KdfParams::insecure_fast_for_tests(),
    )?;
    let policy = UsagePolicy::new([Purpose::statement()])?;
    ks.generate("ed", Algorithm::Ed25519, policy.clone())?;
    ks.generate("p256", Algorithm::EcdsaP256, policy)?;
    let msg = [0x5au8; 256];
    let purpose = Purpose::statement();

    let peer = if a.no_openssl {
        None
    } else {
        Some(openssl_speed(a.seconds)?)
    };

    let mut rows = Vec::new();
    for (label, alg) in [("ed", Algorithm::Ed25519), ("p256", Algorithm::EcdsaP256)] {
        let sign = rate(dur, || {
            ks.sign(label, &purpose, &msg)?;
            Ok(())
        })?;
        let public = ks.public_key(label)?;
        let sig = ks.sign(label, &purpose, &msg)?;
        let key = public.verifying_key()?;
        let verify = rate(dur, || {
            key.verify(&msg, &sig.bytes)?;
            Ok(())
        })?;
        let verify_unparsed = rate(dur, || {
            public.verify(&msg, &sig.bytes)?;
            Ok(())
        })?;
        let (ps, pv) = match (&peer, alg) {
            (Some(p), Algorithm::Ed25519) => (Some(p.ed_sign), Some(p.ed_verify)),
            (Some(p), Algorithm::EcdsaP256) => (Some(p.p256_sign), Some(p.p256_verify)),
            (None, _) => (None, None),
        };
        let (sn, vn, un) = match alg {
            Algorithm::Ed25519 => (
                "Ed25519 sign",
                "Ed25519 verify",
                "Ed25519 verify (parse key)",
            ),
            Algorithm::EcdsaP256 => (
                "ECDSA P-256 sign",
                "ECDSA P-256 verify",
                "P-256 verify (parse key)",
            ),
        };
        rows.push(Row {
            name: sn,
            ours: sign,
            peer: ps,
        });
        rows.push(Row {
            name: vn,
            ours: verify,
            peer: pv,
        });
        rows.push(Row {
            name: un,
            ours: verify_unparsed,
            peer: pv,
        });
    }
    // The same primitives without the SCU (no policy check, no audit record): what the audit
    // costs per signature.
    {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let bad = |_| anyhow::anyhow!("generating a benchmark key");
        let ed = Ed25519KeyPair::generate().map_err(bad)?;
        let p256 = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(bad)?;
        let ed_raw = rate(dur, || {
            std::hint::black_box(ed.sign(&msg));
            Ok(())
        })?;
        let p_raw = rate(dur, || {
            p256.sign(&rng, &msg)
                .map_err(|_| anyhow::anyhow!("ECDSA signing failed"))?;
            Ok(())
        })?;
        rows.push(Row {
            name: "Ed25519 sign (raw, no SCU)",
            ours: ed_raw,
            peer: peer.as_ref().map(|p| p.ed_sign),
        });
        rows.push(Row {
            name: "P-256 sign (raw, no SCU)",
            ours: p_raw,
            peer: peer.as_ref().map(|p| p.p256_sign),
        });
    }
    // Batch verification: many Ed25519 signatures by many keys checked together.
    let batch = shinrai_scu::batch::bench_items(1024)?;
    let items = batch.as_items();
    let bv = rate(dur, || {
        shinrai_scu::batch::verify_ed25519_batch(&items)?;
        Ok(())
    })? * batch.len() as f64;
    rows.push(Row {
        name: "Ed25519 batch verify (1024)",
        ours: bv,
        peer: peer.as_ref().map(|p| p.ed_verify),
    });

    println!(
        "single thread, soft backend (signing goes through the SCU: policy check + audit record)"
    );
    println!(
        "{:<28} {:>14} {:>16} {:>8}",
        "operation", "shinrai ops/s", "openssl ops/s", "ratio"
    );
    for r in rows {
        match r.peer {
            Some(p) => println!(
                "{:<28} {:>14.0} {:>16.0} {:>7.2}x",
                r.name,
                r.ours,
                p,
                r.ours / p
            ),
            None => println!("{:<28} {:>14.0} {:>16} {:>8}", r.name, r.ours, "-", "-"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `openssl speed` figures for the same algorithms, measured now.
struct Peer {
    ed_sign: f64,
    ed_verify: f64,
    p256_sign: f64,
    p256_verify: f64,
}

fn openssl_speed(seconds: u64) -> Result<Peer> {
    let out = Command::new("openssl")
        .args([
            "speed",
            "-seconds",
            &seconds.to_string(),
            "ed25519",
            "ecdsap256",
        ])
        .output()
        .context("running `openssl speed` (install openssl, or pass --no-openssl)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_openssl_speed(&text)
        .with_context(|| format!("could not read `openssl speed` output:\n{text}"))
}

/// Reads the sign/s and verify/s columns of `openssl speed` for Ed25519 and P-256.
fn parse_openssl_speed(text: &str) -> Option<Peer> {
    let last_two = |line: &str| -> Option<(f64, f64)> {
        let nums: Vec<f64> = line
            .split_whitespace()
            .filter_map(|w| w.parse::<f64>().ok())
            .collect();
        let n = nums.len();
        (n >= 2).then(|| (nums[n - 2], nums[n - 1]))
    };
    let ed = text
        .lines()
        .find(|l| l.contains("(Ed25519)"))
        .and_then(last_two)?;
    let p = text
        .lines()
        .find(|l| l.contains("(nistp256)"))
        .and_then(last_two)?;
    Some(Peer {
        ed_sign: ed.0,
        ed_verify: ed.1,
        p256_sign: p.0,
        p256_verify: p.1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openssl_speed_table() {
        let text = "                              sign    verify    sign/s verify/s\n 256 bits ecdsa (nistp256)   0.0000s   0.0001s  40228.0  12960.6\n                              sign    verify    sign/s verify/s\n 253 bits EdDSA (Ed25519)   0.0000s   0.0001s  23100.0   9086.9\n";
        let p = parse_openssl_speed(text).expect("parsed");
        assert_eq!(p.p256_sign, 40228.0);
        assert_eq!(p.ed_verify, 9086.9);
    }

    #[test]
    fn missing_algorithm_is_not_read_as_zero() {
        assert!(parse_openssl_speed("256 bits ecdsa (nistp256) 0.1s 0.1s 1.0 2.0\n").is_none());
    }
}
