#!/usr/bin/env bash
# Memory per pending TLS handshake: starts the Release web host (Transport Epoll or Sockets) with its standard
# HTTPS endpoint on core 0, warms its handshake path with tlschurn, then has tlsstall open N handshakes that
# never finish (hello: a ClientHello and then nothing; silent: TCP connect only) and reports the host's RSS and
# PSS delta per pending handshake, then waits for the handshake timeout (10 s) to close them and reports how
# many the server closed and the memory left.
#
#   bench/flood/pending-memory.sh TRANSPORT N hello|silent [PORT] [extra web host arguments...]
#
# For the Epoll transport pass --EpollTransport:MaxConcurrentTlsHandshakes 0 to lift the cap (default 1,000).
# Needs the Release build (dotnet build src/WebHost -c Release), bench/.build/tlschurn (bench/run.sh builds it),
# openssl, and an open-file limit above N + 100. Everything started is stopped at exit.
set -euo pipefail
T=$1; N=$2; MODE=$3; PORT=${4:-23300}; shift 3; [ $# -gt 0 ] && shift
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/bench/flood/tls-host.sh"
start_tls_host pending-memory "$T" "$PORT" "$@"
FP=
trap 'kill $FP 2>/dev/null || true; kill $SP 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do curl -sk "https://127.0.0.1:$PORT/plaintext" >/dev/null 2>&1 && break; sleep 0.3; done
taskset -c 1 "$REPO/bench/.build/tlschurn" -p "$PORT" -c 16 -d 3 -u /plaintext | head -1
sleep 2
mem() { awk '/^Rss:/{r=$2} /^Pss:/{p=$2} END{print r, p}' "/proc/$SP/smaps_rollup"; }
read -r R0 P0 < <(mem)
echo "baseline: RSS $R0 KiB, PSS $P0 KiB, threads $(ls /proc/$SP/task | wc -l)"
FLAG=; [ "$MODE" = silent ] && FLAG="--mode silent"
taskset -c 1 python3 "$REPO/bench/flood/tlsstall.py" -p "$PORT" -n "$N" $FLAG --seconds 25 > "$TMP/stall.out" 2>&1 &
FP=$!
for _ in $(seq 200); do grep -q OPENED "$TMP/stall.out" && break; sleep 0.1; done
head -1 "$TMP/stall.out"
sleep 2
read -r R1 P1 < <(mem)
EST=$(ss -Htn state established "( sport = :$PORT )" | wc -l)
echo "with $N pending ($MODE): RSS $R1 KiB, PSS $P1 KiB, server-side established $EST; per pending handshake: RSS $(( (R1 - R0) * 1024 / N )) B, PSS $(( (P1 - P0) * 1024 / N )) B"
sleep 12
read -r R2 P2 < <(mem)
EST=$(ss -Htn state established "( sport = :$PORT )" | wc -l)
echo "14 s after opening (handshake timeout 10 s): RSS $R2 KiB, PSS $P2 KiB, server-side established $EST; $(tail -1 "$TMP/stall.out")"
