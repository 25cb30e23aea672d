using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;

namespace EpollTransport.WebHost.AccessLog;

/// <summary>
/// Records each request for the access log when it ends: the body bytes are counted on the way
/// (<see cref="CountingResponseBody"/>); the rest are references the request already holds. The record is
/// queued for <see cref="AccessLogWriter"/>; nothing is formatted or written here.
/// </summary>
/// <param name="next">The rest of the pipeline.</param>
/// <param name="writer">The writer the records go to.</param>
internal sealed class AccessLogMiddleware(RequestDelegate next, AccessLogWriter writer)
{
    // nginx's status for a request whose client went away before the response began.
    private const int ClientClosedRequest = 499;

    /// <summary>Runs the request and records it.</summary>
    /// <param name="context">The request.</param>
    /// <returns>The request's completion.</returns>
    public async Task InvokeAsync(HttpContext context)
    {
        var start = Stopwatch.GetTimestamp();
        var server = context.Features.Get<IHttpResponseBodyFeature>();
        if (server is null)
        {
            await next(context);
            return;
        }

        var body = new CountingResponseBody(server);
        context.Features.Set<IHttpResponseBodyFeature>(body);
        var failed = false;
        try
        {
            await next(context);
        }
        catch
        {
            failed = true;
            throw;
        }
        finally
        {
            context.Features.Set(server);
            writer.Enqueue(Record(context, start, body.BytesWritten, failed));
        }
    }

    private static AccessLogRecord Record(HttpContext context, long start, long bytes, bool failed)
    {
        var request = context.Request;
        var response = context.Response;
        var status = response.StatusCode;
        if (failed && !response.HasStarted)
        {
            // What the client gets: the server answers 500 after an exception, or nothing to a client that left.
            status = context.RequestAborted.IsCancellationRequested ? ClientClosedRequest : StatusCodes.Status500InternalServerError;
        }

        var method = request.Method;
        var bodyless = HttpMethods.IsHead(method) || status is StatusCodes.Status204NoContent or StatusCodes.Status304NotModified or < 200;
        var end = Stopwatch.GetTimestamp();
        return new AccessLogRecord
        {
            RemoteAddress = context.Connection.RemoteIpAddress,
            Method = method,
            Target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path.Value ?? "/",
            Protocol = request.Protocol,
            Authorization = request.Headers.Authorization,
            Referer = request.Headers.Referer,
            UserAgent = request.Headers.UserAgent,
            Status = status,
            BodyBytes = bodyless ? 0 : bytes,
            EndUtcTicks = DateTime.UtcNow.Ticks,
            DurationTimestampTicks = end - start,
        };
    }
}
