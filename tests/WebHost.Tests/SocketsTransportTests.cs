using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>The functional suite against the web host on Kestrel's Sockets transport: the reference behaviour.</summary>
/// <param name="fixture">The server.</param>
/// <param name="output">The test output.</param>
public sealed class SocketsTransportTests(SocketsServerFixture fixture, ITestOutputHelper output)
    : TransportTests<SocketsServerFixture>(fixture, output)
{
    /// <inheritdoc />
    protected override string ConnectionTypeNamespace => "Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets";

    /// <inheritdoc />
    protected override bool ExpectsEpollListenerFactory => false;
}
