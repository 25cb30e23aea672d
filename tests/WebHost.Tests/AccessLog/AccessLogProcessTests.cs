using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.AccessLog;

/// <summary>
/// The built host's access log against nginx's, byte for byte, for the same requests to the same files; and
/// rotation as logrotate does it (rename, then <c>SIGUSR1</c>).
/// </summary>
/// <param name="output">The test output.</param>
public sealed partial class AccessLogProcessTests(ITestOutputHelper output) : IDisposable
{
    // SIGUSR1 on Linux: what nginx reopens its logs on, and the host too.
    private const int SigUsr1 = 10;

    private readonly string _directory = Directory.CreateTempSubdirectory("webhost-accesslog-").FullName;

    [RequiresToolsFact("nginx")]
    public async Task TheCombinedLineIsNginxsByteForByte()
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(90));
        var path = Path.Combine(_directory, "access.log");
        await using var nginx = await NginxProcess.StartStaticAsync(TestPaths.WebRoot, cts.Token);
        await using var host = await WebHostProcess.StartServerAsync(
            "Epoll", cts.Token, arguments: ["--AccessLog:Enabled", "true", "--AccessLog:Path", path]);
        var hostPort = (await host.WaitForListeningAsync(cts.Token)).Port;

        // Both serve the same wwwroot, so the same file has the same length and modification time.
        var lastModified = File.GetLastWriteTimeUtc(Path.Combine(TestPaths.WebRoot, "index.html")).ToString("R", CultureInfo.InvariantCulture);
        var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:secret"));
        string[][] requests =
        [
            ["GET /index.html?q=%22x%22&y=a+b HTTP/1.1", "Referer: http://example.com/a?b=c", "User-Agent: Mozilla/5.0 (X11) \"quoted\" back\\slash\ttab caf\u00e9", $"Authorization: Basic {basic}"],
            ["HEAD /index.html HTTP/1.1", "User-Agent: head"],
            ["GET /index.html HTTP/1.1", "Range: bytes=0-99", "User-Agent: range"],
            ["GET /index.html HTTP/1.1", $"If-Modified-Since: {lastModified}", "User-Agent: not-modified"],
            ["GET /index.html HTTP/1.0", "User-Agent:"],
            ["GET /no-such-page.html HTTP/1.1", "User-Agent: missing"],
        ];
        foreach (var request in requests)
        {
            var nginxStatus = await SendAsync(nginx.Port, request, cts.Token);
            var hostStatus = await SendAsync(hostPort, request, cts.Token);
            Assert.Equal(nginxStatus, hostStatus);
        }

        var expected = await AccessLogHostTests.LinesAsync(nginx.AccessLogPath, requests.Length);
        var actual = await AccessLogHostTests.LinesAsync(path, requests.Length);
        for (var i = 0; i < requests.Length; i++)
        {
            output.WriteLine($"nginx: {expected[i]}");
            output.WriteLine($"host:  {actual[i]}");
            var times = new[] { expected[i], actual[i] }.Select(l => TimeLocal().Match(l)).ToList();
            Assert.All(times, t => Assert.True(t.Success));
            Assert.InRange(AccessLogHostTests.ParseTimeLocal(times[1].Groups[1].Value) - AccessLogHostTests.ParseTimeLocal(times[0].Groups[1].Value),
                TimeSpan.FromSeconds(-5), TimeSpan.FromSeconds(5));

            // The 404 pages differ (the host has its own), so their lengths do.
            var comparable = requests[i][0].Contains("no-such-page", StringComparison.Ordinal)
                ? new[] { expected[i], actual[i] }.Select(l => NotFoundLength().Replace(TimeLocal().Replace(l, "[]"), " 404 N ")).ToList()
                : [.. new[] { expected[i], actual[i] }.Select(l => TimeLocal().Replace(l, "[]"))];
            Assert.Equal(comparable[0], comparable[1]);
        }
    }

    [Fact]
    public async Task ARenamedFileIsLetGoOnSigusr1AsNginxDoes()
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        var path = Path.Combine(_directory, "access.log");
        await using var host = await WebHostProcess.StartServerAsync(
            "Epoll", cts.Token, arguments: ["--AccessLog:Enabled", "true", "--AccessLog:Path", path, "--Logging:LogLevel:EpollTransport.WebHost.AccessLog", "Information"]);
        using var client = new HttpClient { BaseAddress = await host.WaitForListeningAsync(cts.Token), Timeout = Timeouts.Default };

        await GetAsync(client, "before", cts.Token);
        await AccessLogHostTests.LinesAsync(path, 1);
        File.Move(path, path + ".1");
        LibC.Kill(host.Id, SigUsr1);
        await Eventually.HoldsAsync(() => host.Output.Contains($"Access log: reopened {path}", StringComparison.Ordinal), () => $"the reopen logged:{Environment.NewLine}{host.Output}");
        await GetAsync(client, "after", cts.Token);

        var rotated = await AccessLogHostTests.LinesAsync(path + ".1", 1);
        var current = await AccessLogHostTests.LinesAsync(path, 1);
        Assert.EndsWith("\"before\"", rotated[0], StringComparison.Ordinal);
        Assert.EndsWith("\"after\"", current[0], StringComparison.Ordinal);
        Assert.False(host.HasExited);
        host.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task ByDefaultLinesGoToStandardOutput()
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        await using var host = await WebHostProcess.StartServerAsync("Epoll", cts.Token, arguments: ["--AccessLog:Enabled", "true"]);
        using var client = new HttpClient { BaseAddress = await host.WaitForListeningAsync(cts.Token), Timeout = Timeouts.Default };
        for (var i = 0; i < 3; i++)
        {
            await GetAsync(client, $"stdout-{i}", cts.Token);
        }

        await Eventually.HoldsAsync(
            () => Enumerable.Range(0, 3).All(i => host.Output.Contains($"\"GET /plaintext HTTP/1.1\" 200 13 \"-\" \"stdout-{i}\"", StringComparison.Ordinal)),
            () => $"three lines on standard output:{Environment.NewLine}{host.Output}");
        Assert.Matches(@"(?m)^127\.0\.0\.1 - - \[[^\]]+\] ""GET /plaintext HTTP/1\.1"" 200 13 ""-"" ""stdout-0""$", host.Output);
    }

    /// <inheritdoc />
    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static async Task GetAsync(HttpClient client, string userAgent, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/plaintext");
        request.Headers.TryAddWithoutValidation("User-Agent", userAgent);
        using var response = await client.SendAsync(request, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    // One request on its own connection (Connection: close), the bytes exactly as given; returns the status line.
    private static async Task<string> SendAsync(int port, string[] request, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
        var text = string.Join("\r\n", [request[0], "Host: localhost", .. request[1..], "Connection: close", "", ""]);
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, cancellationToken)) > 0)
        {
            received.Write(buffer, 0, read);
        }

        var response = Encoding.Latin1.GetString(received.ToArray());
        return response[..response.IndexOf("\r\n", StringComparison.Ordinal)];
    }

    [GeneratedRegex(@"\[([^\]]+)\]")]
    private static partial Regex TimeLocal();

    [GeneratedRegex(@" 404 \d+ ")]
    private static partial Regex NotFoundLength();
}
