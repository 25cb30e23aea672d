using EpollTransport.WebHost.StaticFiles;
using Microsoft.Extensions.FileProviders;

namespace EpollTransport.WebHost;

/// <summary>
/// Answers every empty 404 (a missing file, an unknown path) with the site's <c>wwwroot/404.html</c>,
/// keeping the 404 status. The page is written whole: the request's Range and conditional headers,
/// which are about the missing resource, do not apply to it.
/// </summary>
internal static class NotFoundPage
{
    /// <summary>The page's file name under the web root.</summary>
    public const string FileName = "404.html";

    /// <summary>Adds the status code pages middleware that writes the page.</summary>
    /// <param name="app">The application.</param>
    /// <param name="webRoot">The web root's files.</param>
    /// <returns>The application.</returns>
    public static IApplicationBuilder UseNotFoundPage(this IApplicationBuilder app, IFileProvider webRoot)
    {
        ArgumentNullException.ThrowIfNull(webRoot);
        return app.UseStatusCodePages(context => WriteAsync(context.HttpContext, webRoot));
    }

    private static Task WriteAsync(HttpContext context, IFileProvider webRoot)
    {
        var response = context.Response;
        if (response.StatusCode != StatusCodes.Status404NotFound)
        {
            return Task.CompletedTask;
        }

        var page = webRoot.GetFileInfo(FileName);
        if (!page.Exists || page.IsDirectory)
        {
            return Task.CompletedTask;
        }

        response.ContentType = "text/html; charset=utf-8";
        response.ContentLength = page.Length;
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : CachedResponseBody.SendAsync(response, page, context.RequestAborted);
    }
}
