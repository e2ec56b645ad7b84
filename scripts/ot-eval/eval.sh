#!/usr/bin/env bash
# Shinrai monitor evaluation: 3 seeds (or $SEEDS) of a pymodbus plant in network namespaces,
# learn on the clean training capture, detect on a clean and an attacked capture, score.
# Needs root, iproute2, tcpdump, and the venv (.venv with tests/python-requirements.txt).
# Usage: scripts/ot-eval/eval.sh [OUT_DIR]     (captures stay in OUT_DIR, default /tmp/shinrai-ot-eval)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-/tmp/shinrai-ot-eval}"
seeds="${SEEDS:-1 2 3}"
py="${SHINRAI_PYTHON:-$repo/.venv/bin/python}"
[ -x "$py" ] || { echo "no Python venv at $py: python3 -m venv .venv && .venv/bin/pip install -r tests/python-requirements.txt" >&2; exit 1; }
cargo build --release -q -p shinrai-cli --manifest-path "$repo/Cargo.toml"
bin="$repo/target/release/shinrai"
mkdir -p "$out"
if [ -z "${SKIP_CAPTURE:-}" ]; then
  pids=()
  for s in $seeds; do
    SHINRAI_PYTHON="$py" python3 "$here/run.py" --seed "$s" --out "$out/seed$s" > "$out/seed$s.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
fi
dirs=()
for s in $seeds; do
  d="$out/seed$s"
  "$bin" monitor learn --pcap "$d/train.pcap" --model "$d/model.json" --quiet
  for c in clean test; do
    "$bin" monitor detect --pcap "$d/$c.pcap" --model "$d/model.json" --work-plan "$d/work-plan.json" \
      --alerts "$d/alerts-$c.jsonl" --summary "$d/summary-$c.json" --quiet
  done
  dirs+=("$d")
done
"$py" "$here/score.py" "${dirs[@]}" --json "$out/results.json" --markdown "$out/results.md"
