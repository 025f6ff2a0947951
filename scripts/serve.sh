#!/usr/bin/env bash
# `make serve`: the whole pipeline on this machine with no simulated fleet, until Ctrl-C,
# for building an app against it. Installs what it needs (moto's server into .venv, the
# Rust build), starts the local AWS endpoint on :4566 (or uses LocalStack or moto if one
# already answers), then runs `vigil serve`, which provisions fresh resources, registers
# one wearer with a band and two caregivers, serves the APIs on 127.0.0.1:8787 and prints
# tokens and curl lines. No PostgreSQL: `vigil serve` loads no warehouse. Arguments go to
# `vigil serve` (see `cargo run -p vigil-run --bin vigil -- serve --help`), e.g.
#   bash scripts/serve.sh --listen 0.0.0.0:8787
# Stops the endpoint when it ends if it started it.
set -euo pipefail
cd "$(dirname "$0")/.."

endpoint=localstack/endpoint.sh
started_endpoint=0
cleanup() {
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

echo "== vigil serve $*"
# Ctrl-C reaches vigil, which stops cleanly; the shell waits for it, then the trap runs.
"$vigil" serve "$@"
