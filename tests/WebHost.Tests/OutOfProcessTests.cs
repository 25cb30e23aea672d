using System.Net;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// The built web host started as a user starts it (<c>dotnet EpollTransport.WebHost.dll</c>), looked at from outside:
/// which threads it runs, what it serves, how it refuses a bad setting.
/// </summary>
/// <param name="output">The test output.</param>
public sealed class OutOfProcessTests(ITestOutputHelper output)
{
    private const string EpollThreadPrefix = "epoll-";

    // The thread System.Net.Sockets' event loop runs on: the engine behind Kestrel's Sockets transport.
    private const string SocketsEngineThread = ".NET Sockets";

    private static readonly TimeSpan s_processTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task EpollTransportServesFromEpollThreadsWithoutTheSocketsEngine()
    {
        // An empty working directory and no content root: the host falls back to its own directory,
        // which the build gave a copy of wwwroot and appsettings.json.
        var workingDirectory = Directory.CreateTempSubdirectory("webhost-cwd-").FullName;
        try
        {
            var threads = await RunAndInspectAsync(
                workingDirectory,
                ["--urls", "http://127.0.0.1:0"],
                new Dictionary<string, string> { ["Transport"] = "Epoll" },
                expectedTransport: "Epoll");

            Assert.Contains(threads, name => name.StartsWith(EpollThreadPrefix, StringComparison.Ordinal));
            Assert.DoesNotContain(SocketsEngineThread, threads);
        }
        finally
        {
            Directory.Delete(workingDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task SocketsTransportServesFromTheSocketsEngineWithoutEpollThreads()
    {
        var threads = await RunAndInspectAsync(
            Path.GetTempPath(),
            ["--urls", "http://127.0.0.1:0", "--contentRoot", TestPaths.ContentRoot],
            new Dictionary<string, string> { ["Transport"] = "Sockets" },
            expectedTransport: "Sockets");

        Assert.Contains(SocketsEngineThread, threads);
        Assert.DoesNotContain(threads, name => name.StartsWith(EpollThreadPrefix, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Foo", true)]
    [InlineData("1", true)]
    [InlineData("Foo", false)]
    public async Task InvalidTransportExitsWithAnErrorNamingTheValidValues(string value, bool onCommandLine)
    {
        string[] arguments = onCommandLine ? ["--Transport", value] : [];
        var environment = onCommandLine ? null : new Dictionary<string, string> { ["Transport"] = value };

        var error = await RefusedStart.StandardErrorAsync(output, arguments, environment);
        Assert.Contains($"Invalid Transport '{value}'. Valid values: Epoll, Sockets.", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("OpenSsl", true)]
    [InlineData("", true)]
    [InlineData("Kestrel", false)]
    public async Task InvalidTlsEngineExitsWithAnErrorNamingTheValidValues(string value, bool onCommandLine)
    {
        string[] arguments = onCommandLine ? ["--TlsEngine", value] : [];
        var environment = onCommandLine ? null : new Dictionary<string, string> { ["TlsEngine"] = value };

        var error = await RefusedStart.StandardErrorAsync(output, arguments, environment);
        Assert.Contains($"Invalid TlsEngine '{value}'. Valid values: Epoll, SslStream.", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("StaticFiles:Cache:SizeLimit", "0", "StaticFiles:Cache")]
    [InlineData("StaticFiles:Cache:SizeLimit", "lots", "StaticFiles:Cache:SizeLimit")]
    [InlineData("StaticFiles:FallbackFile", "/app.html", "StaticFiles:FallbackFile '/app.html': no such file in wwwroot.")]
    [InlineData("StaticFiles:FallbackFile", "/../appsettings.json", "StaticFiles:FallbackFile '/../appsettings.json': it is outside wwwroot.")]
    public async Task InvalidStaticFilesSettingExitsWithAnErrorNamingTheSetting(string key, string value, string named)
    {
        var error = await RefusedStart.StandardErrorAsync(output, ["--" + key, value]);
        Assert.Contains(named, error, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", error, StringComparison.Ordinal);
    }

    private async Task<IReadOnlyList<string>> RunAndInspectAsync(
        string workingDirectory,
        string[] arguments,
        IReadOnlyDictionary<string, string> environment,
        string expectedTransport)
    {
        Assert.True(File.Exists(WebHostProcess.WebHostDll), $"{WebHostProcess.WebHostDll} is missing.");
        using var cts = Timeouts.Create(s_processTimeout);
        await using var host = WebHostProcess.Start(workingDirectory, arguments, environment);
        try
        {
            var address = await host.WaitForListeningAsync(cts.Token);
            Assert.NotEqual(0, address.Port);

            using var client = new HttpClient { BaseAddress = address, Timeout = Timeouts.Default };
            using var response = await client.GetAsync(new Uri("/", UriKind.Relative), cts.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(TestPaths.ReadWebRootFile("index.html"), await response.Content.ReadAsByteArrayAsync(cts.Token));

            var threads = host.ThreadNames();
            output.WriteLine("Threads: " + string.Join(" | ", threads.Order(StringComparer.Ordinal)));
            Assert.Contains($"Serving wwwroot through the {expectedTransport} transport on {address.GetLeftPart(UriPartial.Authority)}", host.Output, StringComparison.Ordinal);
            return threads;
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }
}
