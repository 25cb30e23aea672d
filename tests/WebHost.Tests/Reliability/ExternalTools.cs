namespace EpollTransport.WebHost.Tests.Reliability;

/// <summary>
/// The tests that drive the host in its own process with slow external programs (testssl, Chromium and curl over
/// HTTPS, nginx in front), one at a time, beside other collections: a chain of most of a minute that starts early
/// instead of following <see cref="LoadTests"/>' (as <c>Packaging/</c>'s build of a new app does, a collection of its own).
/// </summary>
[CollectionDefinition(Name)]
public sealed class ExternalTools
{
    /// <summary>The collection's name.</summary>
    public const string Name = "External tools (one at a time)";
}
