#!/usr/bin/env python3
"""Benchmark harness: the web host on the Epoll and Sockets transports, and nginx as a native reference.

Started by bench/run.sh, which installs the tools, builds the web host and the idle-connection client,
raises the open-file limit and then runs this script. Python 3 standard library only.

What it does (see docs/BENCHMARKS.md for the method):
  * generates one content root (the repository's wwwroot plus bench/1k.txt and bench/1m.bin) that all
    servers serve;
  * per CPU mode and scenario: starts every server fresh, pinned with taskset; checks each answers
    every URL of the scenario correctly; warms each up (load discarded); then measures in rounds,
    alternating the servers run by run (A B C A B C ...);
  * records requests/s, latency percentiles, wrk/h2load errors and non-2xx responses, server CPU
    (/proc/PID/stat utime+stime, nginx master+workers) per 100k requests, peak RSS (VmHWM) and a
    sampled VmRSS maximum, and how much CPU the rest of the machine used meanwhile (noise);
  * an idle-connection test per server: RSS per idle keep-alive connection and CPU while idle;
  * writes the raw JSON, a markdown report and an SVG chart (bench/report.py).
Every server it starts is killed on exit.
"""

import argparse
import atexit
import ctypes
import datetime
import json
import math
import os
import platform
import random
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import http.client

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)
import report  # noqa: E402  (bench/report.py)

WEBHOST_DLL = os.path.join(REPO, "src", "WebHost", "bin", "Release", "net10.0", "EpollTransport.WebHost.dll")
IDLECONN = os.path.join(BENCH_DIR, ".build", "idleconn")
WRK_SCRIPT = os.path.join(BENCH_DIR, "wrk", "bench.lua")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

PLAINTEXT = b"Hello, World!"
JSON_BODY = b'{"message":"Hello, World!"}'

# name -> definition. "tool": wrk or h2load; "conns": connections; "pipeline": requests per write;
# "headers": extra request headers; "h2": uses the server's h2c (prior knowledge) endpoint.
SCENARIOS = {
    "plaintext": dict(tool="wrk", path="/plaintext", conns=256,
                      title="Plaintext", desc="GET /plaintext (13 bytes), 256 keep-alive connections"),
    "pipelined": dict(tool="wrk", path="/plaintext", conns=256, pipeline=16,
                      title="Plaintext, pipelined x16", desc="GET /plaintext, 256 connections, 16 requests per write"),
    "json": dict(tool="wrk", path="/json", conns=256,
                 title="JSON", desc="GET /json (27 bytes, serialized per request), 256 connections"),
    "static-1k": dict(tool="wrk", path="/bench/1k.txt", conns=256,
                      title="Static 1 KiB", desc="GET /bench/1k.txt (1,024-byte file), 256 connections"),
    "static-1m": dict(tool="wrk", path="/bench/1m.bin", conns=256,
                      title="Static 1 MiB", desc="GET /bench/1m.bin (1,048,576-byte file), 256 connections"),
    "churn": dict(tool="wrk", path="/plaintext", conns=256, headers=["Connection: close"],
                  title="Connection churn", desc="GET /plaintext with Connection: close (a new TCP connection per request), 256 concurrent"),
    "h2": dict(tool="h2load", path="/plaintext", conns=64, streams=16, h2=True,
               title="HTTP/2 plaintext", desc="h2c (prior knowledge) GET /plaintext, 64 connections x 16 concurrent streams"),
}

SERVERS = {
    "epoll": dict(label="Epoll", kind="dotnet", transport="Epoll"),
    "sockets": dict(label="Sockets", kind="dotnet", transport="Sockets"),
    "nginx": dict(label="nginx", kind="nginx"),
}


class BenchError(Exception):
    """A failure the harness reports with a clear message and exit status 1."""


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def cmdline(cmd):
    return " ".join(shlex.quote(c) for c in cmd)


# --------------------------------------------------------------------------------------------------
# Process bookkeeping: every child runs in its own process group, gets SIGKILL if the harness dies
# (PR_SET_PDEATHSIG), and is listed in $BENCH_PGID_FILE so that run.sh's trap can kill what is left.
# --------------------------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_children = []          # Popen objects still to be stopped
_pgid_file = os.environ.get("BENCH_PGID_FILE")


def _child_setup():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


_autogroup_nice = None   # set by set_priority()


def set_priority(nice):
    """Niceness for the harness and everything it starts. With CONFIG_SCHED_AUTOGROUP (sessions are
    scheduled as groups), a task's niceness only counts inside its session's group, so the harness
    moves into a session of its own and sets that group's niceness too; every server, which runs in
    its own session, gets the same in spawn(). Autogroups end with their sessions: nothing persists."""
    global _autogroup_nice
    restore = None
    try:
        os.setsid()
    except OSError:
        # Already a session leader (started straight from a shell): the group is the shell's, so its
        # niceness is put back at exit.
        try:
            with open("/proc/self/autogroup") as f:
                restore = f.read().split("nice")[1].strip()
        except (OSError, IndexError):
            restore = None
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)   # inherited by every child
    except OSError as e:
        log(f"WARNING: could not set niceness {nice}: {e}")
    if os.path.exists("/proc/self/autogroup"):
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(nice))
            _autogroup_nice = nice
            if restore is not None:
                atexit.register(lambda: open("/proc/self/autogroup", "w").write(restore))
        except OSError as e:
            log(f"WARNING: could not set the autogroup niceness {nice}: {e}")


def spawn(cmd, **kw):
    proc = subprocess.Popen(cmd, start_new_session=True, preexec_fn=_child_setup, **kw)
    if _autogroup_nice is not None:
        try:
            with open(f"/proc/{proc.pid}/autogroup", "w") as f:
                f.write(str(_autogroup_nice))
        except OSError:
            pass
    _children.append(proc)
    _write_pgids()
    return proc


def _write_pgids():
    if _pgid_file:
        with open(_pgid_file, "w") as f:
            f.writelines(f"{p.pid}\n" for p in _children)


def stop(proc, grace=5.0):
    """Stops a child and its whole process group (nginx workers included): TERM, then KILL."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the rest of the group (or a hung leader)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    if proc in _children:
        _children.remove(proc)
        _write_pgids()


def stop_all():
    for proc in list(_children):
        stop(proc, grace=2.0)


def _on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# --------------------------------------------------------------------------------------------------
# /proc readings
# --------------------------------------------------------------------------------------------------

def proc_ticks(pid):
    """utime + stime (all threads, including exited ones) in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def proc_status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def sum_over(pids, fn):
    total = 0
    for pid in pids:
        try:
            total += fn(pid)
        except (OSError, ValueError):
            pass
    return total


def system_cpu():
    """(user+nice+system, steal) of the whole machine in ticks, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = f.readline().split()
    v = [int(x) for x in parts[1:]]
    return v[0] + v[1] + v[2], (v[7] if len(v) > 7 else 0)


def self_and_children_cpu():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime


class CpuWindow:
    """CPU used by the server, the load generator (reaped children), the harness and everything else."""

    def __init__(self, server):
        self.server = server
        self.server_ticks = sum_over(server.pids(), proc_ticks)
        self.sys_busy, self.steal = system_cpu()
        self.self_cpu, self.child_cpu = self_and_children_cpu()
        self.t = time.monotonic()

    def finish(self):
        server_ticks = sum_over(self.server.pids(), proc_ticks)
        sys_busy, steal = system_cpu()
        self_cpu, child_cpu = self_and_children_cpu()
        server_s = (server_ticks - self.server_ticks) / CLK_TCK
        client_s = child_cpu - self.child_cpu
        harness_s = self_cpu - self.self_cpu
        busy_s = (sys_busy - self.sys_busy) / CLK_TCK
        return dict(
            wall_s=round(time.monotonic() - self.t, 3),
            server_cpu_s=round(server_s, 3),
            client_cpu_s=round(client_s, 3),
            harness_cpu_s=round(harness_s, 3),
            # Approximate (tick-based): user+nice+system of the machine minus ours. Other engineers'
            # builds on a shared VM show up here.
            other_cpu_s=round(max(0.0, busy_s - server_s - client_s - harness_s), 3),
            steal_s=round((steal - self.steal) / CLK_TCK, 3),
        )


class RssSampler(threading.Thread):
    """Samples the summed VmRSS of the server's processes every 200 ms; keeps the maximum."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.max_kb = 0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.max_kb = max(self.max_kb, sum_over(self.server.pids(), lambda p: proc_status_kb(p, "VmRSS")))
            self._halt.wait(0.2)

    def finish(self):
        self._halt.set()
        self.join()
        return self.max_kb


# --------------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------------

def port_is_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are fine
        s.bind(("127.0.0.1", port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def port_owner(port):
    try:
        out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5).stdout
        return out.strip() or "unknown process"
    except (OSError, subprocess.SubprocessError):
        return "unknown process"


def check_ports(ports):
    busy = [p for p in ports if not port_is_free(p)]
    if busy:
        lines = [f"port {p} on 127.0.0.1 is busy: {port_owner(p)}" for p in busy]
        raise BenchError("\n".join(lines) + "\nFree the port(s) or choose other ones with --base-port.")


class Server:
    def __init__(self, key, h1_port, h2_port, args, tmp):
        self.key = key
        self.label = SERVERS[key]["label"]
        self.kind = SERVERS[key]["kind"]
        self.h1_port = h1_port
        self.h2_port = h2_port
        self.args = args
        self.tmp = tmp
        self.proc = None
        self.log_path = None
        self.command = None
        self.failed = None   # why the server is unusable, if it is

    def start(self, cpus, tag, max_conns):
        self.launch(cpus, tag, max_conns)
        self.ready()

    def ready(self):
        """Waits until the launched server answers; stops it and raises BenchError if it does not."""
        try:
            self.wait_ready()
        except BenchError as e:
            self.failed = str(e)
            self.stop()
            raise

    def launch(self, cpus, tag, max_conns):
        self.failed = None
        self.log_path = os.path.join(self.tmp, "logs", f"{self.key}-{tag}.log")
        check_ports([self.h1_port, self.h2_port])
        if self.kind == "dotnet":
            cmd = ["taskset", "-c", cpus, "dotnet", os.path.relpath(WEBHOST_DLL, REPO),
                   "--contentRoot", self.args.content_root,
                   "--Transport", SERVERS[self.key]["transport"],
                   "--Kestrel:Endpoints:h1:Url", f"http://127.0.0.1:{self.h1_port}",
                   "--Kestrel:Endpoints:h1:Protocols", "Http1",
                   "--Kestrel:Endpoints:h2:Url", f"http://127.0.0.1:{self.h2_port}",
                   "--Kestrel:Endpoints:h2:Protocols", "Http2",
                   "--Logging:LogLevel:Default=Warning",
                   "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning",
                   "--Logging:LogLevel:EpollTransport=Warning"]
            cmd += shlex.split(self.args.epoll_args if self.key == "epoll" else self.args.sockets_args)
        else:
            prefix = os.path.join(self.tmp, f"nginx-{tag}")
            os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
            os.chmod(prefix, 0o755)
            conf = os.path.join(prefix, "nginx.conf")
            self.config = nginx_config(self, prefix, len(parse_cpus(cpus)), max_conns)
            with open(conf, "w") as f:
                f.write(self.config)
            cmd = ["taskset", "-c", cpus, "nginx", "-p", prefix + "/", "-c", conf,
                   "-e", os.path.join(prefix, "logs", "error.log"), "-g", "daemon off;"]
        self.command = cmdline(cmd)
        self.logf = open(self.log_path, "w")
        self.proc = spawn(cmd, stdout=self.logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO)

    def wait_ready(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.label} exited with status {self.proc.returncode} during startup.\n{self.log_tail()}")
            try:
                status, body, _ = http_get(self.h1_port, "/plaintext", timeout=2)
                if status == 200 and body == PLAINTEXT:
                    if self.kind == "nginx" and len(self.pids()) < 2:
                        time.sleep(0.1)
                        continue
                    return
                last = f"HTTP {status}"
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        raise BenchError(f"{self.label} did not answer GET /plaintext on port {self.h1_port} within {timeout:.0f} s ({last}).\n{self.log_tail()}")

    def pids(self):
        if self.proc is None or self.proc.poll() is not None:
            return []
        if self.kind == "nginx":
            return [self.proc.pid] + children_of(self.proc.pid)
        return [self.proc.pid]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        stop(self.proc)
        self.proc = None
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None

    def log_tail(self, head=6, tail=10):
        """The start of the server's log (where an exception's message is) and its end."""
        try:
            with open(self.log_path, errors="replace") as f:
                lines = f.readlines()
            if len(lines) > head + tail:
                lines = lines[:head] + ["...\n"] + lines[-tail:]
            return "--- " + self.log_path + " ---\n" + "".join(lines)
        except OSError:
            return ""


def nginx_config(server, prefix, workers, max_conns):
    root = os.path.join(server.args.content_root, "wwwroot")
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    # nginx starts closing idle keep-alive connections when fewer than 1/16 of worker_connections are
    # free, so leave that much headroom. It may exceed the open-file limit (nginx only warns): the
    # limit is the real bound, and the idle test keeps below it.
    conns = max(4096, (max_conns + 16) * 17 // 15 + 64)
    return f"""# Generated by bench/bench.py: a private nginx instance, not the system service.
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
worker_rlimit_nofile {nofile};
events {{
    worker_connections {conns};
}}
http {{
    types {{
        text/html html;
        text/css css;
        image/svg+xml svg;
        text/plain txt;
        application/javascript js;
        application/json json;
        application/octet-stream bin;
    }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 130s;          # Kestrel's default
    keepalive_requests 1000000000;   # nginx closes keep-alive connections after 1000 requests by default; Kestrel never
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{server.h1_port} backlog=512;
        listen 127.0.0.1:{server.h2_port} http2 backlog=512;   # h2c, prior knowledge
        root {root};
        index index.html;
        error_page 404 /404.html;
        location = /plaintext {{ default_type text/plain; return 200 "Hello, World!"; }}
        location = /json {{ default_type application/json; return 200 '{{"message":"Hello, World!"}}'; }}
    }}
}}
"""


def http_get(port, path, timeout=5.0, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, body, dict(resp.getheaders())
    finally:
        conn.close()


def parse_cpus(spec):
    cpus = set()
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            cpus.update(range(int(a), int(b) + 1))
        elif part:
            cpus.add(int(part))
    return sorted(cpus)


# --------------------------------------------------------------------------------------------------
# Content root
# --------------------------------------------------------------------------------------------------

def make_content_root(tmp):
    root = os.path.join(tmp, "content")
    shutil.copytree(os.path.join(REPO, "wwwroot"), os.path.join(root, "wwwroot"))
    shutil.copy(os.path.join(REPO, "appsettings.json"), os.path.join(root, "appsettings.json"))
    bench = os.path.join(root, "wwwroot", "bench")
    os.makedirs(bench)
    line = b"The quick brown fox jumps over the lazy dog. 0123456789\n"  # 56 bytes
    text = (line * 19)[:1023] + b"\n"
    assert len(text) == 1024
    with open(os.path.join(bench, "1k.txt"), "wb") as f:
        f.write(text)
    with open(os.path.join(bench, "1m.bin"), "wb") as f:
        f.write(random.Random(20240601).randbytes(1 << 20))
    # nginx workers run as an unprivileged user: everything must be world-readable.
    for d, dirs, files in os.walk(tmp):
        os.chmod(d, 0o755)
        for name in files:
            os.chmod(os.path.join(d, name), 0o644)
    return root


def expected_body(args, path):
    if path == "/plaintext":
        return PLAINTEXT
    if path == "/json":
        return JSON_BODY
    with open(os.path.join(args.content_root, "wwwroot", path.lstrip("/")), "rb") as f:
        return f.read()


def preflight(server, scenario, args):
    """Checks that the server answers the scenario's URL correctly before anything is measured."""
    sc = SCENARIOS[scenario]
    want = expected_body(args, sc["path"])
    if sc.get("h2"):
        out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--max-time", "10",
                              "-o", "-", "-w", "\n%{http_version} %{http_code}",
                              f"http://127.0.0.1:{server.h2_port}{sc['path']}"],
                             capture_output=True, timeout=20)
        body, _, tail = out.stdout.rpartition(b"\n")
        if out.returncode != 0 or tail.decode() != "2 200" or body != want:
            raise BenchError(f"{server.label}: h2c GET {sc['path']} on port {server.h2_port} failed: "
                             f"curl status {out.returncode}, '{tail.decode()}' {out.stderr.decode().strip()}")
        return
    headers = {h.split(":")[0]: h.split(":", 1)[1].strip() for h in sc.get("headers", [])}
    status, body, _ = http_get(server.h1_port, sc["path"], timeout=10, headers=headers)
    if status != 200 or body != want:
        raise BenchError(f"{server.label}: GET {sc['path']} answered {status} with {len(body)} bytes; "
                         f"expected 200 with {len(want)} bytes")


# --------------------------------------------------------------------------------------------------
# Load generators
# --------------------------------------------------------------------------------------------------

def load_command(scenario, server, duration, client_cpus, tmp):
    sc = SCENARIOS[scenario]
    threads = str(len(parse_cpus(client_cpus)))
    if sc["tool"] == "wrk":
        cmd = ["taskset", "-c", client_cpus, "wrk", "-t", threads, "-c", str(sc["conns"]),
               "-d", f"{duration}s", "--timeout", "5s", "--latency"]
        for h in sc.get("headers", []):
            cmd += ["-H", h]
        cmd += ["-s", os.path.relpath(WRK_SCRIPT, REPO), f"http://127.0.0.1:{server.h1_port}{sc['path']}"]
        if sc.get("pipeline", 1) > 1:
            cmd += ["--", str(sc["pipeline"])]
        return cmd, None
    logdir = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tmp
    log_file = os.path.join(logdir, f"bench-h2load-{os.getpid()}.log")
    cmd = ["taskset", "-c", client_cpus, "h2load", "-t", threads, "-c", str(sc["conns"]),
           "-m", str(sc["streams"]), "-D", str(duration), "--log-file", log_file,
           f"http://127.0.0.1:{server.h2_port}{sc['path']}"]
    return cmd, log_file


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = max(0, math.ceil(p / 100.0 * len(sorted_values)) - 1)
    return sorted_values[k]


def parse_wrk(stdout):
    m = re.search(r"^BENCHJSON (.*)$", stdout, re.M)
    if not m:
        raise BenchError("wrk printed no BENCHJSON line")
    d = json.loads(m.group(1))
    lat = d["latency_us"]
    errors = d["errors"]
    non2xx = errors.pop("status")
    text = {}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", stdout)
    if m:
        text["socket_errors_line"] = m.group(0)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", stdout)
    if m:
        text["non2xx_line"] = m.group(0)
    return dict(
        requests=d["requests"],
        duration_s=d["duration_us"] / 1e6,
        bytes=d["bytes"],
        rps=d["requests"] / (d["duration_us"] / 1e6),
        p50_ms=lat["p50"] / 1000.0, p75_ms=lat["p75"] / 1000.0, p90_ms=lat["p90"] / 1000.0,
        p99_ms=lat["p99"] / 1000.0, p99_9_ms=lat["p99_9"] / 1000.0,
        mean_ms=lat["mean"] / 1000.0, max_ms=lat["max"] / 1000.0,
        socket_errors=errors, non2xx=non2xx, wrk_latency_us=lat, **text)


def parse_h2load(stdout, log_file):
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", stdout)
    r = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", stdout)
    s = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", stdout)
    if not (m and r and s):
        raise BenchError("could not parse h2load's output")
    secs = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
    done = int(r.group(3))
    durations = []
    with open(log_file) as f:
        for line in f:
            parts = line.split("\t")
            if len(parts) >= 3:
                durations.append(int(parts[2]))
    durations.sort()

    def pct(p):
        v = percentile(durations, p)
        return None if v is None else v / 1000.0

    return dict(
        requests=done, duration_s=secs, rps=done / secs if secs else 0.0,
        p50_ms=pct(50), p75_ms=pct(75), p90_ms=pct(90), p99_ms=pct(99), p99_9_ms=pct(99.9),
        mean_ms=(sum(durations) / len(durations) / 1000.0) if durations else None,
        max_ms=(durations[-1] / 1000.0) if durations else None,
        socket_errors=dict(failed=int(r.group(5)), errored=int(r.group(6)), timeout=int(r.group(7))),
        non2xx=int(s.group(2)) + int(s.group(3)) + int(s.group(4)),
        latency_samples=len(durations))


def run_load(scenario, server, duration, client_cpus, tmp):
    """Runs the load generator once. Returns the run record (numbers, command, CPU, RSS, errors)."""
    cmd, log_file = load_command(scenario, server, duration, client_cpus, tmp)
    rec = dict(server=server.key, scenario=scenario, command=cmdline(cmd))
    if not server.alive():
        rec.update(ok=False, error=f"{server.label} is not running")
        return rec
    window = CpuWindow(server)
    # The load generator gets SIGKILL should the harness die. It is started before the sampling
    # thread, since preexec_fn is not safe while other threads run.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_child_setup, cwd=REPO)
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
    out = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    rec["raw_output"] = out.stdout[-3000:]
    if not server.alive():
        rec.update(ok=False, error=f"{server.label} died during the run (exit status {server.proc.returncode}).\n{server.log_tail()}")
        server.failed = rec["error"]
        return rec
    if out.returncode != 0:
        rec.update(ok=False, error=f"{cmd[3]} exited with status {out.returncode}: {out.stderr.strip()[-500:]}")
        return rec
    try:
        parsed = parse_wrk(out.stdout) if log_file is None else parse_h2load(out.stdout, log_file)
    except (BenchError, ValueError, OSError) as e:
        rec.update(ok=False, error=f"{e}\n{out.stdout[-1000:]}")
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


# --------------------------------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------------------------------

def start_servers(servers, cpus, tag, max_conns, paths, infos):
    """Starts every server at once, then waits for each and checks it answers `paths` (scenario
    names) correctly. Returns the servers that are up; failures are logged and put in infos[key]."""
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
            for scenario in paths:
                preflight(s, scenario, s.args)
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


def run_mode(mode, servers, args, results):
    """One CPU mode: the servers start once, get a warm-up over all the mode's scenarios, then each
    scenario is measured in rounds that alternate the servers (A B C A B C ...)."""
    server_cpus, client_cpus = mode["server_cpus"], mode["client_cpus"]
    scenarios = mode["scenarios"]
    infos = mode.setdefault("servers", {})
    live = start_servers(servers, server_cpus, mode["key"], 1024, scenarios, infos)
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
            # A server that died in an earlier scenario is restarted (and warmed up on this one).
            for s in [x for x in live if not x.alive()]:
                log(f"   {s.label} is not running; restarting it")
                infos[s.key]["restarts"] = infos[s.key].get("restarts", 0) + 1
                live.remove(s)
                again = start_servers([s], server_cpus, f"{mode['key']}-{scenario}", 1024, [scenario], infos)
                if again:
                    live.append(again[0])
                    if args.warmup:
                        warm_up(s, [scenario], args.warmup, client_cpus, args, infos[s.key])
                else:
                    entry["servers"][s.key]["error"] = infos[s.key].get("error")
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
        for s in live:
            info = infos[s.key]
            info["vmhwm_kb"] = sum_over(s.pids(), lambda p: proc_status_kb(p, "VmHWM"))
            info["vmrss_end_kb"] = sum_over(s.pids(), lambda p: proc_status_kb(p, "VmRSS"))
            info["processes"] = len(s.pids())
    finally:
        for s in servers:
            s.stop()
    time.sleep(1.0)


def established_count(port):
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, timeout=30).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def run_idle(servers, args, results):
    """All servers at once (they are idle, so they do not disturb each other): N keep-alive
    connections each, every one served a request, then held; RSS per connection and idle CPU."""
    n_req = args.idle_connections
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    n = n_req
    note = None
    if n + 512 > hard:
        n = hard - 512
        note = (f"{n_req} idle connections requested, but the open-file limit is {hard} and cannot be raised "
                f"here (no CAP_SYS_RESOURCE), so {n} were used")
        log("   NOTE: " + note)
    # Each client process stays within the open-file limit and within one source address's ephemeral
    # port range (process i binds its connections to 127.0.0.(1+i)).
    per_client = max(1, min(n, hard - 256, 16000))
    chunks = [min(per_client, n - i) for i in range(0, n, per_client)]
    mode = results["modes"][0]
    cpus, ccpus = mode["server_cpus"], mode["client_cpus"]
    info = dict(requested=n_req, connections=n, note=note, settle_s=1.0 if args.quick else 3.0,
                idle_s=args.idle_seconds, server_cpus=cpus, client_cpus=ccpus,
                client_processes_per_server=len(chunks), servers={})
    results["idle"] = info
    log(f"== idle connections: {n} per server ({len(chunks)} client process(es) each), {args.idle_seconds} s idle")
    infos = {}
    live = start_servers(servers, cpus, "idle", n, ["plaintext"], infos)
    for s in servers:
        info["servers"][s.key] = dict(infos.get(s.key, {}), ok=False)
        info["servers"][s.key].pop("config", None)
    clients = {s.key: [] for s in live}
    try:
        # A short load so that the request path is compiled before the baseline is taken.
        for s in live:
            warm = ["taskset", "-c", ccpus, "wrk", "-t", "1", "-c", "16", "-d", "1s", f"http://127.0.0.1:{s.h1_port}/plaintext"]
            subprocess.run(warm, capture_output=True, timeout=30, preexec_fn=_child_setup)
        time.sleep(2.0)
        rss = lambda s: sum_over(s.pids(), lambda p: proc_status_kb(p, "VmRSS"))
        for s in live:
            info["servers"][s.key]["rss_baseline_kb"] = rss(s)
        for s in list(live):
            r = info["servers"][s.key]
            t0 = time.monotonic()
            try:
                for i, count in enumerate(chunks):
                    cmd = ["taskset", "-c", ccpus, os.path.relpath(IDLECONN, REPO), "-p", str(s.h1_port), "-n", str(count),
                           "-f", str(1 + i), "-s", "1", "-u", "/plaintext"]
                    if i == 0:
                        r["client_command"] = cmdline(cmd) + (f"  (x{len(chunks)}, source 127.0.0.1..{len(chunks)})" if len(chunks) > 1 else "")
                    p = spawn(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
                    clients[s.key].append(p)
                    line = p.stdout.readline()   # "READY n seconds" once all its connections are served
                    if not line.startswith("READY"):
                        err = p.stderr.read() if p.poll() is not None else ""
                        raise BenchError(f"idle client failed: {line.strip()} {err.strip()}")
                r["connect_s"] = round(time.monotonic() - t0, 3)
            except (BenchError, OSError) as e:
                r["error"] = str(e)
                log(f"   {s.label}: idle test FAILED: {e}")
                live.remove(s)
        time.sleep(info["settle_s"])
        ticks0 = {}
        for s in live:
            info["servers"][s.key]["rss_with_idle_kb"] = rss(s)
            ticks0[s.key] = sum_over(s.pids(), proc_ticks)
        time.sleep(args.idle_seconds)
        for s in live:
            r = info["servers"][s.key]
            ticks1 = sum_over(s.pids(), proc_ticks)
            r["rss_end_kb"] = rss(s)
            r["vmhwm_kb"] = sum_over(s.pids(), lambda p: proc_status_kb(p, "VmHWM"))
            r["established_server_side"] = established_count(s.h1_port)
            r["idle_cpu_s"] = round((ticks1 - ticks0[s.key]) / CLK_TCK, 3)
            r["idle_cpu_pct"] = round(100.0 * r["idle_cpu_s"] / args.idle_seconds, 2)
            r["rss_per_conn_bytes"] = round((r["rss_with_idle_kb"] - r["rss_baseline_kb"]) * 1024 / n, 1)
            r["rss_per_conn_end_bytes"] = round((r["rss_end_kb"] - r["rss_baseline_kb"]) * 1024 / n, 1)
        for s in live:
            r = info["servers"][s.key]
            closed = 0
            for p in clients[s.key]:
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
                f"= {r['rss_per_conn_bytes']/1024:.2f} KiB/conn; idle CPU {r['idle_cpu_s']:.2f} s in {args.idle_seconds} s; "
                f"{r['established_server_side']} established, {closed} closed by server")
    finally:
        for ps in clients.values():
            for p in ps:
                stop(p, grace=2.0)
        for s in servers:
            s.stop()


# --------------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------------

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(results):
    summary = []
    for entry in results["scenarios"]:
        for key, info in entry["servers"].items():
            runs = [r for r in entry["runs"] if r["server"] == key]
            ok = [r for r in runs if r.get("ok")]
            summary.append(dict(
                mode=entry["mode"], scenario=entry["scenario"], server=key,
                rounds=len(ok), failed_runs=len(runs) - len(ok),
                rps=median([r["rps"] for r in ok]),
                rps_min=min([r["rps"] for r in ok], default=None),
                rps_max=max([r["rps"] for r in ok], default=None),
                p50_ms=median([r["p50_ms"] for r in ok]),
                p99_ms=median([r["p99_ms"] for r in ok]),
                cpu_per_100k_s=median([r["cpu_per_100k_s"] for r in ok]),
                server_core_util=median([r["server_core_util"] for r in ok]),
                other_cpu_s=median([r["other_cpu_s"] for r in ok]),
                other_cpu_pct=median([100.0 * r["other_cpu_s"] / r["wall_s"] for r in ok if r["wall_s"]]),
                rss_peak_kb=max([r["rss_max_sampled_kb"] for r in ok], default=None),
                errors_total=sum(r["errors_total"] for r in ok),
                non2xx=sum(r["non2xx"] for r in ok),
                socket_errors=sum(sum(r["socket_errors"].values()) for r in ok),
                error=info.get("error") or next((r.get("error") for r in runs if not r.get("ok")), None),
            ))
    results["summary"] = summary

    def get(mode, scenario, server, field):
        for s in summary:
            if s["mode"] == mode and s["scenario"] == scenario and s["server"] == server:
                return s[field]
        return None

    def ratio(a, b):
        return (a / b) if (a is not None and b) else None

    ratios = []
    seen = []
    for s in summary:
        k = (s["mode"], s["scenario"])
        if k in seen:
            continue
        seen.append(k)
        row = dict(mode=k[0], scenario=k[1])
        for other in ("sockets", "nginx"):
            row[f"rps_epoll_over_{other}"] = ratio(get(*k, "epoll", "rps"), get(*k, other, "rps"))
            row[f"cpu_epoll_over_{other}"] = ratio(get(*k, "epoll", "cpu_per_100k_s"), get(*k, other, "cpu_per_100k_s"))
            row[f"p99_epoll_over_{other}"] = ratio(get(*k, "epoll", "p99_ms"), get(*k, other, "p99_ms"))
        ratios.append(row)
    results["ratios"] = ratios

    scaling = []
    modes = [m["key"] for m in results["modes"]]
    if len(modes) > 1:
        for s in summary:
            if s["mode"] != modes[1]:
                continue
            base = get(modes[0], s["scenario"], s["server"], "rps")
            scaling.append(dict(scenario=s["scenario"], server=s["server"], rps_1=base, rps_2=s["rps"],
                                speedup=ratio(s["rps"], base)))
    results["scaling"] = scaling


# --------------------------------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------------------------------

def tool_version(cmd, pattern=None):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        text = (out.stdout + out.stderr).strip()
        line = text.splitlines()[0] if text else ""
        if pattern:
            m = re.search(pattern, text)
            return m.group(0) if m else line
        return line
    except (OSError, subprocess.SubprocessError):
        return None


def git(*a):
    try:
        return subprocess.run(["git", "-C", REPO, *a], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def metadata(args, argv):
    cpu_model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    os_name = None
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return dict(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        commit=git("rev-parse", "HEAD"),
        commit_short=git("rev-parse", "--short", "HEAD"),
        branch=git("rev-parse", "--abbrev-ref", "HEAD"),
        dirty=bool(git("status", "--porcelain", "--untracked-files=no", "--", ".",
                       ":!bench/results", ":!docs/BENCHMARKS.md", ":!docs/benchmarks.svg")),
        command=os.environ.get("BENCH_COMMAND") or cmdline([sys.argv[0]] + argv),
        machine=dict(
            hostname=platform.node(), cpu=cpu_model, cpus=os.cpu_count(), memory_gib=round(mem_kb / 1048576, 1),
            kernel=platform.release(), os=os_name,
            nofile_limit=resource.getrlimit(resource.RLIMIT_NOFILE)[1],
            loadavg_start=open("/proc/loadavg").read().split()[:3],
        ),
        versions=dict(
            dotnet=tool_version(["dotnet", "--version"]),
            aspnetcore=tool_version(["dotnet", "--list-runtimes"], r"Microsoft\.AspNetCore\.App [\d.]+\S*"),
            nginx=tool_version(["nginx", "-v"]),
            wrk=tool_version(["wrk", "--version"], r"wrk \S+"),
            h2load=tool_version(["h2load", "--version"]),
            python=platform.python_version(),
        ),
        settings=dict(rounds=args.rounds, duration_s=args.duration, warmup_s=args.warmup,
                      quick=args.quick, servers=args.servers, scenarios=args.scenarios,
                      scaling_scenarios=args.scaling_scenarios, idle_connections=args.idle_connections,
                      idle_seconds=args.idle_seconds, base_port=args.base_port,
                      epoll_args=args.epoll_args, sockets_args=args.sockets_args,
                      wrk_timeout_s=5, nice=args.nice),
    )


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------

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
    p.add_argument("--idle-seconds", type=int, help="seconds of idle CPU measurement (default 10; quick 2)")
    p.add_argument("--server-cpus", default="0", help="cores for the server (default 0)")
    p.add_argument("--client-cpus", default=None, help="cores for the load generator (default: all the others)")
    p.add_argument("--base-port", type=int, default=18080, help="first of 6 consecutive ports (default 18080)")
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
    if args.scaling_scenarios is None:
        args.scaling_scenarios = "plaintext"
    if args.scaling_scenarios == "none":
        args.scaling_scenarios = ""
    results_dir = os.path.join(BENCH_DIR, "results")
    args.json_path = args.json_path or os.path.join(results_dir, "quick.json" if q else "latest.json")
    args.md_path = args.md_path or (os.path.join(results_dir, "quick.md") if q else os.path.join(REPO, "docs", "BENCHMARKS.md"))
    args.svg_path = args.svg_path or (os.path.join(results_dir, "quick.svg") if q else os.path.join(REPO, "docs", "benchmarks.svg"))

    for name, value in (("--servers", args.servers),):
        bad = [x for x in value.split(",") if x not in SERVERS]
        if bad:
            p.error(f"{name}: unknown {', '.join(bad)} (valid: {', '.join(SERVERS)})")
    for name, value in (("--scenarios", args.scenarios), ("--scaling-scenarios", args.scaling_scenarios)):
        bad = [x for x in value.split(",") if x and x not in SCENARIOS]
        if bad:
            p.error(f"{name}: unknown {', '.join(bad)} (valid: {', '.join(SCENARIOS)})")
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0 or args.idle_connections < 0:
        p.error("--rounds and --duration must be at least 1; --warmup and --idle-connections at least 0")

    available = sorted(os.sched_getaffinity(0))
    server = parse_cpus(args.server_cpus)
    client = parse_cpus(args.client_cpus) if args.client_cpus else [c for c in available if c not in server]
    if not client:
        p.error("no core left for the load generator; pass --client-cpus")
    if not set(server + client) <= set(available):
        p.error(f"cores {sorted(set(server + client) - set(available))} are not available (have {available})")
    args.server_cpu_list, args.client_cpu_list, args.all_cpus = server, client, available
    return args


def _cores(cpus):
    return ("core " if len(cpus) == 1 else "cores ") + cpu_spec(cpus)


_lock_file = None


def wait_for_other_runs(limit_s):
    """Two benchmark runs at once disturb each other's numbers: take a machine-wide lock, waiting
    for another harness run (from any checkout) to finish."""
    import fcntl
    global _lock_file
    path = os.path.join(tempfile.gettempdir(), "epoll-bench.lock")
    _lock_file = open(path, "a+")
    try:
        fcntl.flock(_lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        _lock_file.seek(0)
        other = _lock_file.read().strip() or "unknown"
        if limit_s <= 0:
            raise BenchError(f"another benchmark run holds {path} ({other})")
        log(f"another benchmark run holds {path} ({other}); waiting up to {limit_s} s for it to finish")
        deadline = time.monotonic() + limit_s
        while True:
            try:
                fcntl.flock(_lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(f"another benchmark run still holds {path} after {limit_s} s ({other})")
                time.sleep(2)
    _lock_file.seek(0)
    _lock_file.truncate()
    _lock_file.write(f"pid {os.getpid()}, {REPO}, since {time.strftime('%H:%M:%S')}\n")
    _lock_file.flush()


def cpu_spec(cpus):
    return ",".join(str(c) for c in cpus)


def main(argv):
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, _on_signal)
    atexit.register(stop_all)

    for tool in ("taskset", "wrk", "h2load", "curl", "ss") + (("nginx",) if "nginx" in args.servers else ()):
        if not shutil.which(tool):
            raise BenchError(f"'{tool}' is not installed (bench/run.sh installs it)")
    if not os.path.exists(WEBHOST_DLL):
        raise BenchError(f"{WEBHOST_DLL} is missing: build with 'dotnet build src/WebHost -c Release' (bench/run.sh does)")
    if args.idle_connections and not os.access(IDLECONN, os.X_OK):
        raise BenchError(f"{IDLECONN} is missing (bench/run.sh compiles bench/idle/idleconn.c)")

    # Use the whole open-file allowance for ourselves and the servers we start.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(hard, args.idle_connections + 1024)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    if args.nice:
        set_priority(args.nice)

    wait_for_other_runs(args.lock_wait)

    started = time.monotonic()
    args.tmp = tempfile.mkdtemp(prefix="epoll-bench-")
    if _pgid_file and not args.keep_temp:
        with open(_pgid_file + ".tmpdir", "w") as f:   # for run.sh to remove should we be killed
            f.write(args.tmp + "\n")
    os.makedirs(os.path.join(args.tmp, "logs"))
    try:
        args.content_root = make_content_root(args.tmp)
        keys = args.servers.split(",")
        servers = [Server(k, args.base_port + 2 * i, args.base_port + 2 * i + 1, args, args.tmp)
                   for i, k in enumerate(("epoll", "sockets", "nginx")) if k in keys]
        check_ports([p for s in servers for p in (s.h1_port, s.h2_port)])

        results = dict(meta=metadata(args, argv), modes=[], scenarios=[], idle=None)
        meta = results["meta"]
        meta["scenario_definitions"] = {k: v for k, v in SCENARIOS.items()}
        meta["servers"] = {s.key: dict(label=s.label, h1_port=s.h1_port, h2_port=s.h2_port) for s in servers}
        meta["content"] = dict(files={p: len(expected_body(args, p)) for p in ("/bench/1k.txt", "/bench/1m.bin")},
                               note="repository wwwroot/ plus generated bench/1k.txt and bench/1m.bin, one copy served by all servers")

        modes = [dict(key=f"{len(args.server_cpu_list)}core",
                      label=f"server on {_cores(args.server_cpu_list)}, load generator on {_cores(args.client_cpu_list)}",
                      server_cpus=cpu_spec(args.server_cpu_list), client_cpus=cpu_spec(args.client_cpu_list),
                      scenarios=args.scenarios.split(","))]
        scaling = [s for s in args.scaling_scenarios.split(",") if s]
        if scaling and len(args.all_cpus) > len(args.server_cpu_list):
            allc = cpu_spec(args.all_cpus)
            modes.append(dict(key=f"{len(args.all_cpus)}core-shared",
                              label=f"server on all {len(args.all_cpus)} cores ({allc}), load generator sharing them",
                              server_cpus=allc, client_cpus=allc, scenarios=scaling))
        results["modes"] = modes
        log(f"temp dir {args.tmp}; servers: {', '.join(s.label for s in servers)}; "
            f"{args.rounds} round(s) x {args.duration} s, {args.warmup} s warm-up")
        for mode in modes:
            log(f"=== mode {mode['key']}: {mode['label']}")
            # The harness itself (RSS sampling, h2load log sorting) stays off the server's cores when it can.
            os.sched_setaffinity(0, parse_cpus(mode["client_cpus"]))
            run_mode(mode, servers, args, results)
        if args.idle_connections:
            os.sched_setaffinity(0, parse_cpus(modes[0]["client_cpus"]))
            run_idle(servers, args, results)
        os.sched_setaffinity(0, args.all_cpus)

        summarize(results)
        meta["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        meta["elapsed_s"] = round(time.monotonic() - started, 1)
        os.makedirs(os.path.dirname(args.json_path), exist_ok=True)
        with open(args.json_path, "w") as f:
            json.dump(results, f, indent=1)
        report.write_markdown(results, args.md_path, svg_path=args.svg_path)
        report.write_svg(results, args.svg_path)
        log(f"done in {meta['elapsed_s']:.0f} s: {os.path.relpath(args.json_path, REPO)}, "
            f"{os.path.relpath(args.md_path, REPO)}, {os.path.relpath(args.svg_path, REPO)}")
        print()
        print(report.console_table(results))
        failures = [s for s in results["summary"] if s["error"] or s["rps"] is None]
        idle_fail = [k for k, v in (results["idle"] or {}).get("servers", {}).items() if not v.get("ok")]
        if failures or idle_fail:
            log(f"WARNING: {len(failures)} scenario result(s) and {len(idle_fail)} idle test(s) had failures; see the report")
            return 3
        return 0
    finally:
        stop_all()
        if args.keep_temp:
            log(f"kept {args.tmp}")
        else:
            shutil.rmtree(args.tmp, ignore_errors=True)
            if _pgid_file and os.path.exists(_pgid_file + ".tmpdir"):
                os.unlink(_pgid_file + ".tmpdir")


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as e:
        print(f"bench: interrupted ({e}); servers stopped", file=sys.stderr)
        sys.exit(130)
