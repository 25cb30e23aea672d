using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// Large bodies both ways over the transport's TLS, byte-exact (SHA-256 of a deterministic pattern), over
/// HTTP/1.1 and HTTP/2, and backpressure on both sides: a server that reads slowly pauses the socket's
/// reading (the client is slowed by TCP), a client that reads slowly makes the server's sends wait.
/// </summary>
public class TlsTransferTests
{
    private const long DefaultSize = 64L * 1024 * 1024;
    private const long SoakSize = 1024L * 1024 * 1024;

    public static TheoryData<string, EpollTriggerMode> Versions => new()
    {
        { "1.1", EpollTriggerMode.Edge },
        { "1.1", EpollTriggerMode.Level },
        { "2.0", EpollTriggerMode.Edge },
        { "2.0", EpollTriggerMode.Level },
    };

    [Theory]
    [MemberData(nameof(Versions))]
    public Task LargeBodiesArriveByteExactBothWays(string version, EpollTriggerMode mode) => TransferAsync(version, mode, DefaultSize);

    [Theory]
    [Trait("Category", "Soak")]
    [InlineData("1.1")]
    [InlineData("2.0")]
    public Task OneGibibyteArrivesByteExactBothWays(string version) => TransferAsync(version, EpollTriggerMode.Edge, SoakSize);

    [Fact]
    public async Task ASlowReadingServerPausesTheSocketAndLosesNothing()
    {
        const long size = 8L * 1024 * 1024;
        await using var app = await StartAsync(EpollTriggerMode.Edge, o => o.MaxReadBufferSize = 64 * 1024);
        using var client = TlsApp.CreateClient();

        var response = await client.PostAsync($"https://127.0.0.1:{app.Port}/upload?slow=1", new StreamContent(new PatternStream(size)));
        Assert.Equal(PatternStream.Hash(size), await response.Content.ReadAsStringAsync());
        Assert.True(Sum(app, s => s.ReadPauses) > 0, "the server never paused reading");
    }

    [Fact]
    public async Task ASlowReadingClientMakesTheServerWaitAndLosesNothing()
    {
        const long size = 16L * 1024 * 1024;
        await using var app = await StartAsync(EpollTriggerMode.Edge);
        using var client = TlsApp.CreateClient();

        using var response = await client.GetAsync($"https://127.0.0.1:{app.Port}/download?size={size}", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        await Task.Delay(500); // the socket's buffers fill; the server's sends must wait for room
        Assert.True(Sum(app, s => s.SendsWouldBlock) > 0, "the server's sends never waited");
        Assert.Equal(PatternStream.Hash(size), Convert.ToHexString(await SHA256.HashDataAsync(body)));
    }

    private static async Task TransferAsync(string version, EpollTriggerMode mode, long size)
    {
        await using var app = await StartAsync(mode);
        using var client = TlsApp.CreateClient(version: Version.Parse(version));
        client.Timeout = SoakTimeout(size); // the upload is one request: 1 GiB of it outlasts 20 s on a loaded machine
        string expected = PatternStream.Hash(size);

        using (var download = await client.GetAsync($"https://127.0.0.1:{app.Port}/download?size={size}", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(Version.Parse(version), download.Version);
            await using var body = await download.Content.ReadAsStreamAsync();
            Assert.Equal(expected, Convert.ToHexString(await SHA256.HashDataAsync(body)));
        }

        var upload = await client.PostAsync($"https://127.0.0.1:{app.Port}/upload", new StreamContent(new PatternStream(size)));
        Assert.Equal(expected, await upload.Content.ReadAsStringAsync());
    }

    // A liveness bound, not a timing: at least the harness's, plus a minute per 256 MiB beyond the default size.
    private static TimeSpan SoakTimeout(long size)
        => TransportHarness.Timeout + TimeSpan.FromMinutes(Math.Max(0, size - DefaultSize) / (256.0 * 1024 * 1024));

    private static long Sum(TlsApp app, Func<EpollTransport.Internal.EpollThreadStats, long> field)
        => app.Factory.ThreadGroup!.Stats.Sum(field);

    private static Task<TlsApp> StartAsync(EpollTriggerMode mode, Action<EpollTransportOptions>? configure = null)
        => TlsApp.StartAsync(
            k =>
            {
                k.Limits.MaxRequestBodySize = null;
                k.Listen(IPAddress.Loopback, 0, o =>
                {
                    o.Protocols = HttpProtocols.Http1AndHttp2;
                    o.UseEpollTls(TestCertificates.Server);
                });
            },
            epoll: o =>
            {
                o.TriggerMode = mode;
                configure?.Invoke(o);
            },
            map: app =>
            {
                app.MapGet("/download", async (HttpContext context, long size) =>
                {
                    context.Response.ContentLength = size;
                    using var pattern = new PatternStream(size);
                    var buffer = new byte[64 * 1024];
                    int read;
                    while ((read = pattern.Read(buffer)) > 0)
                    {
                        await context.Response.Body.WriteAsync(buffer.AsMemory(0, read));
                    }
                });
                app.MapPost("/upload", async (HttpContext context) =>
                {
                    bool slow = context.Request.Query.ContainsKey("slow");
                    using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                    var buffer = new byte[16 * 1024];
                    int read, reads = 0;
                    while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                        if (slow && ++reads < 20)
                        {
                            await Task.Delay(20); // the socket's input piles up meanwhile
                        }
                    }

                    return Convert.ToHexString(hash.GetHashAndReset());
                });
            });
}
