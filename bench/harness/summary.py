"""Over the runs of a results dict: per mode, scenario and server the medians and spreads; the ratios
Epoll/Sockets and Epoll/nginx; and 1 -> N core scaling when there is a second mode."""

import statistics


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _server_summary(entry, key, info):
    runs = [r for r in entry["runs"] if r["server"] == key]
    ok = [r for r in runs if r.get("ok")]
    return dict(
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
    )


def _ratio(a, b):
    return (a / b) if (a is not None and b) else None


def summarize(results):
    """Adds "summary", "ratios" and "scaling" to results."""
    summary = [_server_summary(entry, key, info)
               for entry in results["scenarios"] for key, info in entry["servers"].items()]
    results["summary"] = summary

    def get(mode, scenario, server, field):
        for s in summary:
            if s["mode"] == mode and s["scenario"] == scenario and s["server"] == server:
                return s[field]
        return None

    ratios = []
    seen = []
    for s in summary:
        k = (s["mode"], s["scenario"])
        if k in seen:
            continue
        seen.append(k)
        row = dict(mode=k[0], scenario=k[1])
        for other in ("sockets", "nginx"):
            row[f"rps_epoll_over_{other}"] = _ratio(get(*k, "epoll", "rps"), get(*k, other, "rps"))
            row[f"cpu_epoll_over_{other}"] = _ratio(get(*k, "epoll", "cpu_per_100k_s"), get(*k, other, "cpu_per_100k_s"))
            row[f"p99_epoll_over_{other}"] = _ratio(get(*k, "epoll", "p99_ms"), get(*k, other, "p99_ms"))
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
                                speedup=_ratio(s["rps"], base)))
    results["scaling"] = scaling
