"""The command line of bench/run.sh (every option but --no-build, which run.sh handles), with the
quick-mode defaults and the checks that name the valid values."""

import argparse
import os

from .common import REPO, RESULTS_DIR, parse_cpus
from .scenarios import SCENARIOS
from .servers import SERVERS


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/run.sh",
        description="Benchmarks the web host on the Epoll and Sockets transports against nginx.")
    p.add_argument("--quick", action="store_true",
                   help="about 2 minutes: 1 round of 2 s, 6 s warm-up, 2 s idle; "
                        "writes bench/results/quick.{json,md,svg} unless told otherwise")
    p.add_argument("--rounds", type=int, help="measured runs per server and scenario (default 3; quick 1)")
    p.add_argument("--duration", type=int, help="seconds per measured run (default 5; quick 2)")
    p.add_argument("--warmup", type=int,
                   help="seconds of discarded load per server after it starts, shared by the mode's scenarios "
                        "(at least 1 s each; default 24; quick 6)")
    p.add_argument("--servers", default="epoll,sockets,nginx", help="comma-separated: epoll,sockets,nginx")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated, of: " + ",".join(SCENARIOS))
    p.add_argument("--scaling-scenarios",
                   help="scenarios also run with the server on all cores (load generator sharing them); "
                        "'none' to skip (default plaintext)")
    p.add_argument("--idle-connections", type=int, default=10000, help="idle keep-alive connections per server (default 10000; 0 skips)")
    p.add_argument("--idle-50k", action="store_true", help="shorthand for --idle-connections 50000")
    p.add_argument("--idle-tls-connections", type=int,
                   help="idle keep-alive connections per server over TLS, on its HTTPS port (default: as many as "
                        "--idle-connections; 0 skips)")
    p.add_argument("--idle-seconds", type=int, help="seconds of idle CPU measurement (default 10; quick 2)")
    p.add_argument("--server-cpus", default="0", help="cores for the server (default 0)")
    p.add_argument("--client-cpus", default=None, help="cores for the load generator (default: all the others)")
    p.add_argument("--base-port", type=int, default=18080, help="first of 9 consecutive ports: HTTP/1.1, h2c and HTTPS per server (default 18080)")
    p.add_argument("--epoll-args", default="", help="extra web host arguments for the Epoll server, e.g. '--EpollTransport:ThreadCount 2'")
    p.add_argument("--sockets-args", default="", help="extra web host arguments for the Sockets server")
    p.add_argument("--json", dest="json_path", help="results JSON (default bench/results/latest.json; quick: bench/results/quick.json)")
    p.add_argument("--markdown", dest="md_path", help="markdown report (default docs/BENCHMARKS.md; quick: bench/results/quick.md)")
    p.add_argument("--svg", dest="svg_path", help="SVG chart (default docs/benchmarks.svg; quick: bench/results/quick.svg)")
    p.add_argument("--nice", type=int, default=0,
                   help="niceness for the harness, the servers and the load generators, e.g. -10 so that other work on "
                        "a shared machine disturbs the measurement less (default 0: no priority change). Applied to "
                        "their scheduler autogroups too, without which it has no effect across sessions")
    p.add_argument("--lock-wait", type=int, default=900,
                   help="seconds to wait for another benchmark run on this machine to finish (default 900; 0 fails at once)")
    p.add_argument("--keep-temp", action="store_true", help="keep the temporary directory (content root, logs, nginx configs)")
    args = p.parse_args(argv)

    q = args.quick
    args.rounds = args.rounds or (1 if q else 3)
    args.duration = args.duration or (2 if q else 5)
    args.warmup = args.warmup if args.warmup is not None else (6 if q else 24)
    args.idle_seconds = args.idle_seconds or (2 if q else 10)
    if args.idle_50k:
        args.idle_connections = 50000
    if args.idle_tls_connections is None:
        args.idle_tls_connections = args.idle_connections
    if args.scaling_scenarios is None:
        args.scaling_scenarios = "plaintext"
    if args.scaling_scenarios == "none":
        args.scaling_scenarios = ""
    args.json_path = args.json_path or os.path.join(RESULTS_DIR, "quick.json" if q else "latest.json")
    args.md_path = args.md_path or (os.path.join(RESULTS_DIR, "quick.md") if q else os.path.join(REPO, "docs", "BENCHMARKS.md"))
    args.svg_path = args.svg_path or (os.path.join(RESULTS_DIR, "quick.svg") if q else os.path.join(REPO, "docs", "benchmarks.svg"))

    for name, value in (("--servers", args.servers),):
        bad = [x for x in value.split(",") if x not in SERVERS]
        if bad:
            p.error(f"{name}: unknown {', '.join(bad)} (valid: {', '.join(SERVERS)})")
    for name, value in (("--scenarios", args.scenarios), ("--scaling-scenarios", args.scaling_scenarios)):
        bad = [x for x in value.split(",") if x and x not in SCENARIOS]
        if bad:
            p.error(f"{name}: unknown {', '.join(bad)} (valid: {', '.join(SCENARIOS)})")
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0 or args.idle_connections < 0 \
            or args.idle_tls_connections < 0:
        p.error("--rounds and --duration must be at least 1; --warmup, --idle-connections and --idle-tls-connections at least 0")

    available = sorted(os.sched_getaffinity(0))
    server = parse_cpus(args.server_cpus)
    client = parse_cpus(args.client_cpus) if args.client_cpus else [c for c in available if c not in server]
    if not client:
        p.error("no core left for the load generator; pass --client-cpus")
    if not set(server + client) <= set(available):
        p.error(f"cores {sorted(set(server + client) - set(available))} are not available (have {available})")
    args.server_cpu_list, args.client_cpu_list, args.all_cpus = server, client, available
    return args
