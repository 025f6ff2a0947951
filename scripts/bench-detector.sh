#!/usr/bin/env bash
# The offline detector at scale: provisions WEARERS wearers' rule state (default 100,000)
# on a moto server of its own, then measures a few scheduled runs, before (the Scan the
# detector used to list its candidates) and after (the state table's due index), with
# items read, calls, time and ratios (functions/offline-detector/examples/bench_at_scale.rs).
#
#   bash scripts/bench-detector.sh [WEARERS [DUE [RUNS]]]     e.g. 10000 100 3
#
# Its own moto (port VIGIL_BENCH_PORT, default 4599), started here and stopped at the end,
# so 100,000 items never load the shared endpoint; nothing is left behind. Progress goes to
# stderr, the figures (a Markdown table) to stdout. Environment: VIGIL_BENCH_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

wearers="${1:-100000}"
due="${2:-100}"
runs="${3:-3}"
port="${VIGIL_BENCH_PORT:-4599}"
url="http://127.0.0.1:${port}"

moto=.venv/bin/moto_server
if [[ ! -x $moto ]]; then
  bash localstack/endpoint.sh status >/dev/null 2>&1 || true
  moto="$(command -v moto_server || true)"
  [[ -n $moto ]] || { echo "bench-detector: no moto_server: run 'bash localstack/endpoint.sh start' once to install it" >&2; exit 1; }
fi
if curl -s -o /dev/null --connect-timeout 1 "$url"; then
  echo "bench-detector: something already answers on $url; set VIGIL_BENCH_PORT" >&2
  exit 1
fi

echo "== building the benchmark" >&2
cargo build --locked -q -p offline-detector --example bench_at_scale
bench="$(bash scripts/target-dir.sh)/debug/examples/bench_at_scale"

log="$(mktemp -t bench-detector-moto.XXXXXX.log)"
"$moto" -H 127.0.0.1 -p "$port" </dev/null >"$log" 2>&1 &
moto_pid=$!
cleanup() {
  kill "$moto_pid" 2>/dev/null || true
  wait "$moto_pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT
for _ in $(seq 1 60); do
  curl -s -o /dev/null --connect-timeout 1 "$url" && break
  kill -0 "$moto_pid" 2>/dev/null || { echo "bench-detector: moto_server exited:" >&2; tail -5 "$log" >&2; exit 1; }
  sleep 0.5
done

echo "== $wearers wearers, $due due over $runs runs, moto on $url" >&2
echo "recorded $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown): bash scripts/bench-detector.sh $wearers $due $runs"
AWS_ENDPOINT_URL="$url" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
  "$bench" "$wearers" "$due" "$runs"
