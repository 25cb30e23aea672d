"""Paths, the harness's error type, logging and core-list helpers shared by every module."""

import os
import shlex
import time

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(BENCH_DIR)
WEBHOST_DLL = os.path.join(REPO, "src", "WebHost", "bin", "Release", "net10.0", "EpollTransport.WebHost.dll")
IDLECONN = os.path.join(BENCH_DIR, ".build", "idleconn")
TLSCHURN = os.path.join(BENCH_DIR, ".build", "tlschurn")
WRK_SCRIPT = os.path.join(BENCH_DIR, "wrk", "bench.lua")
RESULTS_DIR = os.path.join(BENCH_DIR, "results")

PLAINTEXT = b"Hello, World!"
JSON_BODY = b'{"message":"Hello, World!"}'


class BenchError(Exception):
    """A failure the harness reports with a clear message and exit status 1."""


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def cmdline(cmd):
    return " ".join(shlex.quote(c) for c in cmd)


def parse_cpus(spec):
    """'0,2-3' -> [0, 2, 3]."""
    cpus = set()
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            cpus.update(range(int(a), int(b) + 1))
        elif part:
            cpus.add(int(part))
    return sorted(cpus)


def cpu_spec(cpus):
    return ",".join(str(c) for c in cpus)


def cores(cpus):
    return ("core " if len(cpus) == 1 else "cores ") + cpu_spec(cpus)
