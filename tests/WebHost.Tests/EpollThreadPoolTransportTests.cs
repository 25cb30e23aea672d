using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// The functional suite against the epoll transport with <c>ApplicationScheduling</c> set to
/// <c>ThreadPool</c>: Kestrel and the application run on the thread pool, never on the epoll threads.
/// </summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
public sealed class EpollThreadPoolTransportTests(EpollThreadPoolServerFixture fixture, ITestOutputHelper output)
    : TransportTests<EpollThreadPoolServerFixture>(fixture, output)
{
    /// <inheritdoc />
    protected override string ConnectionTypeNamespace => "EpollTransport";

    /// <inheritdoc />
    protected override bool ExpectsEpollListenerFactory => true;

    /// <summary>The options really reached the transport.</summary>
    [Fact]
    public void TheTransportRunsTheApplicationOnTheThreadPool()
    {
        var options = Server.Services.GetRequiredService<IOptions<EpollTransportOptions>>().Value;
        Assert.Equal(EpollApplicationScheduling.ThreadPool, options.ApplicationScheduling);
    }
}
