using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// A server program from a Debian package (nginx, HAProxy) run in the foreground for one test: its files in a
/// temporary directory of its own, its output collected, started once it accepts on its 127.0.0.1 port.
/// Disposing kills it and deletes the directory.
/// </summary>
public sealed class ForegroundServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout;
    private readonly StringBuilder _stderr;

    private ForegroundServer(Process process, string directory, int port, StringBuilder stdout, StringBuilder stderr)
    {
        _process = process;
        Directory = directory;
        Port = port;
        _stdout = stdout;
        _stderr = stderr;
    }

    /// <summary>The server's temporary directory.</summary>
    public string Directory { get; }

    /// <summary>The port it listens on, on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>What it wrote to stdout and stderr.</summary>
    public string Output => ExternalTool.Snapshot(_stdout) + ExternalTool.Snapshot(_stderr);

    /// <summary>Starts <paramref name="path"/> and waits (15 s at most) until it accepts on <paramref name="port"/>.</summary>
    /// <param name="path">The program.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="directory">Its temporary directory, deleted on dispose (also when the start fails).</param>
    /// <param name="port">The 127.0.0.1 port its configuration listens on.</param>
    /// <param name="describe">What to report if it exits first (its output and any log files).</param>
    /// <param name="cancellationToken">Bounds the start.</param>
    /// <returns>The running server.</returns>
    public static async Task<ForegroundServer> StartAsync(
        string path,
        IEnumerable<string> arguments,
        string directory,
        int port,
        Func<ForegroundServer, string> describe,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(describe);
        var process = ExternalTool.Start(path, arguments, out var stdout, out var stderr);
        var server = new ForegroundServer(process, directory, port, stdout, stderr);
        try
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"{Path.GetFileName(path)} exited with {process.ExitCode}:{Environment.NewLine}{describe(server)}");
                }

                try
                {
                    using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
                    return server;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(50, cancellationToken);
                }
            }
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException)
        {
        }
        finally
        {
            _process.Dispose();
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
