using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Reliability;

/// <summary>
/// The web host in its own process with the README's HTTPS endpoint (a PEM certificate under
/// <c>Kestrel:Endpoints</c>) on the Epoll transport, whose TLS serves it by default (<c>TlsEngine=Epoll</c>),
/// looked at with the tools operators use: curl with each TLS version, <c>openssl s_client</c> (TLS 1.1 and
/// client-initiated renegotiation refused, TLS 1.2 only with ECDHE and AEAD ciphers), Chromium, and testssl.
/// </summary>
/// <param name="output">The test output.</param>
[Collection(ExternalTools.Name)]
public sealed partial class HttpsExternalToolTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_toolTimeout = TimeSpan.FromSeconds(30);

    [RequiresToolsFact("curl")]
    public async Task CurlSpeaksHttp2OverTls12AndTls13()
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(90));
        await using var host = await StartHttpsHostAsync(certificate, cts.Token);
        try
        {
            var url = new Uri(host.AddressFor("https"), "/plaintext").ToString();
            foreach (var (versionArguments, expected) in new[]
            {
                (new[] { "--tlsv1.2", "--tls-max", "1.2" }, "TLSv1.2"),
                (new[] { "--tlsv1.3" }, "TLSv1.3"),
            })
            {
                var result = await ExternalTool.RunAsync(
                    ExternalTool.Find("curl")!,
                    [.. versionArguments, "--http2", "-k", "-v", "-sS", "--max-time", "20", "-w", "\n%{http_version} %{response_code}", url],
                    s_toolTimeout);
                var negotiated = CurlTlsLine().Match(result.StandardError);
                output.WriteLine($"curl {string.Join(' ', versionArguments)}: {negotiated.Value}");
                Assert.True(result.ExitCode == 0 && negotiated.Success, result.ToString());
                Assert.Equal("Hello, World!\n2 200", result.StandardOutput.TrimEnd('\n'));
                Assert.Equal(expected, negotiated.Groups["version"].Value);
                if (expected == "TLSv1.2")
                {
                    Assert.Matches(EcdheAeadSuite(), negotiated.Groups["cipher"].Value);
                }
            }

            host.AssertNoErrorsLogged();
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }

    [RequiresToolsFact("openssl")]
    public async Task OpenSslIsRefusedTls11AndClientInitiatedRenegotiation()
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(90));
        await using var host = await StartHttpsHostAsync(certificate, cts.Token);
        try
        {
            var connect = $"127.0.0.1:{host.AddressFor("https").Port}";

            // The client allows TLS 1.1 (its own security level would refuse it): the server refuses it with an alert.
            var tls11 = await OpenSslClientAsync(["-connect", connect, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"], input: null);
            output.WriteLine($"s_client -tls1_1: {tls11}");
            Assert.NotEqual(0, tls11.ExitCode);
            Assert.Contains("Cipher is (NONE)", tls11.StandardOutput, StringComparison.Ordinal);
            Assert.Matches(@"alert (protocol version|handshake failure)", tls11.StandardError);

            // "R" on s_client's input starts a renegotiation of the TLS 1.2 session; the server refuses it (an alert or
            // the connection closed), so s_client fails instead of going on with a second handshake.
            var renegotiation = await OpenSslClientAsync(["-connect", connect, "-tls1_2"], input: "R\n");
            output.WriteLine($"s_client -tls1_2, R: {renegotiation}");
            Assert.Contains("Protocol  : TLSv1.2", renegotiation.StandardOutput, StringComparison.Ordinal);
            Assert.Contains("RENEGOTIATING", renegotiation.StandardError + renegotiation.StandardOutput, StringComparison.Ordinal);
            Assert.NotEqual(0, renegotiation.ExitCode);
            Assert.Matches(@"no renegotiation|unexpected eof", renegotiation.StandardError);
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }

    [RequiresToolsFact("openssl")]
    public async Task Tls12OffersOnlyEcdheWithAeadCiphers()
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(180));
        await using var host = await StartHttpsHostAsync(certificate, cts.Token);
        try
        {
            var connect = $"127.0.0.1:{host.AddressFor("https").Port}";

            // Every TLS 1.2 (and older) suite this OpenSSL knows, the weak ones included, offered at once; the suite the
            // server picks is struck off and the rest offered again, until the server refuses them all.
            var list = await ExternalTool.RunAsync(ExternalTool.Find("openssl")!, ["ciphers", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"], s_toolTimeout);
            Assert.True(list.ExitCode == 0, list.ToString());
            var suites = list.StandardOutput.Trim().Split(':').Where(s => !s.StartsWith("TLS_", StringComparison.Ordinal)).ToList();
            Assert.True(suites.Count > 50, list.StandardOutput);

            var remaining = new List<string>(suites);
            var accepted = new List<string>();
            ToolResult last;
            while (true)
            {
                last = await OpenSslClientAsync(["-connect", connect, "-tls1_2", "-cipher", string.Join(':', remaining) + ":@SECLEVEL=0"], input: null);
                var chosen = OpenSslCipherLine().Match(last.StandardOutput);
                if (last.ExitCode != 0 || !chosen.Success || chosen.Groups["cipher"].Value == "(NONE)")
                {
                    break;
                }

                accepted.Add(chosen.Groups["cipher"].Value);
                Assert.True(remaining.Remove(chosen.Groups["cipher"].Value), last.ToString());
            }

            Assert.Contains("Cipher is (NONE)", last.StandardOutput, StringComparison.Ordinal);
            output.WriteLine($"{suites.Count} suites tried; accepted: {string.Join(", ", accepted)}");
            Assert.NotEmpty(accepted);
            Assert.All(accepted, suite => Assert.Matches(EcdheAeadSuite(), suite));
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }

    [RequiresToolsFact(HeadlessChromium.ChromiumTool, HeadlessChromium.DriverTool)]
    public async Task ChromiumLoadsThePageOverHttp2()
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(180));
        await using var host = await StartHttpsHostAsync(certificate, cts.Token);
        try
        {
            using var browser = new HeadlessChromium(acceptInsecureCertificates: true);
            browser.Driver.Navigate().GoToUrl(host.AddressFor("https"));

            // The page, its stylesheet and its image all came over HTTP/2 on TLS.
            HeadlessChromium.WaitUntil(() => (string?)browser.Execute("return document.readyState;") == "complete", "the page to load");
            var entries = JsonSerializer.Deserialize<List<ResourceEntry>>((string)browser.Execute(
                "return JSON.stringify(performance.getEntries().filter(e => e.nextHopProtocol !== undefined)" +
                ".map(e => ({ name: e.name, protocol: e.nextHopProtocol })));")!)!;
            output.WriteLine(string.Join(Environment.NewLine, entries));
            Assert.Contains(entries, e => e.Name.EndsWith(".css", StringComparison.Ordinal));
            Assert.All(entries, e => Assert.Equal("h2", e.Protocol));
            var page = System.Text.Encoding.UTF8.GetString(TestPaths.ReadWebRootFile("index.html"));
            Assert.Equal(PageTitle().Match(page).Groups["title"].Value, (string?)browser.Execute("return document.title;"));
            host.AssertNoErrorsLogged();
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }

    [RequiresToolsFact("testssl:testssl.sh")]
    public async Task TestsslFlagsNothingInProtocolsCiphersOrVulnerabilities()
    {
        using var certificate = TestCertificate.Create();
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(300));
        await using var host = await StartHttpsHostAsync(certificate, cts.Token);
        var json = Path.Combine(certificate.Directory, "testssl.json");
        try
        {
            // One run, restricted to what is about TLS itself: -p protocols; -s cipher categories (NULL, EXPORT, LOW,
            // 3DES, obsolete CBC, strong); and the vulnerabilities: -H Heartbleed, -I CCS, -R renegotiation, -C CRIME,
            // -O POODLE, -Z TLS_FALLBACK_SCSV, -W SWEET32, -A BEAST, -L LUCKY13, -F FREAK, -J LOGJAM, -4 RC4. Left out:
            // the slow experimental Ticketbleed and ROBOT (RSA key transport, which the cipher test rules out), DROWN
            // (SSLv2, in -p) and BREACH (an application compressing secrets, not TLS).
            var result = await ExternalTool.RunAsync(
                ExternalTool.Find("testssl")!,
                ["--quiet", "--color", "0", "--warnings", "off", "--jsonfile", json,
                 "-p", "-s", "-H", "-I", "-R", "-C", "-O", "-Z", "-W", "-A", "-L", "-F", "-J", "-4",
                 new Uri(host.AddressFor("https"), "/plaintext").ToString()],
                TimeSpan.FromSeconds(240));
            output.WriteLine(result.StandardOutput);
            Assert.True(File.Exists(json), result.ToString());

            using var findings = JsonDocument.Parse(File.ReadAllText(json));
            var flagged = findings.RootElement.EnumerateArray()
                .Select(f => (Id: f.GetProperty("id").GetString()!, Severity: f.GetProperty("severity").GetString()!, Finding: f.GetProperty("finding").GetString()!))
                .Where(f => f.Severity is not ("OK" or "INFO") && !s_clientSideFindings.Contains(f.Id))
                .ToList();
            Assert.True(flagged.Count == 0, string.Join(Environment.NewLine, flagged));
            Assert.Contains(findings.RootElement.EnumerateArray(), f => f.GetProperty("id").GetString() == "LUCKY13");
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }

    // testssl's remarks about its own OpenSSL (no GOST engine), not about the server.
    private static readonly HashSet<string> s_clientSideFindings = ["engine_problem"];

    private sealed record ResourceEntry(
        [property: System.Text.Json.Serialization.JsonPropertyName("name")] string Name,
        [property: System.Text.Json.Serialization.JsonPropertyName("protocol")] string Protocol);

    private static Task<WebHostProcess> StartHttpsHostAsync(TestCertificate certificate, CancellationToken cancellationToken) =>
        WebHostProcess.StartServerAsync("Epoll", cancellationToken, urls: null, arguments: certificate.PemEndpointArguments("Https"));

    /// <summary>
    /// <c>openssl s_client</c>, its input written once the handshake is reported (if any) and then closed, so that
    /// it ends by itself.
    /// </summary>
    private static async Task<ToolResult> OpenSslClientAsync(IEnumerable<string> arguments, string? input)
    {
        using var process = ExternalTool.Start(ExternalTool.Find("openssl")!, ["s_client", .. arguments], out var stdout, out var stderr);
        using var cts = new CancellationTokenSource(s_toolTimeout);
        try
        {
            if (input is not null)
            {
                // s_client prints the session ("Protocol  : ...") once the handshake is done.
                while (!ExternalTool.Snapshot(stdout).Contains("Protocol  :", StringComparison.Ordinal) && !process.HasExited)
                {
                    await Task.Delay(50, cts.Token);
                }

                await process.StandardInput.WriteAsync(input);
                await process.StandardInput.FlushAsync(cts.Token);
                await Task.Delay(500, cts.Token);
            }

            process.StandardInput.Close();
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"openssl s_client {string.Join(' ', arguments)} did not finish.{Environment.NewLine}{ExternalTool.Snapshot(stdout)}{ExternalTool.Snapshot(stderr)}");
        }

        process.WaitForExit();
        return new ToolResult(process.ExitCode, ExternalTool.Snapshot(stdout), ExternalTool.Snapshot(stderr));
    }

    [GeneratedRegex("<title>(?<title>[^<]*)</title>")]
    private static partial Regex PageTitle();

    // e.g. "New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"
    [GeneratedRegex(@"Cipher is (?<cipher>\S+)")]
    private static partial Regex OpenSslCipherLine();

    // e.g. "* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384" (curl -v, on stderr)
    [GeneratedRegex(@"SSL connection using (?<version>TLSv[\d.]+) / (?<cipher>\S+)")]
    private static partial Regex CurlTlsLine();

    // Mozilla's "intermediate" TLS 1.2 suites: ECDHE key exchange, AES-GCM or ChaCha20-Poly1305.
    [GeneratedRegex(@"^ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$")]
    private static partial Regex EcdheAeadSuite();
}
