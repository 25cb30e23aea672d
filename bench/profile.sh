#!/usr/bin/env bash
# CPU profile of the web host under one benchmark load, with perf(1).
#
#   bench/profile.sh [--transport Epoll|Sockets] [--scenario NAME (of bench/scenarios.json)]
#                    [--seconds 10] [--warmup 20] [--out DIR] [--label TEXT] [--no-build] [-- extra web host arguments]
#
# The server runs on core 0 and the load generator (wrk, or h2load for h2 scenarios; plus the scenario's
# background load, if any) and perf itself on core 1 (as in bench/run.sh). TLS scenarios (tls-*, not
# tls-churn) go to the web host's standard HTTPS endpoint with a fresh self-signed ECDSA P-256 certificate. After the warm-up, perf samples the
# server process (all its threads, 999 Hz, call graphs by frame pointer; .NET writes /tmp/perf-PID.map
# so JIT-compiled frames have names) while wrk keeps the load on. It writes to DIR (default
# bench/results/profile-<transport>-<scenario>):
#   perf.data        the raw samples (not committed: large)
#   summary.txt      samples by thread, by module (kernel, coreclr, JIT code, ...), by kernel call
#                    path (syscall entry), and the top self-time symbols
#   wrk.txt          the load generator's output during the profile
#   profile.env      what bench/profile.py needs: label, sampling frequency, seconds
#   syscalls.csv     system calls by kind and context switches over 3 s of the same load (perf stat)
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
        -h|--help) sed -n '2,19p' "$BENCH_DIR/profile.sh"; exit 0 ;;
        *) echo "profile: unknown option $1" >&2; exit 2 ;;
    esac
done

case "$transport" in Epoll|Sockets) ;; *) echo "profile: --transport must be Epoll or Sockets" >&2; exit 2 ;; esac
# The scenario's load (tool, path, connections, pipeline depth or h2 streams, headers, background load),
# from the harness's table (bench/scenarios.json).
PYTHON=python3
[[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3
profile_args="$(cd "$BENCH_DIR" && PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -m harness.scenarios profile-args "$scenario")" || exit 2
eval "$profile_args"
headers=()
for h in "${HEADERS[@]}"; do headers+=(-H "$h"); done
out="${out:-$BENCH_DIR/results/profile-${transport,,}-$scenario}"
label="${label:-$transport $scenario}"
mkdir -p "$out"

for tool in perf wrk taskset $([[ $TOOL == h2load ]] && echo h2load); do
    command -v "$tool" >/dev/null || { echo "profile: $tool is missing (apt-get install linux-perf wrk util-linux)" >&2; exit 1; }
done

((build)) && dotnet build src/WebHost -c Release -nologo -v q >/dev/null
tmp="$(mktemp -d)"
server_pid=""
cleanup() {
    [[ -n "${bg_pid:-}" ]] && kill "$bg_pid" 2>/dev/null && wait "$bg_pid" 2>/dev/null || true
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# The same content as bench/run.sh (harness/content.py): wwwroot plus the generated bench/ files.
content="$(cd "$BENCH_DIR" && PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -c 'import sys; from harness.content import make_content_root; print(make_content_root(sys.argv[1]))' "$tmp")"

# Free ports below the ephemeral range (where clients' ports, e.g. another test's, come from): HTTP/1.1 and h2c.
free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 12000))
        [[ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" && "$p" != "${port:-}" ]] && break
    done
    echo "$p"
}
port=$(free_port)
h2port=$(free_port)
# TLS scenarios: the web host's standard HTTPS endpoint with a fresh certificate, as bench/run.sh (harness/tls.py).
tls_args=()
if ((TLS)); then
    tlsport=$(free_port)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
        -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
    tls_args=(--Kestrel:Endpoints:tls:Url "https://127.0.0.1:$tlsport" --Kestrel:Endpoints:tls:Protocols Http1AndHttp2
        --Kestrel:Endpoints:tls:Certificate:Path "$tmp/cert.pem" --Kestrel:Endpoints:tls:Certificate:KeyPath "$tmp/key.pem")
fi
DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 taskset -c 0 dotnet src/WebHost/bin/Release/net10.0/EpollTransport.WebHost.dll \
    --contentRoot "$content" --Transport "$transport" --EnableTestEndpoints true \
    --Kestrel:Endpoints:h1:Url "http://127.0.0.1:$port" --Kestrel:Endpoints:h1:Protocols Http1 \
    --Kestrel:Endpoints:h2:Url "http://127.0.0.1:$h2port" --Kestrel:Endpoints:h2:Protocols Http2 \
    --Logging:LogLevel:Default=Warning --Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning \
    --Logging:LogLevel:EpollTransport=Warning "${tls_args[@]}" "${extra[@]}" >"$out/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port$URL_PATH" 2>/dev/null && break
    sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$port$URL_PATH" || { echo "profile: server did not answer" >&2; cat "$out/server.log" >&2; exit 1; }

# The measured load; h2load's rate is also written as wrk's "Requests/sec:" line, which profile.py reads.
base="http://127.0.0.1:$port"
h2base="http://127.0.0.1:$h2port"
((TLS)) && base="https://127.0.0.1:$tlsport" && h2base="$base"
load() {
    if [[ $TOOL == h2load ]]; then
        local o
        o="$(taskset -c 1 h2load -t 1 -c "$CONNS" -m "$STREAMS" -D "${1%s}" "$h2base$URL_PATH")"
        echo "$o"
        echo "$o" | awk '/^finished in/ { gsub(",", "", $4); print "Requests/sec: " $4 }'
    else
        taskset -c 1 wrk -t 1 -c "$CONNS" -d "$1" --timeout 5s "${headers[@]}" -s "$BENCH_DIR/wrk/bench.lua" \
            "$base$URL_PATH" -- "$DEPTH"
    fi
}
# The scenario's background load (e.g. handlers that block), not measured, for the whole run.
bg_pid=""
if [[ -n "$BG_PATH" ]]; then
    taskset -c 1 wrk -t 1 -c "$BG_CONNS" -d "$((warmup + seconds + 10))s" --timeout 5s "http://127.0.0.1:$port$BG_PATH" \
        >"$out/background.txt" 2>&1 &
    bg_pid=$!
fi
echo "warming up $transport / $scenario for ${warmup}s"
load "${warmup}s" >/dev/null
echo "profiling for ${seconds}s"
load "$((seconds + 6))s" >"$out/wrk.txt" &
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
# System calls and context switches over 3 s of the same load (counted by the kernel's tracepoints, cheap
# next to sampling): calls per request are these counts / (requests/s x the window).
syscalls=read,recvfrom,recvmsg,sendmsg,sendto,write,writev,epoll_wait,epoll_pwait,epoll_ctl,futex,sched_yield,accept4,close,openat
taskset -c 1 perf stat -x, -e "$(echo "$syscalls" | sed 's/\([a-z0-9_]*\)/syscalls:sys_enter_\1/g'),context-switches" \
    -p "$server_pid" -- sleep 3 2>"$out/syscalls.csv" >/dev/null || true
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
