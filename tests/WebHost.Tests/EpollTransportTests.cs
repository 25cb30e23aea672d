using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>The functional suite against the web host on the epoll transport.</summary>
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
}
