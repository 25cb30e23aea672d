using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EpollTransport.WebHost.StaticFiles;

/// <summary>
/// Serves <c>wwwroot</c>: the 404 page, the optional <see cref="SpaFallback"/>, <c>UseDefaultFiles</c> and <c>UseStaticFiles</c> over the file cache,
/// with compression negotiated between the two, and the headers (<c>Cache-Control</c>, <c>Vary</c>,
/// <c>Content-Encoding</c>, a charset on text types) added as each file is served.
/// </summary>
internal static class StaticSite
{
    /// <summary>Registers the options (read and checked by <see cref="StaticSiteOptions.TryRead"/>), the content types, the change source and the cache.</summary>
    public static IServiceCollection AddStaticSite(this IServiceCollection services, StaticSiteOptions options)
    {
        services.TryAddSingleton(Options.Create(options));
        services.TryAddSingleton<StaticContentTypes>();
        services.TryAddSingleton<IFileChangeSource, InotifyChangeSource>();
        services.TryAddSingleton<FileCache>();
        return services;
    }

    /// <summary>Adds the static site's middleware.</summary>
    public static WebApplication UseStaticSite(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<IOptions<StaticSiteOptions>>().Value;
        FileCache? cache = null;

        // Static files are served only from inside wwwroot: a symbolic link that leads out of it is not followed.
        if (app.Environment.WebRootPath is { } webRootPath && Directory.Exists(webRootPath))
        {
            cache = app.Services.GetRequiredService<FileCache>();
            app.Environment.WebRootFileProvider = cache;
        }

        // Missing files (and any other empty 404) get the site's HTML 404 page, with the status kept at 404.
        app.UseNotFoundPage(app.Environment.WebRootFileProvider);
        if (options.FallbackFile.Length > 0)
        {
            // A single-page app's routes: its fallback file where no file or directory is named.
            app.UseMiddleware<SpaFallback>(app.Environment.WebRootFileProvider, new PathString(options.FallbackFile));
        }

        app.UseDefaultFiles();
        if (cache is not null)
        {
            app.UseMiddleware<StaticCompressionMiddleware>(cache);
        }

        var cacheControl = cache?.CacheControl ?? new CacheControlRules(options.CacheControl);
        app.UseStaticFiles(new StaticFileOptions
        {
            ContentTypeProvider = app.Services.GetRequiredService<StaticContentTypes>(),
            OnPrepareResponse = context => ApplyHeaders(context, cacheControl),
        });
        return app;
    }

    // For 200, 206, 304 (and 412/416): the response headers of the representation being served.
    private static void ApplyHeaders(StaticFileResponseContext context, CacheControlRules cacheControl)
    {
        var headers = context.Context.Response.Headers;
        if (context.File is CachedFileInfo file)
        {
            if (file.CacheControl.Length > 0)
            {
                headers.CacheControl = file.CacheControl;
            }

            if (file.VariesByEncoding)
            {
                headers.Vary = "Accept-Encoding";
            }

            if (file.ContentEncoding is { } encoding)
            {
                headers.ContentEncoding = encoding;
            }

            // A body follows (200 or 206 to a GET): from memory, when the cache holds the bytes.
            if (file.IsInMemory && context.Context.Response.StatusCode is StatusCodes.Status200OK or StatusCodes.Status206PartialContent &&
                HttpMethods.IsGet(context.Context.Request.Method))
            {
                CachedResponseBody.Install(context.Context, file);
            }

            return;
        }

        // Without the cache (turned off, or notifications unavailable): the rules, per request.
        var value = cacheControl.For(context.Context.Request.Path.Value ?? "/");
        if (value.Length > 0)
        {
            headers.CacheControl = value;
        }
    }
}
