namespace EpollTransport.WebHost.Tests.Reliability;

/// <summary>
/// The tests that drive the host in its own process with slow external programs, one at a time, beside other
/// collections: <c>Packaging/</c>'s <c>dotnet pack</c> and build of a new app, testssl, Chromium and curl over HTTPS,
/// nginx in front. The build and testssl take the most CPU of all the tests (side by side on a machine loaded by others
/// they took 135-262 s and 140-230 s; one after the other on an idle one, 31 and 32 s): in one chain they never overlap. It starts first, beside
/// <see cref="LoadTests"/>' chain, instead of following it.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ExternalTools
{
    /// <summary>The collection's name.</summary>
    public const string Name = "External tools (one at a time)";
}
