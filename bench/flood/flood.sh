#!/usr/bin/env bash
# A flood of stalled TLS handshakes against the Release web host's HTTPS endpoint (server on core 0), and what
# well-behaved clients get meanwhile (clients on core 1):
#   - before: tlschurn -c 2 for 4 s (a new connection and a full handshake per request), the reference;
#   - during: tlsstall holds F handshakes that never finish (a ClientHello, then nothing), opening a new one
#     whenever the server closes one (--reopen), for 20 s; meanwhile tlschurn -c 2 for 16 s, and wrk -c 4 over
#     TLS keep-alive connections opened before the flood, for the whole 20 s;
#   - after: 12 s after the flood stopped (the handshake timeout is 10 s), the server's established connections,
#     its RSS, and tlschurn -c 2 for 4 s again.
#
#   bench/flood/flood.sh TRANSPORT F [PORT] [extra web host arguments...]
#
# FLOOD_MODE=silent makes the stalled clients connect and send nothing (default hello: a ClientHello, then nothing).
# The server's warnings (TlsHandshakeLimitReached, handshake failures) are counted from its log.
set -euo pipefail
T=$1; F=$2; PORT=${3:-23400}; shift 2; [ $# -gt 0 ] && shift
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/bench/flood/tls-host.sh"
start_tls_host flood "$T" "$PORT" "$@"
FP=; WP=
trap 'kill $FP $WP 2>/dev/null || true; kill $SP 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do curl -sk "https://127.0.0.1:$PORT/plaintext" >/dev/null 2>&1 && break; sleep 0.3; done
CHURN="$REPO/bench/.build/tlschurn"
churn() { taskset -c 1 "$CHURN" -p "$PORT" -c 2 -d "$1" -T 5 -u /plaintext | awk '/^BENCHJSON/{print substr($0, 11)}' | python3 -c '
import json, sys
d = json.load(sys.stdin); l = d["latency_us"]; e = d["errors"]
print("%.1f req/s, p50 %.1f ms, p99 %.1f ms, max %.1f ms; errors connect %d read %d write %d timeout %d" % (
    d["requests"] / d["duration_us"] * 1e6, l["p50"] / 1000, l["p99"] / 1000, l["max"] / 1000, e["connect"], e["read"], e["write"], e["timeout"]))'; }
rss() { awk '/^Rss:/{print $2}' "/proc/$SP/smaps_rollup"; }
taskset -c 1 "$CHURN" -p "$PORT" -c 16 -d 3 -u /plaintext > /dev/null   # warm-up
echo "before:  new connections $(churn 4); RSS $(rss) KiB"
taskset -c 1 wrk -t 1 -c 4 -d 21s --timeout 5s --latency "https://127.0.0.1:$PORT/plaintext" > "$TMP/wrk.out" 2>&1 &
WP=$!
sleep 1
taskset -c 1 python3 "$REPO/bench/flood/tlsstall.py" -p "$PORT" -n "$F" --mode "${FLOOD_MODE:-hello}" --reopen --seconds 20 > "$TMP/stall.out" 2>&1 &
FP=$!
sleep 3
echo "during:  new connections $(churn 16); RSS $(rss) KiB; server-side established $(ss -Htn state established "( sport = :$PORT )" | wc -l)"
wait $FP; FP=
echo "flood:   $(grep OPENED "$TMP/stall.out"); $(tail -1 "$TMP/stall.out")"
wait $WP; WP=
echo "keep-alive (wrk -c 4, opened before the flood): $(grep -E 'Requests/sec' "$TMP/wrk.out"), $(grep -E '^ +99%' "$TMP/wrk.out" | tr -s ' '), $(grep -E 'Socket errors|Non-2xx' "$TMP/wrk.out" || echo 'no errors')"
sleep 11
echo "after:   server-side established $(ss -Htn state established "( sport = :$PORT )" | wc -l); RSS $(rss) KiB; new connections $(churn 4)"
echo "server log: $(grep -c 'handshakes are in progress' "$TMP/server.log" || true) TlsHandshakeLimitReached warnings (one per 5 s at most), $(grep -c '^warn\|^fail' "$TMP/server.log" || true) warnings/errors in all; last: $(tail -2 "$TMP/server.log" | tr -s ' ' | cut -c1-300)"
