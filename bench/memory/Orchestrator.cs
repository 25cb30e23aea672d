using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace EpollTransport.MemoryBench;

/// <summary>The parent process: runs every scenario in a child process of its own, then reports.</summary>
internal static class Orchestrator
{
    private static readonly TimeSpan s_childTimeout = TimeSpan.FromMinutes(10);

    public static async Task<int> RunAsync(Cli cli, string[] args)
    {
        // Client and server ends are both in the child: two descriptors per connection (N measured, 300
        // warm-up, N / 2 more for the sampled pass).
        var (soft, hard) = Native.DescriptorLimits();
        ulong connections = (ulong)cli.Connections + 300 + (cli.SampleTypes ? (ulong)cli.Connections / 2 : 0);
        ulong needed = (2 * connections) + 256;
        if (needed > soft)
        {
            await Console.Error.WriteLineAsync(
                $"{cli.Connections} connections need about {needed} open descriptors, but the limit is {soft} (hard limit {hard}). " +
                $"Raise it first (ulimit -n {Math.Min(hard, Math.Max(needed, 20000))}) or pass fewer --connections.").ConfigureAwait(false);
            return 2;
        }

        var runs = new List<ChildResult>();
        var plan = new List<(string Scenario, TransportKind? Transport, bool SampleTypes)>();
        for (int repeat = 0; repeat < cli.Repeat; repeat++)
        {
            // Interleaved, so that whatever else the machine does meanwhile spreads over all of them.
            plan.Add((ScenarioNames.IdleRaw, null, false));
            foreach (var transport in cli.Transports)
            {
                plan.Add((ScenarioNames.IdleTransport, transport, cli.SampleTypes));
                plan.Add((ScenarioNames.IdleKestrel, transport, cli.SampleTypes));
            }
        }

        plan.Add((ScenarioNames.LoadRawEcho, null, cli.SampleTypes));
        plan.Add((ScenarioNames.LoadRawHttp, null, cli.SampleTypes));
        foreach (var transport in cli.Transports)
        {
            plan.Add((ScenarioNames.LoadTransport, transport, cli.SampleTypes));
            plan.Add((ScenarioNames.LoadKestrel, transport, cli.SampleTypes));
        }

        foreach (var (scenario, transport, sampleTypes) in plan)
        {
            var label = transport is null ? scenario : $"{scenario} ({transport})";
            await Console.Error.WriteLineAsync($"== {label}").ConfigureAwait(false);
            var result = await RunChildAsync(cli, scenario, transport, sampleTypes).ConfigureAwait(false);
            await Console.Error.WriteLineAsync("   " + Report.Describe(result)).ConfigureAwait(false);
            runs.Add(result);
        }

        var report = Report.Build(cli, runs, CommandLine(args), MachineDescription());
        string markdown = Report.Markdown(report);
        Console.WriteLine(markdown);
        if (cli.MarkdownPath is { } markdownPath)
        {
            await File.WriteAllTextAsync(markdownPath, markdown).ConfigureAwait(false);
        }

        if (cli.JsonPath is { } jsonPath)
        {
            var indented = new ResultsJsonContext(new JsonSerializerOptions(ResultsJsonContext.Default.Options) { WriteIndented = true });
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(report, indented.RunReport) + "\n").ConfigureAwait(false);
        }

        // A connection the server closed during an idle scenario would make its figures meaningless.
        return runs.Any(r => r.Error is not null || r.StillOpen < r.Connections) ? 3 : 0;
    }

    private static async Task<ChildResult> RunChildAsync(Cli cli, string scenario, TransportKind? transport, bool sampleTypes)
    {
        // This same program: the apphost directly, or "dotnet EpollTransport.MemoryBench.dll" when started that way.
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("No process path.");
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(typeof(Orchestrator).Assembly.Location);
        }

        foreach (var argument in cli.ChildArguments(scenario, transport, sampleTypes))
        {
            start.ArgumentList.Add(argument);
        }

        var failed = new ChildResult { Scenario = scenario, Transport = transport?.ToString() };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the child process.");
        using var timeout = new CancellationTokenSource(s_childTimeout);
        string output;
        try
        {
            output = await process.StandardOutput.ReadToEndAsync(timeout.Token).ConfigureAwait(false);
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            failed.Error = $"timed out after {s_childTimeout.TotalMinutes} min";
            return failed;
        }

        var line = output.Split('\n').LastOrDefault(l => l.StartsWith(Cli.ResultPrefix, StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
        {
            failed.Error = $"exit code {process.ExitCode}; output: {output.Trim()}";
            return failed;
        }

        return JsonSerializer.Deserialize(line[Cli.ResultPrefix.Length..], ResultsJsonContext.Default.ChildResult)
            ?? throw new InvalidDataException("Empty result.");
    }

    private static string CommandLine(string[] args) =>
        "dotnet run -c Release --project bench/memory" + (args.Length == 0 ? "" : " -- " + string.Join(' ', args));

    private static string MachineDescription()
    {
        string kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : "?";
        string cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        return string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessorCount} cores ({cpu}), {RuntimeInformation.OSDescription}, kernel {kernel}");
    }
}
