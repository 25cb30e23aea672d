"""The idle-connection test: all servers at once (they are idle, so they do not disturb each other),
N keep-alive connections each (bench/idle/idleconn.c), every one served a request, then held; RSS
per connection, CPU while idle, and whether the server closed any of them. Over plain HTTP, or over
TLS on the servers' HTTPS ports (a full handshake each, then the request, then held)."""

import os
import re
import resource
import subprocess
import time

from .common import IDLECONN, REPO, TLSCHURN, BenchError, cmdline, log
from .measure import start_servers
from .processes import child_setup
from .procfs import CLK_TCK, hwm_kb, proc_ticks, rss_kb, sum_over


def established_count(port):
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, timeout=30).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def _connection_plan(n_req):
    """(connections, note, per-client chunks). Each client process stays within the open-file limit
    and within one source address's ephemeral port range (process i binds to 127.0.0.(1+i))."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    n, note = n_req, None
    if n + 512 > hard:
        n = hard - 512
        note = (f"{n_req} idle connections requested, but the open-file limit is {hard} and cannot be raised "
                f"here (no CAP_SYS_RESOURCE), so {n} were used")
        log("   NOTE: " + note)
    per_client = max(1, min(n, hard - 256, 16000))
    return n, note, [min(per_client, n - i) for i in range(0, n, per_client)]


def _connect(s, chunks, ccpus, r, clients, children, tls):
    for i, count in enumerate(chunks):
        cmd = ["taskset", "-c", ccpus, os.path.relpath(IDLECONN, REPO), "-p", str(s.tls_port if tls else s.h1_port),
               "-n", str(count), "-f", str(1 + i), "-s", "1", "-u", "/plaintext"] + (["-t"] if tls else [])
        if i == 0:
            r["client_command"] = cmdline(cmd) + (f"  (x{len(chunks)}, source 127.0.0.1..{len(chunks)})" if len(chunks) > 1 else "")
        p = children.spawn(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        clients.append(p)
        line = p.stdout.readline()   # "READY n seconds" once all its connections are served
        if not line.startswith("READY"):
            err = p.stderr.read() if p.poll() is not None else ""
            raise BenchError(f"idle client failed: {line.strip()} {err.strip()}")


def _close_clients(s, clients, r, idle_seconds):
    closed = 0
    for p in clients:
        p.stdin.close()           # the client's signal to close its connections and report
        out = p.stdout.read()
        p.wait(timeout=30)
        m = re.search(r"CLOSED (\d+)", out)
        closed += int(m.group(1)) if m else 0
    r["closed_by_server"] = closed
    r["ok"] = s.alive() and closed == 0
    if not s.alive():
        r["error"] = f"{s.label} died.\n{s.log_tail()}"
    elif closed:
        r["error"] = f"the server closed {closed} of the idle connections"
    log(f"   {s.label:8s} RSS {r['rss_baseline_kb']/1024:.1f} -> {r['rss_with_idle_kb']/1024:.1f} MiB "
        f"= {r['rss_per_conn_bytes']/1024:.2f} KiB/conn; idle CPU {r['idle_cpu_s']:.2f} s in {idle_seconds} s; "
        f"{r['established_server_side']} established, {closed} closed by server")


def run_idle(servers, args, results, children, requested, tls):
    """Fills in results["idle"], or results["idle_tls"] when tls."""
    n, note, chunks = _connection_plan(requested)
    mode = results["modes"][0]
    cpus, ccpus = mode["server_cpus"], mode["client_cpus"]
    info = dict(requested=requested, connections=n, note=note, settle_s=1.0 if args.quick else 3.0,
                idle_s=args.idle_seconds, server_cpus=cpus, client_cpus=ccpus, tls=tls,
                client_processes_per_server=len(chunks), servers={})
    results["idle_tls" if tls else "idle"] = info
    kind = "idle TLS connections" if tls else "idle connections"
    log(f"== {kind}: {n} per server ({len(chunks)} client process(es) each), {args.idle_seconds} s idle")
    infos = {}
    live = start_servers(servers, cpus, "idle-tls" if tls else "idle", n, ["tls-plaintext" if tls else "plaintext"],
                         infos, args.content_root)
    for s in servers:
        info["servers"][s.key] = dict(infos.get(s.key, {}), ok=False)
        info["servers"][s.key].pop("config", None)
    clients = {s.key: [] for s in live}
    try:
        # A short load so that the request path is compiled before the baseline is taken. Over TLS the
        # measured connections each begin with a full handshake, so the warm-up also opens new ones (a
        # few thousand handshakes): otherwise the JIT's tier-up of the accept and handshake path (code,
        # its native memory) lands inside the measurement and is charged to the connections.
        for s in live:
            url = f"https://127.0.0.1:{s.tls_port}/plaintext" if tls else f"http://127.0.0.1:{s.h1_port}/plaintext"
            warm = ["taskset", "-c", ccpus, "wrk", "-t", "1", "-c", "16", "-d", "1s", url]
            subprocess.run(warm, capture_output=True, timeout=30, preexec_fn=child_setup)
            if tls:
                churn = ["taskset", "-c", ccpus, os.path.relpath(TLSCHURN, REPO), "-t", "1", "-c", "16", "-d", "3",
                         "-p", str(s.tls_port), "-u", "/plaintext"]
                subprocess.run(churn, capture_output=True, timeout=60, preexec_fn=child_setup, cwd=REPO)
        time.sleep(2.0)
        for s in live:
            info["servers"][s.key]["rss_baseline_kb"] = rss_kb(s.pids())
        for s in list(live):
            r = info["servers"][s.key]
            t0 = time.monotonic()
            try:
                _connect(s, chunks, ccpus, r, clients[s.key], children, tls)
                r["connect_s"] = round(time.monotonic() - t0, 3)
            except (BenchError, OSError) as e:
                r["error"] = str(e)
                log(f"   {s.label}: idle test FAILED: {e}")
                live.remove(s)
        time.sleep(info["settle_s"])
        ticks0 = {}
        for s in live:
            info["servers"][s.key]["rss_with_idle_kb"] = rss_kb(s.pids())
            ticks0[s.key] = sum_over(s.pids(), proc_ticks)
        time.sleep(args.idle_seconds)
        for s in live:
            r = info["servers"][s.key]
            ticks1 = sum_over(s.pids(), proc_ticks)
            r["rss_end_kb"] = rss_kb(s.pids())
            r["vmhwm_kb"] = hwm_kb(s.pids())
            r["established_server_side"] = established_count(s.tls_port if tls else s.h1_port)
            r["idle_cpu_s"] = round((ticks1 - ticks0[s.key]) / CLK_TCK, 3)
            r["idle_cpu_pct"] = round(100.0 * r["idle_cpu_s"] / args.idle_seconds, 2)
            r["rss_per_conn_bytes"] = round((r["rss_with_idle_kb"] - r["rss_baseline_kb"]) * 1024 / n, 1)
            r["rss_per_conn_end_bytes"] = round((r["rss_end_kb"] - r["rss_baseline_kb"]) * 1024 / n, 1)
        for s in live:
            _close_clients(s, clients[s.key], info["servers"][s.key], args.idle_seconds)
    finally:
        for ps in clients.values():
            for p in ps:
                children.stop(p, grace=2.0)
        for s in servers:
            s.stop()
