#!/usr/bin/env bash
# What an open dashboard costs: /plaintext under wrk, with and without a client polling /dashboard/data once a
# second (what the page does), rounds alternated, on loopback only. Server on core 0, wrk and the poller on core 1.
#
#   bench/dashboard-overhead.sh [rounds=5] [seconds=10] [connections=256]
#
# Needs a Release build of src/WebHost (bench/run.sh makes one, or: dotnet build -c Release src/WebHost), wrk, curl.
# Prints one line per round and the medians; the ratio is with / without.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rounds=${1:-5}
seconds=${2:-10}
connections=${3:-256}
port=5099
dll=src/WebHost/bin/Release/net10.0/EpollTransport.WebHost.dll
[[ -f $dll ]] || { echo "error: $dll missing; run: dotnet build -c Release src/WebHost" >&2; exit 1; }

taskset -c 0 dotnet "$dll" --urls "http://127.0.0.1:$port" --Logging:LogLevel:Default Warning >/dev/null 2>&1 &
server=$!
poller=
cleanup() { [[ -n $poller ]] && kill "$poller" 2>/dev/null; kill "$server" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/plaintext" >/dev/null && break; sleep 0.1; done

run_wrk() {
    taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" "http://127.0.0.1:$port/plaintext" | awk '/^Requests\/sec/ { print $2 }'
}

run_wrk >/dev/null # warm-up
without=()
with=()
for round in $(seq "$rounds"); do
    without+=("$(run_wrk)")
    taskset -c 1 bash -c "while :; do curl -sf -o /dev/null http://127.0.0.1:$port/dashboard/data; sleep 1; done" &
    poller=$!
    sleep 2 # the first read starts request counting
    with+=("$(run_wrk)")
    kill "$poller"; wait "$poller" 2>/dev/null || true; poller=
    echo "round $round: without ${without[-1]} req/s, with dashboard ${with[-1]} req/s"
done

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
m0=$(median "${without[@]}")
m1=$(median "${with[@]}")
echo "median: without $m0 req/s, with dashboard $m1 req/s, ratio $(awk -v a="$m1" -v b="$m0" 'BEGIN { printf "%.3f", a / b }')"
