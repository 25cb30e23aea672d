using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using EpollTransport.WebHost.AccessLog;
using EpollTransport.WebHost.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.AccessLog;

/// <summary>
/// The access log in the web host: every field of GET 200, 404, HEAD, 304 and a 206 range in both formats, the
/// metrics, a full disk (requests still served, the loss counted), and nothing at all when it is off.
/// </summary>
/// <param name="output">The test output.</param>
public sealed partial class AccessLogHostTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("webhost-accesslog-").FullName;

    /// <summary>What a client sent and got, for the line it should have left.</summary>
    private sealed record Exchange(string Method, string Target, string UserAgent, string? Referer, int Status, long BodyBytes);

    [Theory]
    [InlineData("combined")]
    [InlineData("json")]
    public async Task EveryFieldIsRightForGetNotFoundHeadNotModifiedAndARange(string format)
    {
        var path = Path.Combine(_directory, "access.log");
        await using var host = Start(new() { ["AccessLog:Enabled"] = "true", ["AccessLog:Path"] = path, ["AccessLog:Format"] = format });
        using var client = host.CreateHttpClient();
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);

        var exchanges = new List<Exchange>();
        async Task<HttpResponseMessage> Send(HttpMethod method, string target, string? referer = null, Action<HttpRequestHeaders>? headers = null)
        {
            var userAgent = $"access-log-test/{exchanges.Count}";
            using var request = new HttpRequestMessage(method, target);
            request.Headers.UserAgent.ParseAdd(userAgent);
            if (referer is not null)
            {
                request.Headers.Referrer = new Uri(referer);
            }

            headers?.Invoke(request.Headers);
            var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsByteArrayAsync();
            exchanges.Add(new Exchange(method.Method, target, userAgent, referer, (int)response.StatusCode, body.Length));
            return response;
        }

        using var ok = await Send(HttpMethod.Get, "/index.html?from=test", referer: "http://example.com/start");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var missing = await Send(HttpMethod.Get, "/no-such-page");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var head = await Send(HttpMethod.Head, "/index.html");
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.True(head.Content.Headers.ContentLength > 0, "HEAD announces the length it does not send");
        using var notModified = await Send(HttpMethod.Get, "/index.html", headers: h => h.IfNoneMatch.Add(ok.Headers.ETag!));
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        using var range = await Send(HttpMethod.Get, "/index.html", headers: h => h.Range = new RangeHeaderValue(10, 109));
        Assert.Equal(HttpStatusCode.PartialContent, range.StatusCode);
        Assert.Equal(100, exchanges[^1].BodyBytes);

        var lines = await LinesAsync(path, exchanges.Count);
        var after = DateTimeOffset.UtcNow.AddSeconds(1);
        for (var i = 0; i < exchanges.Count; i++)
        {
            output.WriteLine(lines[i]);
            var expected = exchanges[i];
            var line = format == "json" ? FromJson(lines[i]) : FromCombined(lines[i]);
            Assert.Equal("127.0.0.1", line.RemoteAddress);
            Assert.Null(line.User);
            Assert.InRange(line.Time, before, after);
            Assert.Equal($"{expected.Method} {expected.Target} HTTP/1.1", line.Request);
            Assert.Equal(expected.Status, line.Status);
            Assert.Equal(expected.BodyBytes, line.BodyBytes);
            Assert.Equal(expected.Referer, line.Referer);
            Assert.Equal(expected.UserAgent, line.UserAgent);
            if (format == "json")
            {
                using var json = JsonDocument.Parse(lines[i]);
                Assert.InRange(json.RootElement.GetProperty("request_time").GetDecimal(), 0m, 30m);
                Assert.Equal("HTTP/1.1", json.RootElement.GetProperty("server_protocol").GetString());
            }
        }

        Assert.Equal(0, exchanges[2].BodyBytes);
        Assert.Equal(0, exchanges[3].BodyBytes);
    }

    [Theory]
    [InlineData(null, "127.0.0.1")]
    [InlineData("192.0.2.1", "127.0.0.1")]
    [InlineData("127.0.0.1", "198.51.100.9")]
    public async Task TheClientAddressIsTheForwardedOneOnlyFromATrustedProxy(string? knownProxy, string logged)
    {
        var path = Path.Combine(_directory, "access.log");
        var settings = new Dictionary<string, string?> { ["AccessLog:Enabled"] = "true", ["AccessLog:Path"] = path };
        if (knownProxy is not null)
        {
            settings["ForwardedHeaders:KnownProxies"] = knownProxy;
        }

        await using var host = Start(settings);
        using var client = host.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/plaintext");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", "198.51.100.9");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var line = FromCombined((await LinesAsync(path, 1))[0]);
        Assert.Equal(logged, line.RemoteAddress);
    }

    [Fact]
    public async Task OnAFullDiskEveryRequestIsServedAndEveryLostRecordIsCountedInTheMetrics()
    {
        // /dev/full fails every write with ENOSPC, as a full disk does.
        await using var host = Start(new() { ["AccessLog:Enabled"] = "true", ["AccessLog:Path"] = "/dev/full" });
        using var client = host.CreateHttpClient();
        for (var i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync(new Uri("/plaintext", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var writer = host.Services.GetRequiredService<AccessLogWriter>();
        Eventually.Holds(() => writer.DroppedWriteFailed == 20, () => $"20 records lost to the full disk; {writer.DroppedWriteFailed} were");
        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var dropped = DroppedMetric().Match(metrics);
        Assert.True(dropped.Success, metrics);
        Assert.InRange(long.Parse(dropped.Groups[1].Value, CultureInfo.InvariantCulture), 20, 21);
        Assert.Contains(host.Logs.All, e => e.EventId.Id == 31 && e.Message.Contains("No space left on device", StringComparison.Ordinal));
        Assert.Equal(0, writer.Written);
    }

    [Fact]
    public async Task WhenOffNothingIsRegistered()
    {
        await using var host = Start([]);
        using var client = host.CreateHttpClient();
        using var response = await client.GetAsync(new Uri("/plaintext", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        Assert.Null(host.Services.GetService<AccessLogWriter>());
        Assert.Null(host.Services.GetService<AccessLogMetrics>());
        Assert.DoesNotContain(host.Services.GetServices<IHostedService>(), s => s is AccessLogService);
    }

    /// <inheritdoc />
    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Waits for <paramref name="count"/> whole lines.</summary>
    internal static async Task<string[]> LinesAsync(string path, int count)
    {
        string[] lines = [];
        await Eventually.HoldsAsync(
            () => (lines = File.Exists(path) ? File.ReadAllText(path).Split('\n', StringSplitOptions.RemoveEmptyEntries) : []).Length >= count,
            () => $"{count} lines in {path}; there were {lines.Length}");
        Assert.Equal(count, lines.Length);
        return lines;
    }

    private static WebHostFactory Start(Dictionary<string, string?> settings) => new WebHostFactory("Epoll", settings: settings).Start();

    private static LoggedRequest FromCombined(string line)
    {
        var match = CombinedLine().Match(line);
        Assert.True(match.Success, line);
        string? Dash(int group) => match.Groups[group].Value == "-" ? null : match.Groups[group].Value;
        return new LoggedRequest(
            match.Groups[1].Value, Dash(2), ParseTimeLocal(match.Groups[3].Value), match.Groups[4].Value,
            int.Parse(match.Groups[5].Value, CultureInfo.InvariantCulture), long.Parse(match.Groups[6].Value, CultureInfo.InvariantCulture),
            Dash(7), Dash(8));
    }

    private static LoggedRequest FromJson(string line)
    {
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        return new LoggedRequest(
            root.GetProperty("remote_addr").GetString()!, root.GetProperty("remote_user").GetString(),
            DateTimeOffset.Parse(root.GetProperty("time").GetString()!, CultureInfo.InvariantCulture), root.GetProperty("request").GetString()!,
            root.GetProperty("status").GetInt32(), root.GetProperty("body_bytes_sent").GetInt64(),
            root.GetProperty("http_referer").GetString(), root.GetProperty("http_user_agent").GetString());
    }

    // nginx's $time_local, e.g. 07/Dec/2026:11:13:25 +0000.
    internal static DateTimeOffset ParseTimeLocal(string text) =>
        DateTimeOffset.ParseExact(text.Insert(text.Length - 2, ":"), "dd/MMM/yyyy:HH:mm:ss zzz", CultureInfo.InvariantCulture);

    [GeneratedRegex("""^(\S+) - (\S+) \[([^\]]+)\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)"$""")]
    private static partial Regex CombinedLine();

    [GeneratedRegex("""webhost_access_log_dropped(?:_total)?\{[^}]*reason="write_failed"[^}]*\} (\d+)""")]
    private static partial Regex DroppedMetric();

    private sealed record LoggedRequest(
        string RemoteAddress, string? User, DateTimeOffset Time, string Request, int Status, long BodyBytes, string? Referer, string? UserAgent);
}
