#!/usr/bin/env bash
# Local AWS endpoint for Vigil.
#
# Uses whatever already answers on the endpoint port (LocalStack from docker-compose.yml, or a
# moto server started elsewhere); otherwise starts moto's server from the project venv.
#
#   endpoint.sh start    start moto (or reuse LocalStack/moto already answering)
#   endpoint.sh stop     stop moto if this script started it (idempotent)
#   endpoint.sh status   say what answers; exit 0 if something does, else 1
#   endpoint.sh reset    clear all state (moto: POST /moto-api/reset)
#   endpoint.sh env      print export lines for a shell:  eval "$(localstack/endpoint.sh env)"
#
# Environment: VIGIL_ENDPOINT_HOST (default 127.0.0.1), VIGIL_ENDPOINT_PORT (default 4566),
#              PYTHON (interpreter used to create the venv, default python3).
set -euo pipefail

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "${SCRIPT_DIR}/.." && pwd -P)"

HOST="${VIGIL_ENDPOINT_HOST:-127.0.0.1}"
PORT="${VIGIL_ENDPOINT_PORT:-4566}"
URL="http://${HOST}:${PORT}"

VENV="${REPO_ROOT}/.venv"
REQUIREMENTS="${SCRIPT_DIR}/requirements.txt"
STAMP="${VENV}/.requirements.sha256"
STATE_DIR="${SCRIPT_DIR}/.state"
LOG_FILE="${STATE_DIR}/moto.log"
PID_FILE="${STATE_DIR}/moto.pid"
START_TIMEOUT=30

log() { printf 'endpoint: %s\n' "$*"; }
die() { printf 'endpoint: error: %s\n' "$*" >&2; exit 1; }

# HTTP status code of METHOD URL, "000" when nothing answers.
http_code() {
    local method="$1" url="$2"
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 --max-time 2 -X "$method" "$url" \
            2>/dev/null || true
    else
        python3 - "$method" "$url" <<'PY' 2>/dev/null || printf '000'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[2], method=sys.argv[1], data=b"" if sys.argv[1] == "POST" else None)
try:
    with urllib.request.urlopen(req, timeout=2) as r:
        print(r.status, end="")
except urllib.error.HTTPError as e:
    print(e.code, end="")
except Exception:
    print("000", end="")
PY
    fi
}

# Prints: localstack | moto | other (port answers HTTP but is neither) | none
detect() {
    local ls_code moto_code
    ls_code="$(http_code GET "${URL}/_localstack/health")"
    if [[ "$ls_code" == 200 ]]; then echo localstack; return; fi
    moto_code="$(http_code GET "${URL}/moto-api/")"
    if [[ "$moto_code" == 200 ]]; then echo moto; return; fi
    if [[ "$ls_code" != 000 || "$moto_code" != 000 ]]; then echo other; return; fi
    echo none
}

describe() {
    case "$1" in
        localstack) echo "LocalStack answers on ${URL}" ;;
        moto)       echo "moto server answers on ${URL}" ;;
        other)      echo "something that is neither LocalStack nor moto answers on ${URL}" ;;
        none)       echo "nothing answers on ${URL}" ;;
    esac
}

# PID from the pid file if that process is alive and is a moto_server (on any port); empty
# otherwise.
our_pid() {
    [[ -f "$PID_FILE" ]] || return 0
    local pid
    pid="$(tr -dc '0-9' <"$PID_FILE")"
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q moto_server; then
        echo "$pid"
    fi
}

# Port of the moto_server this script started (from its command line); empty if none.
our_port() {
    local pid
    pid="$(our_pid)"
    [[ -n "$pid" ]] || return 0
    tr '\0' '\n' <"/proc/${pid}/cmdline" | awk 'prev == "-p" || prev == "--port" { print; exit } { prev = $0 }'
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

ensure_venv() {
    local python="${PYTHON:-python3}"
    if [[ ! -x "${VENV}/bin/python" ]]; then
        log "creating venv ${VENV}"
        "$python" -m venv "$VENV" || die "could not create venv with ${python} -m venv"
    fi
    local want have=""
    want="$(sha_of "$REQUIREMENTS")"
    [[ -f "$STAMP" ]] && have="$(cat "$STAMP")"
    if [[ "$want" != "$have" || ! -x "${VENV}/bin/moto_server" ]]; then
        log "installing ${REQUIREMENTS#"${REPO_ROOT}/"} into .venv (about a minute on a fresh venv)"
        "${VENV}/bin/python" -m pip install -q -r "$REQUIREMENTS" || die "pip install -r ${REQUIREMENTS} failed"
        echo "$want" >"$STAMP"
    fi
}

cmd_start() {
    local kind
    kind="$(detect)"
    case "$kind" in
        localstack|moto)
            local mine=""
            [[ "$kind" == moto && "$(our_port)" == "$PORT" ]] && mine=" (started earlier by this script, pid $(our_pid))"
            log "$(describe "$kind")${mine}; using it (nothing started)"
            return 0 ;;
        other)
            die "$(describe other); not starting moto there (free the port or set VIGIL_ENDPOINT_PORT)" ;;
    esac

    mkdir -p "$STATE_DIR"
    local stale
    stale="$(our_pid)"
    if [[ -n "$stale" && "$(our_port)" != "$PORT" ]]; then
        die "this script already runs moto on port $(our_port) (pid ${stale}); run '$0 stop' first"
    fi
    if [[ -n "$stale" ]]; then
        # Our moto is alive but does not answer (yet): give it the normal wait below.
        log "moto (pid ${stale}) already started by this script, waiting for it"
    else
        rm -f "$PID_FILE"
        ensure_venv
        log "starting moto_server on ${URL} (log: ${LOG_FILE#"${REPO_ROOT}/"})"
        : >"$LOG_FILE"
        # setsid: own session, so ^C or a closing terminal in the calling shell does not kill the
        # server. The inner shell writes its own pid and then execs moto_server, so the pid file
        # names the server process whether or not setsid had to fork.
        local launcher=()
        command -v setsid >/dev/null 2>&1 && launcher=(setsid)
        ${launcher[@]+"${launcher[@]}"} bash -c 'echo $$ >"$1"; shift; exec "$@"' vigil-endpoint \
            "$PID_FILE" "${VENV}/bin/python" "${SCRIPT_DIR}/moto_server_atomic.py" -H "$HOST" -p "$PORT" </dev/null >>"$LOG_FILE" 2>&1 &
    fi

    local pid="" deadline=$((SECONDS + START_TIMEOUT))
    while (( SECONDS < deadline )); do
        [[ -n "$pid" || ! -s "$PID_FILE" ]] || pid="$(tr -dc '0-9' <"$PID_FILE")"
        if [[ -z "$pid" ]]; then sleep 0.1; continue; fi
        if [[ "$(detect)" == moto ]]; then
            log "moto server ready on ${URL} (pid ${pid})"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            printf 'endpoint: error: moto_server exited before answering on %s; last lines of %s:\n' \
                "$URL" "$LOG_FILE" >&2
            tail -n 20 "$LOG_FILE" >&2 || true
            exit 1
        fi
        sleep 0.3
    done
    printf 'endpoint: error: moto_server (pid %s) did not answer on %s within %ss; last lines of %s:\n' \
        "$pid" "$URL" "$START_TIMEOUT" "$LOG_FILE" >&2
    tail -n 20 "$LOG_FILE" >&2 || true
    exit 1
}

cmd_stop() {
    local pid
    pid="$(our_pid)"
    if [[ -z "$pid" ]]; then
        rm -f "$PID_FILE"
        local kind
        kind="$(detect)"
        if [[ "$kind" == none ]]; then
            log "not running (nothing to stop)"
        else
            log "$(describe "$kind"), but this script did not start it: left running"
        fi
        return 0
    fi
    log "stopping moto server (pid ${pid}, port $(our_port))"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid ${pid} ignored SIGTERM for 5 s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    local kind pid
    kind="$(detect)"
    pid="$(our_pid)"
    case "$kind" in
        moto)
            if [[ -n "$pid" && "$(our_port)" == "$PORT" ]]; then
                log "$(describe moto) (started by this script, pid ${pid})"
            else
                log "$(describe moto) (not started by this script)"
            fi ;;
        *) log "$(describe "$kind")" ;;
    esac
    [[ "$kind" != none ]]
}

cmd_reset() {
    local kind code
    kind="$(detect)"
    case "$kind" in
        moto)
            code="$(http_code POST "${URL}/moto-api/reset")"
            [[ "$code" == 200 ]] || die "POST ${URL}/moto-api/reset returned HTTP ${code}"
            log "moto state cleared (all services, accounts and regions)" ;;
        localstack)
            die "LocalStack has no state-reset call in the community image; restart it instead: docker compose -f localstack/docker-compose.yml restart" ;;
        *)
            die "$(describe "$kind"); nothing to reset" ;;
    esac
}

cmd_env() {
    cat <<EOF
export AWS_ENDPOINT_URL=${URL}
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
EOF
}

usage() {
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
}

case "${1:-}" in
    start)  cmd_start ;;
    stop)   cmd_stop ;;
    status) cmd_status ;;
    reset)  cmd_reset ;;
    env)    cmd_env ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
esac
