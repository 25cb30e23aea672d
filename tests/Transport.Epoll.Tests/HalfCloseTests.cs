using System.Net.Sockets;
using EpollTransport.Internal;
using Microsoft.AspNetCore.Connections;

namespace EpollTransport.Tests;

/// <summary>
/// <see cref="EpollTransportOptions.AllowHalfClose"/> at the transport: the client's FIN completes the input
/// but leaves ConnectionClosed alone until the connection is really over: the application completes its
/// output, or the client turns out to be gone (its reset, a failed send).
/// </summary>
public class HalfCloseTests
{
    [Theory]
    [MemberData(nameof(EpollConnectionTests.Modes), MemberType = typeof(EpollConnectionTests))]
    public async Task TheClientsFinCompletesInputButNotTheConnection(EpollTriggerMode mode)
    {
        await using var harness = HalfClosing(mode);
        var (client, server, closed) = await ConnectAsync(harness);

        await client.SendAsync("request"u8.ToArray());
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("request"u8.ToArray(), await TransportHarness.ReadExactlyAsync(server.Transport.Input, 7));
        await ReadToEndAsync(server);

        // A whole exchange after the FIN, and still no ConnectionClosed: it would make Kestrel abort the request.
        await server.Transport.Output.WriteAsync("response"u8.ToArray());
        Assert.Equal("response"u8.ToArray(), await TransportHarness.ReceiveExactlyAsync(client, 8));
        Assert.False(closed.IsCompleted, "ConnectionClosed fired for the client's FIN");

        await server.Transport.Output.CompleteAsync();
        Assert.Empty(await TransportHarness.ReceiveToEndAsync(client));
        await closed.WaitAsync(TransportHarness.Timeout);
        await ClosedThenDisposeAsync(server);
    }

    [Theory]
    [MemberData(nameof(EpollConnectionTests.Modes), MemberType = typeof(EpollConnectionTests))]
    public async Task AResetAfterTheFinFiresConnectionClosedWithoutASend(EpollTriggerMode mode)
    {
        await using var harness = HalfClosing(mode);
        var (client, server, closed) = await ConnectAsync(harness);

        client.Shutdown(SocketShutdown.Send);
        await ReadToEndAsync(server);
        client.LingerState = new LingerOption(true, 0);
        client.Close();

        // The application neither writes nor completes anything: epoll's report of the reset alone ends the
        // connection, and the socket is closed (in level-triggered mode it would report it on every wait).
        await closed.WaitAsync(TransportHarness.Timeout);
        await ((EpollConnection)server).Closed.WaitAsync(TransportHarness.Timeout);
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Name == "ConnectionReset");
        await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);
    }

    [Theory]
    [MemberData(nameof(EpollConnectionTests.Modes), MemberType = typeof(EpollConnectionTests))]
    public async Task SendingToAClientThatClosedFiresConnectionClosed(EpollTriggerMode mode)
    {
        await using var harness = HalfClosing(mode);
        var (client, server, closed) = await ConnectAsync(harness);

        // close(2) sends the same FIN as shutdown(SHUT_WR); only the next data the server sends tells them
        // apart: the client's kernel answers it with a reset.
        client.Close();
        await ReadToEndAsync(server);
        var deadline = DateTime.UtcNow + TransportHarness.Timeout;
        while (!closed.IsCompleted)
        {
            Assert.True(DateTime.UtcNow < deadline, "ConnectionClosed did not fire for a client that had gone");
            await server.Transport.Output.WriteAsync("tick"u8.ToArray());
            await Task.WhenAny(closed, Task.Delay(20));
        }

        await ClosedThenDisposeAsync(server);
    }

    [Fact]
    public async Task TheHalfCloseIsLogged()
    {
        await using var harness = HalfClosing(EpollTriggerMode.Edge);
        var (client, server, _) = await ConnectAsync(harness);

        client.Shutdown(SocketShutdown.Send);
        await ReadToEndAsync(server);

        Assert.Contains(harness.Logs.Entries, e => e.EventId.Name == "ConnectionReadFin" && e.EventId.Id == 6);
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Name == "ConnectionHalfClosed" && e.EventId.Id == 114);
    }

    private static TransportHarness HalfClosing(EpollTriggerMode mode) => new(o =>
    {
        o.AllowHalfClose = true;
        o.TriggerMode = mode;
    });

    /// <summary>A connection, and a task that completes when its ConnectionClosed fires.</summary>
    private static async Task<(Socket Client, ConnectionContext Server, Task Closed)> ConnectAsync(TransportHarness harness)
    {
        var (client, server) = await harness.ConnectAsync(await harness.BindAsync());
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.ConnectionClosed.Register(() => closed.TrySetResult());
        return (client, server, closed.Task);
    }

    /// <summary>The socket is closed (not left open), and disposing the connection, as Kestrel does, completes.</summary>
    private static async Task ClosedThenDisposeAsync(ConnectionContext server)
    {
        await ((EpollConnection)server).Closed.WaitAsync(TransportHarness.Timeout);
        await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);
    }

    private static async Task ReadToEndAsync(ConnectionContext server)
    {
        using var cts = new CancellationTokenSource(TransportHarness.Timeout);
        while (true)
        {
            var result = await server.Transport.Input.ReadAsync(cts.Token);
            server.Transport.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return;
            }
        }
    }
}
