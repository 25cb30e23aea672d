"""Joins the results of several bench/run.sh runs (a full run split into parts that each fit a short
quiet window, e.g. by --scenarios) into one results file and its report, as if one run had made them.

    python3 -m harness.merge OUT.json PART.json... [--markdown PATH] [--svg PATH]    (from bench/)

Modes with the same key are joined (their scenario lists concatenated); every scenario's runs are kept
as measured; the idle test comes from the last part that ran it. The command shown is every part's
command, one a line; the date, commit and machine are the first part's, the elapsed time the sum, the
load averages the first part's start and the last part's end. A scenario measured in two parts is an
error: which one to keep is for the person running it to decide.
"""

import argparse
import json
import os
import sys

from . import report
from .common import BENCH_DIR, REPO
from .summary import summarize


def merge(parts):
    """One results dict from several (each as written by bench/run.sh)."""
    first, last = parts[0], parts[-1]
    meta = json.loads(json.dumps(first["meta"]))
    meta["command"] = "\n".join(p["meta"]["command"] for p in parts)
    meta["elapsed_s"] = round(sum(p["meta"].get("elapsed_s", 0) for p in parts), 1)
    meta["machine"]["loadavg_end"] = last["meta"]["machine"].get("loadavg_end", [])
    meta["parts"] = [dict(command=p["meta"]["command"], date=p["meta"]["date"], commit=p["meta"]["commit_short"],
                          loadavg_start=p["meta"]["machine"].get("loadavg_start", []),
                          loadavg_end=p["meta"]["machine"].get("loadavg_end", [])) for p in parts]
    scenarios = []
    for p in parts:
        for d in p["meta"]["settings"]["scenarios"].split(","):
            if d not in scenarios:
                scenarios.append(d)
    meta["settings"]["scenarios"] = ",".join(scenarios)
    modes, entries, seen, idle, idle_tls = [], [], set(), None, None
    for p in parts:
        for mode in p["modes"]:
            joined = next((m for m in modes if m["key"] == mode["key"]), None)
            if joined is None:
                modes.append(json.loads(json.dumps(mode)))
            else:
                joined["scenarios"] += [s for s in mode["scenarios"] if s not in joined["scenarios"]]
        for entry in p["scenarios"]:
            key = (entry["mode"], entry["scenario"])
            if key in seen:
                raise ValueError(f"scenario {key[1]} (mode {key[0]}) was measured in more than one part")
            seen.add(key)
            entries.append(entry)
        if p.get("idle"):
            idle = p["idle"]
        if p.get("idle_tls"):
            idle_tls = p["idle_tls"]
    results = dict(meta=meta, modes=modes, scenarios=entries, idle=idle, idle_tls=idle_tls)
    summarize(results)
    return results


def main(argv):
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("out")
    a.add_argument("parts", nargs="+")
    a.add_argument("--markdown", default=os.path.join(REPO, "docs", "BENCHMARKS.md"))
    a.add_argument("--svg", default=os.path.join(REPO, "docs", "benchmarks.svg"))
    args = a.parse_args(argv)
    parts = []
    for path in args.parts:
        with open(path) as f:
            parts.append(json.load(f))
    try:
        results = merge(parts)
    except ValueError as e:
        print(f"merge: {e}", file=sys.stderr)
        return 2
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    report.write_markdown(results, args.markdown, svg_path=args.svg)
    report.write_svg(results, args.svg)
    print(report.console_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
