using System.Net;
using System.Net.Sockets;
using EpollTransport.Internal;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;

namespace EpollTransport.Tests;

public class EpollTransportFactoryTests
{
    [Fact]
    public async Task PortZeroReportsTheBoundPort()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));

        var endPoint = Assert.IsType<IPEndPoint>(listener.EndPoint);
        Assert.NotEqual(0, endPoint.Port);
        Assert.Equal(IPAddress.Loopback, endPoint.Address);
        await harness.ConnectAsync(listener);
    }

    [Fact]
    public async Task AddressInUseSurfacesAsAddressInUseException()
    {
        await using var harness = new TransportHarness();
        var first = await harness.BindAsync();

        var ex = await Assert.ThrowsAsync<AddressInUseException>(() => harness.BindAsync(first.EndPoint));
        Assert.Contains("address already in use", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    // Kestrel's localhost and any-address binding try the next address on any exception but an IOException
    // (which is fatal, as AddressInUseException becomes), as they do for the Sockets transport's SocketException.
    // So an address this host does not have must fail with a SocketException, never an IOException.
    [Theory]
    [InlineData("192.0.2.1")]
    [InlineData("2001:db8::1")]
    public async Task AnAddressThisHostDoesNotHaveFailsWithASocketException(string address)
    {
        await using var harness = new TransportHarness();

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => harness.BindAsync(new IPEndPoint(IPAddress.Parse(address), 0)));

        var socketException = Assert.IsType<SocketException>(ex);
        // A kernel without IPv6 refuses the IPv6 socket itself.
        Assert.True(
            socketException.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported,
            $"{socketException.SocketErrorCode}: {ex.Message}");
        Assert.Contains(address, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThePortCanBeBoundAgainAfterUnbind()
    {
        await using var harness = new TransportHarness();
        var first = await harness.BindAsync();
        var (client, _) = await harness.ConnectAsync(first);
        await first.UnbindAsync();
        await first.DisposeAsync();

        var second = await harness.BindAsync(first.EndPoint);
        await harness.ConnectAsync(second);
    }

    [Fact]
    public void CanBindIpUnixAndFileHandleEndPointsOnly()
    {
        using var factory = new EpollTransportFactory(new EpollTransportOptions(), NullLoggerFactory.Instance);

        Assert.True(factory.CanBind(new IPEndPoint(IPAddress.Loopback, 0)));
        Assert.True(factory.CanBind(new UnixDomainSocketEndPoint("/tmp/x.sock")));
        Assert.True(factory.CanBind(new FileHandleEndPoint(3, FileHandleType.Auto)));
        Assert.False(factory.CanBind(new NamedPipeEndPoint("pipe")));
        Assert.False(factory.CanBind(new DnsEndPoint("localhost", 80)));
    }

    [Fact]
    public async Task BindingAnUnsupportedEndPointThrowsNotSupported()
    {
        await using var harness = new TransportHarness();
        await Assert.ThrowsAsync<NotSupportedException>(() => harness.BindAsync(new DnsEndPoint("localhost", 0)));
    }

    [Fact]
    public async Task AcceptReturnsNullAfterUnbind()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        var pending = listener.AcceptAsync().AsTask();

        await listener.UnbindAsync();

        Assert.Null(await pending.WaitAsync(TransportHarness.Timeout));
        Assert.Null(await listener.AcceptAsync().AsTask().WaitAsync(TransportHarness.Timeout));
    }

    [Fact]
    public async Task AcceptHonoursItsCancellationToken()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        using var cts = new CancellationTokenSource();

        var pending = listener.AcceptAsync(cts.Token).AsTask();
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(TransportHarness.Timeout));
        await harness.ConnectAsync(listener); // still accepting afterwards
    }

    [Fact]
    public async Task DisposingTheListenerAbortsItsConnections()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync();
        var (client, _) = await harness.ConnectAsync(listener);

        await listener.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);

        var ex = await Assert.ThrowsAsync<SocketException>(() => TransportHarness.ReceiveToEndAsync(client));
        Assert.Equal(SocketError.ConnectionReset, ex.SocketErrorCode);
    }

    [Ipv6Fact]
    public async Task IPv6AnyIsDualStack()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync(new IPEndPoint(IPAddress.IPv6Any, 0));
        int port = ((IPEndPoint)listener.EndPoint).Port;

        using var v4 = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await v4.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WaitAsync(TransportHarness.Timeout);
        using var cts = new CancellationTokenSource(TransportHarness.Timeout);
        var server = await listener.AcceptAsync(cts.Token);

        var remote = Assert.IsType<IPEndPoint>(server!.RemoteEndPoint);
        Assert.Equal(IPAddress.Loopback, remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address);
    }

    [Fact]
    public async Task TheLocalEndPointIsTheAddressTheClientConnectedTo()
    {
        await using var harness = new TransportHarness();

        // One address: taken from the listener, each connection with its own object.
        var single = await harness.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        var (client1, server1) = await harness.ConnectAsync(single);
        var (_, server2) = await harness.ConnectAsync(single);
        Assert.Equal(client1.RemoteEndPoint, server1.LocalEndPoint);
        Assert.Equal(single.EndPoint, server2.LocalEndPoint);
        Assert.NotSame(server1.LocalEndPoint, server2.LocalEndPoint);

        // A wildcard: the kernel says which interface (getsockname), here 127.0.0.2, not 0.0.0.0.
        var wildcard = await harness.BindAsync(new IPEndPoint(IPAddress.Any, 0));
        int port = ((IPEndPoint)wildcard.EndPoint).Port;
        using var client3 = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client3.ConnectAsync(new IPEndPoint(IPAddress.Parse("127.0.0.2"), port)).WaitAsync(TransportHarness.Timeout);
        using var cts = new CancellationTokenSource(TransportHarness.Timeout);
        var server3 = await wildcard.AcceptAsync(cts.Token);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.2"), port), server3!.LocalEndPoint);
        Assert.Equal(client3.LocalEndPoint, server3.RemoteEndPoint);
    }

    [Ipv6Fact]
    public async Task IPv6LoopbackWorks()
    {
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        var (client, server) = await harness.ConnectAsync(listener);

        await client.SendAsync("v6"u8.ToArray());
        Assert.Equal("v6"u8.ToArray(), await TransportHarness.ReadExactlyAsync(server.Transport.Input, 2));
        Assert.Equal(client.LocalEndPoint, server.RemoteEndPoint);
    }

    [Fact]
    public async Task UnixDomainSocketsListenAndRemoveTheirFileOnUnbind()
    {
        string path = Path.Combine(Path.GetTempPath(), $"epoll-{Guid.NewGuid():N}.sock");
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync(new UnixDomainSocketEndPoint(path));
        Assert.True(File.Exists(path));

        var (client, server) = await harness.ConnectAsync(listener);
        await client.SendAsync("uds"u8.ToArray());
        Assert.Equal("uds"u8.ToArray(), await TransportHarness.ReadExactlyAsync(server.Transport.Input, 3));
        Assert.IsType<UnixDomainSocketEndPoint>(server.LocalEndPoint);

        await listener.UnbindAsync();
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task AStaleUnixSocketFileIsReplaced()
    {
        string path = Path.Combine(Path.GetTempPath(), $"epoll-{Guid.NewGuid():N}.sock");
        // A socket file whose server is gone: bound, then closed without unlinking (what a crash leaves).
        EpollTransport.Interop.Sockets.CreateStreamSocket(EpollTransport.Interop.NativeSocketAddress.AF_UNIX, out var stale).ThrowIfError("socket");
        using (stale)
        {
            EpollTransport.Interop.Sockets.Bind(stale, new UnixDomainSocketEndPoint(path)).ThrowIfError("bind");
        }

        Assert.True(File.Exists(path));
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync(new UnixDomainSocketEndPoint(path));
        await harness.ConnectAsync(listener);
    }

    [Fact]
    public async Task ALiveUnixSocketIsNotStolen()
    {
        string path = Path.Combine(Path.GetTempPath(), $"epoll-{Guid.NewGuid():N}.sock");
        using var live = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        live.Bind(new UnixDomainSocketEndPoint(path));
        live.Listen();
        try
        {
            await using var harness = new TransportHarness();
            await Assert.ThrowsAsync<AddressInUseException>(() => harness.BindAsync(new UnixDomainSocketEndPoint(path)));
            Assert.True(File.Exists(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task ARegularFileAtTheSocketPathIsLeftAlone()
    {
        string path = Path.Combine(Path.GetTempPath(), $"epoll-{Guid.NewGuid():N}.sock");
        await File.WriteAllTextAsync(path, "not a socket");
        try
        {
            await using var harness = new TransportHarness();
            await Assert.ThrowsAsync<AddressInUseException>(() => harness.BindAsync(new UnixDomainSocketEndPoint(path)));
            Assert.Equal("not a socket", await File.ReadAllTextAsync(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task ThreadsAreNamedAndStopWhenTheFactoryIsDisposed()
    {
        var harness = new TransportHarness(o => o.ThreadCount = 3);
        await harness.BindAsync();
        var threads = harness.Factory.ThreadGroup!.Threads;
        var monitor = harness.Factory.ThreadGroup.Monitor!; // inline scheduling, the default
        Assert.Equal(3, threads.Count);
        Assert.All(threads, t => Eventually.Holds(() => t.State == EpollThreadState.Blocked, () => $"epoll thread {t.Index} idle in epoll_wait ({t.State})"));
        Assert.Equal(4, monitor.RunnerThreads); // one per loop and the standby

        // Each loop runs on a thread named after it, in .NET and for the kernel (top, perf, /proc show the latter).
        for (var i = 0; i < threads.Count; i++)
        {
            var names = new TaskCompletionSource<(string?, string)>(TaskCreationOptions.RunContinuationsAsynchronously);
            threads[i].Post(_ => names.SetResult((Thread.CurrentThread.Name, File.ReadAllText("/proc/thread-self/comm").TrimEnd('\n'))), null);
            Assert.Equal(($"epoll-{i}", $"epoll-{i}"), await names.Task.WaitAsync(TransportHarness.Timeout));
        }

        await harness.DisposeAsync();

        Assert.All(threads, t => Assert.Equal(EpollThreadState.Stopped, t.State));
        await Eventually.HoldsAsync(() => monitor.RunnerThreads == 0, () => $"{monitor.RunnerThreads} runner threads outlived the factory");
    }

    [Theory]
    [InlineData(nameof(EpollTransportOptions.ThreadCount))]
    [InlineData(nameof(EpollTransportOptions.Backlog))]
    [InlineData(nameof(EpollTransportOptions.MaxReadBufferSize))]
    [InlineData(nameof(EpollTransportOptions.MaxWriteBufferSize))]
    [InlineData(nameof(EpollTransportOptions.TriggerMode))]
    [InlineData(nameof(EpollTransportOptions.ApplicationScheduling))]
    [InlineData(nameof(EpollTransportOptions.InlineBudget))]
    [InlineData(nameof(EpollTransportOptions.MaxConcurrentTlsHandshakes))]
    public void InvalidOptionsAreRejectedNamingTheOption(string option)
    {
        var options = new EpollTransportOptions();
        switch (option)
        {
            case nameof(EpollTransportOptions.ThreadCount): options.ThreadCount = 0; break;
            case nameof(EpollTransportOptions.Backlog): options.Backlog = -1; break;
            case nameof(EpollTransportOptions.MaxReadBufferSize): options.MaxReadBufferSize = -1; break;
            case nameof(EpollTransportOptions.MaxWriteBufferSize): options.MaxWriteBufferSize = -1; break;
            case nameof(EpollTransportOptions.TriggerMode): options.TriggerMode = (EpollTriggerMode)7; break;
            case nameof(EpollTransportOptions.ApplicationScheduling): options.ApplicationScheduling = (EpollApplicationScheduling)7; break;
            case nameof(EpollTransportOptions.InlineBudget): options.InlineBudget = TimeSpan.Zero; break;
            case nameof(EpollTransportOptions.MaxConcurrentTlsHandshakes): options.MaxConcurrentTlsHandshakes = -1; break;
        }

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new EpollTransportFactory(options, NullLoggerFactory.Instance));
        Assert.Equal(option, ex.ParamName);
    }

    [Fact]
    public void DefaultsAreAsDocumented()
    {
        var options = new EpollTransportOptions();

        Assert.Equal(Math.Max(1, Environment.ProcessorCount), options.ThreadCount);
        Assert.Equal(EpollTriggerMode.Edge, options.TriggerMode);
        Assert.Equal(512, options.Backlog);
        Assert.Equal(1024 * 1024, options.MaxReadBufferSize);
        Assert.Equal(64 * 1024, options.MaxWriteBufferSize);
        Assert.True(options.NoDelay);
        Assert.Equal(EpollApplicationScheduling.Inline, options.ApplicationScheduling);
        Assert.Equal(TimeSpan.FromMilliseconds(20), options.InlineBudget);
        Assert.False(options.FinOnError);
        Assert.Equal(1000, options.MaxConcurrentTlsHandshakes);
    }

    [Fact]
    public void TheDefaultThreadCountFollowsTheSchedulingModeUntilSet()
    {
        var options = new EpollTransportOptions { ApplicationScheduling = EpollApplicationScheduling.ThreadPool };
        Assert.Equal(Math.Clamp(Environment.ProcessorCount / 2, 1, 16), options.ThreadCount);

        options.ThreadCount = 3;
        options.ApplicationScheduling = EpollApplicationScheduling.Inline;
        Assert.Equal(3, options.ThreadCount);
    }
}
