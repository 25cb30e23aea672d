"""The scenario table, kept as data in bench/scenarios.json: name -> definition.

Fields: "tool" wrk, h2load or tlschurn (bench/churn/tlschurn.c: a new connection and a full TLS handshake
per request; it prints wrk's BENCHJSON line); "path" the URL path; "conns" connections; "pipeline" requests per write
(wrk, default 1); "headers" extra request headers (wrk); "streams" concurrent streams per connection
(h2load); "h2" speaks HTTP/2: the server's h2c (prior knowledge) endpoint, or with "tls" ALPN h2 on its HTTPS
endpoint; "tls" sends the load to the server's HTTPS endpoint (the run's certificate, harness/tls.py); "paths" (wrk) several URL paths requested
in turn on each connection ("path" is the first); "background" {"path", "conns"}: wrk load on another path
for the whole run, not measured (e.g. handlers that block their thread, so that the measured requests'
latency shows what blocking does to the others; its own requests/s and errors are recorded too); "timeout"
wrk's --timeout in seconds for both (default loadgen.WRK_TIMEOUT_S); "title" and "desc" for the report.

    python3 -m harness.scenarios profile-args NAME    (from bench/) prints NAME's load as shell
                                                      assignments (TOOL, URL_PATH, CONNS, DEPTH, STREAMS,
                                                      HEADERS, BG_PATH, BG_CONNS, TLS), for bench/profile.sh
"""

import json
import os
import shlex
import sys

from .common import BENCH_DIR

PATH = os.path.join(BENCH_DIR, "scenarios.json")
TOOLS = {"wrk": {"path", "conns"}, "h2load": {"path", "conns", "streams"}, "tlschurn": {"path", "conns", "tls"}}
FIELDS = {"tool", "path", "paths", "conns", "pipeline", "headers", "streams", "h2", "tls", "background", "timeout", "title", "desc"}


def load(path=PATH):
    """Reads and checks the table; a bad entry is a ValueError naming the entry and what is wrong."""
    with open(path) as f:
        table = json.load(f)
    for name, sc in table.items():
        tool = sc.get("tool")
        if tool not in TOOLS:
            raise ValueError(f"{path}: scenario {name}: tool {tool!r} (valid: {', '.join(TOOLS)})")
        missing = (TOOLS[tool] | {"title", "desc"}) - set(sc)
        unknown = set(sc) - FIELDS
        if missing or unknown:
            raise ValueError(f"{path}: scenario {name}: missing {sorted(missing)}, unknown {sorted(unknown)} "
                             f"(fields: {', '.join(sorted(FIELDS))})")
        if "paths" in sc and (tool != "wrk" or sc.get("pipeline", 1) > 1 or sc["paths"][:1] != [sc["path"]]):
            raise ValueError(f"{path}: scenario {name}: paths is for wrk without pipelining, and starts with path")
        if tool == "tlschurn" and sc.get("tls") is not True:
            raise ValueError(f"{path}: scenario {name}: tlschurn needs \"tls\": true")
        bg = sc.get("background")
        if bg is not None and (tool != "wrk" or not isinstance(bg, dict) or set(bg) != {"path", "conns"}):
            raise ValueError(f"{path}: scenario {name}: background must be {{\"path\", \"conns\"}} on a wrk scenario")
    return table


SCENARIOS = load()


def profile_args(sc):
    """One scenario's load as shell assignments (bash arrays for the headers)."""
    bg = sc.get("background", {})
    values = {"TOOL": sc["tool"], "URL_PATH": sc["path"], "CONNS": sc["conns"], "DEPTH": sc.get("pipeline", 1),
              "STREAMS": sc.get("streams", 1), "BG_PATH": bg.get("path", ""), "BG_CONNS": bg.get("conns", 0),
              "TLS": 1 if sc.get("tls") else 0}
    lines = [f"{k}={shlex.quote(str(v))}" for k, v in values.items()]
    lines.append("HEADERS=(" + " ".join(shlex.quote(h) for h in sc.get("headers", [])) + ")")
    return "\n".join(lines)


def main(argv):
    if len(argv) != 2 or argv[0] != "profile-args" or argv[1] not in SCENARIOS:
        print(f"usage: python3 -m harness.scenarios profile-args NAME (NAME one of {', '.join(SCENARIOS)})",
              file=sys.stderr)
        return 2
    print(profile_args(SCENARIOS[argv[1]]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
