using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// The functional suite against the web host on the epoll transport with its default scheduling: Kestrel
/// and the application inline on the epoll threads, handed off when they block.
/// </summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
[Collection(InProcessServers.Name)]
public sealed class EpollTransportTests(EpollServerFixture fixture, ITestOutputHelper output)
    : TransportTests<EpollServerFixture>(fixture, output)
{
    /// <inheritdoc />
    protected override string ConnectionTypeNamespace => "EpollTransport";

    /// <inheritdoc />
    protected override bool ExpectsEpollListenerFactory => true;

    /// <summary>The default scheduling really is inline, on two threads (see the fixture).</summary>
    [Fact]
    public void TheTransportRunsWithDefaultInlineSchedulingOnTwoThreads()
    {
        var options = Server.Services.GetRequiredService<IOptions<EpollTransportOptions>>().Value;
        Assert.Equal(EpollApplicationScheduling.Inline, options.ApplicationScheduling);
        Assert.Equal(2, options.ThreadCount);
    }
}
