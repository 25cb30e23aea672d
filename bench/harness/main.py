"""A benchmark run from start to finish (see docs/BENCHMARKS.md for the method):

  * one content root (the repository's wwwroot plus bench/1k.txt and bench/1m.bin) for all servers;
  * per CPU mode: every server started fresh and pinned with taskset, checked on every scenario's
    URL, warmed up (load discarded), then measured in rounds alternating the servers (measure.py);
  * the idle-connection test (idle.py);
  * the raw JSON, the markdown report and the SVG chart (report.py).
Every process it starts is killed on exit.
"""

import json
import os
import resource
import shutil
import signal
import tempfile
import time

from . import report
from .cli import parse_args
from .common import IDLECONN, REPO, TLSCHURN, WEBHOST_DLL, BenchError, cores, cpu_spec, log, parse_cpus
from .content import GENERATED, expected_body, make_content_root
from .idle import run_idle
from .measure import run_mode
from .metadata import metadata
from .processes import Children, MachineLock
from .procfs import loadavg
from .scenarios import SCENARIOS
from .servers import Server, check_ports
from .summary import summarize
from .tls import make_certificate


def _on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _check_tools(args):
    for tool in ("taskset", "wrk", "h2load", "curl", "ss", "openssl") + (("nginx",) if "nginx" in args.servers else ()):
        if not shutil.which(tool):
            raise BenchError(f"'{tool}' is not installed (bench/run.sh installs it)")
    if not os.path.exists(WEBHOST_DLL):
        raise BenchError(f"{WEBHOST_DLL} is missing: build with 'dotnet build src/WebHost -c Release' (bench/run.sh does)")
    if (args.idle_connections or args.idle_tls_connections) and not os.access(IDLECONN, os.X_OK):
        raise BenchError(f"{IDLECONN} is missing (bench/run.sh compiles bench/idle/idleconn.c)")
    if (args.idle_tls_connections or any(SCENARIOS[s]["tool"] == "tlschurn" for s in args.scenarios.split(","))) and not os.access(TLSCHURN, os.X_OK):
        raise BenchError(f"{TLSCHURN} is missing (bench/run.sh compiles bench/churn/tlschurn.c)")


def _raise_nofile(idle_connections):
    """Use the whole open-file allowance for ourselves and the servers we start."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(hard, idle_connections + 1024)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _modes(args):
    modes = [dict(key=f"{len(args.server_cpu_list)}core",
                  label=f"server on {cores(args.server_cpu_list)}, load generator on {cores(args.client_cpu_list)}",
                  server_cpus=cpu_spec(args.server_cpu_list), client_cpus=cpu_spec(args.client_cpu_list),
                  scenarios=args.scenarios.split(","))]
    scaling = [s for s in args.scaling_scenarios.split(",") if s]
    if scaling and len(args.all_cpus) > len(args.server_cpu_list):
        allc = cpu_spec(args.all_cpus)
        modes.append(dict(key=f"{len(args.all_cpus)}core-shared",
                          label=f"server on all {len(args.all_cpus)} cores ({allc}), load generator sharing them",
                          server_cpus=allc, client_cpus=allc, scenarios=scaling))
    return modes


def _write_outputs(results, args):
    os.makedirs(os.path.dirname(args.json_path), exist_ok=True)
    with open(args.json_path, "w") as f:
        json.dump(results, f, indent=1)
    report.write_markdown(results, args.md_path, svg_path=args.svg_path)
    report.write_svg(results, args.svg_path)
    log(f"done in {results['meta']['elapsed_s']:.0f} s: {os.path.relpath(args.json_path, REPO)}, "
        f"{os.path.relpath(args.md_path, REPO)}, {os.path.relpath(args.svg_path, REPO)}")
    print()
    print(report.console_table(results))


def _measure(args, argv, children, started):
    args.content_root = make_content_root(args.tmp)
    args.cert = make_certificate(args.tmp)
    keys = args.servers.split(",")
    servers = [Server(k, tuple(range(args.base_port + 3 * i, args.base_port + 3 * i + 3)), args, args.tmp, children)
               for i, k in enumerate(("epoll", "sockets", "nginx")) if k in keys]
    check_ports([p for s in servers for p in (s.h1_port, s.h2_port, s.tls_port)])

    results = dict(meta=metadata(args, argv), modes=[], scenarios=[], idle=None, idle_tls=None)
    meta = results["meta"]
    meta["scenario_definitions"] = {k: v for k, v in SCENARIOS.items()}
    meta["servers"] = {s.key: dict(label=s.label, h1_port=s.h1_port, h2_port=s.h2_port, tls_port=s.tls_port)
                       for s in servers}
    meta["tls"] = dict(certificate="self-signed ECDSA P-256 (prime256v1), PEM, made by openssl for this run",
                       command=f"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost ...")
    meta["content"] = dict(files={p: len(expected_body(args.content_root, p)) for p in GENERATED},
                           note="repository wwwroot/ plus generated bench/1k.txt and bench/1m.bin, one copy served by all servers")
    modes = results["modes"] = _modes(args)
    log(f"temp dir {args.tmp}; servers: {', '.join(s.label for s in servers)}; "
        f"{args.rounds} round(s) x {args.duration} s, {args.warmup} s warm-up")
    for mode in modes:
        log(f"=== mode {mode['key']}: {mode['label']}")
        # The harness itself (RSS sampling, h2load log sorting) stays off the server's cores when it can.
        os.sched_setaffinity(0, parse_cpus(mode["client_cpus"]))
        run_mode(mode, servers, args, results)
    if args.idle_connections:
        os.sched_setaffinity(0, parse_cpus(modes[0]["client_cpus"]))
        run_idle(servers, args, results, children, args.idle_connections, tls=False)
    if args.idle_tls_connections:
        os.sched_setaffinity(0, parse_cpus(modes[0]["client_cpus"]))
        run_idle(servers, args, results, children, args.idle_tls_connections, tls=True)
    os.sched_setaffinity(0, args.all_cpus)

    summarize(results)
    meta["machine"]["loadavg_end"] = loadavg()
    meta["elapsed_s"] = round(time.monotonic() - started, 1)
    return results


def main(argv):
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _on_signal)
    pgid_file = os.environ.get("BENCH_PGID_FILE")
    children = Children(pgid_file)
    _check_tools(args)
    _raise_nofile(max(args.idle_connections, args.idle_tls_connections))
    if args.nice:
        children.set_priority(args.nice)
    lock = MachineLock()
    lock.acquire(args.lock_wait)

    started = time.monotonic()
    args.tmp = tempfile.mkdtemp(prefix="epoll-bench-")
    if pgid_file and not args.keep_temp:
        with open(pgid_file + ".tmpdir", "w") as f:   # for run.sh to remove should we be killed
            f.write(args.tmp + "\n")
    os.makedirs(os.path.join(args.tmp, "logs"))
    try:
        results = _measure(args, argv, children, started)
        _write_outputs(results, args)
        failures = [s for s in results["summary"] if s["error"] or s["rps"] is None]
        idle_fail = [k for key in ("idle", "idle_tls") for k, v in (results.get(key) or {}).get("servers", {}).items()
                     if not v.get("ok")]
        if failures or idle_fail:
            log(f"WARNING: {len(failures)} scenario result(s) and {len(idle_fail)} idle test(s) had failures; see the report")
            return 3
        return 0
    finally:
        children.stop_all()
        if args.keep_temp:
            log(f"kept {args.tmp}")
        else:
            shutil.rmtree(args.tmp, ignore_errors=True)
            if pgid_file and os.path.exists(pgid_file + ".tmpdir"):
                os.unlink(pgid_file + ".tmpdir")
