using System.Net.Sockets;
using System.Runtime.CompilerServices;
using EpollTransport.Internal;
using Microsoft.AspNetCore.Connections;

namespace EpollTransport.Tests;

/// <summary>
/// Callbacks registered on <see cref="ConnectionContext.ConnectionClosed"/> (by Kestrel or middleware) run
/// exactly once, on every close path, by the time the connection's DisposeAsync has returned.
/// </summary>
public class ConnectionClosedTests
{
    private const int Rounds = 200;

    public enum ClosePath
    {
        ServerFin,
        ServerAbort,
        ClientFin,
        ClientFinWithHalfClose,
    }

    [Theory]
    [InlineData(ClosePath.ServerFin)]
    [InlineData(ClosePath.ServerAbort)]
    [InlineData(ClosePath.ClientFin)]
    [InlineData(ClosePath.ClientFinWithHalfClose)]
    public async Task CallbacksRunExactlyOnceOnEveryClose(ClosePath path)
    {
        await using var harness = new TransportHarness(o => o.AllowHalfClose = path == ClosePath.ClientFinWithHalfClose);
        var listener = await harness.BindAsync();
        var late = new List<StrongBox<int>>();
        for (int round = 0; round < Rounds; round++)
        {
            var (client, server) = await harness.ConnectAsync(listener);
            var calls = new StrongBox<int>();
            server.ConnectionClosed.Register(() => Interlocked.Increment(ref calls.Value));

            switch (path)
            {
                case ClosePath.ServerFin:
                    await server.Transport.Output.WriteAsync("bye"u8.ToArray());
                    break;
                case ClosePath.ServerAbort:
                    server.Abort(new ConnectionAbortedException("test abort"));
                    break;
                case ClosePath.ClientFin or ClosePath.ClientFinWithHalfClose:
                    client.Shutdown(SocketShutdown.Send);
                    break;
            }

            // What Kestrel does once the connection's pipeline is done.
            await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);
            if (Volatile.Read(ref calls.Value) != 1)
            {
                late.Add(calls);
            }

            client.Dispose();
        }

        if (late.Count > 0)
        {
            // Tell a late callback from a lost one.
            await Task.Delay(500);
            int never = late.Count(c => Volatile.Read(ref c.Value) == 0);
            Assert.Fail($"{late.Count} of {Rounds} closes had not run the callbacks exactly once when DisposeAsync returned; {never} never ran them");
        }

        Assert.DoesNotContain(harness.Logs.Entries, e => e.EventId.Name == "ConnectionClosedCallbackFailed");
    }

    [Fact]
    public async Task ConnectionClosedIsSettableLikeKestrels()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        var (_, server) = await harness.ConnectAsync(listener);
        using var replacement = new CancellationTokenSource();

        server.ConnectionClosed = replacement.Token;

        Assert.Equal(replacement.Token, server.ConnectionClosed);
        await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);
        Assert.True(((EpollConnection)server).Closed.IsCompleted);
    }
}
