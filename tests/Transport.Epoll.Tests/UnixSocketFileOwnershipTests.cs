using System.Net.Sockets;

namespace EpollTransport.Tests;

/// <summary>
/// A listener unbinding its Unix socket removes the socket file only if it is still its own. In a rolling
/// restart the new instance may have replaced the file already (the old one had stopped accepting, so the
/// file looked stale): removing the path then took the new instance's address away. (That its own file is
/// removed: EpollTransportFactoryTests.UnixDomainSocketsListenAndRemoveTheirFileOnUnbind.)
/// </summary>
public class UnixSocketFileOwnershipTests
{
    [Fact]
    public async Task AFileAnotherServerBoundAtThePathIsLeftInPlace()
    {
        string path = Path.Combine(Path.GetTempPath(), $"epoll-owner-{Guid.NewGuid():N}.sock");
        try
        {
            await using var harness = new TransportHarness();
            var listener = await harness.BindAsync(new UnixDomainSocketEndPoint(path));

            // Another server takes the path over: it removes the file and binds its own.
            File.Delete(path);
            using var successor = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            successor.Bind(new UnixDomainSocketEndPoint(path));
            successor.Listen();

            await listener.UnbindAsync();

            Assert.True(File.Exists(path), "the unbinding listener removed the socket file of the server that replaced it");
            using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await client.ConnectAsync(new UnixDomainSocketEndPoint(path)).WaitAsync(TransportHarness.Timeout);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
