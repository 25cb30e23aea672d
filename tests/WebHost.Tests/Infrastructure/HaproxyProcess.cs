using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// A private HAProxy (the Debian package's binary) in the foreground running <c>deploy/haproxy/epolltransport-webhost.cfg</c>
/// as deployed, with only its addresses changed: the frontend on a free 127.0.0.1 port, the servers on the given
/// Unix sockets. A test-only global section adds an admin socket to read the servers' state. Disposing stops it
/// and deletes its directory.
/// </summary>
public sealed partial class HaproxyProcess : IAsyncDisposable
{
    private const string DeployedSocketDirectory = "/run/epolltransport-webhost/";

    private readonly ForegroundServer _server;

    private HaproxyProcess(ForegroundServer server)
    {
        _server = server;
    }

    /// <summary>The frontend's base address.</summary>
    public Uri BaseAddress => new($"http://127.0.0.1:{_server.Port}/");

    /// <summary>What HAProxy wrote; in the foreground (<c>-db</c>) that includes every server state change, on stderr.</summary>
    public string Output => _server.Output;

    private string AdminSocket => Path.Combine(_server.Directory, "admin.sock");

    /// <summary>Starts HAProxy with the deployed configuration, its servers' sockets moved into <paramref name="socketDirectory"/>.</summary>
    /// <param name="socketDirectory">Where the instances' sockets (<c>1.sock</c>, <c>2.sock</c>) are.</param>
    /// <param name="cancellationToken">Bounds the start.</param>
    /// <returns>The running proxy.</returns>
    public static async Task<HaproxyProcess> StartAsync(string socketDirectory, CancellationToken cancellationToken)
    {
        var haproxy = ExternalTool.Find("haproxy") ?? throw new InvalidOperationException("haproxy is not installed.");
        var directory = System.IO.Directory.CreateTempSubdirectory("webhost-haproxy-").FullName;
        var port = LoopbackPort.Free();

        var deployed = await File.ReadAllTextAsync(Path.Combine(TestPaths.RepositoryRoot, "deploy", "haproxy", "epolltransport-webhost.cfg"), cancellationToken);
        Assert.Contains("bind :80\n", deployed, StringComparison.Ordinal);
        Assert.Contains(DeployedSocketDirectory, deployed, StringComparison.Ordinal);
        var configuration = deployed
            .Replace("bind :80\n", string.Create(CultureInfo.InvariantCulture, $"bind 127.0.0.1:{port}\n"), StringComparison.Ordinal)
            .Replace(DeployedSocketDirectory, socketDirectory.TrimEnd('/') + "/", StringComparison.Ordinal);
        var global = Path.Combine(directory, "global.cfg");
        var backend = Path.Combine(directory, "epolltransport-webhost.cfg");
        await File.WriteAllTextAsync(global, $"global\n    maxconn 4096\n    stats socket {Path.Combine(directory, "admin.sock")} level admin\n", cancellationToken);
        await File.WriteAllTextAsync(backend, configuration, cancellationToken);

        // -db: in the foreground, not as a daemon.
        var server = await ForegroundServer.StartAsync(haproxy, ["-db", "-f", global, "-f", backend], directory, port, s => s.Output, cancellationToken);
        var proxy = new HaproxyProcess(server);
        try
        {
            await proxy.WaitForAdminSocketAsync(cancellationToken);
            return proxy;
        }
        catch
        {
            await proxy.DisposeAsync();
            throw;
        }
    }

    /// <summary>Each server's status (<c>UP</c>, <c>DOWN</c>, …) and total sessions, from <c>show stat</c> on the admin socket.</summary>
    /// <param name="cancellationToken">Bounds the query.</param>
    /// <returns>By server name.</returns>
    public async Task<IReadOnlyDictionary<string, (string Status, long Sessions)>> ServersAsync(CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(AdminSocket), cancellationToken);
        await socket.SendAsync("show stat\n"u8.ToArray(), cancellationToken);
        var text = new StringBuilder();
        var buffer = new byte[16384];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, cancellationToken)) > 0)
        {
            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        // CSV: "# pxname,svname,qcur,qmax,scur,smax,slim,stot,...,status,..."; one line per frontend, server and backend.
        var lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].TrimStart('#', ' ').Split(',');
        int name = Array.IndexOf(header, "svname"), status = Array.IndexOf(header, "status"), total = Array.IndexOf(header, "stot");
        var servers = new Dictionary<string, (string, long)>(StringComparer.Ordinal);
        foreach (var line in lines.Skip(1))
        {
            var fields = line.Split(',');
            if (fields.Length > status && fields[name] is not ("FRONTEND" or "BACKEND"))
            {
                servers[fields[name]] = (fields[status], long.Parse(fields[total], CultureInfo.InvariantCulture));
            }
        }

        return servers;
    }

    /// <summary>
    /// Waits until the admin socket accepts a connection. The start waits for the TCP frontend, which HAProxy binds
    /// before its Unix sockets; the admin socket is bound under a temporary name, renamed, then listens. A query in
    /// between fails: no such file (ENOENT, which .NET reports as "Cannot assign requested address") or refused
    /// (seen in CI on a loaded machine, right after the start). Nothing else is retried.
    /// </summary>
    private async Task WaitForAdminSocketAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + Timeouts.Default;
        while (true)
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(AdminSocket), cancellationToken);
                return;
            }
            catch (SocketException ex) when ((ex.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, cancellationToken);
            }
        }
    }

    /// <summary>Waits until server <paramref name="server"/> has status <paramref name="status"/> (<c>UP</c>, <c>DOWN</c>; not <c>DOWN 1/2</c>, on its way up).</summary>
    /// <param name="server">The server's name.</param>
    /// <param name="status">The status.</param>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>A task.</returns>
    public async Task WaitForStatusAsync(string server, string status, CancellationToken cancellationToken)
    {
        while (true)
        {
            var servers = await ServersAsync(cancellationToken);
            if (servers.TryGetValue(server, out var state) && state.Status == status)
            {
                return;
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>
    /// The state changes of server <paramref name="server"/> HAProxy wrote so far, oldest first: its own record of
    /// why it took a server out or back, e.g. <c>Server epolltransport_webhost/webhost1 is DOWN, reason: Layer7 wrong
    /// status, code: 503, …</c> (a check answered 503) or <c>reason: Socket error</c> / <c>Layer4 connection problem</c>
    /// (nothing answered).
    /// </summary>
    /// <param name="server">The server's name.</param>
    /// <returns>The changes.</returns>
    public IReadOnlyList<ServerStateChange> StateChanges(string server) =>
        [.. StateChangeLine().Matches(Output)
            .Where(m => m.Groups["server"].Value == server)
            .Select(m => new ServerStateChange(
                m.Groups["state"].Value,
                m.Groups["reason"].Value,
                m.Groups["code"].Success ? int.Parse(m.Groups["code"].Value, CultureInfo.InvariantCulture) : null,
                m.Value.TrimEnd('\r')))];

    /// <summary>
    /// Waits (30 s at most) until the latest state change HAProxy wrote for <paramref name="server"/> is to
    /// <paramref name="state"/>: its line can arrive after <c>show stat</c> already shows the state.
    /// </summary>
    /// <param name="server">The server's name.</param>
    /// <param name="state"><c>UP</c> or <c>DOWN</c>.</param>
    /// <param name="cancellationToken">Bounds the wait.</param>
    /// <returns>That change.</returns>
    public async Task<ServerStateChange> WaitForStateChangeAsync(string server, string state, CancellationToken cancellationToken)
    {
        ServerStateChange? latest = null;
        await Eventually.HoldsAsync(
            () => StateChanges(server) is [.., var last] && (latest = last).State == state,
            () => $"HAProxy writes a change of {server} to {state}. Its output:{Environment.NewLine}{Output}",
            Timeouts.Default).WaitAsync(cancellationToken);
        return latest!;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [GeneratedRegex(@"Server [^/\s]+/(?<server>\S+) is (?<state>UP|DOWN), reason: (?<reason>[^,\r\n]+)(?:, code: (?<code>\d+))?.*$", RegexOptions.Multiline)]
    private static partial Regex StateChangeLine();
}

/// <summary>A server state change as HAProxy wrote it.</summary>
/// <param name="State"><c>UP</c> or <c>DOWN</c>.</param>
/// <param name="Reason">Why, e.g. <c>Layer7 wrong status</c>, <c>Layer7 check passed</c>, <c>Socket error</c>, <c>Layer4 connection problem</c>.</param>
/// <param name="Code">The HTTP status of the check's answer, if there was one.</param>
/// <param name="Line">The whole line.</param>
public sealed record ServerStateChange(string State, string Reason, int? Code, string Line);
