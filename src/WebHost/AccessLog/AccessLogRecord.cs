using System.Net;
using Microsoft.Extensions.Primitives;

namespace EpollTransport.WebHost.AccessLog;

/// <summary>
/// What one request leaves for the access log: references to strings and objects the request already has, and
/// numbers. Nothing is formatted on the request path; the writer thread turns records into lines.
/// </summary>
internal readonly struct AccessLogRecord
{
    /// <summary>The client's address (after forwarded headers, if the host honours them); <see langword="null"/> on a Unix socket.</summary>
    public required IPAddress? RemoteAddress { get; init; }

    /// <summary>The request method.</summary>
    public required string Method { get; init; }

    /// <summary>The request target as sent (path and query, undecoded).</summary>
    public required string Target { get; init; }

    /// <summary>The request's protocol as ASP.NET Core names it, e.g. <c>HTTP/1.1</c>, <c>HTTP/2</c>.</summary>
    public required string Protocol { get; init; }

    /// <summary>The <c>Authorization</c> header, for the user name of Basic authentication.</summary>
    public required StringValues Authorization { get; init; }

    /// <summary>The <c>Referer</c> header.</summary>
    public required StringValues Referer { get; init; }

    /// <summary>The <c>User-Agent</c> header.</summary>
    public required StringValues UserAgent { get; init; }

    /// <summary>The response status.</summary>
    public required int Status { get; init; }

    /// <summary>Response body bytes handed to the server (0 for HEAD, 204 and 304, which have no body).</summary>
    public required long BodyBytes { get; init; }

    /// <summary>When the request ended, in UTC ticks.</summary>
    public required long EndUtcTicks { get; init; }

    /// <summary>How long the request took, in <see cref="System.Diagnostics.Stopwatch"/> ticks.</summary>
    public required long DurationTimestampTicks { get; init; }
}
