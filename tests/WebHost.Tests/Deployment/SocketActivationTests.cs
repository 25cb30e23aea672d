using System.Net;
using System.Net.Sockets;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Deployment;

/// <summary>
/// systemd socket activation, as <c>deploy/epolltransport-webhost.socket</c> does it, played by
/// <c>systemd-socket-activate</c>: it listens, and on the first connection execs the host with the listening
/// socket as descriptor 3 and <c>LISTEN_FDS=1</c>. The host must serve that socket on its epoll threads, without
/// ever starting the Sockets engine, and stop cleanly on SIGTERM. Not with the load tests: a few requests and no
/// figure of the server process, so it runs beside the in-process tests.
/// </summary>
/// <param name="output">The test output.</param>
public sealed class SocketActivationTests(ITestOutputHelper output)
{
    [RequiresToolsTheory("systemd-socket-activate:systemd")]
    [InlineData("tcp")]
    [InlineData("unix")]
    public async Task ASocketActivatedHostServesTheInheritedSocketOnEpollThreads(string kind)
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        var unixPath = Path.Combine(Path.GetTempPath(), $"webhost-activated-{Guid.NewGuid():N}.sock");
        EndPoint endPoint = kind == "tcp" ? new IPEndPoint(IPAddress.Loopback, LoopbackPort.Free()) : new UnixDomainSocketEndPoint(unixPath);
        var listenArgument = endPoint is IPEndPoint ip ? $"127.0.0.1:{ip.Port}" : unixPath;

        await using var host = WebHostProcess.Start(
            TestPaths.ContentRoot,
            // Urls of its own, which the inherited socket must replace.
            ["--Transport", "Epoll", "--urls", "http://127.0.0.1:0"],
            launcher: [ExternalTool.Find("systemd-socket-activate")!, "-l", listenArgument]);
        try
        {
            // The first connection is what makes systemd-socket-activate start the host; it waits in the
            // socket's backlog meanwhile. Until then the listening socket may not exist yet.
            using var connection = await ConnectWhenListeningAsync(endPoint, cts.Token);
            await connection.SendAsync(RawHttpConnection.Get("/plaintext"), cts.Token);
            var response = await connection.ReadResponseAsync(cts.Token);
            Assert.Equal(200, response.StatusCode);
            Assert.Equal("Hello, World!", response.BodyText);

            await host.WaitForStartedAsync(cts.Token);
            var address = kind == "tcp" ? $"http://{listenArgument}" : $"http://unix:{unixPath}";
            Assert.Equal([address], host.Addresses);
            Assert.Contains($"Serving wwwroot through the Epoll transport on {address}", host.Output, StringComparison.Ordinal);

            // Another connection, and the site's page on it.
            using var second = await RawHttpConnection.ConnectAsync(endPoint, cts.Token);
            await second.SendAsync(RawHttpConnection.Get("/"), cts.Token);
            var page = await second.ReadResponseAsync(cts.Token);
            Assert.Equal(200, page.StatusCode);
            Assert.Equal(TestPaths.ReadWebRootFile("index.html"), page.Body);

            var threads = host.ThreadNames();
            output.WriteLine("Threads: " + string.Join(" | ", threads.Order(StringComparer.Ordinal)));
            Assert.Contains(threads, name => name.StartsWith("epoll-", StringComparison.Ordinal));
            Assert.DoesNotContain(".NET Sockets", threads);

            host.Terminate();
            Assert.Equal(0, await host.WaitForExitAsync(cts.Token));
        }
        finally
        {
            output.WriteLine(host.Output);
            File.Delete(unixPath);
        }
    }

    [RequiresToolsFact("systemd-analyze:systemd")]
    public async Task TheDeployedUnitFilesPassSystemdsVerification()
    {
        // systemd-analyze verify checks every key and value; a template is verified as an instance of it.
        var directory = Directory.CreateTempSubdirectory("webhost-units-").FullName;
        try
        {
            var units = Path.Combine(TestPaths.RepositoryRoot, "deploy", "systemd");
            var dotnet = WebHostProcess.DotnetHost();
            dotnet = Path.IsPathRooted(dotnet) ? dotnet : ExternalTool.Find(dotnet) ?? dotnet;
            var checkedUnits = new List<string>();
            foreach (var template in Directory.GetFiles(units, "epolltransport-webhost@.*"))
            {
                var instance = Path.Combine(directory, Path.GetFileName(template).Replace("@.", "@1.", StringComparison.Ordinal));

                // The unit starts /usr/bin/dotnet; this machine's may live elsewhere, and verify checks that it exists.
                var text = (await File.ReadAllTextAsync(template)).Replace("ExecStart=/usr/bin/dotnet ", $"ExecStart={dotnet} ", StringComparison.Ordinal);
                await File.WriteAllTextAsync(instance, text);
                checkedUnits.Add(instance);
            }

            Assert.Equal(2, checkedUnits.Count);
            var result = await ExternalTool.RunAsync(ExternalTool.Find("systemd-analyze")!, ["verify", "--man=no", .. checkedUnits], TimeSpan.FromSeconds(30));
            output.WriteLine(result.ToString());
            Assert.Equal(0, result.ExitCode);
            Assert.Equal(string.Empty, result.StandardError.Trim());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<RawHttpConnection> ConnectWhenListeningAsync(EndPoint endPoint, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                return await RawHttpConnection.ConnectAsync(endPoint, cancellationToken);
            }
            catch (SocketException)
            {
                await Task.Delay(50, cancellationToken);
            }
        }
    }
}
