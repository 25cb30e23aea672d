using System.Diagnostics.CodeAnalysis;

namespace EpollTransport.WebHost.StaticFiles;

/// <summary>How the web host serves <c>wwwroot</c>: the file cache, compression and caching headers.</summary>
/// <remarks>Bound from the <c>StaticFiles</c> configuration section.</remarks>
internal sealed class StaticSiteOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "StaticFiles";

    /// <summary>The in-memory file cache.</summary>
    public FileCacheOptions Cache { get; set; } = new();

    /// <summary>Compression of compressible types.</summary>
    public CompressionOptions Compression { get; set; } = new();

    /// <summary>The <c>Cache-Control</c> header of static files.</summary>
    public CacheControlOptions CacheControl { get; set; } = new();

    /// <summary>
    /// The file under <c>wwwroot</c> (e.g. <c>/index.html</c>) that answers a GET or HEAD for a path without a file
    /// extension that names no file or directory, as a single-page app's client-side routes need; empty for none.
    /// </summary>
    /// <remarks>Defaults to empty: such requests get the 404 page.</remarks>
    public string FallbackFile { get; set; } = string.Empty;

    /// <summary>
    /// Binds the <see cref="SectionName"/> section and checks it, once at startup: a wrong value stops the host
    /// with a message naming the setting and its rule, like a wrong <c>Transport</c>.
    /// </summary>
    /// <param name="configuration">The configuration.</param>
    /// <param name="options">The options, when every value is valid.</param>
    /// <param name="error">A one-line message naming the first invalid setting and its rule.</param>
    /// <returns>Whether every value is valid.</returns>
    public static bool TryRead(IConfiguration configuration, out StaticSiteOptions options, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        options = new StaticSiteOptions();
        try
        {
            configuration.GetSection(SectionName).Bind(options);
        }
        catch (InvalidOperationException e)
        {
            // What the binder throws for a value of the wrong type; its message names the key and the type.
            error = $"Invalid StaticFiles setting: {e.Message}";
            return false;
        }

        var cache = options.Cache;
        var broken = cache.MaxFileSize < 0 || cache.SizeLimit <= 0 || cache.MaxFileSize > cache.SizeLimit
            ? "StaticFiles:Cache: MaxFileSize must be 0 or more and SizeLimit more than 0, with MaxFileSize no more than SizeLimit."
            : options.Compression.MinimumLength < 0 ? "StaticFiles:Compression:MinimumLength must be 0 or more." : null;
        error = broken is null ? null : $"Invalid StaticFiles setting: {broken}";
        return error is null;
    }

    /// <summary>
    /// Checks <see cref="FallbackFile"/> against the web root, once at startup: it must be a file inside it
    /// (through no <c>..</c> and no symbolic link leading out). Normalises it to start with <c>/</c>.
    /// </summary>
    /// <param name="webRootPath">The web root (<c>IWebHostEnvironment.WebRootPath</c>), if there is one.</param>
    /// <param name="error">A one-line message naming the setting and what is wrong.</param>
    /// <returns>Whether the setting is empty or names such a file.</returns>
    public bool TryCheckFallbackFile(string? webRootPath, [NotNullWhen(false)] out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(FallbackFile))
        {
            FallbackFile = string.Empty;
            return true;
        }

        FallbackFile = "/" + FallbackFile.Trim().TrimStart('/');
        var problem = webRootPath is null || !Directory.Exists(webRootPath) ? "there is no wwwroot to serve it from"
            : FallbackFile.Contains('\\', StringComparison.Ordinal) || !IsInside(webRootPath, FallbackFile) ? "it is outside wwwroot"
            : FallbackProblem(webRootPath, FallbackFile);
        error = problem is null ? null : $"Invalid StaticFiles setting: StaticFiles:FallbackFile '{FallbackFile}': {problem}.";
        return error is null;
    }

    private static bool IsInside(string webRootPath, string file)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(webRootPath)) + Path.DirectorySeparatorChar;
        return Path.GetFullPath(Path.Join(root, file)).StartsWith(root, StringComparison.Ordinal);
    }

    private static string? FallbackProblem(string webRootPath, string file)
    {
        var contained = new ContainedFileProvider(new Microsoft.Extensions.FileProviders.PhysicalFileProvider(webRootPath), webRootPath);
        var info = contained.GetFileInfo(file);
        return info is { Exists: true, IsDirectory: false } ? null
            : File.Exists(Path.Join(webRootPath, file)) ? "it leads out of wwwroot through a symbolic link"
            : "no such file in wwwroot";
    }
}

/// <summary>The bounded cache of metadata and small file contents under the static file middleware.</summary>
internal sealed class FileCacheOptions
{
    /// <summary>Whether files are cached at all; without it every request goes to the file system, as without a cache.</summary>
    /// <remarks>Defaults to <see langword="true"/>.</remarks>
    public bool Enabled { get; set; } = true;

    /// <summary>Files up to this many bytes are held in memory; larger ones stream from disk on every request.</summary>
    /// <remarks>Defaults to 1,048,576 (1 MiB). 0 caches metadata only.</remarks>
    public long MaxFileSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// The budget, in bytes, for everything the cache holds: contents, their compressed variants and an
    /// estimate of each entry's own overhead. The least recently used entries are dropped to stay within it.
    /// </summary>
    /// <remarks>Defaults to 67,108,864 (64 MiB).</remarks>
    public long SizeLimit { get; set; } = 64L * 1024 * 1024;
}

/// <summary>Brotli and gzip for compressible types, negotiated from <c>Accept-Encoding</c>.</summary>
internal sealed class CompressionOptions
{
    /// <summary>Whether compressed representations are offered.</summary>
    /// <remarks>Defaults to <see langword="true"/>.</remarks>
    public bool Enabled { get; set; } = true;

    /// <summary>Files shorter than this many bytes are sent as they are: compressing them does not pay.</summary>
    /// <remarks>Defaults to 1,024.</remarks>
    public int MinimumLength { get; set; } = 1024;
}

/// <summary>The <c>Cache-Control</c> header, per path pattern.</summary>
internal sealed class CacheControlOptions
{
    /// <summary>The value for files no rule matches; empty sends no header.</summary>
    /// <remarks>
    /// Defaults to <c>no-cache</c>: browsers may store the file but revalidate it (a cheap 304) before each use,
    /// so a changed file is never shown stale.
    /// </remarks>
    public string Default { get; set; } = "no-cache";

    /// <summary>Rules tried in order; the first whose pattern matches the request path decides.</summary>
    /// <remarks>Defaults to none.</remarks>
    public IList<CacheControlRule> Rules { get; } = [];
}

/// <summary>One <c>Cache-Control</c> rule.</summary>
internal sealed class CacheControlRule
{
    /// <summary>
    /// A path pattern relative to the site root, e.g. <c>/assets/**</c> or <c>/*.css</c>: <c>*</c> matches
    /// within one path segment, <c>**</c> across segments.
    /// </summary>
    /// <remarks>Defaults to empty, which matches nothing.</remarks>
    public string Path { get; set; } = string.Empty;

    /// <summary>The header value, e.g. <c>public, max-age=31536000, immutable</c>; empty sends none.</summary>
    /// <remarks>Defaults to empty.</remarks>
    public string Value { get; set; } = string.Empty;
}
