using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EpollTransport.WebHost.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// The functional suite. It knows nothing of any transport: each subclass runs all of it against the web
/// host on one transport (<see cref="EpollTransportTests"/>, <see cref="SocketsTransportTests"/>).
/// Every network wait is bounded by <see cref="Timeouts"/>; nothing asserts on timing.
/// </summary>
/// <typeparam name="TFixture">The fixture running the web host on the subclass's transport.</typeparam>
public abstract partial class TransportTests<TFixture> : WebHostTests<TFixture>
    where TFixture : ServerFixture
{
    /// <summary>Creates the tests.</summary>
    /// <param name="fixture">The shared server.</param>
    /// <param name="output">The test output.</param>
    protected TransportTests(TFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
    }

    /// <summary>The namespace of the <see cref="ConnectionContext"/> types this transport creates.</summary>
    protected abstract string ConnectionTypeNamespace { get; }

    /// <summary>Whether the epoll transport's listener factory must be registered.</summary>
    protected abstract bool ExpectsEpollListenerFactory { get; }

    // ---------------------------------------------------------------- the transport under test

    [Fact]
    public async Task ServerRunsOnTheConfiguredTransport()
    {
        using var cts = Timeouts.Create();
        using var client = Server.CreateHttpClient();
        Assert.Equal("Hello, World!", await client.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cts.Token));

        AssertConnectionsCameFromThisTransport(Server);

        var factories = Server.Services.GetServices<IConnectionListenerFactory>().ToList();
        Assert.Equal(ExpectsEpollListenerFactory, factories.Any(f => f is EpollTransportFactory));
    }

    // ---------------------------------------------------------------- benchmark endpoints

    [Fact]
    public async Task PlaintextReturnsExactlyHelloWorld()
    {
        using var cts = Timeouts.Create();
        using var client = Server.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("/plaintext", UriKind.Relative), cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.ToString());
        Assert.Equal(13, response.Content.Headers.ContentLength);
        Assert.Equal("Hello, World!"u8.ToArray(), await response.Content.ReadAsByteArrayAsync(cts.Token));
    }

    [Fact]
    public async Task JsonReturnsTheHelloWorldMessage()
    {
        using var cts = Timeouts.Create();
        using var client = Server.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("/json", UriKind.Relative), cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.ToString());
        var body = await response.Content.ReadAsStringAsync(cts.Token);
        Assert.Equal("""{"message":"Hello, World!"}""", body);
        Assert.Equal(body.Length, response.Content.Headers.ContentLength);
    }

    // ---------------------------------------------------------------- connection handling

    [Fact]
    public async Task KeepAliveServesSeveralRequestsOnOneConnection()
    {
        using var cts = Timeouts.Create();
        using var connection = await Server.ConnectAsync(cts.Token);

        for (var i = 0; i < 5; i++)
        {
            await connection.SendAsync(RawHttpConnection.Get(i % 2 == 0 ? "/plaintext" : "/json"), cts.Token);
            var response = await connection.ReadResponseAsync(cts.Token);

            Assert.Equal(200, response.StatusCode);
            Assert.Equal(i % 2 == 0 ? "Hello, World!" : """{"message":"Hello, World!"}""", response.BodyText);
            Assert.NotEqual("close", response.Header("Connection"));
        }
    }

    [Fact]
    public async Task SixteenPipelinedRequestsInOneWriteGetSixteenResponsesInOrder()
    {
        using var cts = Timeouts.Create();
        using var connection = await Server.ConnectAsync(cts.Token);

        // Response i has i bytes, so any reordering or loss shows.
        var requests = string.Concat(Enumerable.Range(1, 16).Select(i => RawHttpConnection.Get($"/test/bytes/{i}")));
        await connection.SendAsync(requests, cts.Token);

        for (var i = 1; i <= 16; i++)
        {
            var response = await connection.ReadResponseAsync(cts.Token);
            Assert.Equal(200, response.StatusCode);
            Assert.Equal(i, response.Body.Length);
            AssertPattern(response.Body, offset: 0);
        }
    }

    [Fact]
    public async Task ConnectionCloseMakesTheServerCloseAfterTheResponse()
    {
        using var cts = Timeouts.Create();
        using var connection = await Server.ConnectAsync(cts.Token);

        await connection.SendAsync(RawHttpConnection.Get("/plaintext", "Connection: close"), cts.Token);
        var response = await connection.ReadResponseAsync(cts.Token);

        Assert.Equal(200, response.StatusCode);
        Assert.Equal("Hello, World!", response.BodyText);
        Assert.Equal("close", response.Header("Connection"));
        Assert.Equal(0, await connection.ReadToEndAsync(cts.Token));
    }

    [Fact]
    public async Task HundredConcurrentConnectionsEachGetTheirResponses()
    {
        const int connectionCount = 100;
        const int requestsPerConnection = 3;
        using var cts = Timeouts.Create();

        // Open all of them first, so that they really are open at the same time.
        var connections = await Task.WhenAll(Enumerable.Range(0, connectionCount)
            .Select(_ => Server.ConnectAsync(cts.Token)));
        try
        {
            await Task.WhenAll(connections.Select(async (connection, index) =>
            {
                for (var request = 0; request < requestsPerConnection; request++)
                {
                    var length = index * requestsPerConnection + request + 1;
                    await connection.SendAsync(RawHttpConnection.Get($"/test/bytes/{length}"), cts.Token);
                    var response = await connection.ReadResponseAsync(cts.Token);
                    Assert.Equal(200, response.StatusCode);
                    Assert.Equal(length, response.Body.Length);
                    AssertPattern(response.Body, offset: 0);
                }
            }));
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection.Dispose();
            }
        }
    }

    // ---------------------------------------------------------------- large bodies

    [Fact]
    public async Task TenMegabyteUploadArrivesByteForByte()
    {
        var data = new byte[10 * 1024 * 1024];
        new Random(20240601).NextBytes(data);
        var expected = Convert.ToHexStringLower(SHA256.HashData(data));

        using var cts = Timeouts.Create();
        using var client = Server.CreateHttpClient();
        using var content = new ByteArrayContent(data);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await client.PostAsync(new Uri("/test/sha256", UriKind.Relative), content, cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var digest = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cts.Token));
        Assert.Equal(data.Length, digest.RootElement.GetProperty("length").GetInt64());
        Assert.Equal(expected, digest.RootElement.GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task ChunkedUploadIsEchoedBackByteForByte()
    {
        var data = new byte[1024 * 1024 + 17];
        new Random(7).NextBytes(data);

        using var cts = Timeouts.Create();
        using var client = Server.CreateHttpClient();
        using var content = new StreamContent(new NonSeekableStream(data)); // no length: sent chunked
        using var response = await client.PostAsync(new Uri("/test/echo", UriKind.Relative), content, cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(data, await response.Content.ReadAsByteArrayAsync(cts.Token));
    }

    [Fact]
    public async Task FourMegabyteDownloadArrivesByteForByte()
    {
        const long size = 4 * 1024 * 1024;
        using var cts = Timeouts.Create();
        using var client = Server.CreateHttpClient();
        using var response = await client.GetAsync(new Uri($"/test/bytes/{size}", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(size, response.Content.Headers.ContentLength);
        await using var body = await response.Content.ReadAsStreamAsync(cts.Token);
        var buffer = new byte[64 * 1024];
        long offset = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, cts.Token)) > 0)
        {
            AssertPattern(buffer.AsSpan(0, read), offset);
            offset += read;
        }

        Assert.Equal(size, offset);
    }

    // ---------------------------------------------------------------- half-close and resets

    [Fact]
    public async Task ClientFinBeforeAnyRequestMakesTheServerCloseCleanly()
    {
        using var cts = Timeouts.Create();
        using var connection = await Server.ConnectAsync(cts.Token);

        await connection.ShutdownSendAsync();

        Assert.Equal(0, await connection.ReadToEndAsync(cts.Token));
    }

    [Fact]
    public async Task ClientFinBetweenRequestsMakesTheServerCloseCleanly()
    {
        using var cts = Timeouts.Create();
        using var connection = await Server.ConnectAsync(cts.Token);
        await connection.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
        Assert.Equal("Hello, World!", (await connection.ReadResponseAsync(cts.Token)).BodyText);

        await connection.ShutdownSendAsync();

        Assert.Equal(0, await connection.ReadToEndAsync(cts.Token));
    }

    [Fact]
    public async Task ClientResetMidUploadLeavesTheServerHealthyAndQuiet()
    {
        var mark = Server.Logs.Mark;
        using var cts = Timeouts.Create();
        using (var connection = await Server.ConnectAsync(cts.Token))
        {
            await connection.SendAsync(
                "POST /test/sha256 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n" +
                "Content-Length: 10485760\r\nExpect: 100-continue\r\n\r\n",
                cts.Token);

            // Kestrel sends 100 Continue when the endpoint starts reading the body: the upload is under way.
            var (status, _) = await connection.ReadResponseHeadAsync(cts.Token);
            Assert.Equal(100, status);
            await connection.SendAsync(new byte[1024 * 1024], cts.Token);

            var clientEndPoint = connection.LocalEndPoint;
            connection.Reset();
            await Server.Connections.WaitForServerToCloseAsync(clientEndPoint, cts.Token);
        }

        await AssertServerStillServesAsync(cts.Token);
        AssertNoErrorsOrTransportWarnings(mark);
    }

    [Fact]
    public async Task ClientResetMidDownloadLeavesTheServerHealthyAndQuiet()
    {
        var mark = Server.Logs.Mark;
        using var cts = Timeouts.Create();
        using (var connection = await Server.ConnectAsync(cts.Token))
        {
            await connection.SendAsync(RawHttpConnection.Get($"/test/bytes/{64 * 1024 * 1024}"), cts.Token);
            var (status, _) = await connection.ReadResponseHeadAsync(cts.Token);
            Assert.Equal(200, status);
            AssertPattern(await connection.ReadExactlyAsync(256 * 1024, cts.Token), offset: 0);

            var clientEndPoint = connection.LocalEndPoint;
            connection.Reset();
            await Server.Connections.WaitForServerToCloseAsync(clientEndPoint, cts.Token);
        }

        await AssertServerStillServesAsync(cts.Token);
        AssertNoErrorsOrTransportWarnings(mark);
    }

    [Fact]
    public async Task ServerAbortResetsTheClientConnection()
    {
        using var cts = Timeouts.Create();
        using var connection = await Server.ConnectAsync(cts.Token);

        // The endpoint aborts without reading the request body. Kestrel's transports answer an application
        // abort with an RST; the unread body also means that even a plain close(2) could not end in a clean
        // FIN. Either way the client must see a reset, not an end of stream. The reset can come while the body is
        // still being written (over TLS the client writes it record by record, after the server has aborted on the
        // headers): then the write fails with it (ECONNRESET, or EPIPE once the reset has been taken).
        var body = new byte[64 * 1024];
        var request = Encoding.ASCII.GetBytes(
            $"POST /test/abort HTTP/1.1\r\nHost: localhost\r\nContent-Length: {body.Length}\r\n\r\n");
        var error = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            await connection.SendAsync(request.Concat(body).ToArray(), cts.Token);
            await connection.ReadToEndAsync(cts.Token);
        });
        Assert.True(error.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown, error.SocketErrorCode.ToString());
        await AssertServerStillServesAsync(cts.Token);
    }

    // ---------------------------------------------------------------- lifetime and addresses

    [Fact]
    public async Task GracefulShutdownCompletesAnInFlightRequest()
    {
        using var cts = Timeouts.Create();
        await using var factory = StartOwnServer();
        using var connection = await factory.ConnectAsync(cts.Token);
        await connection.SendAsync(RawHttpConnection.Get("/test/slow?ms=1500"), cts.Token);

        // The endpoint sends its headers before it waits: once they are here, the request is in flight.
        var (status, headers) = await connection.ReadResponseHeadAsync(cts.Token);
        Assert.Equal(200, status);

        var stopping = factory.Host.StopAsync(cts.Token);
        var body = await connection.ReadBodyAsync(headers, cts.Token);
        await stopping;

        Assert.Equal("Waited 1500 ms.\n", Encoding.UTF8.GetString(body));
        Assert.Equal(0, await connection.ReadToEndAsync(cts.Token));
        AssertConnectionsCameFromThisTransport(factory);
    }

    [Fact]
    public async Task PortZeroYieldsARealPort()
    {
        var address = new Uri(Assert.Single(Server.Addresses));

        Assert.Equal("127.0.0.1", address.Host);
        Assert.InRange(address.Port, 1, 65535);

        using var cts = Timeouts.Create();
        using var connection = await Server.ConnectAsync(new IPEndPoint(IPAddress.Loopback, address.Port), cts.Token);
        await connection.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
        Assert.Equal("Hello, World!", (await connection.ReadResponseAsync(cts.Token)).BodyText);
    }

    [Ipv6Fact]
    public async Task ListensOnTheIpv6Loopback()
    {
        using var cts = Timeouts.Create();
        await using var factory = StartOwnServer(urls: "http://[::1]:0");
        var address = new Uri(Assert.Single(factory.Addresses));
        Assert.Equal("[::1]", address.Host);
        Assert.InRange(address.Port, 1, 65535);

        using var connection = await factory.ConnectAsync(new IPEndPoint(IPAddress.IPv6Loopback, address.Port), cts.Token);
        await connection.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
        Assert.Equal("Hello, World!", (await connection.ReadResponseAsync(cts.Token)).BodyText);
        AssertConnectionsCameFromThisTransport(factory);
    }

    [Fact]
    public async Task ListensOnAUnixDomainSocket()
    {
        var path = Path.Combine(Path.GetTempPath(), $"webhost-tests-{Guid.NewGuid():N}.sock");
        try
        {
            using var cts = Timeouts.Create();
            await using var factory = StartOwnServer(urls: $"http://unix:{path}");
            Assert.Contains($"{factory.Scheme}://unix:{path}", factory.Addresses);

            using var connection = await factory.ConnectAsync(new UnixDomainSocketEndPoint(path), cts.Token);
            await connection.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
            var response = await connection.ReadResponseAsync(cts.Token);
            Assert.Equal(200, response.StatusCode);
            Assert.Equal("Hello, World!", response.BodyText);
            AssertConnectionsCameFromThisTransport(factory);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void BindingAnAddressInUseFailsAtStart()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();
        var port = ((IPEndPoint)holder.LocalEndPoint!).Port;

        using var factory = OwnServer(urls: $"http://127.0.0.1:{port}");
        var error = Record.Exception(() => factory.StartServer());

        Assert.NotNull(error);
        Output.WriteLine(error.ToString());

        // Usually the IOException itself surfaces. Sometimes WebApplicationFactory's deferred host, racing the
        // app's failed start, throws ObjectDisposedException instead; the host has then logged the real cause.
        var io = Flatten(error).OfType<IOException>().FirstOrDefault() ??
            factory.Logs.All.Where(e => e.Exception is not null).SelectMany(e => Flatten(e.Exception!)).OfType<IOException>().FirstOrDefault();
        Assert.True(io is not null, $"Expected an IOException, got: {error}");
        Assert.Contains("address already in use", io.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task TheSamePortCanBeBoundAgainAfterTheHostStopped()
    {
        using var cts = Timeouts.Create();
        int port;
        await using (var first = StartOwnServer())
        {
            port = first.EndPoint.Port;

            // The server closes first, so its side of this connection is left in TIME_WAIT.
            using var connection = await first.ConnectAsync(cts.Token);
            await connection.SendAsync(RawHttpConnection.Get("/plaintext", "Connection: close"), cts.Token);
            Assert.Equal(200, (await connection.ReadResponseAsync(cts.Token)).StatusCode);
            Assert.Equal(0, await connection.ReadToEndAsync(cts.Token));
        }

        await using var second = StartOwnServer(urls: $"http://127.0.0.1:{port}");
        Assert.Equal(port, second.EndPoint.Port);
        using var client = second.CreateHttpClient();
        Assert.Equal("Hello, World!", await client.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cts.Token));
        AssertConnectionsCameFromThisTransport(second);
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>Asserts that every connection <paramref name="factory"/> accepted came from this transport.</summary>
    protected void AssertConnectionsCameFromThisTransport(WebHostFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        var types = factory.Connections.ConnectionTypes;
        Assert.NotEmpty(types);
        Assert.All(types, type => Assert.StartsWith(ConnectionTypeNamespace + ".", type, StringComparison.Ordinal));
    }

    private static IEnumerable<Exception> Flatten(Exception exception)
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            yield return current;
            if (current is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Flatten))
                {
                    yield return inner;
                }
            }
        }
    }

    /// <summary>A read-only stream without a length, so that <see cref="StreamContent"/> sends it chunked.</summary>
    private sealed class NonSeekableStream(byte[] data) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            // Uneven pieces, so the chunk boundaries fall all over the place.
            var length = Math.Min(Math.Min(count, 7919), data.Length - _position);
            Array.Copy(data, _position, buffer, offset, length);
            _position += length;
            return length;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
