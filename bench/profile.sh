#!/usr/bin/env bash
# CPU profile of the web host under one benchmark load, with perf(1).
#
#   bench/profile.sh [--transport Epoll|Sockets] [--scenario NAME (a wrk scenario of bench/scenarios.json)]
#                    [--seconds 10] [--warmup 20] [--out DIR] [--label TEXT] [--no-build] [-- extra web host arguments]
#
# The server runs on core 0 and wrk (and perf itself) on core 1 (as in bench/run.sh). After the warm-up, perf samples the
# server process (all its threads, 999 Hz, call graphs by frame pointer; .NET writes /tmp/perf-PID.map
# so JIT-compiled frames have names) while wrk keeps the load on. It writes to DIR (default
# bench/results/profile-<transport>-<scenario>):
#   perf.data        the raw samples (not committed: large)
#   summary.txt      samples by thread, by module (kernel, coreclr, JIT code, ...), by kernel call
#                    path (syscall entry), and the top self-time symbols
#   wrk.txt          the load generator's output during the profile
#   profile.env      what bench/profile.py needs: label, sampling frequency, seconds
# `python3 bench/profile.py DIR...` charges every sample to a component (kernel by syscall, CLR runtime,
# Epoll/Sockets transport, Kestrel, pipelines, thread pool, ...) and prints CPU microseconds per request
# side by side: the tables of docs/PROFILES.md.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$BENCH_DIR")"
cd "$REPO"

orig_args="$*"
transport=Epoll
scenario=plaintext
seconds=10
warmup=20
out=""
label=""
extra=()
build=1
while (($#)); do
    case "$1" in
        --transport) transport="$2"; shift 2 ;;
        --scenario) scenario="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --label) label="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "profile: unknown option $1" >&2; exit 2 ;;
    esac
done

case "$transport" in Epoll|Sockets) ;; *) echo "profile: --transport must be Epoll or Sockets" >&2; exit 2 ;; esac
# The scenario's URL path, pipeline depth and headers, from the harness's table (bench/scenarios.json).
PYTHON=python3
[[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3
wrk_args="$(cd "$BENCH_DIR" && PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -m harness.scenarios wrk-args "$scenario")" || exit 2
mapfile -t wrk_lines <<<"$wrk_args"
path="${wrk_lines[0]}"; depth="${wrk_lines[1]}"; headers=()
for h in "${wrk_lines[@]:2}"; do headers+=(-H "$h"); done
out="${out:-$BENCH_DIR/results/profile-${transport,,}-$scenario}"
label="${label:-$transport $scenario}"
mkdir -p "$out"

for tool in perf wrk taskset; do
    command -v "$tool" >/dev/null || { echo "profile: $tool is missing (apt-get install linux-perf wrk util-linux)" >&2; exit 1; }
done

((build)) && dotnet build src/WebHost -c Release -nologo -v q >/dev/null
tmp="$(mktemp -d)"
server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# The same content as bench/run.sh (harness/content.py): wwwroot plus the generated bench/ files.
content="$(cd "$BENCH_DIR" && PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -c 'import sys; from harness.content import make_content_root; print(make_content_root(sys.argv[1]))' "$tmp")"

# A free port below the ephemeral range (where clients' ports, e.g. another test's, come from).
for _ in $(seq 50); do
    port=$((20000 + RANDOM % 12000))
    [[ -z "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ]] && break
done
DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 taskset -c 0 dotnet src/WebHost/bin/Release/net10.0/EpollTransport.WebHost.dll \
    --contentRoot "$content" --Transport "$transport" --urls "http://127.0.0.1:$port" \
    --Logging:LogLevel:Default=Warning --Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning \
    --Logging:LogLevel:EpollTransport=Warning "${extra[@]}" >"$out/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port$path" 2>/dev/null && break
    sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$port$path" || { echo "profile: server did not answer" >&2; cat "$out/server.log" >&2; exit 1; }

load() { taskset -c 1 wrk -t 1 -c 256 -d "$1" --timeout 5s "${headers[@]}" -s "$BENCH_DIR/wrk/bench.lua" "http://127.0.0.1:$port$path" -- "$depth"; }
echo "warming up $transport / $scenario for ${warmup}s"
load "${warmup}s" >/dev/null
echo "profiling for ${seconds}s"
load "$((seconds + 2))s" >"$out/wrk.txt" &
wrk_pid=$!
sleep 1
# The server's CPU time (utime + stime of all its threads, in clock ticks) across the sampling window:
# perf in a VM loses samples, so the samples give the shares and /proc gives the total.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
ticks_before=$(cpu_ticks)
start_ns=$(date +%s%N)
taskset -c 1 perf record -F 999 -g -p "$server_pid" -o "$out/perf.data" -- sleep "$seconds" 2>"$out/perf-record.log"
ticks_after=$(cpu_ticks)
end_ns=$(date +%s%N)
printf 'LABEL=%s\nSECONDS=%s\nFREQUENCY=999\nCPU_SECONDS=%s\nWINDOW_SECONDS=%s\nCOMMAND=%s\n' "$label" "$seconds" \
    "$(awk -v a="$ticks_after" -v b="$ticks_before" -v hz="$(getconf CLK_TCK)" 'BEGIN { print (a - b) / hz }')" \
    "$(awk -v a="$end_ns" -v b="$start_ns" 'BEGIN { print (a - b) / 1e9 }')" \
    "bench/profile.sh $orig_args" >"$out/profile.env"
wait "$wrk_pid"
# Keep the JIT map next to the data: perf report needs it to name managed frames.
cp "/tmp/perf-$server_pid.map" "$out/perf-$server_pid.map" 2>/dev/null || true

# head(1) ends the pipelines early: their SIGPIPE is not a failure.
set +o pipefail
{
    echo "# $transport / $scenario, $(grep -m1 'Requests/sec' "$out/wrk.txt" || true)"
    echo "## by thread (comm)"
    perf report -i "$out/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -20
    echo "## by module"
    perf report -i "$out/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -20
    echo "## top symbols (self)"
    perf report -i "$out/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -60
    echo "## syscalls (children of the syscall entry, inclusive)"
    perf report -i "$out/perf.data" --children --sort sym --stdio -g none 2>/dev/null \
        | grep -E '^ +[0-9].*\] (__x64_sys_|__sys_|do_epoll_wait|do_sys)' | head -30
} >"$out/summary.txt"
echo "wrote $out/summary.txt"
