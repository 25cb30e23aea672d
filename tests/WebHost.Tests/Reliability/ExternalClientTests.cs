using System.Globalization;
using System.Text.RegularExpressions;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Reliability;

/// <summary>
/// The host in its own process, configured for HTTPS and cleartext HTTP/2 on the command line exactly as the
/// README documents, driven by clients that are not .NET: curl (HTTP/1.1 and HTTP/2 over TLS by ALPN, h2c with
/// prior knowledge) and h2load (many multiplexed HTTP/2 requests).
/// </summary>
/// <param name="output">The test output.</param>
[Collection(LoadTests.Name)]
public sealed partial class ExternalClientTests(ITestOutputHelper output)
{
    [RequiresToolsTheory("curl")]
    [MemberData(nameof(LoadTests.Transports), MemberType = typeof(LoadTests))]
    public async Task CurlNegotiatesHttp2OverTlsAndSpeaksH2cWithPriorKnowledge(string transport)
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(90));
        await using var host = await StartTlsAndH2cHostAsync(transport, certificate, cts.Token);
        try
        {
            var curl = ExternalTool.Find("curl")!;
            var https = host.AddressFor("https");
            var h2c = host.AddressFor("http");

            foreach (var (arguments, url, expectedVersion) in new[]
            {
                (new[] { "--http2", "-k" }, https, "2"),
                (new[] { "--http1.1", "-k" }, https, "1.1"),
                (new[] { "--http2-prior-knowledge" }, h2c, "2"),
            })
            {
                var result = await ExternalTool.RunAsync(
                    curl,
                    [.. arguments, "-sS", "--max-time", "20", "-w", "\n%{http_version} %{response_code}", new Uri(url, "/plaintext").ToString()],
                    TimeSpan.FromSeconds(30));
                output.WriteLine($"curl {string.Join(' ', arguments)} {url}: {result.StandardOutput.Replace('\n', ' ')}");
                Assert.True(result.ExitCode == 0, result.ToString());
                Assert.Equal($"Hello, World!\n{expectedVersion} 200", result.StandardOutput.TrimEnd('\n'));
            }

            // A large download over HTTP/2 and TLS arrives whole.
            var download = await ExternalTool.RunAsync(
                curl,
                ["--http2", "-k", "-sS", "--max-time", "30", "-o", "/dev/null", "-w", "%{http_version} %{size_download}", new Uri(https, "/test/bytes/16777216").ToString()],
                TimeSpan.FromSeconds(40));
            Assert.True(download.ExitCode == 0, download.ToString());
            Assert.Equal("2 16777216", download.StandardOutput.Trim());
            host.AssertNoErrorsLogged();
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }

    [RequiresToolsTheory("h2load:nghttp2-client")]
    [MemberData(nameof(LoadTests.Transports), MemberType = typeof(LoadTests))]
    public async Task H2loadCompletesEveryMultiplexedRequestOverH2cAndTls(string transport)
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(120));
        await using var host = await StartTlsAndH2cHostAsync(transport, certificate, cts.Token);
        try
        {
            var h2load = ExternalTool.Find("h2load")!;
            foreach (var (url, requests, clients, streams) in new[]
            {
                (new Uri(host.AddressFor("http"), "/plaintext"), 20_000, 8, 16),
                (new Uri(host.AddressFor("https"), "/plaintext"), 10_000, 4, 16),
            })
            {
                var result = await ExternalTool.RunAsync(
                    h2load,
                    ["-n", requests.ToString(CultureInfo.InvariantCulture), "-c", clients.ToString(CultureInfo.InvariantCulture), "-m", streams.ToString(CultureInfo.InvariantCulture), "-T", "20", url.ToString()],
                    TimeSpan.FromSeconds(60));
                var summary = RequestsLine().Match(result.StandardOutput);
                var rate = FinishedLine().Match(result.StandardOutput);
                output.WriteLine($"h2load -n {requests} -c {clients} -m {streams} {url}: {summary.Value}; {rate.Value}");
                Assert.True(result.ExitCode == 0 && summary.Success, result.ToString());
                Assert.Equal(requests, int.Parse(summary.Groups["succeeded"].Value, CultureInfo.InvariantCulture));
                Assert.Equal("0", summary.Groups["failed"].Value);
                Assert.Equal("0", summary.Groups["errored"].Value);
                Assert.Equal("0", summary.Groups["timeout"].Value);
                Assert.Contains("h2", result.StandardOutput, StringComparison.Ordinal);
            }

            host.AssertNoErrorsLogged();
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }

    /// <summary>
    /// The host with two endpoints from the command line: HTTPS (HTTP/1.1 and HTTP/2 by ALPN) with a PEM
    /// certificate, and cleartext HTTP/2 only.
    /// </summary>
    private static Task<WebHostProcess> StartTlsAndH2cHostAsync(string transport, TestCertificate certificate, CancellationToken cancellationToken) =>
        WebHostProcess.StartServerAsync(
            transport,
            cancellationToken,
            urls: null,
            arguments:
            [
                .. certificate.PemEndpointArguments("Https"),
                "--Kestrel:Endpoints:H2c:Url", "http://127.0.0.1:0",
                "--Kestrel:Endpoints:H2c:Protocols", "Http2",
            ]);

    // e.g. "requests: 20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed, 0 errored, 0 timeout"
    [GeneratedRegex(@"requests: (?<total>\d+) total, \d+ started, \d+ done, (?<succeeded>\d+) succeeded, (?<failed>\d+) failed, (?<errored>\d+) errored, (?<timeout>\d+) timeout")]
    private static partial Regex RequestsLine();

    // e.g. "finished in 512.33ms, 39037.70 req/s, 1.38MB/s"
    [GeneratedRegex(@"finished in [^\n]*")]
    private static partial Regex FinishedLine();
}
