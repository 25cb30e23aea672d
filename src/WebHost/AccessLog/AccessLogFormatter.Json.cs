using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace EpollTransport.WebHost.AccessLog;

/// <summary>The <c>json</c> format: nginx's variable names, each line written without allocating.</summary>
internal sealed partial class AccessLogFormatter
{
    private static readonly JsonEncodedText s_time = JsonEncodedText.Encode("time");
    private static readonly JsonEncodedText s_remoteAddr = JsonEncodedText.Encode("remote_addr");
    private static readonly JsonEncodedText s_remoteUser = JsonEncodedText.Encode("remote_user");
    private static readonly JsonEncodedText s_request = JsonEncodedText.Encode("request");
    private static readonly JsonEncodedText s_status = JsonEncodedText.Encode("status");
    private static readonly JsonEncodedText s_bodyBytesSent = JsonEncodedText.Encode("body_bytes_sent");
    private static readonly JsonEncodedText s_httpReferer = JsonEncodedText.Encode("http_referer");
    private static readonly JsonEncodedText s_httpUserAgent = JsonEncodedText.Encode("http_user_agent");
    private static readonly JsonEncodedText s_requestTime = JsonEncodedText.Encode("request_time");
    private static readonly JsonEncodedText s_serverProtocol = JsonEncodedText.Encode("server_protocol");

    private void AppendJson(in AccessLogRecord record, ArrayBufferWriter<byte> output, Utf8JsonWriter json)
    {
        Span<char> text = stackalloc char[128];
        json.Reset(output);
        json.WriteStartObject();

        var offset = Offset(record.EndUtcTicks);
        new DateTimeOffset(record.EndUtcTicks + offset.Ticks, offset)
            .TryFormat(text, out var written, "yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);
        json.WriteString(s_time, text[..written]);

        if (record.RemoteAddress is { } address)
        {
            // As in the combined line: an IPv4 client of a dual-stack listener as IPv4.
            (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).TryFormat(text, out written);
            json.WriteString(s_remoteAddr, text[..written]);
        }
        else
        {
            json.WriteString(s_remoteAddr, "unix:"u8);
        }

        json.WriteString(s_remoteUser, BasicUserName(record.Authorization));
        var protocol = NginxProtocol(record.Protocol);
        json.WritePropertyName(s_request);
        json.WriteStringValueSegment(record.Method, isFinalSegment: false);
        json.WriteStringValueSegment(" ", isFinalSegment: false);
        json.WriteStringValueSegment(record.Target, isFinalSegment: false);
        json.WriteStringValueSegment(" ", isFinalSegment: false);
        json.WriteStringValueSegment(protocol, isFinalSegment: true);
        json.WriteNumber(s_status, record.Status);
        json.WriteNumber(s_bodyBytesSent, record.BodyBytes);
        json.WriteString(s_httpReferer, Header(record.Referer));
        json.WriteString(s_httpUserAgent, Header(record.UserAgent));

        // Seconds to the microsecond, as a plain decimal (a double could print 1E-06).
        var microseconds = Stopwatch.GetElapsedTime(0, record.DurationTimestampTicks).Ticks / (TimeSpan.TicksPerMillisecond / 1000);
        json.WriteNumber(s_requestTime, new decimal(microseconds) / 1_000_000m);
        json.WriteString(s_serverProtocol, protocol);
        json.WriteEndObject();
        json.Flush();
        output.Write("\n"u8);
    }
}
