using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using EpollTransport.WebHost.AccessLog;
using Microsoft.Extensions.Primitives;

namespace EpollTransport.WebHost.Tests.AccessLog;

/// <summary>The access log's lines from records, on their own: nginx's escaping, dashes, time, protocols, JSON.</summary>
public sealed class AccessLogFormatterTests
{
    // 2026-12-07 11:13:25.123 UTC.
    private static readonly long s_end = new DateTime(2026, 12, 7, 11, 13, 25, 123, DateTimeKind.Utc).Ticks;

    [Theory]
    [InlineData(0, 0, "07/Dec/2026:11:13:25 +0000")]
    [InlineData(2, 0, "07/Dec/2026:13:13:25 +0200")]
    [InlineData(-5, -30, "07/Dec/2026:05:43:25 -0530")]
    [InlineData(-12, 0, "06/Dec/2026:23:13:25 -1200")]
    public void TimeLocalIsNginxsInTheMachinesZone(int hours, int minutes, string expected)
    {
        var zone = TimeZoneInfo.CreateCustomTimeZone("test", new TimeSpan(hours, minutes, 0), "test", "test");
        Assert.Equal(
            $"127.0.0.1 - - [{expected}] \"GET / HTTP/1.1\" 200 5 \"-\" \"-\"\n",
            Combined(Record(), zone));
    }

    [Fact]
    public void EveryCombinedFieldIsInNginxsOrder()
    {
        var record = Record(
            address: "2001:db8::7", method: "POST", target: "/a/b?x=1&y=%22z%22", protocol: "HTTP/1.0",
            authorization: "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:se:cret")),
            referer: "https://example.com/page", userAgent: "curl/8.5.0", status: 201, bytes: 1234567);
        Assert.Equal(
            "2001:db8::7 - alice [07/Dec/2026:11:13:25 +0000] \"POST /a/b?x=1&y=%22z%22 HTTP/1.0\" 201 1234567 \"https://example.com/page\" \"curl/8.5.0\"\n",
            Combined(record));
    }

    [Theory]
    [InlineData("say \"hi\"", "say \\x22hi\\x22")]
    [InlineData("back\\slash", "back\\x5Cslash")]
    [InlineData("tab\there", "tab\\x09here")]
    [InlineData("caf\u00e9", "caf\\xC3\\xA9")]
    [InlineData("del\u007f", "del\\x7F")]
    [InlineData("plain ~!#$%&'()*+,-./:;<=>?@[]^_`{|}", "plain ~!#$%&'()*+,-./:;<=>?@[]^_`{|}")]
    [InlineData("", "")]
    public void HeadersAreEscapedAsNginxDoes(string userAgent, string logged)
    {
        Assert.EndsWith($"\"-\" \"{logged}\"\n", Combined(Record(userAgent: userAgent)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/2", "HTTP/2.0")]
    [InlineData("HTTP/3", "HTTP/3.0")]
    [InlineData("HTTP/1.1", "HTTP/1.1")]
    public void TheProtocolIsNamedAsNginxNamesIt(string protocol, string logged)
    {
        Assert.Contains($"\"GET / {logged}\"", Combined(Record(protocol: protocol)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "-")]
    [InlineData("Basic Ym9iOnB3", "bob")]
    [InlineData("basic   Ym9iOnB3", "bob")]
    [InlineData("Basic OnB3", "-")]
    [InlineData("Basic Ym9i", "-")]
    [InlineData("Basic !!!", "-")]
    [InlineData("Bearer abc", "-")]
    public void TheUserIsBasicAuthenticationsAsNginxReadsIt(string? authorization, string user)
    {
        Assert.StartsWith($"127.0.0.1 - {user} [", Combined(Record(authorization: authorization)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("::ffff:192.0.2.7", "192.0.2.7")]
    [InlineData("::1", "::1")]
    [InlineData("fe80::1", "fe80::1")]
    public void AnIpv4ClientOfADualStackListenerIsLoggedAsIpv4(string address, string logged)
    {
        Assert.StartsWith($"{logged} - - [", Combined(Record(address: address)), StringComparison.Ordinal);
        using var json = JsonDocument.Parse(Format(AccessLogFormat.Json, Record(address: address), TimeZoneInfo.Utc));
        Assert.Equal(logged, json.RootElement.GetProperty("remote_addr").GetString());
    }

    [Fact]
    public void AUnixSocketClientIsUnixAndRepeatedHeadersAreJoined()
    {
        var record = Record(address: null) with { Referer = new StringValues(["a", "b"]) };
        var line = Combined(record);
        Assert.StartsWith("unix: - - [", line, StringComparison.Ordinal);
        Assert.Contains("\"a, b\"", line, StringComparison.Ordinal);
    }

    [Fact]
    public void JsonHasTheSameFieldsPlusDurationAndProtocol()
    {
        var record = Record(
            protocol: "HTTP/2", authorization: "Basic Ym9iOnB3", referer: "https://example.com/\"q\"", userAgent: "caf\u00e9\n",
            status: 206, bytes: 100) with { DurationTimestampTicks = Stopwatch.Frequency / 4 };
        var line = Format(AccessLogFormat.Json, record, TimeZoneInfo.CreateCustomTimeZone("test", TimeSpan.FromHours(1), "test", "test"));

        Assert.EndsWith("}\n", line, StringComparison.Ordinal);
        Assert.Equal(1, line.Count(c => c == '\n'));
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        Assert.Equal("2026-12-07T12:13:25.123+01:00", root.GetProperty("time").GetString());
        Assert.Equal("127.0.0.1", root.GetProperty("remote_addr").GetString());
        Assert.Equal("bob", root.GetProperty("remote_user").GetString());
        Assert.Equal("GET / HTTP/2.0", root.GetProperty("request").GetString());
        Assert.Equal(206, root.GetProperty("status").GetInt32());
        Assert.Equal(100, root.GetProperty("body_bytes_sent").GetInt64());
        Assert.Equal("https://example.com/\"q\"", root.GetProperty("http_referer").GetString());
        Assert.Equal("caf\u00e9\n", root.GetProperty("http_user_agent").GetString());
        Assert.Equal(0.25m, root.GetProperty("request_time").GetDecimal());
        Assert.Equal("HTTP/2.0", root.GetProperty("server_protocol").GetString());
    }

    [Fact]
    public void JsonWritesAbsentValuesAsNull()
    {
        using var json = JsonDocument.Parse(Format(AccessLogFormat.Json, Record(), TimeZoneInfo.Utc));
        foreach (var name in new[] { "remote_user", "http_referer", "http_user_agent" })
        {
            Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty(name).ValueKind);
        }
    }

    private static string Combined(AccessLogRecord record, TimeZoneInfo? zone = null) =>
        Format(AccessLogFormat.Combined, record, zone ?? TimeZoneInfo.Utc);

    private static string Format(AccessLogFormat format, AccessLogRecord record, TimeZoneInfo zone)
    {
        using var formatter = new AccessLogFormatter(format, zone);
        var output = new ArrayBufferWriter<byte>();
        formatter.Append(record, output);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    private static AccessLogRecord Record(
        string? address = "127.0.0.1", string method = "GET", string target = "/", string protocol = "HTTP/1.1", string? authorization = null,
        string? referer = null, string? userAgent = null, int status = 200, long bytes = 5) => new()
    {
        RemoteAddress = address is null ? null : IPAddress.Parse(address),
        Method = method,
        Target = target,
        Protocol = protocol,
        Authorization = authorization is null ? StringValues.Empty : new StringValues(authorization),
        Referer = referer is null ? StringValues.Empty : new StringValues(referer),
        UserAgent = userAgent is null ? StringValues.Empty : new StringValues(userAgent),
        Status = status,
        BodyBytes = bytes,
        EndUtcTicks = s_end,
        DurationTimestampTicks = 0,
    };
}
