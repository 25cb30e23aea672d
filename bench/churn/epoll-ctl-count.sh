#!/bin/bash
# epoll_ctl calls per TLS connection of the web host (docs/PROFILES.md, TLS churn): each build given is run on core 0
# under strace (epoll_ctl and accept4 only), in both trigger modes, while bench/.build/tlschurn (bench/run.sh builds
# it) churns 64 connections for 5 s on core 1; prints ADD, DEL and MOD against the connections accepted.
#   bench/churn/epoll-ctl-count.sh LABEL=path/to/EpollTransport.WebHost.dll ... [PORT, default 22010]
# Handshakes the client abandons when it stops (up to 64) each add one DEL at the end of the trace.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
port=${PORT:-22010}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 1 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
for build in "$@"; do
    label=${build%%=*}
    dll=${build#*=}
    for mode in Edge Level; do
        trace="$tmp/$label-$mode.strace"
        strace -f -qq -e trace=epoll_ctl,accept4 -o "$trace" taskset -c 0 dotnet "$dll" --contentRoot "$repo" --Transport Epoll \
            --EpollTransport:TriggerMode "$mode" --Kestrel:Endpoints:h1:Url "http://127.0.0.1:$((port + 1))" \
            --Kestrel:Endpoints:tls:Url "https://127.0.0.1:$port" --Kestrel:Endpoints:tls:Certificate:Path "$tmp/cert.pem" \
            --Kestrel:Endpoints:tls:Certificate:KeyPath "$tmp/key.pem" --Logging:LogLevel:Default=Warning >"$tmp/$label-$mode.log" 2>&1 &
        tracer=$!
        for _ in $(seq 1 300); do curl -sk "https://127.0.0.1:$port/plaintext" >/dev/null 2>&1 && break; sleep 0.2; done
        taskset -c 1 "$repo/bench/.build/tlschurn" -p "$port" -c 64 -d 5 | sed -n 1p
        kill -TERM "$(pgrep -P "$tracer")" # not SIGINT: a background job of a script ignores it
        wait "$tracer" || true
        accepted=$(grep -c 'accept4(.*= [0-9]' "$trace")
        add=$(grep -c EPOLL_CTL_ADD "$trace" || true)
        del=$(grep -c EPOLL_CTL_DEL "$trace" || true)
        mod=$(grep -c EPOLL_CTL_MOD "$trace" || true)
        echo "$label $mode: accepted $accepted, ADD $add, DEL $del, MOD $mod: $(python3 -c "print(f'{($add + $del + $mod) / $accepted:.2f}')") per connection"
    done
done
