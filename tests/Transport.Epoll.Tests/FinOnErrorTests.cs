using System.Net.Sockets;
using EpollTransport.Internal;
using Microsoft.AspNetCore.Connections;

namespace EpollTransport.Tests;

/// <summary>
/// <see cref="EpollTransportOptions.FinOnError"/>: an abort with a reason ends with a FIN instead of a
/// reset, on the paths where Kestrel aborts for an error.
/// </summary>
public class FinOnErrorTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AnAbortWithAReasonEndsWithFinOnlyWithTheOption(bool finOnError)
    {
        await using var harness = new TransportHarness(o => o.FinOnError = finOnError);
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);

        server.Abort(new ConnectionAbortedException("like HttpContext.Abort()"));

        await AssertEndAsync(client, finOnError);
        await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);
        Assert.Contains(harness.Logs.Entries, e => e.EventId.Name == (finOnError ? "ConnectionWriteFin" : "ConnectionWriteRst") && e.Message.Contains("like HttpContext.Abort()", StringComparison.Ordinal));
    }

    /// <summary>What Kestrel does to a client below MinResponseDataRate: the response is stuck in full buffers.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AnAbortWhileTheClientDoesNotReadEndsWithFinOnlyWithTheOption(bool finOnError)
    {
        await using var harness = new TransportHarness(o => o.FinOnError = finOnError);
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        var chunk = TransportHarness.Pattern(64 * 1024);
        ValueTask<System.IO.Pipelines.FlushResult> flush = default;
        for (int i = 0; i < 4096; i++)
        {
            flush = server.Transport.Output.WriteAsync(chunk);
            if (!flush.IsCompleted)
            {
                break;
            }
        }

        Assert.False(flush.IsCompleted, "the output never filled up");
        server.Abort(new ConnectionAbortedException("The connection was aborted because the response was sent too slowly."));

        await AssertEndAsync(client, finOnError);
        await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);
    }

    /// <summary>The client closed its side, Kestrel had not read that yet, and aborts with a reason.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AnAbortAfterAnUnobservedClientFinEndsWithFinOnlyWithTheOption(bool finOnError)
    {
        await using var harness = new TransportHarness(o => o.FinOnError = finOnError);
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        client.Shutdown(SocketShutdown.Send);
        await Eventually.HoldsAsync(() => harness.Logs.Entries.Any(e => e.EventId.Name == "ConnectionReadFin"), "the client's FIN was read");

        server.Abort(new ConnectionAbortedException("The client closed the connection."));

        await AssertEndAsync(client, finOnError);
        await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);
    }

    private static async Task AssertEndAsync(Socket client, bool expectFin)
    {
        if (expectFin)
        {
            // Whatever was already in flight, then end of stream: no reset.
            await TransportHarness.ReceiveToEndAsync(client);
        }
        else
        {
            var ex = await Assert.ThrowsAsync<SocketException>(() => TransportHarness.ReceiveToEndAsync(client));
            Assert.Equal(SocketError.ConnectionReset, ex.SocketErrorCode);
        }
    }
}
