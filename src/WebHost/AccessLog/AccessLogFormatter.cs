using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Primitives;

namespace EpollTransport.WebHost.AccessLog;

/// <summary>
/// Turns records into lines, on the writer thread only (it keeps scratch buffers and the last second's time text).
/// </summary>
/// <remarks>
/// <c>combined</c> is nginx's default format, <c>$remote_addr - $remote_user [$time_local] "$request" $status
/// $body_bytes_sent "$http_referer" "$http_user_agent"</c>, byte for byte: variables escaped as nginx does by
/// default (<c>"</c>, <c>\</c>, bytes below 0x20 and from 0x7F as <c>\xHH</c>, upper-case hex, of the UTF-8 bytes),
/// <c>-</c> for an absent header or user, <c>$time_local</c> as <c>07/Dec/2026:11:13:25 +0000</c>, the request
/// line as sent (HTTP/2 as <c>HTTP/2.0</c>), <c>unix:</c> as the address on a Unix socket (an IPv4-mapped IPv6
/// address as IPv4), the user name of
/// Basic authentication. <c>json</c> has the same fields under nginx's variable names (absent ones null), the
/// time in ISO 8601 with milliseconds, plus <c>request_time</c> (seconds, to the microsecond) and
/// <c>server_protocol</c>.
/// </remarks>
internal sealed partial class AccessLogFormatter : IDisposable
{
    // What nginx writes as it is: printable ASCII but the quote and the backslash.
    private static readonly SearchValues<byte> s_unescaped = SearchValues.Create(
        [.. Enumerable.Range(0x20, 0x7F - 0x20).Where(b => b is not '"' and not '\\').Select(b => (byte)b)]);

    private static readonly string[] s_months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    private readonly AccessLogFormat _format;
    private readonly TimeZoneInfo _timeZone;
    private readonly Utf8JsonWriter? _json;
    private byte[] _scratch = new byte[1024];
    private long _cachedSecond = -1;
    private long _offsetSecond = -1;
    private TimeSpan _offset;
    private byte[] _cachedTime = [];

    /// <summary>Creates a formatter.</summary>
    /// <param name="format">The line format.</param>
    /// <param name="timeZone">The zone of <c>$time_local</c>: the machine's, as nginx.</param>
    public AccessLogFormatter(AccessLogFormat format, TimeZoneInfo timeZone)
    {
        _format = format;
        _timeZone = timeZone;
        if (format == AccessLogFormat.Json)
        {
            // Relaxed: non-ASCII text stays readable; quotes, backslashes and control characters are still escaped.
            _json = new Utf8JsonWriter(Stream.Null, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true });
        }
    }

    /// <summary>Appends <paramref name="record"/>'s line, with its newline, to <paramref name="output"/>.</summary>
    /// <param name="record">The record.</param>
    /// <param name="output">The batch being built.</param>
    public void Append(in AccessLogRecord record, ArrayBufferWriter<byte> output)
    {
        if (_json is null)
        {
            AppendCombined(record, output);
        }
        else
        {
            AppendJson(record, output, _json);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _json?.Dispose();

    /// <summary>The protocol as nginx writes it in <c>$request</c> and <c>$server_protocol</c>.</summary>
    /// <param name="protocol">ASP.NET Core's name.</param>
    /// <returns>nginx's name.</returns>
    public static string NginxProtocol(string protocol) => protocol switch
    {
        "HTTP/2" => "HTTP/2.0",
        "HTTP/3" => "HTTP/3.0",
        _ => protocol,
    };

    private void AppendCombined(in AccessLogRecord record, ArrayBufferWriter<byte> output)
    {
        AppendAddress(record, output);
        output.Write(" - "u8);
        AppendEscapedOrDash(BasicUserName(record.Authorization), output);
        output.Write(" ["u8);
        output.Write(LocalTime(record.EndUtcTicks));
        output.Write("] \""u8);
        AppendEscaped(record.Method, output);
        output.Write(" "u8);
        AppendEscaped(record.Target, output);
        output.Write(" "u8);
        AppendEscaped(NginxProtocol(record.Protocol), output);
        output.Write("\" "u8);
        AppendNumber(record.Status, output);
        output.Write(" "u8);
        AppendNumber(record.BodyBytes, output);
        output.Write(" \""u8);
        AppendEscapedOrDash(Header(record.Referer), output);
        output.Write("\" \""u8);
        AppendEscapedOrDash(Header(record.UserAgent), output);
        output.Write("\"\n"u8);
    }

    private static void AppendAddress(in AccessLogRecord record, ArrayBufferWriter<byte> output)
    {
        if (record.RemoteAddress is not { } address)
        {
            output.Write("unix:"u8);
            return;
        }

        // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; nginx, listening on each family, logs a.b.c.d.
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var span = output.GetSpan(64);
        if (!address.TryFormat(span, out var written))
        {
            written = Encoding.ASCII.GetBytes(address.ToString(), span);
        }

        output.Advance(written);
    }

    private static void AppendNumber(long value, ArrayBufferWriter<byte> output)
    {
        var span = output.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        output.Advance(written);
    }

    // nginx joins repeated headers with ", ".
    private static string? Header(StringValues values) => values.Count switch
    {
        0 => null,
        1 => values[0],
        _ => string.Join(", ", values.ToArray()),
    };

    // nginx's $remote_user: the user of "Authorization: Basic base64(user:password)", whether or not it is checked.
    private static string? BasicUserName(StringValues authorization)
    {
        if (authorization.Count == 0 || authorization[0] is not { } value ||
            !value.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var encoded = value.AsSpan(6).Trim(' ');
        var decoded = new byte[(encoded.Length / 4 * 3) + 3];
        if (!Convert.TryFromBase64Chars(encoded, decoded, out var length))
        {
            return null;
        }

        var colon = Array.IndexOf(decoded, (byte)':', 0, length);
        return colon <= 0 ? null : Encoding.UTF8.GetString(decoded, 0, colon);
    }

    private void AppendEscapedOrDash(string? value, ArrayBufferWriter<byte> output)
    {
        if (value is null)
        {
            output.Write("-"u8);
        }
        else
        {
            AppendEscaped(value, output);
        }
    }

    private void AppendEscaped(string value, ArrayBufferWriter<byte> output)
    {
        // Most values are printable ASCII with nothing to escape: straight into the output.
        if (Ascii.IsValid(value))
        {
            var direct = output.GetSpan(value.Length)[..value.Length];
            Ascii.FromUtf16(value, direct, out _);
            if (direct.IndexOfAnyExcept(s_unescaped) < 0)
            {
                output.Advance(value.Length);
                return;
            }
        }

        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (_scratch.Length < max)
        {
            _scratch = new byte[Math.Max(max, _scratch.Length * 2)];
        }

        var length = Encoding.UTF8.GetBytes(value, _scratch);
        var destination = output.GetSpan(length * 4);
        var at = 0;
        foreach (var b in _scratch.AsSpan(0, length))
        {
            if (b is < 0x20 or (byte)'"' or (byte)'\\' or >= 0x7F)
            {
                destination[at++] = (byte)'\\';
                destination[at++] = (byte)'x';
                destination[at++] = (byte)"0123456789ABCDEF"[b >> 4];
                destination[at++] = (byte)"0123456789ABCDEF"[b & 0xF];
            }
            else
            {
                destination[at++] = b;
            }
        }

        output.Advance(at);
    }

    // The zone's offset at that time, looked up once a second.
    private TimeSpan Offset(long utcTicks)
    {
        var second = utcTicks / TimeSpan.TicksPerSecond;
        if (second != _offsetSecond)
        {
            _offset = _timeZone.GetUtcOffset(new DateTime(second * TimeSpan.TicksPerSecond, DateTimeKind.Utc));
            _offsetSecond = second;
        }

        return _offset;
    }

    // "07/Dec/2026:11:13:25 +0000", made once a second.
    private byte[] LocalTime(long utcTicks)
    {
        var second = utcTicks / TimeSpan.TicksPerSecond;
        if (second != _cachedSecond)
        {
            var offset = Offset(utcTicks);
            var local = new DateTimeOffset((second * TimeSpan.TicksPerSecond) + offset.Ticks, offset);
            var sign = offset < TimeSpan.Zero ? '-' : '+';
            offset = offset.Duration();
            _cachedTime = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                $"{local.Day:00}/{s_months[local.Month - 1]}/{local.Year:0000}:{local.Hour:00}:{local.Minute:00}:{local.Second:00} {sign}{offset.Hours:00}{offset.Minutes:00}"));
            _cachedSecond = second;
        }

        return _cachedTime;
    }
}
