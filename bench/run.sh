#!/usr/bin/env bash
# Benchmarks the web host on the Epoll and Sockets transports against nginx, on loopback only.
#
#   bench/run.sh            full run (~17 min): docs/BENCHMARKS.md, docs/benchmarks.svg, bench/results/latest.json
#   bench/run.sh --quick    ~2 min smoke run: bench/results/quick.{json,md,svg}
#   bench/run.sh --help     all options (--rounds, --duration, --servers, --idle-connections, ...)
#
# This script installs what is missing (wrk, h2load, nginx, curl, openssl, gcc, libssl-dev, ...; Debian
# packages), builds src/WebHost in Release, bench/idle/idleconn.c and bench/churn/tlschurn.c, raises the
# open-file limit, and runs bench/bench.py.
# Extra option handled here: --no-build (use the existing Release build).
# Every process the harness starts is stopped on exit, including on Ctrl-C or SIGTERM.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$BENCH_DIR")"
cd "$REPO"

PYTHON=python3
[[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3

build=1
args=()
for a in "$@"; do
    case "$a" in
        --no-build) build=0 ;;
        -h|--help) exec "$PYTHON" "$BENCH_DIR/bench.py" --help ;;
        *) args+=("$a") ;;
    esac
done

start_s=$(date +%s)
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# --- tools --------------------------------------------------------------------------------------
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need wrk wrk
need h2load nghttp2-client
need nginx nginx
need curl curl
need taskset util-linux
need ss iproute2
need pgrep procps
need gcc gcc
need openssl openssl
need "$PYTHON" python3
[[ -f /usr/include/stdio.h ]] || missing+=(libc6-dev)
[[ -f /usr/include/openssl/ssl.h ]] || missing+=(libssl-dev)
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "bench: missing packages: ${missing[*]} (run as root, or install them with apt-get)" >&2
        exit 1
    fi
    say "installing ${missing[*]}"
    # Keep package scripts from starting the system nginx service: the harness runs its own instance.
    policy_created=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_created=1
    fi
    set +e
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    rc=$?
    set -e
    ((policy_created)) && rm -f /usr/sbin/policy-rc.d
    if ((rc != 0)); then
        echo "bench: apt-get install ${missing[*]} failed" >&2
        exit 1
    fi
fi

# --- builds -------------------------------------------------------------------------------------
if ((build)); then
    say "building src/WebHost (Release)"
    build_log="$(mktemp)"
    if ! dotnet build src/WebHost -c Release -nologo -v q >"$build_log" 2>&1; then
        tail -n 40 "$build_log" >&2
        rm -f "$build_log"
        echo "bench: dotnet build src/WebHost -c Release failed" >&2
        exit 1
    fi
    rm -f "$build_log"
fi
mkdir -p "$BENCH_DIR/.build"
# The C clients: idle connections (plain or TLS) and TLS churn (a full handshake per request).
for src in idle/idleconn.c churn/tlschurn.c; do
    bin="$BENCH_DIR/.build/$(basename "$src" .c)"
    if [[ ! -x "$bin" || "$BENCH_DIR/$src" -nt "$bin" ]]; then
        gcc -O2 -Wall -Wextra -Werror -o "$bin" "$BENCH_DIR/$src" -lssl -lcrypto -lm -pthread
    fi
done

# --- limits -------------------------------------------------------------------------------------
# Raise the hard limit if allowed (needs CAP_SYS_RESOURCE), then the soft limit to the hard one.
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- run ----------------------------------------------------------------------------------------
PGID_FILE="$(mktemp)"
PY_PID=
cleanup() {
    if [[ -n "$PY_PID" ]] && kill -0 "$PY_PID" 2>/dev/null; then
        kill -TERM "$PY_PID" 2>/dev/null || true
        wait "$PY_PID" 2>/dev/null || true
    fi
    # Anything the harness started and did not stop (it was killed, say): kill the process groups.
    if [[ -f "$PGID_FILE" ]]; then
        while read -r pg; do
            [[ "$pg" =~ ^[0-9]+$ ]] || continue
            if kill -0 -- "-$pg" 2>/dev/null; then
                echo "bench: killing leftover process group $pg" >&2
                kill -KILL -- "-$pg" 2>/dev/null || true
            fi
        done <"$PGID_FILE"
        rm -f "$PGID_FILE"
    fi
    # The harness's temporary directory, if it could not remove it itself.
    if [[ -f "$PGID_FILE.tmpdir" ]]; then
        read -r dir <"$PGID_FILE.tmpdir" || true
        [[ "$dir" == */epoll-bench-* && -d "$dir" ]] && rm -rf -- "$dir"
        rm -f "$PGID_FILE.tmpdir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

export BENCH_PGID_FILE="$PGID_FILE"
export BENCH_COMMAND="bench/run.sh${args[*]:+ ${args[*]}}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 PYTHONDONTWRITEBYTECODE=1
"$PYTHON" "$BENCH_DIR/bench.py" "${args[@]}" &
PY_PID=$!
set +e
wait "$PY_PID"
rc=$?
set -e
PY_PID=
say "bench/run.sh finished with status $rc in $(($(date +%s) - start_s)) s"
exit "$rc"
