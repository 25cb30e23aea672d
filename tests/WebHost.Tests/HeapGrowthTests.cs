using System.Globalization;
using EpollTransport.WebHost.StaticFiles;
using EpollTransport.WebHost.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// Clients that read nothing must not make the server buffer what it sends: the tests that measure this process's
/// managed heap (<see cref="MemoryMeasurement"/>) while a server of the suite's transport serves them. Classes of their
/// own, apart from <see cref="TransportTests{TFixture}"/>, because another test's buffers would count: they run
/// alone (<see cref="RunsAlone"/>).
/// </summary>
/// <typeparam name="TFixture">The fixture running the web host on the subclass's transport.</typeparam>
public abstract class HeapGrowthTests<TFixture> : WebHostTests<TFixture>
    where TFixture : ServerFixture
{
    /// <summary>Creates the tests.</summary>
    /// <param name="fixture">The shared server.</param>
    /// <param name="output">The test output.</param>
    protected HeapGrowthTests(TFixture fixture, ITestOutputHelper output)
        : base(fixture, output)
    {
    }

    [Fact]
    public async Task SlowReaderGetsBackpressureThenTheWholeResponse()
    {
        const long size = 64L * 1024 * 1024;
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(90));
        var measuring = MemoryMeasurement.Start();

        // A small, fixed receive buffer (no autotuning) keeps the kernel's share small and predictable.
        using var connection = await Server.ConnectAsync(cts.Token, receiveBufferSize: 64 * 1024);
        await connection.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
        Assert.Equal(200, (await connection.ReadResponseAsync(cts.Token)).StatusCode);

        measuring.TakeBaseline();
        await connection.SendAsync(RawHttpConnection.Get($"/test/bytes/{size}"), cts.Token);
        var (status, headers) = await connection.ReadResponseHeadAsync(cts.Token);
        Assert.Equal(200, status);
        Assert.Equal(size.ToString(CultureInfo.InvariantCulture), headers["Content-Length"]);

        // Read nothing for a while. Without backpressure the server would buffer the whole 64 MB in
        // memory within this time; with it, the endpoint's writes wait once the buffers are full.
        var peakGrowth = await measuring.PeakGrowthAsync(cts.Token);

        Output.WriteLine($"Peak managed memory growth while the client read nothing: {peakGrowth / 1024} KiB of a {size / 1024} KiB response.");
        Assert.True(peakGrowth < size / 8, $"The server's memory grew by {peakGrowth} bytes while the client read nothing.");

        var buffer = new byte[256 * 1024];
        long offset = 0;
        while (offset < size)
        {
            var read = await connection.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - offset)), cts.Token);
            Assert.NotEqual(0, read);
            AssertPattern(buffer.AsSpan(0, read), offset);
            offset += read;
        }

        Assert.Equal(size, offset);
    }


    [Fact]
    public async Task ClientsThatNeverReadAreCutOffByTheMinimumResponseDataRateWithBoundedMemory()
    {
        const int stalledClients = 10;
        const long responseSize = 256L * 1024 * 1024;
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        await using var factory = StartOwnServer(settings: new Dictionary<string, string?>
        {
            // Kestrel gives what the socket and the pipes absorbed (megabytes) time at this rate before it aborts: at
            // 1 MiB/s that was 5 s of waiting; at 16 MiB/s the grace period decides, and its 3 s outlast the sampling
            // below (the clients' receive windows fill in milliseconds, they stall from the start).
            ["Kestrel:Limits:MinResponseDataRate:BytesPerSecond"] = "16777216",
            ["Kestrel:Limits:MinResponseDataRate:GracePeriod"] = "00:00:03",
        });
        var measuring = MemoryMeasurement.Start();

        var stalled = new List<RawHttpConnection>();
        try
        {
            for (var i = 0; i < stalledClients; i++)
            {
                // A small fixed receive window; the client then reads nothing at all.
                var connection = await factory.ConnectAsync(cts.Token, receiveBufferSize: 64 * 1024);
                stalled.Add(connection);
                await connection.SendAsync(RawHttpConnection.Get($"/test/bytes/{responseSize}"), cts.Token);
            }

            // Others are served while they stall, and the server's memory stays flat.
            using var client = factory.CreateHttpClient();
            for (var i = 0; i < 10; i++)
            {
                Assert.Equal("Hello, World!", await client.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cts.Token));
                measuring.Sample();
                await Task.Delay(100, cts.Token);
            }

            var peakGrowth = measuring.PeakGrowth;

            // Kestrel aborts each stalled response once its rate stays under 16 MiB/s past the grace period.
            foreach (var connection in stalled)
            {
                await factory.Connections.WaitForServerToCloseAsync(connection.LocalEndPoint, cts.Token);
            }

            Output.WriteLine($"Peak managed memory growth with {stalledClients} stalled {responseSize / (1024 * 1024)} MiB responses: {peakGrowth / 1024} KiB.");
            Assert.True(peakGrowth < 32L * 1024 * 1024, $"Memory grew by {peakGrowth} bytes.");
            Assert.Equal("Hello, World!", await client.GetStringAsync(new Uri("/plaintext", UriKind.Relative), cts.Token));
        }
        finally
        {
            foreach (var connection in stalled)
            {
                connection.Dispose();
            }
        }
    }
}

/// <summary>The heap measurements on Kestrel's Sockets transport (the reference).</summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
[Collection(RunsAlone.Name)]
public sealed class SocketsHeapGrowthTests(SocketsServerFixture fixture, ITestOutputHelper output)
    : HeapGrowthTests<SocketsServerFixture>(fixture, output);

/// <summary>The heap measurements on the epoll transport with thread-pool scheduling.</summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
[Collection(RunsAlone.Name)]
public sealed class EpollThreadPoolHeapGrowthTests(EpollThreadPoolServerFixture fixture, ITestOutputHelper output)
    : HeapGrowthTests<EpollThreadPoolServerFixture>(fixture, output);

/// <summary>The heap measurements over the epoll transport's TLS.</summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
[Collection(RunsAlone.Name)]
public sealed class EpollTlsHeapGrowthTests(EpollTlsServerFixture fixture, ITestOutputHelper output)
    : HeapGrowthTests<EpollTlsServerFixture>(fixture, output);

/// <summary>
/// The heap measurements on the epoll transport, inline; and the static site's (<see cref="StaticSiteTests"/>, which
/// runs on this transport): a file served from the file cache's memory to a client that reads nothing.
/// </summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
[Collection(RunsAlone.Name)]
public sealed class EpollHeapGrowthTests(EpollServerFixture fixture, ITestOutputHelper output)
    : HeapGrowthTests<EpollServerFixture>(fixture, output)
{
    [Fact]
    public async Task ALargeFileFromMemoryWaitsForASlowReaderInsteadOfBufferingWhole()
    {
        const int size = 48 * 1024 * 1024;
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(90));
        var measuring = MemoryMeasurement.Start();
        using var site = TempSite.Create();
        var bytes = new byte[size];
        new Random(11).NextBytes(bytes);
        site.Write("large.bin", bytes);
        await using var factory = StartOwnServer(contentRoot: site.ContentRoot, settings: new Dictionary<string, string?>
        {
            ["StaticFiles:Cache:MaxFileSize"] = "67108864",
            ["StaticFiles:Cache:SizeLimit"] = "134217728",
        });
        using (var client = factory.CreateHttpClient())
        {
            Assert.Equal(bytes, await client.GetByteArrayAsync(new Uri("/large.bin", UriKind.Relative), cts.Token));
        }

        Assert.True(Assert.IsType<CachedFileInfo>(factory.Services.GetRequiredService<FileCache>().GetEntry("/large.bin").Info).IsInMemory);

        // A small, fixed receive buffer keeps the kernel's share small; the file is in the cache already, so what
        // grows now is what the response buffers on the server's side while the client reads nothing.
        using var connection = await RawHttpConnection.ConnectAsync(factory.EndPoint, cts.Token, receiveBufferSize: 64 * 1024);
        measuring.TakeBaseline();
        await connection.SendAsync(RawHttpConnection.Get("/large.bin"), cts.Token);
        var (status, _) = await connection.ReadResponseHeadAsync(cts.Token);
        Assert.Equal(200, status);
        var peakGrowth = await measuring.PeakGrowthAsync(cts.Token);

        Output.WriteLine($"Peak managed memory growth while the client read nothing: {peakGrowth / 1024} KiB of a {size / 1024} KiB file.");
        Assert.True(peakGrowth < size / 4, $"The server's memory grew by {peakGrowth} bytes while the client read nothing.");
        Assert.Equal(bytes, await connection.ReadExactlyAsync(size, cts.Token));
    }
}
