using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Reliability;

/// <summary>
/// Connection churn against the built host in its own process: many connect/request/close cycles, a third of
/// them ended by the client with a reset at awkward moments. Afterwards the server must hold no more
/// descriptors and no more reachable memory than after the warm-up, and every well-behaved cycle must have
/// got its exact response.
/// </summary>
/// <param name="output">The test output.</param>
[Collection(LoadTests.Name)]
public sealed class ChurnTests(ITestOutputHelper output)
{
    private const int Concurrency = 16;

    // Steady state is reached in the warm-up; what the runtime adds after that (GC budgets) is far below this.
    private const long RssGrowthLimit = 64L * 1024 * 1024;
    private const int WarmUpCycles = 1_000;

    /// <summary>The kinds of cycle, in turn.</summary>
    private enum Cycle
    {
        /// <summary>GET with <c>Connection: close</c>; the server closes after the response.</summary>
        ServerCloses,

        /// <summary>Two keep-alive requests, then the client half-closes and the server follows.</summary>
        ClientFinAfterKeepAlive,

        /// <summary>A 1 MiB download reset by the client after its first bytes.</summary>
        ResetMidResponse,

        /// <summary>Connect and reset at once, before any request.</summary>
        ResetBeforeRequest,

        /// <summary>Half a request line and headers, then a reset.</summary>
        ResetMidRequest,

        /// <summary>An 8 KiB upload echoed back, then a reset instead of a close.</summary>
        ResetAfterUpload,
    }

    [Theory]
    [MemberData(nameof(LoadTests.Transports), MemberType = typeof(LoadTests))]
    public Task FiveThousandChurnCyclesLeaveNoDescriptorsOrMemoryBehind(string transport) =>
        RunAsync(transport, cycles: 5_000, heapGrowthLimit: 4L * 1024 * 1024, TimeSpan.FromMinutes(2));

    [Theory]
    [Trait("Category", LoadTests.SoakCategory)]
    [MemberData(nameof(LoadTests.Transports), MemberType = typeof(LoadTests))]
    public Task SoakTwoHundredThousandChurnCyclesLeaveNoDescriptorsOrMemoryBehind(string transport) =>
        RunAsync(transport, cycles: 200_000, heapGrowthLimit: 4L * 1024 * 1024, TimeSpan.FromMinutes(15));

    private async Task RunAsync(string transport, int cycles, long heapGrowthLimit, TimeSpan timeout)
    {
        using var cts = Timeouts.Create(timeout);
        await using var host = await WebHostProcess.StartServerAsync(transport, cts.Token);
        try
        {
            var address = host.AddressFor("http");
            var endPoint = new IPEndPoint(IPAddress.Parse(address.Host), address.Port);
            using var client = new HttpClient { BaseAddress = address, Timeout = Timeouts.Default };

            // Warm up: every code path JIT-compiled, every assembly loaded, pools at their working size.
            var warmUp = await RunCyclesAsync(endPoint, WarmUpCycles, cts.Token);
            Assert.Equal(0, warmUp.Failures);
            var heapBefore = await HeapBytesAsync(client, cts.Token);
            var rssBefore = host.Memory().Rss;
            var descriptorsBefore = await host.SettledFileDescriptorCountAsync(cts.Token);
            var targetsBefore = host.FileDescriptorTargets();

            var stopwatch = Stopwatch.StartNew();
            var result = await RunCyclesAsync(endPoint, cycles, cts.Token);
            stopwatch.Stop();

            // The server finishes closing on its own time; wait (bounded) for its descriptors to come back.
            var descriptorsAfter = await host.SettledFileDescriptorCountAsync(cts.Token, target: descriptorsBefore);
            var targetsAfter = host.FileDescriptorTargets();
            var heapAfter = await HeapBytesAsync(client, cts.Token);
            var (rssAfter, peakRss) = host.Memory();

            output.WriteLine(
                $"{transport}: {cycles} cycles in {stopwatch.Elapsed.TotalSeconds:F1} s ({cycles / stopwatch.Elapsed.TotalSeconds:F0}/s), " +
                $"{result.Resets} client resets, {result.Failures} failures; " +
                $"descriptors {descriptorsBefore} -> {descriptorsAfter}; reachable heap {heapBefore / 1024} KiB -> {heapAfter / 1024} KiB; " +
                $"RSS {rssBefore / (1024 * 1024)} MiB -> {rssAfter / (1024 * 1024)} MiB (peak {peakRss / (1024 * 1024)} MiB)");
            foreach (var failure in result.FailureSamples)
            {
                output.WriteLine("  failure: " + failure);
            }

            foreach (var (fd, target) in targetsAfter.Where(t => !targetsBefore.TryGetValue(t.Key, out var before) || before != t.Value))
            {
                output.WriteLine($"  descriptor {fd} -> {target} is new since the warm-up");
            }

            Assert.Equal(0, result.Failures);
            Assert.True(descriptorsAfter <= descriptorsBefore, $"The server holds {descriptorsAfter - descriptorsBefore} more descriptors after the churn.");
            Assert.True(heapAfter - heapBefore < heapGrowthLimit, $"The reachable heap grew by {(heapAfter - heapBefore) / 1024} KiB.");
            Assert.True(rssAfter - rssBefore < RssGrowthLimit, $"The resident memory grew by {(rssAfter - rssBefore) / (1024 * 1024)} MiB.");
            Assert.False(host.HasExited);
            host.AssertNoErrorsLogged();
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }

    private static async Task<ChurnResult> RunCyclesAsync(IPEndPoint endPoint, int cycles, CancellationToken cancellationToken)
    {
        var result = new ChurnResult();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(
            async () =>
            {
                int index;
                while ((index = Interlocked.Increment(ref next)) < cycles)
                {
                    var cycle = (Cycle)(index % 6);
                    using var cycleTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    cycleTimeout.CancelAfter(TimeSpan.FromSeconds(15));
                    try
                    {
                        await RunCycleAsync(endPoint, cycle, cycleTimeout.Token);
                        if (cycle is Cycle.ResetMidResponse or Cycle.ResetBeforeRequest or Cycle.ResetMidRequest or Cycle.ResetAfterUpload)
                        {
                            result.AddReset();
                        }
                    }
                    catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException or OperationCanceledException or Xunit.Sdk.XunitException)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        result.AddFailure($"cycle {index} ({cycle}): {ex.GetType().Name}: {ex.Message}");
                    }
                }
            },
            cancellationToken)));
        return result;
    }

    private static async Task RunCycleAsync(IPEndPoint endPoint, Cycle cycle, CancellationToken cancellationToken)
    {
        using var connection = await RawHttpConnection.ConnectAsync(endPoint, cancellationToken);
        switch (cycle)
        {
            case Cycle.ServerCloses:
                await connection.SendAsync(RawHttpConnection.Get("/plaintext", "Connection: close"), cancellationToken);
                Expect((await connection.ReadResponseAsync(cancellationToken)).BodyText == "Hello, World!", "wrong body");
                Expect(await connection.ReadToEndAsync(cancellationToken) == 0, "data after the response");
                break;

            case Cycle.ClientFinAfterKeepAlive:
                await connection.SendAsync(RawHttpConnection.Get("/json"), cancellationToken);
                Expect((await connection.ReadResponseAsync(cancellationToken)).StatusCode == 200, "json failed");
                await connection.SendAsync(RawHttpConnection.Get("/plaintext"), cancellationToken);
                Expect((await connection.ReadResponseAsync(cancellationToken)).BodyText == "Hello, World!", "wrong body");
                connection.Socket.Shutdown(SocketShutdown.Send);
                Expect(await connection.ReadToEndAsync(cancellationToken) == 0, "data after the response");
                break;

            case Cycle.ResetMidResponse:
                await connection.SendAsync(RawHttpConnection.Get("/test/bytes/1048576"), cancellationToken);
                var (status, _) = await connection.ReadResponseHeadAsync(cancellationToken);
                Expect(status == 200, $"status {status}");
                await connection.ReadExactlyAsync(1000, cancellationToken);
                connection.Reset();
                break;

            case Cycle.ResetBeforeRequest:
                connection.Reset();
                break;

            case Cycle.ResetMidRequest:
                await connection.SendAsync("GET /plaintext HTTP/1.1\r\nHost: loc", cancellationToken);
                connection.Reset();
                break;

            case Cycle.ResetAfterUpload:
                var body = new byte[8192];
                await connection.SendAsync($"POST /test/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {body.Length}\r\n\r\n", cancellationToken);
                await connection.SendAsync(body, cancellationToken);
                Expect((await connection.ReadResponseAsync(cancellationToken)).Body.Length == body.Length, "short echo");
                connection.Reset();
                break;
        }
    }

    private static void Expect(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidDataException(message);
        }
    }

    private static async Task<long> HeapBytesAsync(HttpClient client, CancellationToken cancellationToken)
    {
        using var document = JsonDocument.Parse(await client.GetStringAsync(new Uri("/test/memory", UriKind.Relative), cancellationToken));
        return document.RootElement.GetProperty("heapBytes").GetInt64();
    }

    private sealed class ChurnResult
    {
        private readonly List<string> _failureSamples = [];
        private int _failures;

        private int _resets;

        public int Resets => Volatile.Read(ref _resets);

        public int Failures => Volatile.Read(ref _failures);

        public IReadOnlyList<string> FailureSamples
        {
            get
            {
                lock (_failureSamples)
                {
                    return [.. _failureSamples];
                }
            }
        }

        public void AddReset() => Interlocked.Increment(ref _resets);

        public void AddFailure(string description)
        {
            Interlocked.Increment(ref _failures);
            lock (_failureSamples)
            {
                if (_failureSamples.Count < 20)
                {
                    _failureSamples.Add(description);
                }
            }
        }
    }
}
