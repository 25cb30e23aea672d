#!/usr/bin/env bash
# usage: OLD=dir/EpollTransport.WebHost.dll NEW=... CERT=cert.pem KEY=key.pem bench/idle/tls-ab.sh N ROUNDS
# Two builds side by side on Epoll, and Sockets (NEW build): RSS per idle TLS connection after a 3 s tlschurn warm-up each.
# Needs bench/.build/{idleconn,tlschurn} (bench/run.sh builds them); ports 21010-21031.
set -e
N=$1; ROUNDS=${2:-1}
OLD=${OLD:?the old build}
NEW=${NEW:?the new build}
B=$(dirname "$0")/../.build
ulimit -n $(ulimit -Hn) || true
declare -A PID PORT
start() { # name dll transport port
  taskset -c 0 dotnet $2 --contentRoot "$(dirname "$0")/../.." --Transport $3 --EnableTestEndpoints true \
   --Kestrel:Endpoints:h1:Url http://127.0.0.1:$(($4-1)) --Kestrel:Endpoints:h1:Protocols Http1 \
   --Kestrel:Endpoints:tls:Url https://127.0.0.1:$4 --Kestrel:Endpoints:tls:Protocols Http1AndHttp2 \
   --Kestrel:Endpoints:tls:Certificate:Path $CERT --Kestrel:Endpoints:tls:Certificate:KeyPath $KEY \
   --Logging:LogLevel:Default=Warning > ${TMPDIR:-/tmp}/tls-ab.$1.log 2>&1 &
  PID[$1]=$!; PORT[$1]=$4
}
rss() { awk '/^Rss:/{s+=$2} END{print s}' /proc/$1/smaps; }
for r in $(seq $ROUNDS); do
  start old $OLD Epoll 21011; start new $NEW Epoll 21021; start sockets $NEW Sockets 21031
  trap 'kill ${PID[old]} ${PID[new]} ${PID[sockets]} 2>/dev/null; wait 2>/dev/null' EXIT
  for s in old new sockets; do for i in $(seq 100); do curl -sk https://127.0.0.1:${PORT[$s]}/plaintext >/dev/null 2>&1 && break; sleep 0.3; done; done
  for s in old new sockets; do taskset -c 1 $B/tlschurn -t 1 -c 16 -d 3 -T 5 -p ${PORT[$s]} -u /plaintext > /dev/null; done
  sleep 2
  for s in old new sockets; do
    base=$(rss ${PID[$s]})
    exec 3> >(taskset -c 1 $B/idleconn -p ${PORT[$s]} -n $N -f 1 -s 1 -u /plaintext -t > ${TMPDIR:-/tmp}/tls-ab.$s.out)
    for i in $(seq 150); do grep -q READY ${TMPDIR:-/tmp}/tls-ab.$s.out 2>/dev/null && break; sleep 0.2; done
    sleep 3
    with=$(rss ${PID[$s]})
    exec 3>&-
    sleep 1
    echo "round $r $s: baseline $base KiB, with $N: $with KiB, per connection $(awk -v a=$with -v b=$base -v n=$N 'BEGIN{printf "%.2f", (a-b)/n}') KiB ($(head -1 ${TMPDIR:-/tmp}/tls-ab.$s.out))"
  done
  kill ${PID[old]} ${PID[new]} ${PID[sockets]}; wait 2>/dev/null || true; trap - EXIT
done
