namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>A content root of a test's own, with a <c>wwwroot</c> the test may change while a server serves it.</summary>
public sealed class TempSite : IDisposable
{
    private TempSite(string root)
    {
        ContentRoot = root;
        WebRoot = Directory.CreateDirectory(Path.Combine(root, "wwwroot")).FullName;
    }

    /// <summary>The content root.</summary>
    public string ContentRoot { get; }

    /// <summary>Its <c>wwwroot</c>.</summary>
    public string WebRoot { get; }

    /// <summary>Creates an empty site.</summary>
    public static TempSite Create() => new(Directory.CreateTempSubdirectory("webhost-site-").FullName);

    /// <summary>The full path of <paramref name="relativePath"/> under <c>wwwroot</c>.</summary>
    public string PathOf(string relativePath) => Path.Combine(WebRoot, relativePath.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>Writes a file under <c>wwwroot</c>, creating its directories.</summary>
    public string Write(string relativePath, string text) => Write(relativePath, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>Writes a file under <c>wwwroot</c>, creating its directories.</summary>
    public string Write(string relativePath, byte[] bytes)
    {
        var path = PathOf(relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Directory.Delete(ContentRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
