namespace EpollTransport.MemoryBench;

/// <summary>What a client sends on a connection and what it waits for in return.</summary>
internal enum ExchangeKind
{
    /// <summary>64 bytes out, the same 64 bytes back (the transport-only echo).</summary>
    Echo,

    /// <summary><c>GET /plaintext</c> out, a complete <c>200</c> response with the body <c>Hello, World!</c> back.</summary>
    Http,
}

/// <summary>The bytes of both exchanges, and how a client knows a response is complete without parsing it.</summary>
internal static class Exchange
{
    public const int EchoSize = 64;

    /// <summary>The echo request (and expected response): 64 recognizable bytes.</summary>
    public static ReadOnlySpan<byte> EchoPayload => "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789ABCDEF"u8;

    public static ReadOnlySpan<byte> HttpRequest => "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"u8;

    public static ReadOnlySpan<byte> PlaintextBody => "Hello, World!"u8;

    /// <summary>
    /// What the raw baseline responder answers: the same shape and size as Kestrel's response
    /// (status line, Content-Length, Content-Type, Date, Server), so the client does the same work.
    /// </summary>
    public static ReadOnlySpan<byte> CannedHttpResponse =>
        "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nDate: Sun, 22 Nov 2026 12:00:00 GMT\r\nServer: Kestrel\r\n\r\nHello, World!"u8;

    public static ReadOnlySpan<byte> Request(ExchangeKind kind) => kind == ExchangeKind.Echo ? EchoPayload : HttpRequest;

    /// <summary>
    /// Whether <paramref name="received"/> is one complete response. With a single request in flight
    /// per connection the response is everything the connection receives, so: the echo is complete at
    /// 64 bytes, an HTTP response once it ends with the blank line and the body (the body follows the
    /// headers directly, and the handler sends nothing else). Throws on anything unexpected.
    /// </summary>
    public static bool IsComplete(ExchangeKind kind, ReadOnlySpan<byte> received)
    {
        if (kind == ExchangeKind.Echo)
        {
            if (received.Length < EchoSize)
            {
                return false;
            }

            return received.SequenceEqual(EchoPayload) ? true : throw new InvalidDataException("The echo came back different.");
        }

        if (received.Length >= 12 && !received[..12].SequenceEqual("HTTP/1.1 200"u8))
        {
            throw new InvalidDataException($"Unexpected response: {System.Text.Encoding.ASCII.GetString(received)}");
        }

        return received.EndsWith("\r\n\r\nHello, World!"u8);
    }

    /// <summary>
    /// Whether a raw responder has received one whole request: 64 bytes for the echo, the blank line
    /// that ends the headers for HTTP (a GET has no body).
    /// </summary>
    public static bool IsRequestComplete(ExchangeKind kind, ReadOnlySpan<byte> received) =>
        kind == ExchangeKind.Echo ? received.Length >= EchoSize : received.EndsWith("\r\n\r\n"u8);

    /// <summary>The raw responder's answer to one request.</summary>
    public static ReadOnlySpan<byte> RawResponse(ExchangeKind kind) => kind == ExchangeKind.Echo ? EchoPayload : CannedHttpResponse;
}
