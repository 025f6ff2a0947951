#!/usr/bin/env bash
# `make bench-cold`: each function's cold start, measured (docs/performance.md, "Cold starts").
#   1. installs what it needs: cargo-lambda (pinned, into .venv) and the aarch64 Rust target;
#   2. starts the local AWS endpoint on :4566 unless one answers (and stops it at the end if
#      it started it);
#   3. builds the ten functions --release for this machine into a target directory of their
#      own (<target>/bench-cold), linked position-dependent as deployed, and runs `vigil bench-cold` on them: init, first invocation,
#      binary size and peak RSS against a local stand-in of the Lambda Runtime API;
#   4. builds every function for arm64 with `cargo lambda build --release --arm64`, as the
#      CDK app deploys them, and prints the build time and each binary's size.
# Arguments go to `vigil bench-cold` (e.g. --runs 10, --function ingest-api); BENCH_ARM64=0
# skips step 4. Figures and logs land in <target>/bench-cold/results. Not run in CI: the
# release builds take tens of minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LAMBDA_VERSION=1.9.2
FUNCTIONS=(ack-link alert-processor care-api daily-summary ingest-api offline-detector raw-archiver sms-reply vitals-writer warehouse-loader)

endpoint=localstack/endpoint.sh
started_endpoint=0
cleanup() {
  if [[ $started_endpoint == 1 ]]; then bash "$endpoint" stop >/dev/null || true; fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
# Whole seconds since $1 (a `date +%s`), as "12 min 34 s".
since() { local s=$(($(date +%s) - $1)); printf '%d min %02d s' $((s / 60)) $((s % 60)); }

export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
target="$(bash scripts/target-dir.sh)"
bench="${target}/bench-cold"
results="${bench}/results"
mkdir -p "$results"
packages=()
for f in "${FUNCTIONS[@]}"; do packages+=(-p "$f"); done

step "tools: cargo-lambda ${CARGO_LAMBDA_VERSION} in .venv, the aarch64-unknown-linux-gnu target"
[[ -x .venv/bin/python ]] || "${PYTHON:-python3}" -m venv .venv
if [[ "$(.venv/bin/cargo-lambda lambda --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LAMBDA_VERSION" ]]; then
  .venv/bin/python -m pip install -q "cargo-lambda==${CARGO_LAMBDA_VERSION}"
fi
export PATH="${PWD}/.venv/bin:${PATH}"
cargo lambda --version
rustup target add aarch64-unknown-linux-gnu

step "local AWS endpoint (moto's server on :4566 unless something already answers there)"
if ! bash "$endpoint" status >/dev/null 2>&1; then started_endpoint=1; fi
bash "$endpoint" start
eval "$(bash "$endpoint" env)"

step "release build of the ten functions for $(uname -m) (fat LTO: tens of minutes on 2 cores when cold)"
start=$(date +%s)
# Linked position-dependent, as .cargo/config.toml links the deployed arm64 build (here by
# variable, for this build only: it would replace the arm64 build's flags).
RUSTFLAGS="-C link-arg=-Wl,-no-pie" cargo build --release --locked --target-dir "$bench" "${packages[@]}"
echo "host release build: $(since "$start")" | tee "${results}/host-build.txt"

step "vigil (the operator binary)"
cargo build --locked -q -p vigil-run --bin vigil
vigil="${target}/debug/vigil"

step "vigil bench-cold $*"
"$vigil" bench-cold --bin-dir "${bench}/release" --json "${results}/cold-starts.json" --logs "${results}/logs" "$@" \
  | tee "${results}/cold-starts.txt"

if [[ ${BENCH_ARM64:-1} == 0 ]]; then
  echo "BENCH_ARM64=0: arm64 build skipped"
  exit 0
fi

step "arm64 release build with cargo lambda (as deployed; the first build takes 10-20 min on 2 cores)"
start=$(date +%s)
# The target directory by variable: cargo-lambda 1.9.2 hands a --target-dir on to `cargo
# metadata`, which refuses it.
CARGO_TARGET_DIR="$bench" cargo lambda build --release --arm64 --locked "${packages[@]}"
{
  echo "arm64 release build (cargo lambda build --release --arm64, the ten functions at once): $(since "$start")"
  for f in "${FUNCTIONS[@]}"; do
    bin="${bench}/lambda/${f}/bootstrap" # where cargo-lambda leaves each function, as Lambda runs it
    # ELF e_type: 2 is an executable linked position-dependent (.cargo/config.toml), 3 a PIE.
    kind=$(od -An -t u2 -j 16 -N 2 "$bin" | tr -d ' ')
    [[ $kind == 2 ]] || { echo "${f}: a PIE (ELF type ${kind}): .cargo/config.toml's arm64 flags were not applied" >&2; exit 1; }
    stat -c %s "$bin" | awk -v f="$f" '{ printf "%-17s %6.2f MiB\n", f, $1 / 1048576 }'
  done
} | tee "${results}/arm64.txt"
