using System.Text;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// Malformed or hostile bytes for an HTTP/1.1 server: random data, truncated requests, oversized headers and
/// request lines, invalid UTF-8, NUL bytes, impossible chunk sizes and lengths, other protocols.
/// </summary>
public static class GarbageRequests
{
    /// <summary>Each payload, and whether the client half-closes after it (for payloads that are only a beginning).</summary>
    public static IReadOnlyDictionary<string, (byte[] Payload, bool HalfClose)> All { get; } = new Dictionary<string, (byte[] Payload, bool HalfClose)>
    {
        ["random-1k"] = (RandomBytes(1024, seed: 1), false),
        ["random-64k"] = (RandomBytes(64 * 1024, seed: 2), false),
        ["random-after-valid-request-line"] = ([.. "GET / HTTP/1.1\r\n"u8, .. RandomBytes(4096, seed: 3)], false),
        ["truncated-request-line"] = ("GET /plain"u8.ToArray(), true),
        ["truncated-headers"] = ("GET /plaintext HTTP/1.1\r\nHost: loc"u8.ToArray(), true),
        ["truncated-body"] = ("POST /test/sha256 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\nabc"u8.ToArray(), true),
        ["100k-header"] = (Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {new string('a', 100 * 1024)}\r\n\r\n"), false),
        ["100k-request-line"] = (Encoding.ASCII.GetBytes($"GET /{new string('a', 100 * 1024)} HTTP/1.1\r\nHost: localhost\r\n\r\n"), false),
        ["2000-headers"] = (Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: localhost\r\n" + string.Concat(Enumerable.Range(0, 2000).Select(i => $"X-{i}: {i}\r\n")) + "\r\n"), false),
        ["invalid-utf8-path"] = ([.. "GET /"u8, 0xC3, 0x28, 0xFF, .. " HTTP/1.1\r\nHost: localhost\r\n\r\n"u8], false),
        ["invalid-utf8-header"] = ([.. "GET / HTTP/1.1\r\nHost: localhost\r\nX-A: "u8, 0xC3, 0x28, 0xFE, 0xFF, .. "\r\n\r\n"u8], false),
        ["nul-in-path"] = ("GET /index\0.html HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray(), false),
        ["nul-in-header"] = ("GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\0b\r\n\r\n"u8.ToArray(), false),
        ["nul-bytes"] = (new byte[4096], false),
        ["oversized-chunk-size"] = ("POST /test/sha256 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n"u8.ToArray(), false),
        ["oversized-chunk-size-echo"] = ("POST /test/echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n7FFFFFFFFFFFFFFF\r\nabc"u8.ToArray(), false),
        ["invalid-chunk-size"] = ("POST /test/sha256 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n"u8.ToArray(), false),
        ["negative-content-length"] = ("POST /test/sha256 HTTP/1.1\r\nHost: localhost\r\nContent-Length: -5\r\n\r\n"u8.ToArray(), false),
        ["conflicting-content-lengths"] = ("POST /test/sha256 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef"u8.ToArray(), false),
        ["bad-http-version"] = ("GET / HTTP/9.9\r\nHost: localhost\r\n\r\n"u8.ToArray(), false),
        ["no-host"] = ("GET / HTTP/1.1\r\n\r\n"u8.ToArray(), false),
        ["bare-lf-and-spaces"] = ("GET  /  HTTP/1.1\nHost : localhost\n\n"u8.ToArray(), false),
        ["http2-preface-on-http1"] = ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray(), false),
        ["tls-client-hello-on-http"] = ([0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03, .. RandomBytes(160, seed: 4)], false),
    };

    /// <summary>The names of <see cref="All"/>, for a theory.</summary>
    public static TheoryData<string> Names => [.. All.Keys];

    private static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
