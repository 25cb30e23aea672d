namespace EpollTransport.WebHost;

/// <summary>
/// Picks the content root. As in any ASP.NET Core app it is the current directory, or what
/// <c>--contentRoot</c>, <c>ASPNETCORE_CONTENTROOT</c> or <c>DOTNET_CONTENTROOT</c> say. The one
/// addition: when none of those is given and the current directory has neither a <c>wwwroot</c> folder
/// nor an <c>appsettings.json</c>, the application's own directory is used, so that
/// <c>dotnet path/to/EpollTransport.WebHost.dll</c> serves the site that the build and publish outputs carry.
/// </summary>
internal static class ContentRootSelection
{
    /// <summary>Creates the builder options for <paramref name="args"/>.</summary>
    /// <param name="args">The command-line arguments.</param>
    /// <returns>The options, with <see cref="WebApplicationOptions.ContentRootPath"/> set only for the fallback.</returns>
    public static WebApplicationOptions CreateOptions(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);

        return new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = FallbackContentRoot(args, Directory.GetCurrentDirectory()),
        };
    }

    /// <summary>
    /// The content root to impose, or <see langword="null"/> to keep the normal default.
    /// </summary>
    /// <param name="args">The command-line arguments.</param>
    /// <param name="currentDirectory">The current directory.</param>
    /// <returns><see cref="AppContext.BaseDirectory"/> for the fallback case, otherwise <see langword="null"/>.</returns>
    public static string? FallbackContentRoot(string[] args, string currentDirectory)
    {
        // The same sources, with the same precedence, as the host uses for its own content root setting.
        var hostSettings = new ConfigurationBuilder()
            .AddEnvironmentVariables(prefix: "DOTNET_")
            .AddEnvironmentVariables(prefix: "ASPNETCORE_")
            .AddCommandLine(args)
            .Build();

        if (!string.IsNullOrEmpty(hostSettings[WebHostDefaults.ContentRootKey]))
        {
            return null;
        }

        if (Directory.Exists(Path.Combine(currentDirectory, "wwwroot")) ||
            File.Exists(Path.Combine(currentDirectory, "appsettings.json")))
        {
            return null;
        }

        return AppContext.BaseDirectory;
    }
}
