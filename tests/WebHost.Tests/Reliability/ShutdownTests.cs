using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Reliability;

/// <summary>
/// SIGTERM, as systemd or a container runtime sends it, to the host in its own process while it has a thousand
/// connections open: idle keep-alive ones, requests in flight that finish within the shutdown timeout, and
/// requests that would not.
/// </summary>
/// <param name="output">The test output.</param>
[Collection(LoadTests.Name)]
public sealed class ShutdownTests(ITestOutputHelper output)
{
    private const int IdleConnections = 895;
    private const int InFlightRequests = 100;
    private const int OverlongRequests = 5;
    // Idle connections must be closed at once, before the in-flight requests end: on a machine loaded by
    // parallel builds the host took over 3 s to get that far, so the in-flight requests last 5 s, and the
    // shutdown timeout leaves them 5 s more.
    private const int InFlightMilliseconds = 5000;
    private const int ShutdownTimeoutSeconds = 10;

    [DescriptorLimitTheory(4096)]
    [MemberData(nameof(LoadTests.Transports), MemberType = typeof(LoadTests))]
    public async Task SigtermWithAThousandOpenConnectionsStopsGracefullyWithinTheShutdownTimeout(string transport)
    {
        using var cts = Timeouts.Create(TimeSpan.FromMinutes(2));
        await using var host = await WebHostProcess.StartServerAsync(
            transport,
            cts.Token,
            arguments: ["--shutdownTimeoutSeconds", ShutdownTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        var connections = new List<RawHttpConnection>();
        try
        {
            var address = host.AddressFor("http");
            var endPoint = new IPEndPoint(IPAddress.Parse(address.Host), address.Port);

            // Idle keep-alive connections: each has served one request and waits for the next.
            for (var i = 0; i < IdleConnections; i += 50)
            {
                connections.AddRange(await Task.WhenAll(Enumerable.Range(0, Math.Min(50, IdleConnections - i)).Select(async _ =>
                {
                    var connection = await RawHttpConnection.ConnectAsync(endPoint, cts.Token);
                    await connection.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
                    Assert.Equal("Hello, World!", (await connection.ReadResponseAsync(cts.Token)).BodyText);
                    return connection;
                })));
            }

            var idle = connections.ToList();

            // Requests in flight: the endpoint has sent its headers and is waiting before it sends the body.
            async Task<(RawHttpConnection Connection, IReadOnlyDictionary<string, string> Headers)> StartSlowAsync(int milliseconds)
            {
                var connection = await RawHttpConnection.ConnectAsync(endPoint, cts.Token);
                lock (connections)
                {
                    connections.Add(connection);
                }

                await connection.SendAsync(RawHttpConnection.Get($"/test/slow?ms={milliseconds}"), cts.Token);
                var (status, headers) = await connection.ReadResponseHeadAsync(cts.Token);
                Assert.Equal(200, status);
                return (connection, headers);
            }

            var inFlight = await Task.WhenAll(Enumerable.Range(0, InFlightRequests).Select(_ => StartSlowAsync(InFlightMilliseconds)));
            var overlong = await Task.WhenAll(Enumerable.Range(0, OverlongRequests).Select(_ => StartSlowAsync(60_000)));
            var descriptorsBefore = host.FileDescriptorCount();
            Assert.True(descriptorsBefore > IdleConnections + InFlightRequests + OverlongRequests, $"The server has only {descriptorsBefore} descriptors open.");

            var stopwatch = Stopwatch.StartNew();
            host.Terminate();

            // Idle connections are closed at once; in-flight requests complete, each with its whole body; the
            // overlong ones are cut at the shutdown timeout. Timestamps tell which happened before the exit.
            var idleClosed = idle.Select(async connection =>
            {
                var (received, _) = await connection.ReadToEndOrResetAsync(cts.Token);
                return (Elapsed: stopwatch.Elapsed, Received: received.Length);
            }).ToList();
            var completed = inFlight.Select(async request =>
            {
                var body = await request.Connection.ReadBodyAsync(request.Headers, cts.Token);
                var (rest, _) = await request.Connection.ReadToEndOrResetAsync(cts.Token);
                return (Elapsed: stopwatch.Elapsed, Body: Encoding.UTF8.GetString(body), Trailing: rest.Length);
            }).ToList();
            var cut = overlong.Select(async request =>
            {
                var (received, reset) = await request.Connection.ReadToEndOrResetAsync(cts.Token);
                return (Elapsed: stopwatch.Elapsed, Received: received.Length, Reset: reset);
            }).ToList();

            // Once shutting down, the server accepts nothing new: a new connection is refused while the host still
            // runs (it runs on for the in-flight requests' 5 s), however long the start of its stop takes here.
            Exception? refused = null;
            var refusedWhileRunning = false;
            await Eventually.HoldsAsync(
                async () =>
                {
                    refused = await Record.ExceptionAsync(async () =>
                    {
                        using var late = await RawHttpConnection.ConnectAsync(endPoint, cts.Token);
                        await late.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
                        await late.ReadResponseAsync(cts.Token);
                    });
                    refusedWhileRunning = refused is not null && !host.HasExited;
                    return refused is not null || host.HasExited;
                },
                "a new connection was refused, or the host exited",
                TimeSpan.FromSeconds(ShutdownTimeoutSeconds + 10));
            var refusedAfter = stopwatch.Elapsed;

            var exitCode = await host.WaitForExitAsync(cts.Token);
            var exitedAfter = stopwatch.Elapsed;
            var idleResults = await Task.WhenAll(idleClosed);
            var completedResults = await Task.WhenAll(completed);
            var cutResults = await Task.WhenAll(cut);

            output.WriteLine(
                $"{transport}: SIGTERM with {descriptorsBefore} server descriptors open; exited with {exitCode} after {exitedAfter.TotalSeconds:F1} s " +
                $"(shutdown timeout {ShutdownTimeoutSeconds} s). {IdleConnections} idle connections closed within {idleResults.Max(r => r.Elapsed).TotalSeconds:F2} s; " +
                $"{InFlightRequests} in-flight requests completed within {completedResults.Max(r => r.Elapsed).TotalSeconds:F1} s; " +
                $"{OverlongRequests} overlong requests cut at {cutResults.Min(r => r.Elapsed).TotalSeconds:F1}-{cutResults.Max(r => r.Elapsed).TotalSeconds:F1} s. " +
                $"A new connection after SIGTERM: {refused?.GetType().Name ?? "served"} {(refused as SocketException)?.SocketErrorCode} after {refusedAfter.TotalSeconds:F2} s");

            Assert.Equal(0, exitCode);
            Assert.True(exitedAfter < TimeSpan.FromSeconds(ShutdownTimeoutSeconds + 5), $"The host took {exitedAfter} to stop.");
            Assert.All(idleResults, r => Assert.Equal(0, r.Received));
            Assert.All(idleResults, r => Assert.True(r.Elapsed < TimeSpan.FromMilliseconds(InFlightMilliseconds), $"An idle connection was closed only after {r.Elapsed}."));
            Assert.All(completedResults, r => Assert.Equal($"Waited {InFlightMilliseconds} ms.\n", r.Body));
            Assert.All(completedResults, r => Assert.Equal(0, r.Trailing));
            Assert.All(cutResults, r => Assert.True(r.Elapsed >= TimeSpan.FromSeconds(ShutdownTimeoutSeconds - 1), $"An overlong request was cut after only {r.Elapsed}."));
            Assert.True(refusedWhileRunning, "New connections were served until the host exited.");
            host.AssertNoErrorsLogged(criticalOnly: true); // the overlong requests are cut on purpose
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection.Dispose();
            }

            output.WriteLine(host.Output);
        }
    }
}
