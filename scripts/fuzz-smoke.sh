#!/usr/bin/env bash
# Builds every fuzz target with libFuzzer's coverage instrumentation on stable Rust and runs each
# for a short time (FUZZ_SECONDS, default 15). A crash fails the script and leaves the input in
# fuzz/artifacts/<target>/. For long runs use `cargo fuzz run <target>` on nightly, or this script
# with FUZZ_SECONDS=600.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${FUZZ_SECONDS:-15}
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares"
# An explicit --target keeps the instrumentation out of build scripts and proc macros.
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --bins --quiet --target "$host"
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^shinrai-fuzz$')
for t in $targets; do
  mkdir -p "corpus/$t" "artifacts/$t"
  [ -d "seeds/$t" ] && cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  echo "fuzz $t for ${secs}s"
  ./target/"$host"/release/"$t" -max_total_time="$secs" -artifact_prefix="artifacts/$t/" \
    -print_final_stats=0 "corpus/$t" 2>&1 | tail -n 2
done
