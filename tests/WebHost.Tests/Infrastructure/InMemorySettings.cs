using Microsoft.Extensions.Configuration;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>The settings classes' tests' one way to make a configuration from keys and values (<c>using static</c>).</summary>
internal static class InMemorySettings
{
    /// <summary>A configuration holding just <paramref name="values"/>.</summary>
    /// <param name="values">Keys (<c>Section:Key</c>) and values.</param>
    /// <returns>The configuration.</returns>
    public static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();
}
