using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// The functional suite against the epoll transport with <c>UnsafePreferInlineScheduling</c>: Kestrel and
/// the application run on the epoll threads (two), and sends are batched at the end of each loop iteration.
/// </summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
[Collection(InProcessServers.Name)]
public sealed class EpollInlineTransportTests(EpollInlineServerFixture fixture, ITestOutputHelper output)
    : TransportTests<EpollInlineServerFixture>(fixture, output)
{
    /// <inheritdoc />
    protected override string ConnectionTypeNamespace => "EpollTransport";

    /// <inheritdoc />
    protected override bool ExpectsEpollListenerFactory => true;

    /// <summary>The options really reached the transport.</summary>
    [Fact]
    public void TheTransportRunsWithInlineSchedulingOnTwoThreads()
    {
        var options = Server.Services.GetRequiredService<IOptions<EpollTransportOptions>>().Value;
        Assert.True(options.UnsafePreferInlineScheduling);
        Assert.Equal(2, options.ThreadCount);
    }
}
