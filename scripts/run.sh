#!/usr/bin/env bash
# `make run`: the whole pipeline on this machine with a simulated wristband fleet.
# Installs what it needs (moto's server into .venv, PostgreSQL 15 with apt if
# missing, the Rust build), starts the local AWS endpoint on :4566 (or uses LocalStack or
# moto if one already answers) and a local PostgreSQL warehouse, then runs `vigil run`,
# which provisions a fresh set of resources and drives every function. Arguments go to
# `vigil run` (see `cargo run -p vigil-run --bin vigil -- run --help`), e.g.
#   bash scripts/run.sh --wearers 50 --duration 240 --speed 120 --summary-json /tmp/summary.json
# After the live run, `vigil days` plays VIGIL_DAYS (default 60; 26 is the fewest; 0 skips it)
# days of 3 wearers (a steps decline, a stable one, a resting heart rate rise) as vitals items
# through the real daily-summary on a simulated clock, and prints the trend detection audit
# (docs/daily.md). A few minutes.
# `make serve` is `bash scripts/run.sh serve [args]`: `vigil serve` instead, the pipeline
# with no simulated fleet until Ctrl-C (it loads no warehouse, so PostgreSQL is not started).
# Stops what it started when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

command=run
if [[ ${1:-} == serve ]]; then command=serve; shift; fi

endpoint=localstack/endpoint.sh
started_endpoint=0
started_pg=0
cleanup() {
  if [[ $started_pg == 1 ]]; then bash scripts/pg.sh stop >/dev/null || true; fi
  if [[ $started_endpoint == 1 ]]; then bash "$endpoint" stop >/dev/null || true; fi
}
trap cleanup EXIT

echo "== building vigil (the first build takes a few minutes)"
cargo build --locked -q -p vigil-run --bin vigil
vigil="$(bash scripts/target-dir.sh)/debug/vigil"

echo "== local AWS endpoint on :4566"
if ! bash "$endpoint" status >/dev/null 2>&1; then started_endpoint=1; fi
bash "$endpoint" start
eval "$(bash "$endpoint" env)"

if [[ $command == run ]]; then
  echo "== local warehouse (PostgreSQL)"
  if ! bash scripts/pg.sh status >/dev/null 2>&1; then started_pg=1; fi
  bash scripts/pg.sh start
  eval "$(bash scripts/pg.sh env)"
fi

echo "== vigil $command $*"
# Ctrl-C reaches vigil, which stops cleanly; the shell waits for it, then the trap runs.
"$vigil" "$command" "$@"

days=${VIGIL_DAYS:-60}
if [[ $command == run && $days != 0 ]]; then
  echo "== vigil days --days $days (slow changes, trend detection, daily messages)"
  "$vigil" days --days "$days"
fi
