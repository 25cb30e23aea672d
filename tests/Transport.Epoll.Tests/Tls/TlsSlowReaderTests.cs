using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Http;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// A client that reads slowly, over TLS, on a loop that serves other clients meanwhile: its socket is full
/// after most flushes, so the records the socket did not take wait in the connection's memory while the
/// thread's scratch buffer encrypts the other connections' responses. Every body must arrive byte-exact.
/// </summary>
public class TlsSlowReaderTests
{
    private const long SlowSize = 12L * 1024 * 1024;

    public static TheoryData<EpollApplicationScheduling, EpollTriggerMode> Modes => new()
    {
        { EpollApplicationScheduling.Inline, EpollTriggerMode.Edge },
        { EpollApplicationScheduling.ThreadPool, EpollTriggerMode.Level },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task ASlowReadersWaitingRecordsSurviveOtherConnectionsServedOnTheSameLoop(EpollApplicationScheduling scheduling, EpollTriggerMode mode)
    {
        await using var app = await TlsApp.StartAsync(
            k => k.Listen(IPAddress.Loopback, 0, o =>
            {
                o.UseEpollTls(TestCertificates.Server);
                o.Use(next => context =>
                {
                    // A small send buffer: the socket is full after most flushes, not once per few mebibytes.
                    var socket = ((EpollTransport.Internal.EpollConnection)context).Socket;
                    Sockets.SetOption(socket, Sockets.SOL_SOCKET, Sockets.SO_SNDBUF, 32 * 1024).ThrowIfError("setsockopt(SO_SNDBUF)");
                    return next(context);
                });
            }),
            epoll: o =>
            {
                o.ThreadCount = 1; // every connection on one loop, one scratch buffer
                o.ApplicationScheduling = scheduling;
                o.TriggerMode = mode;
            },
            map: MapDownload);

        using var slowClient = new HttpClient(SmallReceiveBuffer()) { Timeout = TransportHarness.Timeout * 3 };
        using var response = await slowClient.GetAsync($"https://127.0.0.1:{app.Port}/download?size={SlowSize}", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var stalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slowRead = ReadSlowlyAsync(body, stalled, resume.Task);

        // While the slow reader stops reading, its socket fills and its records wait; the loop serves others.
        await stalled.Task.WaitAsync(TransportHarness.Timeout);
        await Task.Delay(200);
        using var client = TlsApp.CreateClient();
        var sizes = new[] { 1, 700, 16 * 1024, 16 * 1024 + 1, 40_000, 65 * 1024, 200 * 1024 };
        for (int i = 0; i < 40; i++)
        {
            long size = sizes[i % sizes.Length];
            var bytes = await client.GetByteArrayAsync($"https://127.0.0.1:{app.Port}/download?size={size}");
            Assert.Equal(PatternStream.Hash(size), Convert.ToHexString(SHA256.HashData(bytes)));
        }

        Assert.False(slowRead.IsCompleted);
        resume.SetResult();
        Assert.Equal(PatternStream.Hash(SlowSize), await slowRead.WaitAsync(TransportHarness.Timeout * 3));
        long waits = app.Factory.ThreadGroup!.Stats.Sum(s => s.SendsWouldBlock);
        Assert.True(waits >= 50, $"the slow reader's socket was full only {waits} times");
    }

    /// <summary>Reads slowly; after the first mebibyte stops until <paramref name="resume"/>; returns the body's hash.</summary>
    private static async Task<string> ReadSlowlyAsync(Stream body, TaskCompletionSource stalled, Task resume)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[8 * 1024];
        long total = 0;
        int read, reads = 0;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            if (total < 1024 * 1024 && (total += read) >= 1024 * 1024)
            {
                stalled.SetResult();
                await resume;
            }

            if (++reads % 4 == 0)
            {
                await Task.Delay(1); // the server's sends fill the socket meanwhile
            }
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    private static SocketsHttpHandler SmallReceiveBuffer() => new()
    {
        SslOptions = new System.Net.Security.SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == TestCertificates.Server.GetCertHashString(),
        },
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        },
    };

    private static void MapDownload(WebApplication app)
        => app.MapGet("/download", async (HttpContext context, long size) =>
        {
            context.Response.ContentLength = size;
            using var pattern = new PatternStream(size);
            var buffer = new byte[20 * 1024]; // a flush per write: one and a bit records each
            int read;
            while ((read = pattern.Read(buffer)) > 0)
            {
                await context.Response.Body.WriteAsync(buffer.AsMemory(0, read));
            }
        });
}
