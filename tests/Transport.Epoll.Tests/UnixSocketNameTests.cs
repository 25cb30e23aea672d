using System.Net.Sockets;
using EpollTransport.Internal;
using EpollTransport.Interop;

namespace EpollTransport.Tests;

/// <summary>
/// Abstract Unix socket names (a leading NUL, no file) and file paths that merely start with '@' are
/// different addresses: the first binds no file, the second is a file that is cleaned up like any other.
/// </summary>
public class UnixSocketNameTests
{
    [Fact]
    public async Task AnAbstractNameIsBoundWithoutAFileAndAcceptsClients()
    {
        string name = $"epoll-abstract-{Guid.NewGuid():N}";
        var endPoint = new UnixDomainSocketEndPoint("\0" + name);
        await using var harness = new TransportHarness();
        var listener = await harness.BindAsync(endPoint);

        // .NET renders the abstract name as "@name"; no such file may appear in the current directory.
        Assert.False(File.Exists("@" + name), "a file named @name was bound instead of the abstract name");

        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(endPoint).WaitAsync(TransportHarness.Timeout);
        using var cts = new CancellationTokenSource(TransportHarness.Timeout);
        var server = await listener.AcceptAsync(cts.Token);
        Assert.NotNull(server);
        await client.SendAsync("abstract"u8.ToArray());
        Assert.Equal("abstract"u8.ToArray(), await TransportHarness.ReadExactlyAsync(server!.Transport.Input, 8));

        await listener.UnbindAsync();
        Assert.False(File.Exists("@" + name));
    }

    [Fact]
    public async Task AFilePathStartingWithAtIsRemovedOnUnbind()
    {
        // Relative to the current directory: an absolute path cannot start with '@'.
        string path = $"@epoll-file-{Guid.NewGuid():N}.sock";
        try
        {
            await using var harness = new TransportHarness();
            var listener = await harness.BindAsync(new UnixDomainSocketEndPoint(path));
            Assert.True(File.Exists(path));
            Assert.True(FileSystem.IsSocket(path));

            await listener.UnbindAsync();
            Assert.False(File.Exists(path), "the socket file starting with '@' was left behind");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task AStaleFileStartingWithAtIsReplaced()
    {
        string path = $"@epoll-stale-{Guid.NewGuid():N}.sock";
        try
        {
            Sockets.CreateStreamSocket(NativeSocketAddress.AF_UNIX, out var stale).ThrowIfError("socket");
            using (stale)
            {
                Sockets.Bind(stale, new UnixDomainSocketEndPoint(path)).ThrowIfError("bind");
            }

            Assert.True(File.Exists(path));
            await using var harness = new TransportHarness();
            var listener = await harness.BindAsync(new UnixDomainSocketEndPoint(path));
            await harness.ConnectAsync(listener);
            Assert.IsType<EpollConnectionListener>(listener);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
