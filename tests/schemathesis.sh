#!/usr/bin/env bash
# Runs schemathesis against /openapi.json of a live trust store server on a free port.
# Fails on any 5xx answer or any response that breaks the documented schema.
# Needs: the venv from tests/python-requirements.txt (.venv or $SHINRAI_PYTHON's venv).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${SHINRAI_PYTHON:-$ROOT/.venv/bin/python}
ST="$(dirname "$PY")/schemathesis"
[ -x "$ST" ] || { echo "schemathesis not installed next to $PY (pip install -r tests/python-requirements.txt)" >&2; exit 1; }
cargo build -q -p shinrai-cli --bin shinrai
BIN="$ROOT/target/debug/shinrai"
WORK=$(mktemp -d)
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
# An organisation key (securesystemslib JSON, Ed25519) for init.
"$PY" - "$WORK/org.json" <<'PYEOF'
import json, sys, os
pub = os.urandom(32).hex()
json.dump({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": pub}}, open(sys.argv[1], "w"))
PYEOF
"$BIN" init --data "$WORK/data" --org acme --org-key "$WORK/org.json" > "$WORK/init.json"
TOKEN=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$WORK/init.json")
"$BIN" serve --data "$WORK/data" --listen 127.0.0.1:0 > "$WORK/serve.out" &
PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^listening on //p' "$WORK/serve.out")
[ -n "$URL" ] || { echo "server did not start" >&2; exit 1; }
"$ST" run "$URL/openapi.json" \
  --url "$URL" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
  --header "Authorization: Bearer $TOKEN" \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" \
  --suppress-health-check all
