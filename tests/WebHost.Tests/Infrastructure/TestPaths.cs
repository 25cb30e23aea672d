namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>Where the tests find the site and the web host's build output.</summary>
public static class TestPaths
{
    /// <summary>
    /// A content root holding the repository's <c>wwwroot</c> and <c>appsettings.json</c>: the test output
    /// directory, where the WebHost project copies them, or else the repository root.
    /// </summary>
    public static string ContentRoot { get; } = FindContentRoot();

    /// <summary>The <c>wwwroot</c> folder under <see cref="ContentRoot"/>.</summary>
    public static string WebRoot => Path.Combine(ContentRoot, "wwwroot");

    /// <summary>The repository root (the directory holding <c>EpollTransport.sln</c>).</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>Reads a file under <c>wwwroot</c>.</summary>
    /// <param name="relativePath">The path below <c>wwwroot</c>, with forward slashes.</param>
    /// <returns>The file's bytes.</returns>
    public static byte[] ReadWebRootFile(string relativePath) =>
        File.ReadAllBytes(Path.Combine(WebRoot, relativePath.Replace('/', Path.DirectorySeparatorChar)));

    private static string FindContentRoot()
    {
        var baseDirectory = AppContext.BaseDirectory;
        if (File.Exists(Path.Combine(baseDirectory, "wwwroot", "index.html")) &&
            File.Exists(Path.Combine(baseDirectory, "appsettings.json")))
        {
            return baseDirectory;
        }

        return FindRepositoryRoot();
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "EpollTransport.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No EpollTransport.sln above {AppContext.BaseDirectory}.");
    }
}
