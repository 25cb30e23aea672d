"""The load generators (wrk for HTTP/1.1, h2load for HTTP/2, both also over TLS; tlschurn for a full TLS
handshake per request): their command lines, and one measured run with the server's CPU, RSS and the
rest of the machine's CPU around it."""

import os
import subprocess

from .common import REPO, TLSCHURN, WRK_SCRIPT, cmdline, parse_cpus
from .parsers import parse_h2load, parse_wrk
from .processes import child_setup
from .procfs import CpuWindow, RssSampler
from .scenarios import SCENARIOS
from .tls import base_url

WRK_TIMEOUT_S = 5


def load_command(scenario, server, duration, client_cpus, tmp):
    """The command line and, for h2load, its per-request log file (on tmpfs when there is one)."""
    sc = SCENARIOS[scenario]
    threads = str(len(parse_cpus(client_cpus)))
    url = base_url(server, sc) + sc["path"]
    if sc["tool"] == "tlschurn":
        cmd = ["taskset", "-c", client_cpus, os.path.relpath(TLSCHURN, REPO), "-t", threads, "-c", str(sc["conns"]),
               "-d", str(duration), "-T", str(WRK_TIMEOUT_S), "-p", str(server.tls_port), "-u", sc["path"]]
        return cmd, None
    if sc["tool"] == "wrk":
        cmd = ["taskset", "-c", client_cpus, "wrk", "-t", threads, "-c", str(sc["conns"]),
               "-d", f"{duration}s", "--timeout", f"{sc.get('timeout', WRK_TIMEOUT_S)}s", "--latency"]
        for h in sc.get("headers", []):
            cmd += ["-H", h]
        cmd += ["-s", os.path.relpath(WRK_SCRIPT, REPO), url]
        if sc.get("pipeline", 1) > 1 or "paths" in sc:
            cmd += ["--", str(sc.get("pipeline", 1))] + sc.get("paths", [])
        return cmd, None
    logdir = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tmp
    log_file = os.path.join(logdir, f"bench-h2load-{os.getpid()}.log")
    cmd = ["taskset", "-c", client_cpus, "h2load", "-t", threads, "-c", str(sc["conns"]),
           "-m", str(sc["streams"]), "-D", str(duration), "--log-file", log_file, url]
    return cmd, log_file


def background_command(scenario, server, duration, client_cpus):
    """The scenario's background load, if it has one: wrk on another path (e.g. handlers that block),
    running as long as the measured run; its own numbers are recorded beside the run's."""
    sc = SCENARIOS[scenario]
    bg = sc.get("background")
    if not bg:
        return None
    return ["taskset", "-c", client_cpus, "wrk", "-t", "1", "-c", str(bg["conns"]),
            "-d", f"{duration}s", "--timeout", f"{sc.get('timeout', WRK_TIMEOUT_S)}s", "--latency",
            "-s", os.path.relpath(WRK_SCRIPT, REPO), base_url(server, {"tls": sc.get("tls")}) + bg["path"]]


def _background_result(bg_proc, duration):
    """The background wrk's numbers (it ends with the measured run), or why there are none."""
    try:
        stdout, _ = bg_proc.communicate(timeout=duration + 60)
    except subprocess.TimeoutExpired:
        bg_proc.kill()
        bg_proc.communicate()
        return dict(error="background wrk did not finish")
    try:
        parsed = parse_wrk(stdout)
    except ValueError as e:
        return dict(error=str(e))
    keys = ("requests", "rps", "p50_ms", "p75_ms", "p90_ms", "p99_ms", "max_ms", "socket_errors", "non2xx")
    return {k: parsed[k] for k in keys}


def _parse(stdout, log_file):
    if log_file is None:
        return parse_wrk(stdout)   # tlschurn prints the same BENCHJSON line
    with open(log_file) as f:
        return parse_h2load(stdout, f)


def run_load(scenario, server, duration, client_cpus, tmp):
    """Runs the load generator once. Returns the run record (numbers, command, CPU, RSS, errors)."""
    cmd, log_file = load_command(scenario, server, duration, client_cpus, tmp)
    rec = dict(server=server.key, scenario=scenario, command=cmdline(cmd))
    if not server.alive():
        rec.update(ok=False, error=f"{server.label} is not running")
        return rec
    background = background_command(scenario, server, duration, client_cpus)
    bg_proc = None
    if background:
        rec["background_command"] = cmdline(background)
        bg_proc = subprocess.Popen(background, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                   preexec_fn=child_setup, cwd=REPO)
    window = CpuWindow(server)
    # The load generator gets SIGKILL should the harness die. It is started before the sampling
    # thread, since preexec_fn is not safe while other threads run.
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=child_setup, cwd=REPO)
        rec = _finish(rec, proc, cmd, server, window, duration, log_file)
        if bg_proc is not None:
            rec["background"] = _background_result(bg_proc, duration)
        return rec
    finally:
        if bg_proc is not None and bg_proc.poll() is None:
            bg_proc.kill()
            bg_proc.wait()


def _finish(rec, proc, cmd, server, window, duration, log_file):
    """Waits for the load generator and fills in the run record."""
    sampler = RssSampler(server)
    sampler.start()
    try:
        stdout, stderr = proc.communicate(timeout=duration + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        sampler.finish()
        rec.update(ok=False, error=f"load generator did not finish within {duration + 60} s")
        return rec
    rss_max = sampler.finish()
    cpu = window.finish()
    rec["raw_output"] = stdout[-3000:]
    if not server.alive():
        rec.update(ok=False, error=f"{server.label} died during the run (exit status {server.proc.returncode}).\n{server.log_tail()}")
        server.failed = rec["error"]
        return rec
    if proc.returncode != 0:
        rec.update(ok=False, error=f"{cmd[3]} exited with status {proc.returncode}: {stderr.strip()[-500:]}")
        return rec
    try:
        parsed = _parse(stdout, log_file)
    except (ValueError, OSError) as e:
        rec.update(ok=False, error=f"{e}\n{stdout[-1000:]}")
        return rec
    finally:
        if log_file and os.path.exists(log_file):
            os.unlink(log_file)
    rec.update(parsed)
    rec.update(cpu)
    rec["rss_max_sampled_kb"] = rss_max
    rec["cpu_per_100k_s"] = (cpu["server_cpu_s"] / parsed["requests"] * 1e5) if parsed["requests"] else None
    rec["server_core_util"] = round(cpu["server_cpu_s"] / cpu["wall_s"] / server.ncpus, 3) if cpu["wall_s"] else None
    rec["errors_total"] = sum(parsed["socket_errors"].values()) + parsed["non2xx"]
    rec["ok"] = parsed["requests"] > 0
    if not rec["ok"]:
        rec["error"] = "no request completed"
    return rec
