using System.Globalization;
using System.Net.Sockets;
using System.Text;
using EpollTransport.WebHost.Tests.Infrastructure;

namespace EpollTransport.WebHost.Tests;

/// <summary>Clients that send garbage or go slowly (those that ask for files outside <c>wwwroot</c>: <see cref="StaticSiteTests"/>).</summary>
public abstract partial class TransportTests<TFixture>
{
    // ---------------------------------------------------------------- garbage

    [Theory]
    [MemberData(nameof(GarbageRequests.Names), MemberType = typeof(GarbageRequests))]
    public async Task GarbageGetsAnErrorStatusOrACloseAndOthersAreStillServed(string name)
    {
        var (payload, halfClose) = GarbageRequests.All[name];
        var mark = Server.Logs.Mark;
        using var cts = Timeouts.Create();

        // A well-behaved client with a connection open all along.
        using var bystander = await Server.ConnectAsync(cts.Token);
        await bystander.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
        Assert.Equal("Hello, World!", (await bystander.ReadResponseAsync(cts.Token)).BodyText);

        using (var connection = await Server.ConnectAsync(cts.Token))
        {
            var outcome = await SendGarbageAsync(connection, payload, halfClose, cts.Token);
            Output.WriteLine($"{name}: {outcome}");
            Assert.True(outcome.IsAcceptable, $"{name}: {outcome}");
        }

        await bystander.SendAsync(RawHttpConnection.Get("/json"), cts.Token);
        Assert.Equal("""{"message":"Hello, World!"}""", (await bystander.ReadResponseAsync(cts.Token)).BodyText);
        await AssertServerStillServesAsync(cts.Token);
        AssertNoErrorsOrTransportWarnings(mark);
    }

    [Fact]
    public async Task AStormOfGarbageConnectionsLeavesGoodClientsServed()
    {
        const int rounds = 8;
        var mark = Server.Logs.Mark;
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        var payloads = GarbageRequests.All.Values.ToList();

        var garbage = Enumerable.Range(0, rounds * payloads.Count).Select(async i =>
        {
            var (payload, halfClose) = payloads[i % payloads.Count];
            using var connection = await Server.ConnectAsync(cts.Token);
            return await SendGarbageAsync(connection, payload, halfClose, cts.Token);
        }).ToList();

        // Meanwhile, well-formed requests on keep-alive connections all succeed.
        var good = Enumerable.Range(0, 10).Select(async _ =>
        {
            using var connection = await Server.ConnectAsync(cts.Token);
            for (var i = 0; i < 20; i++)
            {
                await connection.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
                Assert.Equal("Hello, World!", (await connection.ReadResponseAsync(cts.Token)).BodyText);
            }
        }).ToList();

        var outcomes = await Task.WhenAll(garbage);
        await Task.WhenAll(good);
        Output.WriteLine(string.Join(Environment.NewLine, outcomes.GroupBy(o => o.ToString()).Select(g => $"{g.Count(),4} × {g.Key}")));
        Assert.All(outcomes, outcome => Assert.True(outcome.IsAcceptable, outcome.ToString()));
        await AssertServerStillServesAsync(cts.Token);
        AssertNoErrorsOrTransportWarnings(mark);
    }

    // ---------------------------------------------------------------- slow clients

    [Fact]
    public async Task SlowlorisClientsAreCutOffByTheRequestHeadersTimeoutWhileOthersAreServed()
    {
        const int slowClients = 20;
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        await using var factory = StartOwnServer(settings: new Dictionary<string, string?>
        {
            ["Kestrel:Limits:RequestHeadersTimeout"] = "00:00:02",
        });

        var started = DateTime.UtcNow;
        var slowlorises = Enumerable.Range(0, slowClients).Select(async i =>
        {
            using var connection = await factory.ConnectAsync(cts.Token);
            var request = Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow-{i}: " + new string('z', 400));
            var reply = connection.ReadToEndOrResetAsync(cts.Token);
            try
            {
                // One byte every 100 ms: the headers would take 40 s; the server must not wait that long.
                foreach (var b in request)
                {
                    if (reply.IsCompleted)
                    {
                        break;
                    }

                    await connection.SendAsync(new[] { b }, cts.Token);
                    await Task.Delay(100, cts.Token);
                }
            }
            catch (SocketException)
            {
                // The server closed while we were still dripping.
            }

            var (received, reset) = await reply;
            return (Elapsed: DateTime.UtcNow - started, Text: Encoding.ASCII.GetString(received), Reset: reset);
        }).ToList();

        // While they drip, everybody else is served.
        using var client = factory.CreateHttpClient();
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal("Hello, World!", await client.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cts.Token));
            await Task.Delay(100, cts.Token);
        }

        var results = await Task.WhenAll(slowlorises);
        foreach (var result in results)
        {
            Output.WriteLine($"closed after {result.Elapsed.TotalSeconds:F1} s, reset: {result.Reset}, got: {result.Text.Split('\r')[0]}");
            Assert.True(result.Text.Length == 0 || result.Text.StartsWith("HTTP/1.1 408 ", StringComparison.Ordinal), result.Text);

            // 2 s timeout, checked on Kestrel's 1 s heartbeat; far less than the 40 s the headers would take.
            Assert.True(result.Elapsed < TimeSpan.FromSeconds(15), $"A slowloris client lasted {result.Elapsed}.");
        }

        Assert.Equal("Hello, World!", await client.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cts.Token));
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>Sends <paramref name="payload"/> and reads whatever comes back until the server ends the connection.</summary>
    private static async Task<GarbageOutcome> SendGarbageAsync(RawHttpConnection connection, byte[] payload, bool halfClose, CancellationToken cancellationToken)
    {
        var reply = connection.ReadToEndOrResetAsync(cancellationToken);
        var sendFailed = false;
        try
        {
            await connection.SendAsync(payload, cancellationToken);
            if (halfClose)
            {
                await connection.ShutdownSendAsync();
            }
        }
        catch (SocketException)
        {
            // The server answered and closed before it had all of it (e.g. 431 after the first 32 KiB).
            sendFailed = true;
        }

        var (received, reset) = await reply;
        return new GarbageOutcome(received, reset, sendFailed);
    }

    /// <summary>What a garbage-sending client saw.</summary>
    private sealed record GarbageOutcome(byte[] Response, bool Reset, bool SendFailed)
    {
        /// <summary>The status code of the HTTP/1.1 response, if one came.</summary>
        public int? Status =>
            Response.AsSpan().StartsWith("HTTP/1.1 "u8) && Response.Length >= 12 &&
            int.TryParse(Response.AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var status)
                ? status
                : null;

        /// <summary>
        /// Whether the reply is an HTTP/2 GOAWAY frame: Kestrel's answer to the HTTP/2 preface on an endpoint that
        /// speaks HTTP/1.1 without TLS (HTTP_1_1_REQUIRED).
        /// </summary>
        public bool IsHttp2GoAway => Response.Length >= 9 && Response[3] == 0x07 && Response[5..9].All(b => b == 0);

        /// <summary>
        /// The connection ended (the caller's read only returns then), and if anything came back it was one
        /// error response (400, 408, 413, 414, 431 or 505) or an HTTP/2 GOAWAY, never a success.
        /// </summary>
        public bool IsAcceptable =>
            Response.Length == 0 || Status is 400 or 408 or 413 or 414 or 431 or 505 || IsHttp2GoAway;

        public override string ToString() =>
            (Status is { } status ? $"status {status}" :
             IsHttp2GoAway ? "HTTP/2 GOAWAY" :
             Response.Length == 0 ? "no response" :
             $"unparsable reply {Convert.ToHexString(Response.AsSpan(0, Math.Min(24, Response.Length)))}") +
            (Reset ? ", then reset" : ", then closed") + (SendFailed ? " (before the whole payload was sent)" : string.Empty);
    }
}
