"""What a results file records about the run: when, which commit, the command, the machine, the
tools' versions and the settings."""

import datetime
import os
import platform
import re
import resource
import subprocess
import sys

from .common import REPO, cmdline
from .loadgen import WRK_TIMEOUT_S
from .procfs import loadavg


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


def _first_value(path, prefix, sep):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(sep, 1)[1].strip()
    except OSError:
        pass
    return None


def metadata(args, argv):
    cpu_model = _first_value("/proc/cpuinfo", "model name", ":")
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    os_name = _first_value("/etc/os-release", "PRETTY_NAME=", "=")
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
            kernel=platform.release(), os=os_name and os_name.strip('"'),
            nofile_limit=resource.getrlimit(resource.RLIMIT_NOFILE)[1],
            loadavg_start=loadavg(),
        ),
        versions=dict(
            dotnet=tool_version(["dotnet", "--version"]),
            aspnetcore=tool_version(["dotnet", "--list-runtimes"], r"Microsoft\.AspNetCore\.App [\d.]+\S*"),
            nginx=tool_version(["nginx", "-v"]),
            wrk=tool_version(["wrk", "--version"], r"wrk \S+"),
            h2load=tool_version(["h2load", "--version"]),
            openssl=tool_version(["openssl", "version"]),
            python=platform.python_version(),
        ),
        settings=dict(rounds=args.rounds, duration_s=args.duration, warmup_s=args.warmup,
                      quick=args.quick, servers=args.servers, scenarios=args.scenarios,
                      scaling_scenarios=args.scaling_scenarios, idle_connections=args.idle_connections,
                      idle_tls_connections=args.idle_tls_connections,
                      idle_seconds=args.idle_seconds, base_port=args.base_port,
                      epoll_args=args.epoll_args, sockets_args=args.sockets_args,
                      wrk_timeout_s=WRK_TIMEOUT_S, nice=args.nice),
    )
