#!/usr/bin/env python3
"""tlsstall: holds N TLS handshakes open against a loopback HTTPS port without ever finishing them, as a
client that floods a server with slow or silent handshakes does.

  python3 bench/flood/tlsstall.py -p PORT -n N [--mode hello|silent] [--reopen] [--seconds S] [--sources K]

--mode hello (default): each connection sends one complete ClientHello (TLS 1.3 and 1.2 offered, made
once by Python's ssl module and sent on every connection) and then reads nothing and sends nothing, so
the server has answered and holds the handshake half way. --mode silent: connect and send nothing.
--reopen: a connection the server closes (rejected by a cap, or timed out) is opened again at once, so
N stay pending for the whole run (the attacker's view). Without it the script only holds what it
opened and reports how many the server closed, and when.

Connection i binds to 127.0.0.(1 + i % K) so that more than one ephemeral port range fits. Prints one
line per second: "t=<s> open=<n> closed_by_server=<total> reopened=<total> failed=<total>", then
"DONE ...". Stops after --seconds or at SIGTERM/SIGINT. Loopback only.
"""

import argparse
import errno
import os
import selectors
import signal
import socket
import ssl
import sys
import time


def client_hello():
    """One ClientHello, as OpenSSL sends it for Python's default client context (SNI localhost)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-p", "--port", type=int, required=True)
    p.add_argument("-n", "--connections", type=int, required=True)
    p.add_argument("--mode", choices=("hello", "silent"), default="hello")
    p.add_argument("--reopen", action="store_true")
    p.add_argument("--seconds", type=float, default=3600)
    p.add_argument("--sources", type=int, default=4)
    p.add_argument("--rate", type=float, default=0, help="at most this many new connections per second (0: as fast as possible)")
    args = p.parse_args()

    hello = client_hello() if args.mode == "hello" else b""
    sel = selectors.DefaultSelector()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    opened = closed = reopened = failed = 0
    index = 0
    t0 = time.monotonic()

    def open_one():
        nonlocal index, opened, failed
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT
        s.bind((f"127.0.0.{1 + index % args.sources}", 0))
        index += 1
        try:
            s.connect(("127.0.0.1", args.port))
            if hello:
                s.sendall(hello)
        except OSError:
            failed += 1
            s.close()
            return False
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        opened += 1
        return True

    def pace(count):
        if args.rate > 0:
            due = t0 + count / args.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    for i in range(args.connections):
        if stop:
            break
        pace(i)
        open_one()
    print(f"OPENED {opened} failed={failed} in {time.monotonic() - t0:.2f}s", flush=True)

    next_report = time.monotonic() + 1
    end = t0 + args.seconds
    while not stop and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except OSError as e:
                data = b"" if e.errno in (errno.ECONNRESET, errno.EPIPE) else None
            if data == b"" or data is None:
                sel.unregister(s)
                s.close()
                closed += 1
                if args.reopen and not stop and open_one():
                    reopened += 1
            # The server's flight (ServerHello ...) is read and dropped: the handshake stays half way.
        now = time.monotonic()
        if now >= next_report:
            print(f"t={now - t0:.0f} open={len(sel.get_map())} closed_by_server={closed} reopened={reopened} failed={failed}", flush=True)
            next_report += 1
    print(f"DONE open={len(sel.get_map())} closed_by_server={closed} reopened={reopened} failed={failed}", flush=True)
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
