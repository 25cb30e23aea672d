"""wrk's and h2load's output -> the numbers of one run. Pure functions of the captured text (tested
in bench/tests on real outputs). Latencies in milliseconds."""

import json
import math
import re


class ParseError(ValueError):
    """The load generator's output lacks what the harness needs."""


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list; None for an empty one."""
    if not sorted_values:
        return None
    k = max(0, math.ceil(p / 100.0 * len(sorted_values)) - 1)
    return sorted_values[k]


def parse_wrk(stdout):
    """wrk's output with bench/wrk/bench.lua's BENCHJSON line."""
    m = re.search(r"^BENCHJSON (.*)$", stdout, re.M)
    if not m:
        raise ParseError("wrk printed no BENCHJSON line")
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


def h2load_durations(log_lines):
    """Request durations (µs, ascending) from h2load's --log-file: start, status, duration, tab-separated."""
    durations = []
    for line in log_lines:
        parts = line.split("\t")
        if len(parts) >= 3:
            durations.append(int(parts[2]))
    durations.sort()
    return durations


def parse_h2load(stdout, log_lines):
    """h2load's summary plus its per-request log (h2load prints no percentiles)."""
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", stdout)
    r = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", stdout)
    s = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", stdout)
    if not (m and r and s):
        raise ParseError("could not parse h2load's output")
    secs = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
    done = int(r.group(3))
    durations = h2load_durations(log_lines)

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
