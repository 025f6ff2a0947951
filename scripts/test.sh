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

# One full run gains nothing from incremental state (1.7 GB of a cold build here). With it
# off and one integration-test binary per package, a cold `make test` leaves 3.3 GB in
# target/, where it left 5.5 GB. (A developer's own `cargo nextest run` stays incremental.)
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Free disk, so a run that dies of a full disk says so at the top of its log.
disk() { df -Pk . | awk 'NR == 2 { printf "%.1f GB free on %s", $4 / 1048576, $6 }'; }
target="$(bash scripts/target-dir.sh)"

step "toolchain"
cargo --version
echo "disk: $(disk); ${target} holds $(du -sh "$target" 2>/dev/null | cut -f1 || echo nothing)"
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "cargo-nextest not found: installing it (one-off, a few minutes)"
  cargo install cargo-nextest --locked
fi

step "Chromium (the acknowledgement page's browser test drives it headless)"
# crates/vigil-run/tests/integration/ack_link.rs fails without it (it never skips): install
# Debian's package when it is missing, as pg.sh does PostgreSQL, or stop here saying how.
if ! command -v chromium >/dev/null 2>&1 && [[ -z "${CHROME:-}" ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium not found: installing it with apt (one-off, a few minutes)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    echo "chromium is not installed and could not be installed here: run sudo apt-get install -y chromium" >&2
    echo "(or set CHROME to a Chromium or Chrome binary)" >&2
    exit 1
  fi
fi
"${CHROME:-chromium}" --version 2>/dev/null

step "local AWS endpoint (moto's server on :4566 unless something already answers there)"
if ! bash "$endpoint" status >/dev/null 2>&1; then
  started_endpoint=1
fi
bash "$endpoint" start
eval "$(bash "$endpoint" env)"

step "test tools in .venv (scripts/requirements-test.txt: schemathesis)"
# crates/vigil-run/tests/integration/schemathesis.rs fails without it (it never skips).
# Re-installed only when the file changes, as endpoint.sh does moto's.
tools=scripts/requirements-test.txt
tools_stamp=.venv/.requirements-test.sha256
[[ -x .venv/bin/python ]] || "${PYTHON:-python3}" -m venv .venv
tools_sha="$(sha256sum "$tools" | cut -d' ' -f1)"
if [[ "$(cat "$tools_stamp" 2>/dev/null || true)" != "$tools_sha" || ! -x .venv/bin/schemathesis ]]; then
  .venv/bin/python -m pip install -q -r "$tools"
  echo "$tools_sha" >"$tools_stamp"
fi
.venv/bin/schemathesis --version

step "local warehouse (PostgreSQL 15 on 127.0.0.1:5433 unless one already answers there)"
if ! bash "$pg" status >/dev/null 2>&1; then
  started_pg=1
fi
bash "$pg" start
eval "$(bash "$pg" env)"

step "script tests (scripts/tests/)"
for t in scripts/tests/*.sh; do bash "$t"; done

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit, property, adapter (aws-smithy-mocks) and integration (endpoint) tests, and every benchmark once"
# --all-targets includes the criterion benches: nextest runs each once in test mode, a smoke
# test of the bench code (figures: make bench). Failures are printed again at the end, without
# backtraces, so the assertion that failed is the last thing in the log.
RUST_BACKTRACE=0 cargo nextest run --workspace --all-targets --locked --no-fail-fast --failure-output immediate-final

step "infrastructure: CDK synth, cdk-nag, cfn-lint, checkov (make infra-check)"
bash infra/scripts/check.sh

step "done"
echo "disk: $(disk); ${target} holds $(du -sh "$target" 2>/dev/null | cut -f1 || echo nothing)"
