//! Conformity verifications per second: a signed specification with 10 CEL rules over 100
//! sensor readings (12 evidence envelopes: 2 step records, 10 EPCIS events).
//! Also the in-toto part alone, to compare with Python in-toto on the same 2-step chain.
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
    // The in-toto part alone (spec + 2 step records, artifact rules, no events or CEL): the
    // chain Python in-toto verifies in tests/interop/intoto_verify.py.
    let chain = workload(0, 0).expect("workload");
    g.bench_function("verify_2_step_chain_no_rules", |b| {
        b.iter(|| {
            let r = run(&chain).expect("verification runs");
            assert!(r.passed());
        })
    });
    g.finish();
}

criterion_group!(benches, conformity);
criterion_main!(benches);
