using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Reliability;

/// <summary>
/// SIGTERM to the host in its own process, configured with a drain delay, while a long request is in flight:
/// from the signal on, <c>/healthz</c> answers 503 on new connections, which are still accepted and served for
/// the drain delay; then the host stops accepting, the in-flight request still finishes whole, and the host
/// exits cleanly. This is what a load balancer polling <c>/healthz</c> sees of a rolling restart. Not with the load
/// tests: it mostly waits (the drain delay, the in-flight request), polls lightly, reads no figure of the server
/// process and keeps little in this one, so it runs beside the in-process tests.
/// </summary>
/// <param name="output">The test output.</param>
public sealed class HealthDuringShutdownTests(ITestOutputHelper output)
{
    private const int DrainDelaySeconds = 3;
    private const int ShutdownTimeoutSeconds = 15;
    private const int InFlightMilliseconds = 6000;

    [Theory]
    [MemberData(nameof(LoadTests.Transports), MemberType = typeof(LoadTests))]
    public async Task HealthzTurnsUnhealthyAtSigtermAndTheHostServesThroughTheDrainDelay(string transport)
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(90));
        await using var host = await WebHostProcess.StartServerAsync(
            transport,
            cts.Token,
            arguments:
            [
                "--Health:DrainDelaySeconds", DrainDelaySeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--shutdownTimeoutSeconds", ShutdownTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ]);
        try
        {
            var address = host.AddressFor("http");
            var endPoint = new IPEndPoint(IPAddress.Parse(address.Host), address.Port);
            Assert.Equal("200 Healthy", await PollAsync(endPoint, "/healthz", cts.Token));

            using var inFlight = await RawHttpConnection.ConnectAsync(endPoint, cts.Token);
            await inFlight.SendAsync(RawHttpConnection.Get($"/test/slow?ms={InFlightMilliseconds}"), cts.Token);
            var (status, headers) = await inFlight.ReadResponseHeadAsync(cts.Token);
            Assert.Equal(200, status);
            var body = inFlight.ReadBodyAsync(headers, cts.Token);

            var stopwatch = Stopwatch.StartNew();
            host.Terminate();

            // Poll as a load balancer does, each time on a new connection, until the host refuses connections.
            var polls = new List<(TimeSpan Elapsed, string Answer, string Plaintext)>();
            while (stopwatch.Elapsed < TimeSpan.FromSeconds(ShutdownTimeoutSeconds))
            {
                var answer = await PollAsync(endPoint, "/healthz", cts.Token);
                var plaintext = answer == "refused" ? "refused" : await PollAsync(endPoint, "/plaintext", cts.Token);
                polls.Add((stopwatch.Elapsed, answer, plaintext));
                if (answer == "refused")
                {
                    break;
                }

                await Task.Delay(100, cts.Token);
            }

            var bodyText = Encoding.UTF8.GetString(await body);
            var exitCode = await host.WaitForExitAsync(cts.Token);
            output.WriteLine($"{transport}: exited with {exitCode} after {stopwatch.Elapsed.TotalSeconds:F1} s; polls after SIGTERM:");
            foreach (var (elapsed, answer, plaintext) in polls)
            {
                output.WriteLine($"  {elapsed.TotalSeconds,5:F2} s  /healthz: {answer}  /plaintext: {plaintext}");
            }

            // A poll that raced the signal may still see 200; from the first 503 on, none does.
            var firstUnhealthy = polls.FindIndex(p => p.Answer == "503 Unhealthy");
            Assert.True(firstUnhealthy >= 0, "/healthz never reported Unhealthy during the drain.");
            var draining = polls.Skip(firstUnhealthy).TakeWhile(p => p.Answer != "refused").ToList();
            Assert.All(draining, p => Assert.Equal("503 Unhealthy", p.Answer));
            // The one poll that straddles the listener's close may find /plaintext refused.
            Assert.All(draining.SkipLast(1), p => Assert.Equal("200 Hello, World!", p.Plaintext));
            Assert.True(draining[^1].Plaintext is "200 Hello, World!" or "refused", draining[^1].Plaintext);
            Assert.Equal("refused", polls[^1].Answer);
            Assert.Equal($"Waited {InFlightMilliseconds} ms.\n", bodyText);
            Assert.Equal(0, exitCode);
            host.AssertNoErrorsLogged(criticalOnly: true);
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }

    // "status body" of a GET on a new connection, or "refused" once the host no longer accepts.
    private static async Task<string> PollAsync(IPEndPoint endPoint, string path, CancellationToken cancellationToken)
    {
        try
        {
            using var connection = await RawHttpConnection.ConnectAsync(endPoint, cancellationToken);
            await connection.SendAsync(RawHttpConnection.Get(path), cancellationToken);
            var response = await connection.ReadResponseAsync(cancellationToken);
            return $"{response.StatusCode} {response.BodyText}";
        }
        catch (Exception ex) when (ex is SocketException or IOException or EndOfStreamException)
        {
            return "refused";
        }
    }
}
