"""One CPU mode of the measurement: the servers start once, are checked on every scenario's URL,
get a warm-up over all the mode's scenarios, then each scenario is measured in rounds that alternate
the servers (A B C A B C ...), so that drift hits every server alike."""

import subprocess
import time

from .common import BenchError, log, parse_cpus
from .content import preflight
from .loadgen import run_load
from .procfs import hwm_kb, rss_kb
from .scenarios import SCENARIOS


def start_servers(servers, cpus, tag, max_conns, scenarios, infos, content_root):
    """Starts every server at once, then waits for each and checks it answers `scenarios`' URLs
    correctly. Returns the servers that are up; failures are logged and put in infos[key]."""
    launched, live = [], []
    for s in servers:
        s.ncpus = len(parse_cpus(cpus))
        info = infos.setdefault(s.key, {})
        try:
            s.launch(cpus, tag, max_conns=max_conns)
            info["start_command"] = s.command
            if s.kind == "nginx":
                info["config"] = s.config
            launched.append(s)
        except (BenchError, OSError) as e:
            info["error"] = str(e)
            log(f"   {s.label}: NOT STARTED: {e}")
            s.stop()
    for s in launched:
        try:
            s.ready()
            for scenario in scenarios:
                preflight(s, scenario, content_root)
            live.append(s)
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            infos[s.key]["error"] = str(e)
            log(f"   {s.label}: NOT MEASURED: {e}")
            s.stop()
    return live


def warm_up(server, scenarios, seconds, client_cpus, args, info):
    """Discarded load: `seconds` in all, shared by the scenarios (at least 1 s each), so that every
    code path (HTTP/1.1, pipelining, static files, connection setup, HTTP/2) is compiled and tiered."""
    each = max(1, round(seconds / len(scenarios)))
    done = []
    for scenario in scenarios:
        w = run_load(scenario, server, each, client_cpus, args.tmp)
        done.append(dict(scenario=scenario, seconds=each, rps=w.get("rps"), error=w.get("error")))
        if not w.get("ok"):
            log(f"   warm-up {server.label:8s} {scenario}: FAILED: {w.get('error')}")
    rates = ", ".join(f"{d['scenario']} {d['rps']:,.0f}" for d in done if d["rps"])
    log(f"   warm-up {server.label:8s} {each * len(scenarios)} s (discarded): {rates} req/s")
    info.setdefault("warmups", []).append(done)


def _restart_dead(live, entry, infos, mode, scenario, args):
    """A server that died in an earlier scenario is restarted (and warmed up on this one)."""
    for s in [x for x in live if not x.alive()]:
        log(f"   {s.label} is not running; restarting it")
        infos[s.key]["restarts"] = infos[s.key].get("restarts", 0) + 1
        live.remove(s)
        again = start_servers([s], mode["server_cpus"], f"{mode['key']}-{scenario}", 1024, [scenario], infos,
                              args.content_root)
        if again:
            live.append(again[0])
            if args.warmup:
                warm_up(s, [scenario], args.warmup, mode["client_cpus"], args, infos[s.key])
        else:
            entry["servers"][s.key]["error"] = infos[s.key].get("error")


def _measure_rounds(scenario, servers, live, entry, client_cpus, args):
    order = [s for s in servers if s in live]
    for rnd in range(1, args.rounds + 1):
        for s in order:      # A B C, A B C, ...: drift hits every server alike
            if not s.alive():
                continue
            rec = run_load(scenario, s, args.duration, client_cpus, args.tmp)
            rec["round"] = rnd
            entry["runs"].append(rec)
            if rec.get("ok"):
                errs = f", {rec['errors_total']} errors" if rec["errors_total"] else ""
                log(f"   round {rnd} {s.label:8s} {rec['rps']:>11,.0f} req/s  p99 {rec['p99_ms']:8.2f} ms  "
                    f"CPU {rec['cpu_per_100k_s']:.2f} s/100k  other CPU {rec['other_cpu_s']:.1f} s{errs}")
            else:
                log(f"   round {rnd} {s.label:8s} FAILED: {rec.get('error')}")
                entry["servers"][s.key]["error"] = rec.get("error")


def run_mode(mode, servers, args, results):
    server_cpus, client_cpus = mode["server_cpus"], mode["client_cpus"]
    scenarios = mode["scenarios"]
    infos = mode.setdefault("servers", {})
    live = start_servers(servers, server_cpus, mode["key"], 1024, scenarios, infos, args.content_root)
    try:
        for s in live:
            if args.warmup:
                warm_up(s, scenarios, args.warmup, client_cpus, args, infos[s.key])
        for scenario in scenarios:
            log(f"== {mode['key']}: {scenario} ({SCENARIOS[scenario]['desc']})")
            entry = dict(mode=mode["key"], scenario=scenario, servers={}, runs=[])
            results["scenarios"].append(entry)
            for s in servers:
                entry["servers"][s.key] = dict(error=infos.get(s.key, {}).get("error") if s not in live else None)
            _restart_dead(live, entry, infos, mode, scenario, args)
            _measure_rounds(scenario, servers, live, entry, client_cpus, args)
        for s in live:
            info = infos[s.key]
            info["vmhwm_kb"] = hwm_kb(s.pids())
            info["vmrss_end_kb"] = rss_kb(s.pids())
            info["processes"] = len(s.pids())
    finally:
        for s in servers:
            s.stop()
    time.sleep(1.0)
