using System.Net.Sockets;
using EpollTransport.Internal;
using EpollTransport.Interop;

namespace EpollTransport.Tests;

/// <summary>
/// A read that returns less than its buffer usually means the socket's queue is drained, and the transport
/// then waits for the next event. Two kinds of data stop a read early with more queued behind: TCP's urgent
/// mark, and on a Unix socket a message that carried descriptors (SCM_RIGHTS). In edge-triggered mode no
/// event comes for data that was already there, so the rest waited until the client sent more.
/// </summary>
public class ShortReadTests
{
    [Theory]
    [InlineData(EpollTriggerMode.Edge)]
    [InlineData(EpollTriggerMode.Level)]
    public async Task DataAfterTcpUrgentDataIsRead(EpollTriggerMode mode)
    {
        await using var harness = new TransportHarness(o => o.TriggerMode = mode);
        var listener = await harness.BindAsync();
        var (client, server) = await harness.ConnectAsync(listener);
        client.NoDelay = true;

        // Everything is queued before the transport reads: one event, a read that stops at the urgent mark.
        await HoldLoopAsync(server, () =>
        {
            client.Send("abc"u8);
            client.Send("!"u8, SocketFlags.OutOfBand); // out of band: not part of the stream
            client.Send("def"u8);
        });

        Assert.Equal("abcdef"u8.ToArray(), await TransportHarness.ReadExactlyAsync(server.Transport.Input, 6));
    }

    [Theory]
    [InlineData(EpollTriggerMode.Edge)]
    [InlineData(EpollTriggerMode.Level)]
    public async Task DataAfterAMessageCarryingDescriptorsIsRead(EpollTriggerMode mode)
    {
        string path = Path.Combine(Path.GetTempPath(), $"epoll-scm-{Guid.NewGuid():N}.sock");
        try
        {
            await using var harness = new TransportHarness(o => o.TriggerMode = mode);
            var listener = await harness.BindAsync(new UnixDomainSocketEndPoint(path));
            var (client, server) = await harness.ConnectAsync(listener);

            await HoldLoopAsync(server, () =>
            {
                SendWithDescriptor(client, "abc"u8);
                client.Send("def"u8);
            });

            Assert.Equal("abcdef"u8.ToArray(), await TransportHarness.ReadExactlyAsync(server.Transport.Input, 6));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Runs <paramref name="send"/> while the server's loop is held, then lets the loop read it all at once.</summary>
    private static async Task HoldLoopAsync(Microsoft.AspNetCore.Connections.ConnectionContext server, Action send)
    {
        var loop = ((EpollConnection)server).Thread;
        using var held = new ManualResetEventSlim();
        using var holding = new ManualResetEventSlim();
        loop.Post(_ =>
        {
            holding.Set();
            held.Wait(TransportHarness.Timeout);
        }, null);
        Assert.True(holding.Wait(TransportHarness.Timeout));
        send();
        await Task.Delay(100); // the bytes cross loopback (if they have not, the test only proves less)
        held.Set();
    }

    /// <summary>sendmsg(2) with <paramref name="data"/> and one descriptor (the sender's own socket) attached.</summary>
    private static unsafe void SendWithDescriptor(Socket client, ReadOnlySpan<byte> data)
    {
        const int SCM_RIGHTS = 1;
        byte* control = stackalloc byte[24]; // CMSG_SPACE(sizeof(int)): cmsghdr { size_t len; int level; int type; } + int
        new Span<byte>(control, 24).Clear();
        *(ulong*)control = 20;                // CMSG_LEN(sizeof(int))
        *(int*)(control + 8) = Sockets.SOL_SOCKET;
        *(int*)(control + 12) = SCM_RIGHTS;
        *(int*)(control + 16) = (int)client.Handle;

        fixed (byte* bytes = data)
        {
            LibC.IOVector vector = new() { Base = bytes, Length = (nuint)data.Length };
            LibC.MessageHeader header = new() { IOVectors = &vector, IOVectorCount = 1, Control = control, ControlLength = 24 };
            using var socket = new FileDescriptor((int)client.Handle, ownsHandle: false);
            Assert.Equal(data.Length, (int)LibC.SendMsg(socket, &header, 0));
        }
    }
}
