using System.Net;
using System.Net.Sockets;
using EpollTransport.Interop;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Tests.Faults;

/// <summary>
/// The listener's own failures (issue 17 items 2, 9 and 11): a back-off whose re-arming fails, a listening socket
/// whose registration fails, and accept errors that mean the socket is unusable.
/// </summary>
[Collection(FaultTestsRunAlone.Name)]
public sealed class ListenerFaultTests
{
    /// <summary>
    /// Issue 17 item 2's death, in process: accept4 runs out of descriptors, the listener backs off, and watching
    /// the socket again fails (strace's epoll_ctl ENOMEM). The listener was left unwatched with nothing scheduled:
    /// alive, idle, answering nothing.
    /// </summary>
    [Fact]
    public async Task AListenerWhoseReArmingFailsStillAccepts()
    {
        await using var server = await FaultServer.StartAsync();
        FaultInjection.Plan = new FaultPlan()
            .Fail(Syscall.Accept4, Errno.EMFILE)
            .Fail(Syscall.EpollCtlMod, Errno.ENOMEM, nth: 2); // the first drops the interest, the second restores it
        Assert.True(await server.RunAsync("request"));
        FaultInjection.Plan = null;

        for (int i = 0; i < 10; i++)
        {
            Assert.True(await server.RunAsync("request"), $"fresh request {i} was not answered");
        }
    }

    /// <summary>Item 9: a listening socket that cannot be registered with epoll is closed, not leaked: its port is free at once.</summary>
    [Fact]
    public async Task AListenerThatCannotBeRegisteredReleasesItsPort()
    {
        await using var harness = new TransportHarness();
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        // The epoll threads start (and register their eventfds) with the first listener: before the fault.
        await (await harness.Factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0))).DisposeAsync();

        FaultInjection.Plan = new FaultPlan().Fail(Syscall.EpollCtlAdd, Errno.ENOSPC);
        try
        {
            await Assert.ThrowsAsync<SocketException>(() => harness.BindAsync(new IPEndPoint(IPAddress.Loopback, port)));
        }
        finally
        {
            FaultInjection.Plan = null;
        }

        using var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        again.Bind(new IPEndPoint(IPAddress.Loopback, port)); // EADDRINUSE while the failed listener's socket is open
        again.Listen();
    }

    /// <summary>
    /// Item 11: accept4 failing with EBADF, EINVAL or ENOTSOCK means the socket cannot accept again. AcceptAsync must
    /// end (Kestrel's accept loop waited for ever): connections accepted before are handed out, then it throws, which
    /// Kestrel logs as its critical "failed to accept any new connections"; the transport logs AcceptFatal once.
    /// </summary>
    [Theory]
    [InlineData("EBADF")]
    [InlineData("EINVAL")]
    [InlineData("ENOTSOCK")]
    public async Task AnUnusableListeningSocketEndsAcceptAsync(string errno)
    {
        var error = Enum.Parse<Errno>(errno);
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        var (_, first) = await harness.ConnectAsync(listener);
        Assert.NotNull(first);

        FaultInjection.Plan = new FaultPlan().Fail(Syscall.Accept4, error);
        try
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.EndPoint);
            using var cts = new CancellationTokenSource(TransportHarness.Timeout);
            var ex = await Assert.ThrowsAsync<IOException>(async () => await listener.AcceptAsync(cts.Token));
            Assert.Contains(error.ToString(), ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            FaultInjection.Plan = null;
        }

        var fatal = Assert.Single(harness.Logs.AtOrAbove(LogLevel.Warning));
        Assert.Equal("AcceptFatal", fatal.EventId.Name);
    }

    /// <summary>The same under Kestrel: it logs its critical accept-loop failure, and stopping the server does not hang.</summary>
    [Fact]
    public async Task KestrelLogsAnUnusableListeningSocketAndStops()
    {
        var server = await FaultServer.StartAsync();
        try
        {
            FaultInjection.Plan = new FaultPlan().Fail(Syscall.Accept4, Errno.EINVAL);
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port));

            var deadline = DateTime.UtcNow + TransportHarness.Timeout;
            while (!server.Logs.Entries.Any(e => e.Level == LogLevel.Critical && e.Message.Contains("failed to accept", StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < deadline, "Kestrel never learned that the listener failed.");
                await Task.Delay(20);
            }

            Assert.Equal(["AcceptFatal"], server.TransportWarnings());
        }
        finally
        {
            FaultInjection.Plan = null;
            await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);
        }
    }
}
