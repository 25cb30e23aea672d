using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Deployment;

/// <summary>
/// The deployment in <c>deploy/</c> under load: two web host instances on Unix sockets behind HAProxy with the
/// deployed configuration (health checks on <c>/healthz</c>, retries), restarted one at a time as
/// <c>systemctl restart</c> does it (SIGTERM, wait for the exit, start again) while clients keep sending
/// requests, some of them in flight for a while. Not one request may fail. Not with the load tests: mostly waiting
/// (two drain delays), light load (8 clients, a quarter of their requests 300 ms long), every server in a process
/// of its own whose figures it does not read, so it runs beside the in-process tests.
/// </summary>
/// <param name="output">The test output.</param>
public sealed class RollingRestartTests(ITestOutputHelper output)
{
    /// <summary>The trait of this test: <c>dotnet test --filter Category=RollingRestart</c>.</summary>
    public const string Category = "RollingRestart";

    private const int Clients = 8;

    // Longer than HAProxy needs to see the 503 (inter 1s, fall 1). deploy/systemd/epolltransport-webhost@.service has
    // 3 s, enough on an idle machine; on a loaded CI machine a health check has lagged past that, so the old instance
    // exited while still in rotation (what is tested is the order: out of rotation, then exit; not the unit's figure).
    private const string DrainDelaySeconds = "10";

    [RequiresToolsFact("haproxy")]
    [Trait("Category", Category)]
    public async Task RestartingTheInstancesOneAtATimeBehindTheProxyFailsNoRequest()
    {
        // Generous: on a loaded machine one restart has taken 40 s; unloaded the whole test takes under a minute.
        using var cts = Timeouts.Create(TimeSpan.FromMinutes(5));
        var clock = Stopwatch.StartNew();
        var sockets = Directory.CreateTempSubdirectory("webhost-instances-").FullName;
        var instances = new WebHostProcess?[2];
        HaproxyProcess? proxy = null;
        try
        {
            for (var i = 0; i < instances.Length; i++)
            {
                instances[i] = await StartInstanceAsync(sockets, i + 1, cts.Token);
            }

            proxy = await HaproxyProcess.StartAsync(sockets, cts.Token);
            await proxy.WaitForStatusAsync("webhost1", "UP", cts.Token);
            await proxy.WaitForStatusAsync("webhost2", "UP", cts.Token);

            using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
            var load = new LoadClients(proxy.BaseAddress, Clients);
            var running = load.RunAsync(stopLoad.Token);
            while (load.Completed < 100)
            {
                // Restarts begin under load, not while the clients are still connecting.
                await Task.Delay(100, cts.Token);
            }

            for (var i = 0; i < instances.Length; i++)
            {
                var name = $"webhost{i + 1}";
                var old = instances[i]!;
                var terminated = DateTime.UtcNow;
                old.Terminate();
                Log($"SIGTERM to {name}, {load.Completed} requests so far");

                // The poll only says when to go on; this process may see the state late (its thread pool is shared
                // with the in-process tests on a loaded machine), by which time the instance may rightly be gone.
                await proxy.WaitForStatusAsync(name, "DOWN", cts.Token);
                var down = await proxy.WaitForStateChangeAsync(name, "DOWN", cts.Token);
                Log($"{name} out of rotation, {load.Completed} requests so far; HAProxy wrote: {down.Line}");

                // What is tested is why HAProxy took it out, in its own record: a health check answered 503, the
                // drain's answer, so the instance was still serving (during the drain delay), and it exited after.
                // An instance that stopped listening first shows "Socket error" or "Layer4 connection problem".
                Assert.True(
                    down is { Reason: "Layer7 wrong status", Code: 503 },
                    $"{name} was taken out of rotation without the drain's 503 on /healthz ({down.Line}); SIGTERM at {Time(terminated)}" +
                    (old.HasExited ? $", exit at {Time(old.ExitTime)}." : ", still running."));
                Assert.Equal(0, await old.WaitForExitAsync(cts.Token));
                Log($"{name} exited at {Time(old.ExitTime)}, {(old.ExitTime - terminated).TotalSeconds:F1} s after the SIGTERM; its output:");
                output.WriteLine(old.Output);
                instances[i] = null;
                await old.DisposeAsync();

                instances[i] = await StartInstanceAsync(sockets, i + 1, cts.Token);
                await proxy.WaitForStatusAsync(name, "UP", cts.Token);
                Log($"{name} restarted and back in rotation");
                await Task.Delay(TimeSpan.FromSeconds(1), cts.Token);
            }

            await stopLoad.CancelAsync();
            await running;

            var servers = await proxy.ServersAsync(cts.Token);
            Log($"{load.Completed} requests, {load.Failures.Count} failed; sessions per server: " +
                string.Join(", ", servers.Select(s => $"{s.Key} {s.Value.Sessions} ({s.Value.Status})")));
            foreach (var failure in load.Failures.Take(20))
            {
                output.WriteLine("Failed: " + failure);
            }

            Assert.Empty(load.Failures);
            Assert.True(load.Completed > 0);
            Assert.All(servers.Values, server => Assert.True(server.Sessions > 0));
            // At no moment were both instances out of rotation: HAProxy alerts "backend '…' has no server available!"
            // when its last server goes DOWN (it writes no request log here, so a 503 to a client shows only as a failure above).
            Assert.DoesNotContain("has no server available", proxy.Output, StringComparison.Ordinal);
        }
        finally
        {
            if (proxy is not null)
            {
                output.WriteLine("HAProxy's output (server state changes):" + Environment.NewLine + proxy.Output);
                await proxy.DisposeAsync();
            }

            foreach (var instance in instances)
            {
                if (instance is not null)
                {
                    output.WriteLine(instance.Output);
                    await instance.DisposeAsync();
                }
            }

            Directory.Delete(sockets, recursive: true);
        }

        void Log(string message) => output.WriteLine($"{Time(DateTime.UtcNow)} ({clock.Elapsed.TotalSeconds:F1} s): {message}");
    }

    private static string Time(DateTime utc) => utc.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);

    // The instances' log lines carry the same UTC clock as the test's, and each health check answered 503 is logged
    // (an error of the health checks' category, off in appsettings.json), so a failure's order of events can be read.
    private static Task<WebHostProcess> StartInstanceAsync(string sockets, int number, CancellationToken cancellationToken) =>
        WebHostProcess.StartServerAsync(
            "Epoll",
            cancellationToken,
            urls: $"http://unix:{Path.Combine(sockets, $"{number}.sock")}",
            arguments:
            [
                "--Health:DrainDelaySeconds", DrainDelaySeconds,
                "--Logging:Console:FormatterOptions:TimestampFormat", "HH:mm:ss.fff ",
                "--Logging:Console:FormatterOptions:UseUtcTimestamp", "true",
                "--Logging:LogLevel:Microsoft.Extensions.Diagnostics.HealthChecks", "Error",
            ]);

    /// <summary>
    /// Clients on keep-alive connections to the proxy, each sending requests one after another until stopped:
    /// quick ones (<c>/plaintext</c>, the site's page) and ones that stay in flight for 300 ms, so that some are
    /// always under way when an instance begins to stop. Every answer is checked; anything else is a failure.
    /// </summary>
    private sealed class LoadClients(Uri baseAddress, int clients)
    {
        private static readonly byte[] s_page = TestPaths.ReadWebRootFile("index.html");
        private long _completed;

        public ConcurrentQueue<string> Failures { get; } = new();

        public long Completed => Interlocked.Read(ref _completed);

        public async Task RunAsync(CancellationToken stop)
        {
            using var client = new HttpClient { BaseAddress = baseAddress, Timeout = Timeouts.Default };
            await Task.WhenAll(Enumerable.Range(0, clients).Select(c => ClientAsync(client, c, stop)));
        }

        private async Task ClientAsync(HttpClient client, int index, CancellationToken stop)
        {
            for (var n = index; !stop.IsCancellationRequested; n++)
            {
                var (path, check) = (n % 4) switch
                {
                    0 => ("/test/slow?ms=300", (Func<byte[], bool>)(body => body.AsSpan().SequenceEqual("Waited 300 ms.\n"u8))),
                    1 => ("/", body => body.AsSpan().SequenceEqual(s_page)),
                    _ => ("/plaintext", body => body.AsSpan().SequenceEqual("Hello, World!"u8)),
                };
                try
                {
                    // Not cancelled by the stop: a request once sent is seen through.
                    using var response = await client.GetAsync(new Uri(path, UriKind.Relative), CancellationToken.None);
                    var body = await response.Content.ReadAsByteArrayAsync(CancellationToken.None);
                    if (response.StatusCode != HttpStatusCode.OK || !check(body))
                    {
                        Failures.Enqueue($"{path}: {(int)response.StatusCode}, {body.Length} bytes");
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                {
                    Failures.Enqueue($"{path}: {ex.GetType().Name}: {ex.Message}");
                }

                Interlocked.Increment(ref _completed);
            }
        }
    }
}
