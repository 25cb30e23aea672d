using Microsoft.AspNetCore.Http;

namespace EpollTransport.WebHost.StaticFiles;

/// <summary>
/// Chooses the representation of a compressible file from <c>Accept-Encoding</c>, just before the static file
/// middleware: for a compressed one it points the request at the variant's internal path (the file name, the
/// <see cref="FileCache.VariantMarker"/> and the coding), which the cache answers with the variant, so the
/// static file middleware serves it with everything it does for files (HEAD, 304, 206, the ETag of its
/// length). The path is put back afterwards. When no representation is acceptable the answer is 406.
/// </summary>
internal sealed class StaticCompressionMiddleware(RequestDelegate next, FileCache cache)
{
    private static readonly Func<ContentCoding, (FileCache Cache, CacheEntry Entry), bool> s_hasVariant =
        static (coding, state) => state.Cache.GetVariant(state.Entry, coding) is not null;

    /// <summary>Handles one request.</summary>
    public Task Invoke(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        if (!cache.IsActive || !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) ||
            context.GetEndpoint() is not null || request.Path.Value is not { } path)
        {
            return next(context);
        }

        var entry = cache.GetEntry(path);
        if (entry.Compressible is null)
        {
            return next(context);
        }

        var chosen = AcceptEncoding.Parse(request.Headers.AcceptEncoding).Choose(s_hasVariant, (cache, entry));
        if (chosen is null)
        {
            context.Response.StatusCode = StatusCodes.Status406NotAcceptable;
            context.Response.Headers.Vary = "Accept-Encoding";
            return Task.CompletedTask;
        }

        if (chosen == ContentCoding.Identity)
        {
            return next(context);
        }

        var original = request.Path;
        request.Path = entry.VariantPath(chosen.Value);
        return ServeVariantAsync(context, original);
    }

    private async Task ServeVariantAsync(HttpContext context, PathString original)
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
