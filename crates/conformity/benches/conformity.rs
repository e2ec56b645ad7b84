//! Conformity verifications per second: a signed specification with 10 CEL rules over 100
//! sensor readings (12 evidence envelopes: 2 step records, 10 EPCIS events).
//! Run: `cargo bench -p shinrai-conformity --bench conformity`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shinrai_conformity::bench::{run, workload};

fn conformity(c: &mut Criterion) {
    let w = workload(100, 10).expect("workload");
    let mut g = c.benchmark_group("conformity");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_10_rules_100_readings", |b| {
        b.iter(|| {
            let r = run(&w).expect("verification runs");
            assert!(r.passed());
        })
    });
    g.finish();
}

criterion_group!(benches, conformity);
criterion_main!(benches);
