#!/usr/bin/env bash
# Throwaway PostgreSQL 15 for Vigil's local warehouse (tests, `vigil run`).
#
#   pg.sh start    install PostgreSQL 15 with apt if missing, initdb (once) and start it on
#                  127.0.0.1:${VIGIL_PG_PORT:-5433}; reuses a server already answering there
#   pg.sh stop     stop the server this script started (idempotent)
#   pg.sh status   say whether a server answers; exit 0 if one does, else 1
#   pg.sh env      print `export VIGIL_PG_URL=postgres://...` for: eval "$(bash scripts/pg.sh env)"
#
# Data lives in ${VIGIL_PG_DIR:-${TMPDIR:-/tmp}/vigil-pg-<hash>/data}, <hash> being the first 12
# hex digits of the SHA-256 of the repository's path: outside the clone, because as root the
# server runs as the `postgres` user, which cannot enter a 0700 home directory a user may have
# cloned into; one directory per clone, so two clones never share a cluster. Trust
# authentication on 127.0.0.1 only, fsync off — a test database, never one for real data.
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "${SCRIPT_DIR}/.." && pwd -P)"
HOST=127.0.0.1
PORT="${VIGIL_PG_PORT:-5433}"
DATA="${VIGIL_PG_DIR:-${TMPDIR:-/tmp}/vigil-pg-$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-12)/data}"
LOG="$(dirname "$DATA")/postgres.log"
STAMP="$(dirname "$DATA")/started-by-pg.sh"
DB_USER=postgres
DB_NAME=postgres

log() { printf 'pg: %s\n' "$*"; }
die() { printf 'pg: error: %s\n' "$*" >&2; exit 1; }

bindir() {
    local d
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [[ -x "$d/pg_ctl" ]]; then echo "$d"; return 0; fi
    done
    return 1
}

install_postgres() {
    bindir >/dev/null && return 0
    [[ $(id -u) == 0 ]] || die "PostgreSQL 15 is not installed; run: sudo apt-get install -y postgresql-15"
    log "installing PostgreSQL 15 with apt (one-off)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
    bindir >/dev/null || die "postgresql-15 installed but pg_ctl not found"
}

# Runs a command as the user that owns the cluster.
as_owner() {
    if [[ $(id -u) == 0 ]]; then
        # From /: the postgres user may not be able to enter the current directory.
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

answers() {
    local bin
    bin="$(bindir)" || return 1
    "$bin/pg_isready" -q -h "$HOST" -p "$PORT" >/dev/null 2>&1
}

url() { printf 'postgres://%s@%s:%s/%s' "$DB_USER" "$HOST" "$PORT" "$DB_NAME"; }

start() {
    if answers; then
        log "a server answers on ${HOST}:${PORT}; using it (nothing started)"
        return 0
    fi
    install_postgres
    local bin
    bin="$(bindir)"
    mkdir -p "$(dirname "$DATA")"
    if [[ $(id -u) == 0 ]]; then
        # The postgres user must own the data directory's parent (and reach it: the default
        # is under TMPDIR, which it can enter wherever the clone is).
        chown postgres "$(dirname "$DATA")"
        as_owner test -x "$(dirname "$DATA")" \
            || die "the postgres user cannot enter $(dirname "$DATA"); set VIGIL_PG_DIR to a directory it can reach"
    fi
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        log "initdb into ${DATA}"
        as_owner mkdir -p "$DATA"
        as_owner "$bin/initdb" -D "$DATA" -U "$DB_USER" -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null \
            || as_owner "$bin/initdb" -D "$DATA" -U "$DB_USER" -A trust --no-sync -E UTF8 >/dev/null
    fi
    as_owner "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 30 \
        -o "-p ${PORT} -k ${DATA} -c listen_addresses=${HOST} -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null || { tail -20 "$LOG" >&2 || true; die "PostgreSQL did not start (log: ${LOG})"; }
    : >"$STAMP"
    log "PostgreSQL answers on ${HOST}:${PORT} (data ${DATA}); eval \"\$(bash scripts/pg.sh env)\""
}

stop() {
    local bin
    if ! bin="$(bindir)"; then log "PostgreSQL is not installed: nothing to stop"; return 0; fi
    if [[ -f "$DATA/postmaster.pid" && -f "$STAMP" ]]; then
        as_owner "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null && log "stopped"
        rm -f "$STAMP"
    else
        log "no server started by this script: nothing to stop"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status)
        if answers; then log "a server answers on ${HOST}:${PORT}"; else log "nothing answers on ${HOST}:${PORT}"; exit 1; fi
        ;;
    env) printf 'export VIGIL_PG_URL=%s\n' "$(url)" ;;
    *) die "usage: $0 start|stop|status|env" ;;
esac
