//! Appraisals per second on one core: soft-key devices, fresh nonce per appraisal.
//!
//! Evidence is produced outside the timed section (the device signs it through its SCU); the
//! timer covers only `Verifier::appraise`: DSSE and claims parsing, certificate lookup (the
//! chain is validated once per certificate and cached), validity and revocation checks, one
//! ECDSA P-256 verification, nonce consumption, clone and rollback checks, comparison with the
//! reference values and building the EAR.
//!
//! Run: `cargo bench -p shinrai-attest --bench appraise`

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shinrai_attest::identity::{device_key_policy, manufacturer_key_policy};
use shinrai_attest::{
    Attester, Component, ComponentKind, Composition, DeviceState, ManufacturerCa, ReferenceValues,
    Sha256, Status, Validity, Verifier,
};
use shinrai_scu::soft::{KdfParams, SoftKeyStore};
use shinrai_scu::{Algorithm, KeyStore};

const NOW: u64 = 1_793_491_200;
const DEVICES: usize = 8;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SoftKeyStore::create_with(
        dir.path().join("keys.scu"),
        "bench",
        KdfParams::insecure_fast_for_tests(),
    )
    .expect("store");
    store
        .generate(
            "ca",
            Algorithm::EcdsaP256,
            manufacturer_key_policy().expect("policy"),
        )
        .expect("ca key");
    let ca = ManufacturerCa::create(
        &store,
        "ca",
        "Acme Sensors",
        Validity::years_from(NOW - 1000, 10),
    )
    .expect("ca");
    let composition = Composition {
        maker: "Acme Sensors".into(),
        model: "TS-100".into(),
        version: "1.0".into(),
        timestamp: NOW,
        components: (0..6)
            .map(|i| Component {
                name: format!("component-{i}"),
                version: "1".into(),
                kind: if i < 3 {
                    ComponentKind::Firmware
                } else {
                    ComponentKind::Hardware
                },
                supplier: None,
                sha256: Sha256::of(format!("component {i}").as_bytes()),
            })
            .collect(),
    };
    let mut verifier = Verifier::new();
    verifier.register_manufacturer(ca.clone());
    verifier
        .register_reference_values(ReferenceValues::from_composition(&composition).expect("rv"))
        .expect("register");
    let devices: Vec<(String, Vec<u8>, DeviceState)> = (0..DEVICES)
        .map(|i| {
            let label = format!("dev-{i}");
            let key = store
                .generate(
                    &label,
                    Algorithm::EcdsaP256,
                    device_key_policy().expect("p"),
                )
                .expect("device key");
            let cert = ca
                .issue_device_certificate(
                    &store,
                    "ca",
                    "TS-100",
                    &format!("SN-{i:04}"),
                    &key.public_key,
                    Validity::years_from(NOW - 1000, 5),
                )
                .expect("cert");
            (
                label,
                cert,
                DeviceState::from_composition(&composition).expect("state"),
            )
        })
        .collect();

    let mut group = c.benchmark_group("attest");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    // Wall-clock time, and on-CPU time of this thread (Linux schedstat): on a shared machine the
    // second is the cost on one core, whatever else runs.
    for (name, clock) in [
        ("appraise", Clock::Wall),
        ("appraise_cpu_time", Clock::ThreadCpu),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                // Untimed: every appraisal gets its own challenge and freshly signed evidence.
                let mut batch = Vec::with_capacity(iters as usize);
                for i in 0..iters as usize {
                    let (label, cert, state) = &devices[i % DEVICES];
                    let ch = verifier.challenge(NOW).expect("challenge");
                    let att = Attester::new(&store, label, cert).expect("attester");
                    batch.push((att.attest(&ch, state, NOW).expect("evidence"), i % DEVICES));
                }
                let start = clock.now();
                for (evidence, d) in &batch {
                    let ear = verifier
                        .appraise(evidence, &devices[*d].1, NOW + 1)
                        .expect("appraise");
                    assert_eq!(ear.status(), Status::Affirming);
                }
                clock.since(start)
            })
        });
    }
    // The floor: one ECDSA P-256 (SHA-256) verification of a signature of the same size.
    let (label, _, _) = &devices[0];
    let message = vec![0x5au8; 1200];
    let public = store.public_key(label).expect("public key");
    let signature = store
        .sign(label, &shinrai_scu::Purpose::device_evidence(), &message)
        .expect("sign")
        .to_der();
    group.bench_function("p256_verify_floor", |b| {
        let key = aws_lc_rs::signature::ParsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
            &public.bytes,
        )
        .expect("parsed key");
        b.iter(|| key.verify_sig(&message, &signature).expect("verify"))
    });
    group.bench_function("p256_verify_floor_cpu_time", |b| {
        let key = aws_lc_rs::signature::ParsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
            &public.bytes,
        )
        .expect("parsed key");
        b.iter_custom(|iters| {
            let start = Clock::ThreadCpu.now();
            for _ in 0..iters {
                key.verify_sig(&message, &signature).expect("verify");
            }
            Clock::ThreadCpu.since(start)
        })
    });
    group.finish();
}

#[derive(Clone, Copy)]
enum Clock {
    Wall,
    ThreadCpu,
}

/// A point in time on one of the clocks.
enum Mark {
    Wall(Instant),
    Cpu(u64),
}

/// Nanoseconds this thread has run on a CPU (first field of `/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .expect("Linux /proc/thread-self/schedstat")
}

impl Clock {
    fn now(self) -> Mark {
        match self {
            Clock::Wall => Mark::Wall(Instant::now()),
            Clock::ThreadCpu => Mark::Cpu(thread_cpu_ns()),
        }
    }
    fn since(self, m: Mark) -> Duration {
        match m {
            Mark::Wall(i) => i.elapsed(),
            Mark::Cpu(ns) => Duration::from_nanos(thread_cpu_ns().saturating_sub(ns)),
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
