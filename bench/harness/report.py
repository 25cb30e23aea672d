"""Turns the harness's results JSON into the markdown report and the SVG chart (standard library only).

    python3 bench/report.py [bench/results/latest.json [docs/BENCHMARKS.md [docs/benchmarks.svg]]]

main.py calls it at the end of every run; running it by hand regenerates the documents from a
results file without measuring anything.
"""

import html
import json
import os

from .common import REPO, RESULTS_DIR

SERVER_ORDER = ["epoll", "sockets", "nginx"]
LABELS = {"epoll": "Epoll", "sockets": "Sockets", "nginx": "nginx"}
COLORS = {"epoll": "#e8590c", "sockets": "#1c7ed6", "nginx": "#2f9e44"}


def _scenario_title(results, scenario):
    return results["meta"]["scenario_definitions"][scenario]["title"]


def _mode(results, key):
    return next(m for m in results["modes"] if m["key"] == key)


def _rows(results, mode=None):
    rows = [s for s in results["summary"] if mode is None or s["mode"] == mode]
    order = {k: i for i, k in enumerate(results["meta"]["scenario_definitions"])}
    return sorted(rows, key=lambda s: ([m["key"] for m in results["modes"]].index(s["mode"]),
                                       order.get(s["scenario"], 99), SERVER_ORDER.index(s["server"])))


def _num(v, digits=0, suffix=""):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}{suffix}"


def _ratio(v):
    return "n/a" if v is None else f"{v:.2f}"


def _mib(kb):
    return "n/a" if kb is None else f"{kb / 1024:.1f}"


def _short(v):
    if v is None:
        return "n/a"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e4:
        return f"{v / 1e3:.0f}k"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


# The performance issue's targets (Epoll / Sockets, server on one core): scenario, ratio, bound, and where
# docs/PROFILES.md explains a miss. Higher is better for requests/s, lower for CPU and p99.
TARGETS = [  # issue 10 (inline by default) for plaintext, JSON, pipelined, HTTP/2 and churn; earlier issues' for files
    ("plaintext", "rps", 1.6, "inline-targets"),
    ("plaintext", "cpu", 0.62, "inline-targets"),
    ("plaintext", "rps-nginx", 0.95, "inline-targets"),
    ("pipelined", "rps", 1.25, "inline-targets"),
    ("json", "rps", 1.6, "inline-targets"),
    ("h2", "rps", 1.25, "inline-http2"),
    ("static-1k", "rps", 1.3, "static-files"),
    ("static-1m", "rps", 1.1, "large-files"),
    ("churn", "rps", 1.3, "inline-targets"),
    # issue 16 (TLS in the transport): mostly against nginx with ssl
    ("tls-static-1k", "rps-nginx", 1.0, "https"),
    ("tls-static-1k", "cpu-nginx", 1.1, "https"),
    ("tls-static-1k", "rps", 2.5, "https"),
    ("tls-plaintext", "rps-nginx", 0.9, "https"),
    ("tls-static-1m", "cpu-nginx", 1.3, "https"),
    ("tls-churn", "rps-nginx", 0.9, "https"),
    ("tls-h2", "rps", 1.5, "https"),
]
TLS_P99_NGINX = 1.5   # issue 16: p99 at most 1.5x nginx's in every HTTPS scenario
TARGET_METRICS = {"rps": ("requests/s", "rps_epoll_over_sockets", "≥"),
                  "rps-nginx": ("requests/s against nginx", "rps_epoll_over_nginx", "≥"),
                  "cpu": ("CPU per request", "cpu_epoll_over_sockets", "≤"),
                  "cpu-nginx": ("CPU per request against nginx", "cpu_epoll_over_nginx", "≤"),
                  "p99-nginx": ("p99 latency against nginx", "p99_epoll_over_nginx", "≤"),
                  "p99": ("p99 latency", "p99_epoll_over_sockets", "≤")}
PROFILES_DOC = "PROFILES.md"


def targets(results):
    """Rows (target, measured, met, anchor) for the first mode, the one the targets are set for."""
    mode = results["modes"][0]["key"]
    ratios = {r["scenario"]: r for r in results["ratios"] if r["mode"] == mode}
    rows = []

    def add(scenario, metric, bound, anchor):
        if scenario not in ratios:
            return
        name, key, op = TARGET_METRICS[metric]
        value = ratios[scenario][key]
        met = value is not None and (value >= bound if op == "≥" else value <= bound)
        rows.append((f"{_scenario_title(results, scenario)}: {name} {op} {bound}×", _ratio(value), met, anchor))

    for scenario, metric, bound, anchor in TARGETS:
        add(scenario, metric, bound, anchor)
    for scenario in ratios:  # p99 never worse than Sockets, in every scenario
        anchor = {"h2": "inline-http2", "static-1k": "static-files", "static-1m": "large-files",
                  "blocking": "inline-blocking-tail"}.get(scenario, "inline-targets")
        add(scenario, "p99", 1.0, anchor)
        if results["meta"]["scenario_definitions"][scenario].get("tls"):
            add(scenario, "p99-nginx", TLS_P99_NGINX, "https")

    tls = results.get("idle_tls")
    servers = tls["servers"] if tls else {}
    e, so = servers.get("epoll", {}), servers.get("sockets", {})
    if "rss_per_conn_bytes" in e and "rss_per_conn_bytes" in so and so["rss_per_conn_bytes"] > 0:
        ratio = e["rss_per_conn_bytes"] / so["rss_per_conn_bytes"]
        rows.append(("Idle TLS connections: RSS per connection ≤ 0.5×", _ratio(ratio), ratio <= 0.5, "https"))

    idle = results.get("idle")
    servers = idle["servers"] if idle else {}
    e, so = servers.get("epoll", {}), servers.get("sockets", {})
    if "rss_per_conn_bytes" in e and "rss_per_conn_bytes" in so:
        ratio = e["rss_per_conn_bytes"] / so["rss_per_conn_bytes"]
        rows.append(("Idle connections: RSS per connection ≤ 0.5×", _ratio(ratio), ratio <= 0.5, "idle"))
        rows.append(("Idle connections: no CPU while idle (< 1 % of a core)",
                     f"{e['idle_cpu_pct']:.1f} % (Sockets {so['idle_cpu_pct']:.1f} %)", e["idle_cpu_pct"] < 1, "idle"))
    if idle and "established_server_side" in e:
        held = e["established_server_side"]
        rows.append(("Idle connections: 50,000 held", f"{held:,} of {idle['connections']:,} tried",
                     idle["connections"] >= 50000 and held >= 50000, "idle"))
    return rows


def _idle_section(w, idle, title):
    w(f"## {title}")
    w("")
    over = " over TLS (a full handshake each, on the HTTPS port)" if idle.get("tls") else ""
    w(f"{idle['connections']:,} keep-alive connections per server{over}, each served one `GET /plaintext` and then left idle "
      f"(server on `{idle['server_cpus']}`). RSS per connection = (RSS {idle['settle_s']:.0f} s after the last "
      f"connection was served − RSS before connecting) / N. CPU is what the server used during the following "
      f"{idle['idle_s']} s of idleness.")
    if idle.get("note"):
        w("")
        w(f"Note: {idle['note']}.")
    w("")
    w("| Server | RSS before | RSS with idle connections | KiB per connection | KiB per connection (end) | Idle CPU s | Still open | Connect time |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in SERVER_ORDER:
        r = idle["servers"].get(key)
        if r is None:
            continue
        if "rss_per_conn_bytes" not in r:
            w(f"| {LABELS[key]} | **failed**: {r.get('error', '').splitlines()[0] if r.get('error') else ''} | | | | | | |")
            continue
        w(f"| {LABELS[key]} | {_mib(r['rss_baseline_kb'])} MiB | {_mib(r['rss_with_idle_kb'])} MiB | "
          f"{r['rss_per_conn_bytes'] / 1024:.2f} | {r['rss_per_conn_end_bytes'] / 1024:.2f} | "
          f"{r['idle_cpu_s']:.2f} ({r['idle_cpu_pct']:.1f} % of a core) | "
          f"{r['established_server_side']:,} | {r['connect_s']:.1f} s |")
    w("")


def _errors(s):
    if s["error"] and s["rps"] is None:
        return "**failed**"
    parts = []
    if s["socket_errors"]:
        parts.append(f"{s['socket_errors']:,} socket")
    if s["non2xx"]:
        parts.append(f"{s['non2xx']:,} non-2xx")
    if s["failed_runs"]:
        parts.append(f"{s['failed_runs']} failed run(s)")
    return ", ".join(parts) if parts else "0"


def markdown(results, svg_rel=None):
    meta = results["meta"]
    st = meta["settings"]
    m = meta["machine"]
    v = meta["versions"]
    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w(f"<!-- Generated by bench/run.sh ({os.path.basename(__file__)}); rerun the command below instead of editing. -->")
    quick = " **Quick mode: indicative only.**" if st.get("quick") else ""
    dirty = " (with uncommitted changes)" if meta.get("dirty") else ""
    w(f"Measured {meta['date']} on commit `{meta['commit_short']}`{dirty} ({meta['branch']}), "
      f"{st['rounds']} round(s) of {st['duration_s']} s per server and scenario, medians shown. "
      f"The whole run took {meta.get('elapsed_s', 0) / 60:.1f} minutes.{quick}")
    w("")
    w("```sh")
    w(meta["command"])
    w("```")
    w("")
    if meta.get("parts"):  # a run split into parts (harness.merge)
        w("Measured in parts, each a run of its own (`python3 -m harness.merge` joined them):")
        w("")
        w("| Part | Started | Commit | Load average at start → end |")
        w("|---|---|---|---|")
        for i, part in enumerate(meta["parts"], 1):
            w(f"| {i} | {part['date']} | `{part['commit']}` | {' '.join(part['loadavg_start'])} → {' '.join(part['loadavg_end'])} |")
        w("")
    if svg_rel:
        w(f"![Requests per second and server CPU per 100k requests, per scenario and server]({svg_rel})")
        w("")
    w("Measured elsewhere, each with its command: memory per connection and allocations per request "
      "(`bench/memory`), and the web host's runtime configurations side by side — JIT vs Native AOT, GC modes, "
      "response buffering, the metrics exporter's cost; startup time and peak RSS (`bench/configs.py`) — in "
      "[MEMORY.md](MEMORY.md); CPU profiles in [PROFILES.md](PROFILES.md).")
    w("")

    for mode in results["modes"]:
        rows = _rows(results, mode["key"])
        if not rows:
            continue
        w(f"## {mode['label'][0].upper()}{mode['label'][1:]}")
        w("")
        w("| Scenario | Server | Requests/s | Spread | p50 latency | p99 latency | Server CPU s / 100k req | Server cores busy | Background CPU | Peak RSS MiB | Errors |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        noisy = False
        for s in rows:
            util = "n/a" if s["server_core_util"] is None else f"{100 * s['server_core_util']:.0f} %"
            spread = "n/a" if not s.get("rps") or s.get("rps_max") is None or s["rounds"] < 2 else \
                f"{100 * (s['rps_max'] - s['rps_min']) / s['rps']:.0f} %"
            other = s.get("other_cpu_pct")
            bg = "n/a" if other is None else f"{other:.0f} %" + (" ⚠" if other > 50 else "")
            noisy = noisy or (other is not None and other > 50)
            w(f"| {_scenario_title(results, s['scenario'])} | {LABELS[s['server']]} | {_num(s['rps'])} | {spread} | "
              f"{_num(s['p50_ms'], 2, ' ms')} | {_num(s['p99_ms'], 2, ' ms')} | {_num(s['cpu_per_100k_s'], 3)} | "
              f"{util} | {bg} | {_mib(s['rss_peak_kb'])} | {_errors(s)} |")
        w("")
        w("*Spread* is (max − min) / median of the rounds' requests/s. *Server cores busy* is the server's CPU "
          "time over the run's wall time and its cores: well below 100 % means the server was not the bottleneck "
          "(the load generator or the machine was), so compare CPU per request there rather than requests/s. "
          "*Background CPU* is the median share of a core that other processes on the machine used during the "
          "runs" + ("; ⚠ marks more than half a core: those rows are disturbed, rerun them when the machine is "
                    "quiet (or with `--nice -10`)." if noisy else "."))
        w("")
        ratios = [r for r in results["ratios"] if r["mode"] == mode["key"]]
        if ratios and any(r["rps_epoll_over_sockets"] or r["rps_epoll_over_nginx"] for r in ratios):
            w("Ratios of the medians (requests/s above 1 and CPU or p99 below 1 favour Epoll):")
            w("")
            w("| Scenario | Req/s Epoll/Sockets | Req/s Epoll/nginx | CPU/100k Epoll/Sockets | CPU/100k Epoll/nginx | p99 Epoll/Sockets | p99 Epoll/nginx |")
            w("|---|---:|---:|---:|---:|---:|---:|")
            for r in ratios:
                w(f"| {_scenario_title(results, r['scenario'])} | {_ratio(r['rps_epoll_over_sockets'])} | "
                  f"{_ratio(r['rps_epoll_over_nginx'])} | {_ratio(r['cpu_epoll_over_sockets'])} | "
                  f"{_ratio(r['cpu_epoll_over_nginx'])} | {_ratio(r['p99_epoll_over_sockets'])} | {_ratio(r['p99_epoll_over_nginx'])} |")
            w("")

    rows = targets(results)
    if rows:
        w("## Targets")
        w("")
        w(f"The performance issues' targets, Epoll / Sockets (or / nginx where named) with the server on one core ({results['modes'][0]['label']}). "
          f"Where one is missed, [{PROFILES_DOC}]({PROFILES_DOC}) shows with profiles what stands in the way.")
        w("")
        w("| Target | Measured | Met |")
        w("|---|---:|---|")
        for target, measured, met, anchor in rows:
            w(f"| {target} | {measured} | {'yes' if met else f'**no**, [why]({PROFILES_DOC}#{anchor})'} |")
        w("")

    if results.get("scaling"):
        m0, m1 = results["modes"][0], results["modes"][1]
        w(f"## Scaling: {len(m0['server_cpus'].split(','))} core → all cores")
        w("")
        w(f"Requests/s with the server on `{m0['server_cpus']}` (load generator on `{m0['client_cpus']}`) and on "
          f"`{m1['server_cpus']}` (load generator sharing the same cores, so the second mode has no spare core for it).")
        w("")
        w("| Scenario | Server | 1 core | All cores, shared | Speed-up |")
        w("|---|---|---:|---:|---:|")
        for s in results["scaling"]:
            w(f"| {_scenario_title(results, s['scenario'])} | {LABELS[s['server']]} | {_num(s['rps_1'])} | "
              f"{_num(s['rps_2'])} | {_ratio(s['speedup'])} |")
        w("")

    for key, title in (("idle", "Idle connections"), ("idle_tls", "Idle TLS connections")):
        if results.get(key):
            _idle_section(w, results[key], title)

    problems = [s for s in results["summary"] if s["error"] or s["errors_total"]]
    w("## Errors and failures")
    w("")
    idles = [(t, results[k]) for k, t in (("idle", "idle connections"), ("idle_tls", "idle TLS connections")) if results.get(k)]
    if not problems and not any(not r.get("ok") for _, i in idles for r in i["servers"].values()):
        w("None: no socket errors, timeouts or non-2xx responses were counted by wrk or h2load, and every run completed.")
    else:
        for s in problems:
            what = []
            if s["socket_errors"]:
                what.append(f"{s['socket_errors']:,} socket errors/timeouts")
            if s["non2xx"]:
                what.append(f"{s['non2xx']:,} non-2xx responses")
            if s["error"]:
                what.append("failure: " + s["error"].splitlines()[0])
            w(f"- {_mode(results, s['mode'])['key']} / {_scenario_title(results, s['scenario'])} / "
              f"{LABELS[s['server']]}: {'; '.join(what)}")
        for what, i in idles:
            for key, r in i["servers"].items():
                if not r.get("ok"):
                    w(f"- {what} / {LABELS[key]}: {(r.get('error') or 'connections closed by the server: ' + str(r.get('closed_by_server'))).splitlines()[0]}")
    w("")

    w("## Method")
    w("")
    w("- **Servers.** `src/WebHost` built in Release and started once per CPU mode and transport "
      "(`--Transport Epoll` / `--Transport Sockets`; Kestrel defaults, Server GC, logging at Warning), "
      "and " + (v.get("nginx") or "nginx").replace("nginx version: ", "").replace("/", " ") + " (Debian package) as a private instance with a generated "
      "config (`access_log off`, `sendfile on`, `keepalive_requests` raised so that it does not close busy keep-alive "
      "connections after 1000 requests, `worker_processes` = server cores) serving the same content root. "
      "`/plaintext` and `/json` are `return 200` locations in nginx. Kestrel has an HTTP/1.1 endpoint and an h2c "
      "(`Protocols=Http2`) endpoint; nginx has `listen ... http2` on a second port. For HTTPS each has a third port "
      "(Kestrel: a `Kestrel:Endpoints` HTTPS endpoint with `Protocols=Http1AndHttp2` and the certificate's PEM files; "
      "nginx: `listen ... ssl http2`, TLS 1.2/1.3 with Mozilla's intermediate TLS 1.2 suites, `ssl_session_cache` and "
      "session tickets) and one certificate made for the run: self-signed ECDSA P-256, PEM. wrk and h2load negotiate "
      "TLS 1.3 (h2load: ALPN h2); TLS churn is `bench/churn/tlschurn.c`, which offers no session, so every request pays "
      "a full handshake.")
    w("- **Content.** One temporary content root for all servers: the repository's `wwwroot/` plus generated "
      "`bench/1k.txt` (1,024 bytes) and `bench/1m.bin` (1,048,576 bytes).")
    w("- **Pinning.** " + "; ".join(f"{mm['key']}: {mm['label']}" for mm in results["modes"]) +
      ". `taskset` pins the server and the load generator (wrk `-t` / h2load `-t` = load-generator cores).")
    w(f"- **Order.** In each mode all servers start, every URL is checked (status 200, exact body; h2 via "
      f"`curl --http2-prior-knowledge`), and each server gets {st['warmup_s']} s of discarded load shared by the "
      f"mode's scenarios (on one core the .NET servers keep speeding up for roughly the first 20 s of load, most likely "
      f"tiered JIT compilation and PGO). Then, per scenario, {st['rounds']} round(s) of {st['duration_s']} s alternate the servers "
      f"run by run (A B C A B C …) so that drift hits all alike. Medians over rounds are reported.")
    w("- **Scenarios.** " + "; ".join(f"*{d['title']}*: {d['desc']}" for k, d in meta["scenario_definitions"].items()
                                      if k in st["scenarios"].split(",")) +
      ". wrk runs with `--latency --timeout 5s` and `bench/wrk/bench.lua` (pipelining, machine-readable summary).")
    w("- **Latency.** wrk's p50/p99 (for pipelining, wrk times each response from the write of its batch). "
      "h2load prints no percentiles, so it writes a per-request log (`--log-file`, on tmpfs) that the harness sorts.")
    w("- **CPU.** Server CPU = utime+stime of the server's processes (nginx: master and workers) from `/proc/PID/stat`, "
      "read before and after each measured run, divided by the requests completed, × 100,000.")
    w("- **Memory.** Peak RSS = the largest VmRSS (nginx: summed over master and workers) sampled every 200 ms "
      "during the scenario's measured runs. Servers live through all of a mode's scenarios, so memory a scenario "
      "leaves behind (pools, GC heap) shows in the later ones; `VmHWM` per server and mode is in the JSON.")
    if st.get("nice"):
        w(f"- **Priority.** The harness, servers and load generators ran at niceness {st['nice']} (`--nice`, "
          f"applied to their scheduler autogroups too) so that background work disturbed them less.")
    w("- **Noise.** The JSON records per run the CPU the rest of the machine used meanwhile (`other_cpu_s`, "
      "tick-based: machine user+system minus server, load generator and harness) and hypervisor steal.")
    w(f"- **Raw data.** `bench/results/latest.json` has every run's numbers, the exact commands and the load "
      f"generators' output.")
    w("")

    noise = []
    for mode in results["modes"]:
        runs = [r for e in results["scenarios"] if e["mode"] == mode["key"] for r in e["runs"] if r.get("ok")]
        if runs:
            oth = sorted(r["other_cpu_s"] / r["wall_s"] for r in runs)
            steal = sorted(r["steal_s"] / r["wall_s"] for r in runs)
            noise.append(f"{mode['key']}: median {100 * oth[len(oth) // 2]:.0f} % of a core used by other processes "
                         f"during runs (max {100 * oth[-1]:.0f} %), median steal {100 * steal[len(steal) // 2]:.1f} %")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    w(f"| CPU | {m.get('cpu')}, {m.get('cpus')} cores |")
    w(f"| Memory | {m.get('memory_gib')} GiB |")
    w(f"| OS | {m.get('os')}, kernel {m.get('kernel')} |")
    w(f"| .NET | SDK {v.get('dotnet')}, {v.get('aspnetcore')} |")
    w(f"| nginx | {(v.get('nginx') or '').replace('nginx version: ', '')} |")
    w(f"| Load generators | {v.get('wrk')}, {v.get('h2load')} |")
    w(f"| Open-file limit | {m.get('nofile_limit')} |")
    w(f"| Load average | start {' '.join(m.get('loadavg_start', []))}, end {' '.join(m.get('loadavg_end', []))} |")
    for n in noise:
        w(f"| Background load | {n} |")
    w("")

    w("## Exact commands")
    w("")
    w("Servers (each started once per mode; ports per server are fixed for the run):")
    w("")
    w("```sh")
    for mode in results["modes"]:
        w(f"# {mode['key']}")
        for key in SERVER_ORDER:
            info = mode.get("servers", {}).get(key)
            if info and info.get("start_command"):
                w(info["start_command"])
    w("```")
    w("")
    w("The generated nginx configuration is in the JSON (`modes[].servers.nginx.config`).")
    w("")
    w("Load, per scenario (shown against the Epoll server; the others differ only in the port):")
    w("")
    w("```sh")
    seen = set()
    for e in results["scenarios"]:
        run = next((r for r in e["runs"] if r["server"] == "epoll"), e["runs"][0] if e["runs"] else None)
        if run and (e["mode"], e["scenario"]) not in seen:
            seen.add((e["mode"], e["scenario"]))
            w(f"# {e['mode']} / {e['scenario']}")
            w(run["command"])
    for key, what in (("idle", "idle connections"), ("idle_tls", "idle TLS connections")):
        i = results.get(key)
        r = next((x for x in i["servers"].values() if x.get("client_command")), None) if i else None
        if r:
            w(f"# {what} (client: bench/idle/idleconn.c)")
            w(r["client_command"])
    w("```")
    w("")
    return "\n".join(out)


# Sections below this line in the markdown file are measured by other tools (each gives its command) and are
# kept as they are when the report is regenerated.
KEPT_MARKER = "<!-- Below: measured by other tools, each with its command; kept when bench/report.py regenerates the file. -->"


def with_kept_sections(generated, previous):
    """The generated report, followed by the previous file's sections from KEPT_MARKER on, if it had any."""
    at = previous.find(KEPT_MARKER) if previous else -1
    return generated if at < 0 else generated.rstrip("\n") + "\n\n" + previous[at:]


def write_markdown(results, path, svg_path=None):
    svg_rel = os.path.relpath(svg_path, os.path.dirname(os.path.abspath(path))) if svg_path else None
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    previous = None
    if os.path.exists(path):
        with open(path) as f:
            previous = f.read()
    with open(path, "w") as f:
        f.write(with_kept_sections(markdown(results, svg_rel), previous))


def svg(results):
    """Small multiples: one panel per (mode, scenario), each with its own scale; requests/s on top,
    server CPU seconds per 100k requests below."""
    columns = []
    for mode in results["modes"]:
        for scenario in mode["scenarios"]:
            rows = [s for s in results["summary"] if s["mode"] == mode["key"] and s["scenario"] == scenario]
            if rows:
                columns.append((mode, scenario, {s["server"]: s for s in rows}))
    servers = [k for k in SERVER_ORDER if any(k in c[2] for c in columns)]
    pw, ph = 150, 150          # panel size
    left, top, gap = 20, 78, 70
    width = left * 2 + pw * len(columns)
    height = top + 2 * (ph + gap) + 10
    bar_w = min(34, (pw - 30) // max(1, len(servers)))
    meta = results["meta"]
    e = html.escape
    o = []
    o.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'font-family="Helvetica, Arial, sans-serif" font-size="11">')
    o.append(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    o.append(f'<text x="{left}" y="24" font-size="16" font-weight="bold" fill="#212529">EpollTransport benchmarks: '
             f'Epoll vs Sockets (Kestrel) vs nginx</text>')
    st = meta["settings"]
    o.append(f'<text x="{left}" y="42" fill="#495057">{e(meta["date"][:10])}, commit {e(meta["commit_short"] or "")}, '
             f'{e(str(meta["machine"].get("cpus")))}-core {e(meta["machine"].get("cpu") or "")}; median of {st["rounds"]} x '
             f'{st["duration_s"]} s; each panel has its own scale</text>')
    lx = left
    for k in servers:
        o.append(f'<rect x="{lx}" y="52" width="12" height="12" fill="{COLORS[k]}"/>')
        o.append(f'<text x="{lx + 16}" y="62" fill="#212529">{LABELS[k]}</text>')
        lx += 80
    metrics = [("rps", "Requests/s (higher is better)"), ("cpu_per_100k_s", "Server CPU s per 100k requests (lower is better)")]
    for row, (field, title) in enumerate(metrics):
        y0 = top + row * (ph + gap)
        o.append(f'<text x="{left}" y="{y0 + 4}" font-size="13" font-weight="bold" fill="#212529">{e(title)}</text>')
        for ci, (mode, scenario, by_server) in enumerate(columns):
            x0 = left + ci * pw
            base = y0 + ph
            vals = [by_server.get(k, {}).get(field) for k in servers]
            vmax = max([x for x in vals if x is not None], default=0) or 1
            o.append(f'<line x1="{x0 + 10}" y1="{base}" x2="{x0 + pw - 10}" y2="{base}" stroke="#adb5bd"/>')
            span = bar_w * len(servers) + 6 * (len(servers) - 1)
            bx = x0 + (pw - span) / 2
            for k, val in zip(servers, vals):
                if val is None:
                    o.append(f'<text x="{bx + bar_w / 2:.1f}" y="{base - 4}" text-anchor="middle" fill="#c92a2a">fail</text>')
                else:
                    h = (ph - 40) * val / vmax
                    o.append(f'<rect x="{bx:.1f}" y="{base - h:.1f}" width="{bar_w}" height="{h:.1f}" fill="{COLORS[k]}">'
                             f'<title>{LABELS[k]}: {val:,.3f}</title></rect>')
                    o.append(f'<text x="{bx + bar_w / 2:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" font-size="10" '
                             f'fill="#212529">{_short(val)}</text>')
                bx += bar_w + 6
            label = meta["scenario_definitions"][scenario]["title"]
            sub = mode["key"].replace("core-shared", " cores, shared").replace("core", " core")
            o.append(f'<text x="{x0 + pw / 2}" y="{base + 15}" text-anchor="middle" fill="#212529">{e(label)}</text>')
            o.append(f'<text x="{x0 + pw / 2}" y="{base + 28}" text-anchor="middle" fill="#868e96">{e(sub)}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


def write_svg(results, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(svg(results))


def console_table(results):
    lines = [f"{'mode':16s} {'scenario':18s} {'server':8s} {'req/s':>11s} {'p50 ms':>8s} {'p99 ms':>8s} "
             f"{'CPU/100k':>9s} {'RSS MiB':>8s} {'errors':>8s}"]
    for s in _rows(results):
        lines.append(f"{s['mode']:16s} {s['scenario']:18s} {LABELS[s['server']]:8s} {_num(s['rps']):>11s} "
                     f"{_num(s['p50_ms'], 2):>8s} {_num(s['p99_ms'], 2):>8s} {_num(s['cpu_per_100k_s'], 3):>9s} "
                     f"{_mib(s['rss_peak_kb']):>8s} {s['errors_total']:>8,}")
    lines.append("")
    lines.append(f"{'mode':16s} {'scenario':18s} {'rps E/S':>8s} {'rps E/n':>8s} {'cpu E/S':>8s} {'cpu E/n':>8s}")
    for r in results["ratios"]:
        lines.append(f"{r['mode']:16s} {r['scenario']:18s} {_ratio(r['rps_epoll_over_sockets']):>8s} "
                     f"{_ratio(r['rps_epoll_over_nginx']):>8s} {_ratio(r['cpu_epoll_over_sockets']):>8s} "
                     f"{_ratio(r['cpu_epoll_over_nginx']):>8s}")
    for key, what in (("idle", "idle"), ("idle_tls", "idle TLS")):
        idle = results.get(key)
        if not idle:
            continue
        lines.append("")
        for k, r in idle["servers"].items():
            if "rss_per_conn_bytes" in r:
                lines.append(f"{what} {LABELS[k]:8s} {idle['connections']} conns: {r['rss_per_conn_bytes'] / 1024:.2f} KiB/conn, "
                             f"{r['idle_cpu_s']:.2f} CPU s in {idle['idle_s']} s")
            else:
                lines.append(f"{what} {LABELS[k]:8s} failed: {r.get('error')}")
    return "\n".join(lines)


def main(argv):
    src = argv[0] if len(argv) > 0 else os.path.join(RESULTS_DIR, "latest.json")
    md = argv[1] if len(argv) > 1 else os.path.join(REPO, "docs", "BENCHMARKS.md")
    sv = argv[2] if len(argv) > 2 else os.path.join(REPO, "docs", "benchmarks.svg")
    with open(src) as f:
        results = json.load(f)
    write_markdown(results, md, svg_path=sv)
    write_svg(results, sv)
    print(console_table(results))


