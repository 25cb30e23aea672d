using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using EpollTransport.WebHost.Tests.Infrastructure;

namespace EpollTransport.WebHost.Tests;

/// <summary>The web host's WebSocket echo endpoint (<see cref="WebSocketEcho"/>) over the transport.</summary>
public abstract partial class TransportTests<TFixture>
{
    private static readonly int[] s_webSocketMessageSizes = [1, 2, 125, 126, 127, 1000, 65535, 65536, 65537, 1 << 20];

    [Theory]
    [InlineData(WebSocketMessageType.Text)]
    [InlineData(WebSocketMessageType.Binary)]
    public async Task WebSocketEchoesMessagesOfOneByteToOneMegabyteExactly(WebSocketMessageType type)
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        using var socket = await TestWebSocket.ConnectAsync(Server, cts.Token);

        foreach (var size in s_webSocketMessageSizes)
        {
            var message = WebSocketPayload(type, size, seed: size);
            await socket.Client.SendAsync(message, type, endOfMessage: true, cts.Token);
            var (receivedType, received) = await socket.ReceiveMessageAsync(cts.Token);
            Assert.Equal(type, receivedType);
            Assert.True(message.AsSpan().SequenceEqual(received), $"The {size}-byte {type} message came back different ({received.Length} bytes).");
        }

        // One megabyte sent as many odd-sized fragments (text fragments split characters) comes back whole.
        var fragmented = WebSocketPayload(type, 1 << 20, seed: 99);
        for (var offset = 0; offset < fragmented.Length; offset += 7919)
        {
            var length = Math.Min(7919, fragmented.Length - offset);
            await socket.Client.SendAsync(fragmented.AsMemory(offset, length), type, endOfMessage: offset + length == fragmented.Length, cts.Token);
        }

        var (fragmentedType, echoed) = await socket.ReceiveMessageAsync(cts.Token);
        Assert.Equal(type, fragmentedType);
        Assert.True(fragmented.AsSpan().SequenceEqual(echoed), "The fragmented message came back different.");

        await socket.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cts.Token);
        Assert.Equal(WebSocketState.Closed, socket.Client.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.Client.CloseStatus);
        await Server.Connections.WaitForServerToCloseAsync(socket.ClientEndPoint, cts.Token);
    }

    [Fact]
    public async Task FiftyConcurrentWebSocketsEachGetTheirOwnEchoes()
    {
        const int socketCount = 50;
        const int messagesPerSocket = 10;
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));

        // All open at once before any message, so they really are concurrent.
        var sockets = await Task.WhenAll(Enumerable.Range(0, socketCount).Select(_ => TestWebSocket.ConnectAsync(Server, cts.Token)));
        try
        {
            await Task.WhenAll(sockets.Select(async (socket, index) =>
            {
                var random = new Random(index);
                for (var i = 0; i < messagesPerSocket; i++)
                {
                    var type = (index + i) % 2 == 0 ? WebSocketMessageType.Binary : WebSocketMessageType.Text;
                    var message = WebSocketPayload(type, random.Next(1, 64 * 1024), seed: index * 1000 + i);
                    await socket.Client.SendAsync(message, type, endOfMessage: true, cts.Token);
                    var (receivedType, received) = await socket.ReceiveMessageAsync(cts.Token);
                    Assert.Equal(type, receivedType);
                    Assert.True(message.AsSpan().SequenceEqual(received), $"Socket {index}, message {i}: a different echo.");
                }

                await socket.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
                Assert.Equal(WebSocketState.Closed, socket.Client.State);
            }));
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task TheServerClosesTheWebSocketWhenAskedWithACloseStatusTheClientSees()
    {
        using var cts = Timeouts.Create();
        using var socket = await TestWebSocket.ConnectAsync(Server, cts.Token);

        // Near misses are echoed like any text.
        foreach (var text in new[] { "clos", "closer", "CLOSE", " close" })
        {
            await socket.Client.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, cts.Token);
            var (type, echoed) = await socket.ReceiveMessageAsync(cts.Token);
            Assert.Equal(WebSocketMessageType.Text, type);
            Assert.Equal(text, Encoding.UTF8.GetString(echoed));
        }

        await socket.Client.SendAsync(Encoding.UTF8.GetBytes(WebSocketEcho.CloseCommand), WebSocketMessageType.Text, endOfMessage: true, cts.Token);
        var result = await socket.Client.ReceiveAsync(new byte[16], cts.Token);

        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, result.CloseStatus);
        Assert.Equal(WebSocketEcho.CloseDescription, result.CloseStatusDescription);
        Assert.Equal(WebSocketState.CloseReceived, socket.Client.State);

        // The client completes the handshake; the server then ends the connection.
        await socket.Client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
        Assert.Equal(WebSocketState.Closed, socket.Client.State);
        await Server.Connections.WaitForServerToCloseAsync(socket.ClientEndPoint, cts.Token);
    }

    [Fact]
    public async Task AWebSocketClientThatResetsMidFrameLeavesTheServerHealthy()
    {
        var mark = Server.Logs.Mark;
        using var cts = Timeouts.Create();
        using (var connection = await Server.ConnectAsync(cts.Token))
        {
            await connection.SendAsync(
                RawHttpConnection.Get(
                    WebSocketEcho.Path,
                    "Upgrade: websocket",
                    "Connection: Upgrade",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                    "Sec-WebSocket-Version: 13"),
                cts.Token);
            var (status, headers) = await connection.ReadResponseHeadAsync(cts.Token);
            Assert.Equal(101, status);
            Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", headers["Sec-WebSocket-Accept"]);

            // A masked binary frame announcing 1 MiB, of which only 1000 bytes arrive before the reset.
            var frame = new byte[2 + 8 + 4 + 1000];
            frame[0] = 0x82;
            frame[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), 1 << 20);
            new Random(5).NextBytes(frame.AsSpan(10));
            await connection.SendAsync(frame, cts.Token);

            var clientEndPoint = connection.LocalEndPoint;
            connection.Reset();
            await Server.Connections.WaitForServerToCloseAsync(clientEndPoint, cts.Token);
        }

        await AssertWebSocketEchoStillWorksAsync(cts.Token);
        AssertNoErrorsOrTransportWarnings(mark);
    }

    [Fact]
    public async Task AWebSocketClientThatVanishesMidMessageLeavesTheServerHealthy()
    {
        var mark = Server.Logs.Mark;
        using var cts = Timeouts.Create();
        using (var socket = await TestWebSocket.ConnectAsync(Server, cts.Token))
        {
            // The first fragment of a message whose end never comes; then the client goes without a close frame.
            await socket.Client.SendAsync(new byte[50_000], WebSocketMessageType.Binary, endOfMessage: false, cts.Token);
            socket.Client.Abort();
            await Server.Connections.WaitForServerToCloseAsync(socket.ClientEndPoint, cts.Token);
        }

        await AssertWebSocketEchoStillWorksAsync(cts.Token);
        AssertNoErrorsOrTransportWarnings(mark);
    }

    [Fact]
    public async Task APlainRequestToTheWebSocketEndpointGets400()
    {
        using var cts = Timeouts.Create();
        using var client = Server.CreateHttpClient();
        using var response = await client.GetAsync(new Uri(WebSocketEcho.Path, UriKind.Relative), cts.Token);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    /// <summary>A message of exactly <paramref name="size"/> bytes: random bytes, or UTF-8 text with 1- to 4-byte characters.</summary>
    private static byte[] WebSocketPayload(WebSocketMessageType type, int size, int seed)
    {
        var random = new Random(seed);
        var bytes = new byte[size];
        if (type == WebSocketMessageType.Binary)
        {
            random.NextBytes(bytes);
            return bytes;
        }

        string[] characters = ["a", "Z", "7", " ", "é", "ß", "€", "語", "😀"];
        var filled = 0;
        while (filled < size)
        {
            var character = Encoding.UTF8.GetBytes(characters[random.Next(characters.Length)]);
            if (character.Length > size - filled)
            {
                character = "x"u8.ToArray();
            }

            character.CopyTo(bytes, filled);
            filled += character.Length;
        }

        return bytes;
    }

    private async Task AssertWebSocketEchoStillWorksAsync(CancellationToken cancellationToken)
    {
        await AssertServerStillServesAsync(cancellationToken);
        using var socket = await TestWebSocket.ConnectAsync(Server, cancellationToken);
        await socket.Client.SendAsync("still here"u8.ToArray(), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        var (_, echoed) = await socket.ReceiveMessageAsync(cancellationToken);
        Assert.Equal("still here", Encoding.UTF8.GetString(echoed));
        await socket.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken);
    }

    /// <summary>A <see cref="ClientWebSocket"/> connected to <c>/ws/echo</c>, knowing its own end point.</summary>
    private sealed class TestWebSocket : IDisposable
    {
        private readonly HttpMessageInvoker _invoker;

        private TestWebSocket(ClientWebSocket client, HttpMessageInvoker invoker, EndPoint clientEndPoint)
        {
            Client = client;
            _invoker = invoker;
            ClientEndPoint = clientEndPoint;
        }

        public ClientWebSocket Client { get; }

        /// <summary>The client socket's local end point: the server's remote end point for it.</summary>
        public EndPoint ClientEndPoint { get; }

        public static async Task<TestWebSocket> ConnectAsync(WebHostFactory server, CancellationToken cancellationToken)
        {
            EndPoint? local = null;
            var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (context, token) =>
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    try
                    {
                        await socket.ConnectAsync(context.DnsEndPoint, token);
                        local = socket.LocalEndPoint;
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
            };
            server.Tls?.Trust(handler.SslOptions);
            var invoker = new HttpMessageInvoker(handler);
            var client = new ClientWebSocket();
            try
            {
                var scheme = server.Tls is null ? "ws" : "wss";
                await client.ConnectAsync(new Uri($"{scheme}://{server.EndPoint}{WebSocketEcho.Path}"), invoker, cancellationToken);
                return new TestWebSocket(client, invoker, local!);
            }
            catch
            {
                client.Dispose();
                invoker.Dispose();
                throw;
            }
        }

        /// <summary>Receives one whole message (its type is Close if the server closed).</summary>
        public async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveMessageAsync(CancellationToken cancellationToken)
        {
            var buffer = new byte[64 * 1024];
            using var message = new MemoryStream();
            while (true)
            {
                var result = await Client.ReceiveAsync(buffer.AsMemory(), cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return (WebSocketMessageType.Close, []);
                }

                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    return (result.MessageType, message.ToArray());
                }
            }
        }

        public void Dispose()
        {
            Client.Dispose();
            _invoker.Dispose();
        }
    }
}
