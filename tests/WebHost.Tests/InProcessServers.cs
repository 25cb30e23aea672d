namespace EpollTransport.WebHost.Tests;

/// <summary>
/// The in-process suites run one after the other, not in parallel: they share this process, and the
/// backpressure test measures its memory. (The out-of-process tests may run alongside.)
/// </summary>
[CollectionDefinition(Name)]
public sealed class InProcessServers
{
    /// <summary>The collection's name.</summary>
    public const string Name = "In-process servers";
}
