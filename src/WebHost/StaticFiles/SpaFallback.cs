using Microsoft.Extensions.FileProviders;

namespace EpollTransport.WebHost.StaticFiles;

/// <summary>
/// The single-page-app fallback (<see cref="StaticSiteOptions.FallbackFile"/>): a GET or HEAD that no endpoint
/// answers, for a path without a file extension that names neither a file nor a directory of <c>wwwroot</c>, is
/// pointed at the fallback file before the static file middleware, which then serves it as any file (200, its
/// validators, conditional requests and ranges, the file cache, compression). The path is put back afterwards.
/// Everything else, a miss with an extension (<c>/app.js</c>) included, goes on to the 404 page.
/// </summary>
internal sealed class SpaFallback(RequestDelegate next, IFileProvider webRoot, PathString fallbackFile)
{
    /// <summary>Handles one request.</summary>
    public Task Invoke(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        if (!(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) || context.GetEndpoint() is not null ||
            request.Path.Value is not { } path || HasExtension(path) || Names(path))
        {
            return next(context);
        }

        request.Path = fallbackFile;
        return ServeFallbackAsync(context, path);
    }

    /// <summary>Whether the last segment of <paramref name="path"/> has a dot with something after it (<c>.js</c>, <c>.well-known</c>).</summary>
    /// <param name="path">A request path.</param>
    /// <returns>Whether it looks like a file name.</returns>
    public static bool HasExtension(ReadOnlySpan<char> path)
    {
        var segment = path[(path.LastIndexOf('/') + 1)..];
        var dot = segment.LastIndexOf('.');
        return dot >= 0 && dot < segment.Length - 1;
    }

    // A file, or a directory (served by its default document, redirected to its slash, or a 404 of its own).
    private bool Names(string path) => webRoot.GetFileInfo(path).Exists || webRoot.GetDirectoryContents(path).Exists;

    private async Task ServeFallbackAsync(HttpContext context, string original)
    {
        try
        {
            await next(context);
        }
        finally
        {
            context.Request.Path = original;
        }
    }
}
