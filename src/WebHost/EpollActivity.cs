using EpollTransport;

namespace EpollTransport.WebHost;

/// <summary>
/// Tells the epoll transport which request a connection is serving (<see cref="IEpollActivityFeature"/>),
/// so that its warning about application code that blocked an epoll thread names the request path, and
/// runs a request for a path whose handler blocked an epoll thread recently on the transport's threads for
/// blocking code.
/// </summary>
/// <remarks>
/// The path is set when a request starts and left there (the next request on the connection replaces
/// it): clearing it afterwards would need an async wrapper around every request. With HTTP/2 it names
/// the stream that started last.
/// </remarks>
internal static class EpollActivity
{
    /// <summary>Adds the middleware; on other transports the feature is absent and it does nothing.</summary>
    public static IApplicationBuilder UseEpollActivity(this IApplicationBuilder app)
        => app.Use(static (context, next) =>
        {
            // The indexer, not Get<T>(): a generic virtual call per request costs more than the lookup itself.
            if (context.Features[typeof(IEpollActivityFeature)] is IEpollActivityFeature activity)
            {
                activity.Activity = context.Request.Path.Value; // the string Kestrel already made: no allocation
                if (activity.ShouldYield)
                {
                    return OffTheEpollThread(activity, context, next);
                }
            }

            return next(context);
        });

    // A request for a path whose handler blocked an epoll thread a moment ago starts on one of the
    // transport's threads for blocking code, not on the shared thread pool that Kestrel needs.
    private static async Task OffTheEpollThread(IEpollActivityFeature activity, HttpContext context, RequestDelegate next)
    {
        await activity.YieldAsync();
        await next(context);
    }
}
