using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Text;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>A parsed HTTP/1.1 response.</summary>
/// <param name="StatusCode">The status code.</param>
/// <param name="Headers">The headers (names case-insensitive; repeated headers joined with <c>, </c>).</param>
/// <param name="Body">The body (empty when there is none).</param>
public sealed record RawHttpResponse(int StatusCode, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    /// <summary>The body as UTF-8 text.</summary>
    public string BodyText => Encoding.UTF8.GetString(Body);

    /// <summary>A header's value, or <see langword="null"/>.</summary>
    /// <param name="name">The header name.</param>
    /// <returns>The value.</returns>
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>
/// A client connection on a raw <see cref="Socket"/> for what <see cref="HttpClient"/> cannot do: exact
/// bytes on the wire, pipelining, half-close, resets; optionally over TLS (an <see cref="SslStream"/> on the
/// socket), where the same calls carry the same bytes inside records. Every call takes a cancellation token;
/// use one from <see cref="Timeouts"/>. Over TLS, a socket error reaches the caller as the
/// <see cref="SocketException"/> it is, not wrapped, so that callers need not know which they have.
/// </summary>
public sealed class RawHttpConnection : IDisposable
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly SslStream? _tls;
    private int _start;
    private int _end;

    private RawHttpConnection(Socket socket, SslStream? tls)
    {
        Socket = socket;
        _tls = tls;
    }

    /// <summary>The socket.</summary>
    public Socket Socket { get; }

    /// <summary>The client's end point, which is the server's remote end point for this connection.</summary>
    public EndPoint LocalEndPoint => Socket.LocalEndPoint!;

    /// <summary>Connects to <paramref name="endPoint"/> (TCP or Unix domain socket).</summary>
    /// <param name="endPoint">The server.</param>
    /// <param name="cancellationToken">Bounds the connect.</param>
    /// <param name="receiveBufferSize">If set, SO_RCVBUF before connecting (turns off receive autotuning).</param>
    /// <param name="tls">If set, a TLS handshake (ALPN <c>http/1.1</c>, SNI <c>localhost</c>) trusting only this certificate.</param>
    /// <returns>The connection.</returns>
    public static async Task<RawHttpConnection> ConnectAsync(EndPoint endPoint, CancellationToken cancellationToken, int? receiveBufferSize = null, TestCertificate? tls = null)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (receiveBufferSize is { } size)
            {
                socket.ReceiveBufferSize = size;
            }

            await socket.ConnectAsync(endPoint, cancellationToken);
            if (socket.ProtocolType == ProtocolType.Tcp)
            {
                socket.NoDelay = true;
            }

            if (tls is null)
            {
                return new RawHttpConnection(socket, null);
            }

            var stream = new SslStream(new NetworkStream(socket, ownsSocket: false));
            try
            {
                var options = new SslClientAuthenticationOptions
                {
                    TargetHost = "localhost",
                    ApplicationProtocols = [SslApplicationProtocol.Http11],
                };
                tls.Trust(options);
                await stream.AuthenticateAsClientAsync(options, cancellationToken);
                return new RawHttpConnection(socket, stream);
            }
            catch
            {
                await stream.DisposeAsync();
                throw;
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Builds a GET request.</summary>
    /// <param name="path">The request target, sent verbatim.</param>
    /// <param name="extraHeaders">More header lines, without CRLF.</param>
    /// <returns>The request text.</returns>
    public static string Get(string path, params string[] extraHeaders) => Request("GET", path, extraHeaders);

    /// <summary>Builds a request without a body.</summary>
    /// <param name="method">The method.</param>
    /// <param name="path">The request target, sent verbatim.</param>
    /// <param name="extraHeaders">More header lines, without CRLF.</param>
    /// <returns>The request text.</returns>
    public static string Request(string method, string path, params string[] extraHeaders)
    {
        var builder = new StringBuilder();
        builder.Append(CultureInfo.InvariantCulture, $"{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        foreach (var header in extraHeaders)
        {
            builder.Append(header).Append("\r\n");
        }

        return builder.Append("\r\n").ToString();
    }

    /// <summary>Sends ASCII text.</summary>
    /// <param name="text">The text.</param>
    /// <param name="cancellationToken">Bounds the send.</param>
    /// <returns>A task.</returns>
    public Task SendAsync(string text, CancellationToken cancellationToken) =>
        SendAsync(Encoding.ASCII.GetBytes(text), cancellationToken);

    /// <summary>Sends all of <paramref name="data"/>.</summary>
    /// <param name="data">The bytes.</param>
    /// <param name="cancellationToken">Bounds the send.</param>
    /// <returns>A task.</returns>
    public async Task SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (_tls is not null)
        {
            try
            {
                await _tls.WriteAsync(data, cancellationToken);
            }
            catch (IOException e) when (e.InnerException is SocketException inner)
            {
                ExceptionDispatchInfo.Throw(inner);
            }

            return;
        }

        while (!data.IsEmpty)
        {
            var sent = await Socket.SendAsync(data, SocketFlags.None, cancellationToken);
            data = data[sent..];
        }
    }

    /// <summary>Receives some bytes (buffered ones first); 0 means the server closed its side.</summary>
    /// <param name="destination">Where to put them.</param>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>The number of bytes.</returns>
    public async ValueTask<int> ReceiveAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (_end > _start)
        {
            var count = Math.Min(destination.Length, _end - _start);
            _buffer.AsMemory(_start, count).CopyTo(destination);
            _start += count;
            return count;
        }

        return await ReceiveFromServerAsync(destination, cancellationToken);
    }

    /// <summary>
    /// Ends the client's sending side: over TLS a <c>close_notify</c> first, then (always) a FIN; the client can
    /// still read.
    /// </summary>
    /// <returns>A task.</returns>
    public async Task ShutdownSendAsync()
    {
        if (_tls is not null)
        {
            try
            {
                await _tls.ShutdownAsync();
            }
            catch (IOException e) when (e.InnerException is SocketException inner)
            {
                ExceptionDispatchInfo.Throw(inner);
            }
        }

        Socket.Shutdown(SocketShutdown.Send);
    }

    /// <summary>Reads until the server closes its side and returns how many bytes came before that.</summary>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>The number of bytes read before end of stream.</returns>
    public async Task<long> ReadToEndAsync(CancellationToken cancellationToken)
    {
        var scratch = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await ReceiveAsync(scratch, cancellationToken)) > 0)
        {
            total += read;
        }

        return total;
    }

    /// <summary>
    /// Reads until the server ends the connection, with a FIN or a reset, keeping at most <paramref name="maxBytes"/>
    /// of what came before.
    /// </summary>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <param name="maxBytes">How much of the data to keep.</param>
    /// <returns>The data, and whether the connection ended with a reset.</returns>
    public async Task<(byte[] Received, bool Reset)> ReadToEndOrResetAsync(CancellationToken cancellationToken, int maxBytes = 1024 * 1024)
    {
        using var kept = new MemoryStream();
        var scratch = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await ReceiveAsync(scratch, cancellationToken)) > 0)
            {
                kept.Write(scratch, 0, (int)Math.Min(read, Math.Max(0, maxBytes - kept.Length)));
            }

            return (kept.ToArray(), false);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            return (kept.ToArray(), true);
        }
    }

    /// <summary>Reads one response.</summary>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <param name="isHeadRequest">Whether the request was HEAD (no body follows whatever the headers say).</param>
    /// <returns>The response.</returns>
    public async Task<RawHttpResponse> ReadResponseAsync(CancellationToken cancellationToken, bool isHeadRequest = false)
    {
        var (status, headers) = await ReadResponseHeadAsync(cancellationToken);
        var body = isHeadRequest || status is (>= 100 and < 200) or 204 or 304
            ? []
            : await ReadBodyAsync(headers, cancellationToken);
        return new RawHttpResponse(status, headers, body);
    }

    /// <summary>Reads the body announced by <paramref name="headers"/> (chunked, Content-Length or up to end of stream).</summary>
    /// <param name="headers">The response headers.</param>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>The body.</returns>
    public async Task<byte[]> ReadBodyAsync(IReadOnlyDictionary<string, string> headers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(headers);
        byte[] body;
        if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = await ReadChunkedBodyAsync(cancellationToken);
        }
        else if (headers.TryGetValue("Content-Length", out var lengthText))
        {
            body = await ReadExactlyAsync(int.Parse(lengthText, CultureInfo.InvariantCulture), cancellationToken);
        }
        else
        {
            using var all = new MemoryStream();
            var scratch = new byte[16 * 1024];
            int read;
            while ((read = await ReceiveAsync(scratch, cancellationToken)) > 0)
            {
                all.Write(scratch, 0, read);
            }

            body = all.ToArray();
        }

        return body;
    }

    /// <summary>Reads a status line and headers, leaving the body unread.</summary>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>The status code and the headers.</returns>
    public async Task<(int StatusCode, IReadOnlyDictionary<string, string> Headers)> ReadResponseHeadAsync(CancellationToken cancellationToken)
    {
        var statusLine = await ReadLineAsync(cancellationToken)
            ?? throw new EndOfStreamException("The connection closed before a response.");
        var parts = statusLine.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"Not an HTTP/1.x status line: '{statusLine}'.");
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        while (true)
        {
            var line = await ReadLineAsync(cancellationToken)
                ?? throw new EndOfStreamException("The connection closed inside the response headers.");
            if (line.Length == 0)
            {
                break;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            headers[name] = headers.TryGetValue(name, out var existing) ? existing + ", " + value : value;
        }

        return (int.Parse(parts[1], CultureInfo.InvariantCulture), headers);
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes.</summary>
    /// <param name="count">How many.</param>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>The bytes.</returns>
    public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        var result = new byte[count];
        var filled = 0;
        while (filled < count)
        {
            var read = await ReceiveAsync(result.AsMemory(filled), cancellationToken);
            if (read == 0)
            {
                throw new EndOfStreamException($"The connection closed after {filled} of {count} body bytes.");
            }

            filled += read;
        }

        return result;
    }

    /// <summary>Sends an RST: SO_LINGER 0, then close.</summary>
    public void Reset()
    {
        Socket.LingerState = new LingerOption(true, 0);
        Socket.Close();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _tls?.Dispose();
        Socket.Dispose();
    }

    private async ValueTask<int> ReceiveFromServerAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (_tls is null)
        {
            return await Socket.ReceiveAsync(destination, SocketFlags.None, cancellationToken);
        }

        try
        {
            return await _tls.ReadAsync(destination, cancellationToken);
        }
        catch (IOException e) when (e.InnerException is SocketException inner)
        {
            ExceptionDispatchInfo.Throw(inner);
            throw; // not reached
        }
    }

    private async Task<byte[]> ReadChunkedBodyAsync(CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        while (true)
        {
            var sizeLine = await ReadLineAsync(cancellationToken)
                ?? throw new EndOfStreamException("The connection closed inside a chunked body.");
            var size = int.Parse(sizeLine.Split(';')[0].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                // Trailers, up to an empty line.
                while (!string.IsNullOrEmpty(await ReadLineAsync(cancellationToken)))
                {
                }

                return body.ToArray();
            }

            body.Write(await ReadExactlyAsync(size, cancellationToken));
            if (await ReadLineAsync(cancellationToken) is not "")
            {
                throw new InvalidDataException("A chunk was not followed by CRLF.");
            }
        }
    }

    /// <summary>Reads one CRLF-terminated line; <see langword="null"/> at end of stream before any byte.</summary>
    private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        while (true)
        {
            if (_start == _end)
            {
                _start = 0;
                _end = await ReceiveFromServerAsync(_buffer.AsMemory(), cancellationToken);
                if (_end == 0)
                {
                    return line.Length == 0 ? null : throw new EndOfStreamException("The connection closed inside a line.");
                }
            }

            var span = _buffer.AsSpan(_start, _end - _start);
            var newline = span.IndexOf((byte)'\n');
            if (newline < 0)
            {
                line.Append(Encoding.ASCII.GetString(span));
                _start = _end;
                continue;
            }

            line.Append(Encoding.ASCII.GetString(span[..newline]));
            _start += newline + 1;
            if (line.Length > 0 && line[^1] == '\r')
            {
                line.Length--;
            }

            return line.ToString();
        }
    }
}
