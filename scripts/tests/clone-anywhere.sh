#!/usr/bin/env bash
# The README's commands from any clone: the local warehouse starts for a repository inside a
# directory only its owner can enter (as root, PostgreSQL runs as `postgres`, which cannot
# enter such a directory), and the scripts find cargo's build output under CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
fail() { printf 'clone-anywhere: FAIL: %s\n' "$*" >&2; exit 1; }

home="$(mktemp -d)"          # mktemp -d makes it 0700, like /root
clone="$home/vigil"
port=5497
cleanup() {
  VIGIL_PG_PORT=$port bash "$clone/scripts/pg.sh" stop >/dev/null 2>&1 || true
  rm -rf "$home" "${data:-}"
}
trap cleanup EXIT
[[ "$(stat -c %a "$home")" == 700 ]] || fail "$home is not 0700"
mkdir -p "$clone/scripts" && cp scripts/pg.sh "$clone/scripts/"

# 1. The warehouse starts, answers SQL, keeps its data outside the clone, and stops.
VIGIL_PG_PORT=$port bash "$clone/scripts/pg.sh" start
url="$(VIGIL_PG_PORT=$port bash "$clone/scripts/pg.sh" env | sed 's/^export VIGIL_PG_URL=//')"
[[ "$(psql "$url" -Atc 'select 40 + 2')" == 42 ]] || fail "the warehouse does not answer SQL at $url"
data="$(psql "$url" -Atc 'show data_directory')"
case "$data" in "$home"/*) fail "the data directory $data is inside the 0700 clone" ;; esac
[[ "$(psql "$url" -Atc 'show data_directory')" == "${TMPDIR:-/tmp}"/vigil-pg-*/data ]] \
  || fail "the data directory $data is not where the docs say"
VIGIL_PG_PORT=$port bash "$clone/scripts/pg.sh" stop
VIGIL_PG_PORT=$port bash "$clone/scripts/pg.sh" status >/dev/null && fail "the warehouse still answers after stop"
data="$(dirname "$data")"

# 2. The build output is found where cargo puts it.
[[ "$(env -u CARGO_TARGET_DIR bash scripts/target-dir.sh)" == "$repo/target" ]] || fail "the target dir without CARGO_TARGET_DIR is not $repo/target"
[[ "$(CARGO_TARGET_DIR="$home/elsewhere" bash scripts/target-dir.sh)" == "$home/elsewhere" ]] \
  || fail "CARGO_TARGET_DIR is not honoured"
echo "clone-anywhere: ok (warehouse from a 0700 directory, data in $data; CARGO_TARGET_DIR honoured)"
