#!/usr/bin/env bash
# `make test`: everything the tests need, then every test, then stop what we started.
# Works on a fresh machine of this kind: installs the Python venv with moto's
# server (localstack/requirements.txt) and uses the machine's Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

endpoint=localstack/endpoint.sh
started_endpoint=0
pg=scripts/pg.sh
started_pg=0
cleanup() {
  if [[ $started_endpoint == 1 ]]; then bash "$endpoint" stop || true; fi
  if [[ $started_pg == 1 ]]; then bash "$pg" stop || true; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
cargo --version
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "cargo-nextest not found: installing it (one-off, a few minutes)"
  cargo install cargo-nextest --locked
fi

step "local AWS endpoint (moto's server on :4566 unless something already answers there)"
if ! bash "$endpoint" status >/dev/null 2>&1; then
  started_endpoint=1
fi
bash "$endpoint" start
eval "$(bash "$endpoint" env)"

step "local warehouse (PostgreSQL 15 on 127.0.0.1:5433 unless one already answers there)"
if ! bash "$pg" status >/dev/null 2>&1; then
  started_pg=1
fi
bash "$pg" start
eval "$(bash "$pg" env)"

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit, property, adapter (aws-smithy-mocks) and integration (endpoint) tests"
cargo nextest run --workspace --all-targets --locked --no-fail-fast

step "benchmarks, once each as a smoke test (figures: make bench)"
cargo test --workspace --benches --locked --quiet

step "infrastructure: CDK synth, cdk-nag, cfn-lint, checkov (make infra-check)"
bash infra/scripts/check.sh
