#!/usr/bin/env python3
"""Runtime configurations of the web host side by side (bench/configs.json: JIT or Native AOT build,
GC settings as DOTNET_* variables, extra host arguments, where {tmp} is the run's temporary directory), on the
Epoll transport unless its arguments choose Sockets (jit-sockets), on loopback only.

Every configuration is started at once, each pinned to the server core; each is checked on every
scenario's URL and warmed up; then the scenarios run in rounds alternating the configurations
(A B C ... A B C ...), the load generator pinned to the other cores, as bench/run.sh does. Reported
per configuration: requests/s (median over rounds) and p99 per scenario, the peak RSS over the whole
run (VmHWM), and the startup time (spawn to the first 200 on /plaintext, median of --starts cold starts)
with the RSS right after it. Scenarios over TLS (tls-*) go to the host's standard HTTPS endpoint with a
certificate made for the run, as bench/run.sh has it; scenarios with a background load (blocking) turn the
host's test endpoints on.

  python3 bench/configs.py --aot /tmp/aot/EpollTransport.WebHost [--configs jit,aot-wks] [--rounds 3]

Build first: dotnet build src/WebHost -c Release, and for the aot configurations
dotnet publish src/WebHost -c Release -r linux-x64 -p:PublishAot=true -o /tmp/aot; tls-churn needs
bench/.build/tlschurn (bench/run.sh builds it).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.common import BENCH_DIR, REPO, WEBHOST_DLL, BenchError, cmdline, log  # noqa: E402
from harness.content import make_content_root, preflight  # noqa: E402
from harness.loadgen import run_load  # noqa: E402
from harness.metadata import git  # noqa: E402
from harness.processes import Children  # noqa: E402
from harness.procfs import hwm_kb, loadavg, rss_kb  # noqa: E402
from harness.scenarios import SCENARIOS as SCENARIO_TABLE  # noqa: E402
from harness.servers import check_ports, http_get  # noqa: E402
from harness.tls import https_get, make_certificate  # noqa: E402

CONFIGS = os.path.join(BENCH_DIR, "configs.json")
SCENARIOS = ("plaintext", "json", "static-1k", "static-1m")


class Variant:
    """One configuration of the web host: the duck-typed server that harness.loadgen measures."""

    def __init__(self, key, spec, args, port, children):
        self.key = self.label = key
        self.spec = spec
        self.args = args
        self.h1_port, self.h2_port, self.tls_port = port, port + 1, port + 2
        self.children = children
        self.ncpus = 1
        self.proc = None
        self.log_path = os.path.join(args.tmp, f"{key}.log")

    def command(self):
        if self.spec["build"] == "aot":
            head = [self.args.aot]
        elif self.spec["build"] == "alt":
            head = ["dotnet", os.path.join(self.args.alt, os.path.basename(WEBHOST_DLL))]
        else:
            head = ["dotnet", WEBHOST_DLL]
        return ["taskset", "-c", self.args.server_cpus] + head + [
            "--contentRoot", self.args.content_root, "--Transport", "Epoll",
            "--Kestrel:Endpoints:h1:Url", f"http://127.0.0.1:{self.h1_port}", "--Kestrel:Endpoints:h1:Protocols", "Http1",
            "--Kestrel:Endpoints:h2:Url", f"http://127.0.0.1:{self.h2_port}", "--Kestrel:Endpoints:h2:Protocols", "Http2",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning"] + self.extra_args() + [
            a.replace("{tmp}", self.args.tmp) for a in self.spec.get("args", [])]

    def extra_args(self):
        """The HTTPS endpoint (bench/run.sh's) when a scenario is over TLS; the test endpoints when one has a background load."""
        extra = []
        if self.args.cert:
            extra += ["--Kestrel:Endpoints:tls:Url", f"https://127.0.0.1:{self.tls_port}", "--Kestrel:Endpoints:tls:Protocols", "Http1AndHttp2",
                      "--Kestrel:Endpoints:tls:Certificate:Path", self.args.cert[0], "--Kestrel:Endpoints:tls:Certificate:KeyPath", self.args.cert[1]]
        if self.args.test_endpoints:
            extra += ["--EnableTestEndpoints", "true"]
        return extra

    def start(self):
        """Starts the host; returns seconds from spawn to the first 200 on /plaintext."""
        check_ports([self.h1_port, self.h2_port] + ([self.tls_port] if self.args.cert else []))
        env = dict(os.environ, **self.spec["env"])
        self.logf = open(self.log_path, "a")
        t0 = time.monotonic()
        self.proc = self.children.spawn(self.command(), stdout=self.logf, stderr=self.logf, stdin=None, cwd=REPO, env=env)
        while time.monotonic() - t0 < 60:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.key} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                # Kestrel binds the endpoints one after the other: the HTTPS one may not listen yet when HTTP answers.
                if http_get(self.h1_port, "/plaintext", timeout=2)[0] == 200 and (not self.args.cert or https_get(self.tls_port, "/plaintext", timeout=2)[0] == 200):
                    return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.002)
        raise BenchError(f"{self.key} did not answer within 60 s; see {self.log_path}")

    def pids(self):
        return [self.proc.pid] if self.alive() else []

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        self.children.stop(self.proc)
        self.proc = None
        self.logf.close()

    def log_tail(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-2000:]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", help="comma-separated keys of bench/configs.json (default: all)")
    p.add_argument("--aot", help="the Native AOT executable (needed by the aot configurations)")
    p.add_argument("--alt", help="the directory of another build of the web host (needed by the alt configurations, e.g. "
                                 "dotnet publish src/WebHost -c Release -p:PublishReadyToRun=true -r linux-x64 --self-contained false -o DIR)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5, help="seconds per measured run (default 5)")
    p.add_argument("--warmup", type=int, default=24, help="seconds of discarded load per configuration, shared by the scenarios (default 24)")
    p.add_argument("--starts", type=int, default=5, help="cold starts per configuration for the startup time (default 5; 0 skips)")
    p.add_argument("--server-cpus", default="0")
    p.add_argument("--client-cpus", default="1")
    p.add_argument("--base-port", type=int, default=19080)
    p.add_argument("--nice", type=int, default=0, help="niceness of the run and its servers, as bench/run.sh --nice (e.g. -10 on a shared machine)")
    p.add_argument("--json", dest="json_path", default=os.path.join(BENCH_DIR, "results", "configs.json"))
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    with open(CONFIGS) as f:
        specs = json.load(f)
    keys = args.configs.split(",") if args.configs else list(specs)
    unknown = [k for k in keys if k not in specs]
    if unknown:
        raise BenchError(f"unknown configuration(s) {', '.join(unknown)}; valid: {', '.join(specs)}")
    if any(specs[k]["build"] == "aot" for k in keys) and not (args.aot and os.access(args.aot, os.X_OK)):
        raise BenchError("the aot configurations need --aot PATH, an executable from dotnet publish -p:PublishAot=true")
    if any(specs[k]["build"] == "alt" for k in keys) and not (args.alt and os.path.isfile(os.path.join(args.alt, os.path.basename(WEBHOST_DLL)))):
        raise BenchError("the alt configurations need --alt DIR, a directory holding another build of the web host")
    scenarios = args.scenarios.split(",")
    args.tmp = tempfile.mkdtemp(prefix="bench-configs-")
    args.content_root = make_content_root(args.tmp)
    unknown = [s for s in scenarios if s not in SCENARIO_TABLE]
    if unknown:
        raise BenchError(f"unknown scenario(s) {', '.join(unknown)}; valid: {', '.join(SCENARIO_TABLE)}")
    args.cert = make_certificate(args.tmp) if any(SCENARIO_TABLE[s].get("tls") for s in scenarios) else None
    args.test_endpoints = any(SCENARIO_TABLE[s].get("background") for s in scenarios)
    children = Children()
    if args.nice:
        children.set_priority(args.nice)
    variants = [Variant(k, specs[k], args, args.base_port + 3 * i, children) for i, k in enumerate(keys)]
    results = dict(date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), commit=git("rev-parse", "--short", "HEAD"),
                   cores=os.cpu_count(), loadavg_before=loadavg(), argv=argv, commands={}, configs={k: dict(specs[k]) for k in keys})
    try:
        # Startup: cold starts one at a time, nothing else running.
        for v in variants if args.starts > 0 else []:
            times, rss = [], []
            for _ in range(args.starts):
                times.append(v.start())
                rss.append(rss_kb(v.pids()))
                v.stop()
            results["configs"][v.key].update(startup_s=round(statistics.median(times), 3), startup_all_s=[round(t, 3) for t in times],
                                              rss_after_start_kb=statistics.median(rss))
            log(f"{v.key:18s} startup {statistics.median(times) * 1000:6.0f} ms (median of {args.starts}), RSS after start {statistics.median(rss) / 1024:5.1f} MiB")

        for v in variants:
            v.start()
            results["commands"][v.key] = " ".join(f"{k}={val}" for k, val in v.spec["env"].items()) + " " + cmdline(v.command())
            for s in scenarios:
                preflight(v, s, args.content_root)
            for s in scenarios:
                run_load(s, v, max(1, args.warmup // len(scenarios)), args.client_cpus, args.tmp)
        runs = {v.key: {s: [] for s in scenarios} for v in variants}
        for r in range(args.rounds):
            for s in scenarios:
                for v in variants:
                    rec = run_load(s, v, args.duration, args.client_cpus, args.tmp)
                    if not rec.get("ok"):
                        raise BenchError(f"{v.key} {s}: {rec.get('error')}")
                    runs[v.key][s].append({k: rec.get(k) for k in ("rps", "p99_ms", "cpu_per_100k_s", "errors_total", "rss_max_sampled_kb", "other_cpu_s", "command")})
                    log(f"round {r + 1} {s:10s} {v.key:18s} {rec['rps']:10,.0f} req/s  p99 {rec.get('p99_ms') or 0:6.2f} ms  "
                        f"CPU {(rec.get('cpu_per_100k_s') or 0) * 10:6.2f} us/req  RSS {rec['rss_max_sampled_kb'] / 1024:6.1f} MiB")
        for v in variants:
            c = results["configs"][v.key]
            c["peak_rss_kb"] = hwm_kb(v.pids())
            c["scenarios"] = {s: dict(rps=statistics.median(x["rps"] for x in runs[v.key][s]),
                                      p99_ms=statistics.median(x["p99_ms"] or 0 for x in runs[v.key][s]),
                                      cpu_us=statistics.median((x["cpu_per_100k_s"] or 0) * 10 for x in runs[v.key][s]),
                                      errors=sum(x["errors_total"] or 0 for x in runs[v.key][s]),
                                      runs=runs[v.key][s]) for s in scenarios}
        results["loadavg_after"] = loadavg()
    finally:
        children.stop_all()
    os.makedirs(os.path.dirname(args.json_path), exist_ok=True)
    with open(args.json_path, "w") as f:
        json.dump(results, f, indent=1)
    print(table(results, keys, scenarios))
    log(f"results: {args.json_path}")
    return 0


def table(results, keys, scenarios):
    base = results["configs"][keys[0]]
    head = ("| Configuration | Startup | RSS after start | Peak RSS | " +
            " | ".join(f"{s} req/s (ratio), CPU µs/req (ratio), p99" for s in scenarios) + " |")
    lines = [head, "|" + "---|" * (4 + len(scenarios))]
    for k in keys:
        c = results["configs"][k]
        cells = []
        for s in scenarios:
            x, b = c["scenarios"][s], base["scenarios"][s]
            cells.append(f"{x['rps']:,.0f} ({x['rps'] / b['rps']:.2f}), {x['cpu_us']:.1f} ({x['cpu_us'] / b['cpu_us'] if b['cpu_us'] else 0:.2f}), "
                         f"{x['p99_ms']:.1f} ms")
        startup = f"{c['startup_s'] * 1000:.0f} ms" if c.get("startup_s") is not None else "–"
        after = f"{c['rss_after_start_kb'] / 1024:.1f} MiB" if c.get("rss_after_start_kb") is not None else "–"
        lines.append(f"| `{k}` | {startup} | {after} | {c['peak_rss_kb'] / 1024:.1f} MiB | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        print(f"configs: error: {e}", file=sys.stderr)
        sys.exit(1)
