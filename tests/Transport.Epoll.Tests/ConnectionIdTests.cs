using System.Net;
using System.Net.Sockets;
using EpollTransport.Internal;
using EpollTransport.Interop;
using Microsoft.Extensions.Logging.Abstractions;

namespace EpollTransport.Tests;

/// <summary>
/// A connection's id is made when first asked for, once: Kestrel's logs and the transport's must name a
/// connection alike, whichever threads ask first, and a log event that is not logged must not make it.
/// </summary>
public class ConnectionIdTests
{
    [Fact]
    public void TwoThreadsAskingAtOnceGetTheSameId()
    {
        const int Rounds = 20_000;
        using var loop = new EpollThread(0, NullLogger.Instance);
        var pipeOptions = new ConnectionPipeOptions(loop, System.Buffers.MemoryPool<byte>.Shared, new EpollTransportOptions());
        var connections = new EpollConnection[Rounds];
        for (int i = 0; i < Rounds; i++)
        {
            connections[i] = new EpollConnection(new FileDescriptor(-1), loop, pipeOptions, new EpollTransportOptions(), null, null, NullLogger.Instance);
        }

        // Two threads walk the same connections in step, each asking every connection for its id; a few
        // passes (the ids unmade again in between), since each pass catches the race only a few times.
        int differing = 0;
        for (int pass = 0; pass < 5; pass++)
        {
            foreach (var connection in connections)
            {
                connection.ConnectionId = null!;
            }

            var seen = new string[2][];
            int started = 0;
            var threads = Enumerable.Range(0, 2).Select(t => new Thread(() =>
            {
                var ids = new string[Rounds];
                Interlocked.Increment(ref started);
                while (Volatile.Read(ref started) < 2)
                {
                }

                for (int i = 0; i < Rounds; i++)
                {
                    ids[i] = connections[i].ConnectionId;
                }

                seen[t] = ids;
            })).ToArray();
            foreach (var thread in threads)
            {
                thread.Start();
            }

            foreach (var thread in threads)
            {
                Assert.True(thread.Join(TimeSpan.FromSeconds(30)));
            }

            differing += Enumerable.Range(0, Rounds).Count(i => seen[0][i] != seen[1][i] || seen[0][i] != connections[i].ConnectionId);
        }

        Assert.True(differing == 0, $"{differing} times in 5 x {Rounds} a connection gave the two threads different ids");
    }

    [Fact]
    public async Task LogEventsThatAreNotLoggedDoNotMakeTheId()
    {
        var options = new EpollTransportOptions { ThreadCount = 1, MaxReadBufferSize = 16 * 1024 };
        using var factory = new EpollTransportFactory(options, NullLoggerFactory.Instance); // nothing is enabled
        await using var listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint).WaitAsync(TransportHarness.Timeout);
        using var cts = new CancellationTokenSource(TransportHarness.Timeout);
        var server = (EpollConnection)(await listener.AcceptAsync(cts.Token))!;

        // Accepted, paused, resumed, the client's FIN, the server's FIN, closed: each has a Debug event.
        await client.SendAsync(TransportHarness.Pattern(64 * 1024));
        client.Shutdown(SocketShutdown.Send);
        while (true)
        {
            var result = await server.Transport.Input.ReadAsync(cts.Token);
            server.Transport.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await server.DisposeAsync();
        Assert.False(server.HasConnectionId, "a log event that was not logged made the connection's id");
    }
}
