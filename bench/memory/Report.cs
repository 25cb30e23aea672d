using System.Globalization;
using System.Text;

namespace EpollTransport.MemoryBench;

/// <summary>Turns the children's results into per-transport figures (baselines subtracted) and markdown.</summary>
internal static class Report
{
    private static readonly CultureInfo s_invariant = CultureInfo.InvariantCulture;

    public static RunReport Build(Cli cli, List<ChildResult> runs, string command, string machine)
    {
        var first = runs.FirstOrDefault(r => r.Error is null);
        var report = new RunReport
        {
            Command = command,
            Date = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", s_invariant),
            Runtime = first?.Runtime ?? "?",
            GcMode = first?.GcMode ?? "?",
            Machine = machine,
            Connections = cli.Connections,
            LoadConnections = cli.LoadConnections,
            Repeat = cli.Repeat,
            Requests = runs.FirstOrDefault(r => r.Operations > 0)?.Operations ?? cli.Requests,
            Runs = runs,
        };

        // Idle figures: medians over the repeated runs. Load figures: one run each. Rounded to 0.001
        // (bytes, KiB): finer digits are noise, and the JSON stays readable.
        double Heap(string scenario, TransportKind? transport) => Math.Round(Median(runs, scenario, transport, r => r.HeapBytesPerConnection), 3);
        double Rss(string scenario, TransportKind? transport) => Math.Round(Median(runs, scenario, transport, r => r.RssBytesPerConnection) / 1024, 3);
        double Allocated(string scenario, TransportKind? transport) => Math.Round(Median(runs, scenario, transport, r => r.AllocatedBytesPerOperation), 3);
        report.Baseline = new BaselineFigures
        {
            HeapBytesPerConnection = Heap(ScenarioNames.IdleRaw, null),
            RssKiBPerConnection = Rss(ScenarioNames.IdleRaw, null),
            AllocatedBytesPerRoundTrip = Allocated(ScenarioNames.LoadRawEcho, null),
            AllocatedBytesPerRequest = Allocated(ScenarioNames.LoadRawHttp, null),
        };
        var baseline = report.Baseline;
        foreach (var transport in cli.Transports)
        {
            double transportHeap = Heap(ScenarioNames.IdleTransport, transport) - baseline.HeapBytesPerConnection;
            double transportRss = Rss(ScenarioNames.IdleTransport, transport) - baseline.RssKiBPerConnection;
            double kestrelHeap = Heap(ScenarioNames.IdleKestrel, transport) - baseline.HeapBytesPerConnection;
            double kestrelRss = Rss(ScenarioNames.IdleKestrel, transport) - baseline.RssKiBPerConnection;
            report.Figures.Add(new TransportFigures
            {
                Transport = transport.ToString(),
                TransportHeapBytesPerConnection = Math.Round(transportHeap, 3),
                TransportRssKiBPerConnection = Math.Round(transportRss, 3),
                KestrelHeapBytesPerConnection = Math.Round(kestrelHeap, 3),
                KestrelRssKiBPerConnection = Math.Round(kestrelRss, 3),
                KestrelOnlyHeapBytesPerConnection = Math.Round(kestrelHeap - transportHeap, 3),
                KestrelOnlyRssKiBPerConnection = Math.Round(kestrelRss - transportRss, 3),
                AllocatedBytesPerRequest = Math.Round(Allocated(ScenarioNames.LoadKestrel, transport) - baseline.AllocatedBytesPerRequest, 3),
                AllocatedBytesPerRoundTrip = Math.Round(Allocated(ScenarioNames.LoadTransport, transport) - baseline.AllocatedBytesPerRoundTrip, 3),
            });
        }

        return report;
    }

    /// <summary>One line of progress for a finished child.</summary>
    public static string Describe(ChildResult r)
    {
        if (r.Error is not null)
        {
            return "FAILED: " + r.Error;
        }

        if (r.Before is { } b && r.After is { } a)
        {
            return string.Create(s_invariant,
                $"heap {Mib(b.HeapBytes)} -> {Mib(a.HeapBytes)} MiB ({r.HeapBytesPerConnection:F0} B/conn), RSS {Mib(b.RssBytes)} -> {Mib(a.RssBytes)} MiB ({r.RssBytesPerConnection / 1024:F2} KiB/conn), " +
                $"{r.StillOpen}/{r.Connections} still open, connected in {r.Seconds:F1} s");
        }

        return string.Create(s_invariant,
            $"{r.Operations} exchanges in {r.Seconds:F1} s ({r.Operations / r.Seconds:F0}/s), {r.AllocatedBytes} B allocated = {r.AllocatedBytesPerOperation:F2} B each, " +
            $"GCs {string.Join('/', r.Collections)}");
    }

    public static string Markdown(RunReport report)
    {
        var md = new StringBuilder();
        void Line(string text = "") => md.Append(text).Append('\n');
        string Cell(IEnumerable<TransportFigures> figures, Func<TransportFigures, double> value, string format)
        {
            var values = figures.Select(value).ToList();
            var cells = values.Select(v => v.ToString(format, s_invariant));
            // No ratio of two noise-level values (allocations of a fraction of a byte per request).
            string ratio = values.Count == 2 && Math.Abs(values[1]) >= 1 ? (values[0] / values[1]).ToString("F2", s_invariant) : "—";
            return string.Join(" | ", cells) + (values.Count == 2 ? $" | {ratio}" : "");
        }

        var f = report.Figures;
        var raw = report.Baseline;
        Line($"Command: `{report.Command}`  ");
        Line(string.Create(s_invariant, $"{report.Date}; {report.Runtime}; GC: {report.GcMode}; {report.Machine}.  "));
        Line(string.Create(s_invariant, $"Idle scenarios: N = {report.Connections:N0} connections, {(report.Repeat == 1 ? "one run" : $"medians of {report.Repeat} runs")}. Load scenarios: {report.LoadConnections} keep-alive connections, {report.Requests:N0} requests or round trips counted."));
        Line();
        Line("| Per connection / per request | " + string.Join(" | ", f.Select(x => x.Transport)) + (f.Count == 2 ? $" | {f[0].Transport} / {f[1].Transport}" : "") + " |");
        Line("| --- |" + string.Concat(Enumerable.Repeat(" ---: |", f.Count + (f.Count == 2 ? 1 : 0))));
        Line($"| (1) Transport only, idle: managed heap, B/conn | {Cell(f, x => x.TransportHeapBytesPerConnection, "F0")} |");
        Line($"| (1) Transport only, idle: RSS, KiB/conn | {Cell(f, x => x.TransportRssKiBPerConnection, "F2")} |");
        Line($"| (2) Kestrel + transport, idle keep-alive: managed heap, B/conn | {Cell(f, x => x.KestrelHeapBytesPerConnection, "F0")} |");
        Line($"| (2) Kestrel + transport, idle keep-alive: RSS, KiB/conn | {Cell(f, x => x.KestrelRssKiBPerConnection, "F2")} |");
        Line($"| (2 − 1) Kestrel's own share: managed heap, B/conn | {Cell(f, x => x.KestrelOnlyHeapBytesPerConnection, "F0")} |");
        Line($"| (2 − 1) Kestrel's own share: RSS, KiB/conn | {Cell(f, x => x.KestrelOnlyRssKiBPerConnection, "F2")} |");
        Line($"| Allocated per request, Kestrel GET /plaintext, B | {Cell(f, x => x.AllocatedBytesPerRequest, "F2")} |");
        Line($"| Allocated per 64-byte round trip, transport only, B | {Cell(f, x => x.AllocatedBytesPerRoundTrip, "F2")} |");
        Line();
        Line(string.Create(s_invariant,
            $"Baselines, already subtracted above (the raw client against a raw accept4/recv/send server): idle {raw.HeapBytesPerConnection:F1} B/conn heap and " +
            $"{raw.RssKiBPerConnection:F2} KiB/conn RSS; {raw.AllocatedBytesPerRoundTrip:F2} B allocated per echo round trip, {raw.AllocatedBytesPerRequest:F2} B per HTTP request."));
        if (f.Count == 2 && f[1].KestrelRssKiBPerConnection > 0)
        {
            Line();
            Line(string.Create(s_invariant,
                $"Floor of the {f[0].Transport}/{f[1].Transport} RSS-per-connection ratio if the {f[0].Transport} transport used nothing per connection: " +
                $"Kestrel's own share / {f[1].Transport}'s total = {f[0].KestrelOnlyRssKiBPerConnection:F2} / {f[1].KestrelRssKiBPerConnection:F2} = " +
                $"{f[0].KestrelOnlyRssKiBPerConnection / f[1].KestrelRssKiBPerConnection:F2} (Kestrel's share as measured on {f[0].Transport}), " +
                $"{f[1].KestrelOnlyRssKiBPerConnection / f[1].KestrelRssKiBPerConnection:F2} (as measured on {f[1].Transport}). " +
                $"The same with the managed heap: {f[0].KestrelOnlyHeapBytesPerConnection / f[1].KestrelHeapBytesPerConnection:F2} and {f[1].KestrelOnlyHeapBytesPerConnection / f[1].KestrelHeapBytesPerConnection:F2}."));
        }

        Line();
        Line("Every run (each in its own process):");
        Line();
        Line("| Scenario | Transport | Heap before → after, MiB | RSS before → after, MiB | GC committed before → after, MiB | Threads | Still open | Exchanges | Allocated, B | B each | GCs 0/1/2 | Seconds |");
        Line("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in report.Runs)
        {
            string heap = r.Before is { } b && r.After is { } a ? $"{Mib(b.HeapBytes)} → {Mib(a.HeapBytes)}" : "";
            string rss = r.Before is { } b2 && r.After is { } a2 ? $"{Mib(b2.RssBytes)} → {Mib(a2.RssBytes)}" : "";
            string committed = r.Before is { } b3 && r.After is { } a3 ? $"{Mib(b3.CommittedBytes)} → {Mib(a3.CommittedBytes)}" : "";
            string threads = r.Before is { } b4 && r.After is { } a4 ? $"{b4.Threads} → {a4.Threads}" : "";
            string open = r.Connections > 0 ? $"{r.StillOpen}/{r.Connections}" : "";
            string ops = r.Operations > 0 ? r.Operations.ToString("N0", s_invariant) : "";
            string allocated = r.Operations > 0 ? r.AllocatedBytes.ToString("N0", s_invariant) : "";
            string each = r.Operations > 0 ? r.AllocatedBytesPerOperation.ToString("F2", s_invariant) : "";
            Line(string.Create(s_invariant, $"| {r.Scenario} | {r.Transport ?? "raw"} | {heap} | {rss} | {committed} | {threads} | {open} | {ops} | {allocated} | {each} | {string.Join('/', r.Collections)} | {r.Seconds:F1} |{(r.Error is null ? "" : " FAILED: " + r.Error)}"));
        }

        // The sampled types, pooled over the runs of each scenario (more samples, less noise).
        foreach (var group in report.Runs.Where(r => r.TopTypes is not null).GroupBy(r => (r.Scenario, r.Transport)))
        {
            bool idle = group.Key.Scenario.StartsWith("idle-", StringComparison.Ordinal);
            string unit = idle ? "connection" : group.Key.Scenario is ScenarioNames.LoadTransport or ScenarioNames.LoadRawEcho ? "round trip" : "request";
            long operations = group.Sum(r => r.SampledPassOperations);
            int ticks = group.Sum(r => r.SampledPassTicks);
            double allocatedEach = group.Sum(r => (double)r.SampledPassAllocatedBytes) / operations;
            string pass = idle
                ? $"{operations:N0} connections opened after the measurements ({group.Count()} run(s)), one exchange each — allocated while connecting and serving, garbage included, not what stays; one sample ≈ {100_000.0 / (operations / group.Count()):F0} B per connection"
                : $"a second pass of {operations:N0} exchanges";
            Line();
            Line(string.Create(s_invariant,
                $"Allocated types, {group.Key.Scenario} ({group.Key.Transport ?? "raw"}): {ticks} GCAllocationTick samples (one per ~100 KB allocated) over {pass}; " +
                $"{allocatedEach:F1} B allocated per {unit} in that pass, the listener's own allocations included."));
            if (ticks == 0)
            {
                Line($"Not one sample: less than ~100 KB was allocated in the whole pass, so there is nothing per {unit} to name.");
                continue;
            }

            if (!idle && group.All(r => r.AllocatedBytesPerOperation < 1))
            {
                Line("The counting pass allocated under 1 B per exchange, so these few samples are the listener's own event payloads and background work, not a per-request cost.");
            }

            Line();
            Line($"| Type | ≈ B per {unit} | Samples |");
            Line("| --- | ---: | ---: |");
            var merged = group
                .SelectMany(r => r.TopTypes!)
                .GroupBy(t => t.Type)
                .Select(g => (Type: g.Key, Samples: g.Sum(t => t.Samples), Bytes: g.Sum(t => t.SampledBytes)))
                .OrderByDescending(t => t.Bytes)
                .Take(12);
            foreach (var (type, samples, bytes) in merged)
            {
                Line(string.Create(s_invariant, $"| `{type}` | {bytes / (double)operations:F1} | {samples} |"));
            }
        }

        return md.ToString();
    }

    /// <summary>The median of <paramref name="metric"/> over the successful runs of a scenario; NaN if none.</summary>
    private static double Median(List<ChildResult> runs, string scenario, TransportKind? transport, Func<ChildResult, double> metric)
    {
        var values = runs
            .Where(r => r.Scenario == scenario && r.Transport == transport?.ToString() && r.Error is null)
            .Select(metric)
            .Order()
            .ToList();
        return values.Count switch
        {
            0 => double.NaN,
            _ when values.Count % 2 == 1 => values[values.Count / 2],
            _ => (values[(values.Count / 2) - 1] + values[values.Count / 2]) / 2,
        };
    }

    private static string Mib(long bytes) => (bytes / 1048576.0).ToString("F1", s_invariant);
}
