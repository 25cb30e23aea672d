using System.Globalization;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// A private nginx (the Debian package's binary) in the foreground, with its own prefix, configuration, pid
/// file, logs and temporary directories in a temporary directory, listening on a free 127.0.0.1 port and
/// proxying everything to an HTTP server on a Unix domain socket, with upstream keep-alive and request bodies
/// streamed rather than spooled to disk. Disposing stops it
/// and deletes the directory.
/// </summary>
public sealed class NginxProcess : IAsyncDisposable
{
    private readonly ForegroundServer _server;

    private NginxProcess(ForegroundServer server)
    {
        _server = server;
    }

    /// <summary>The prefix directory.</summary>
    public string Directory => _server.Directory;

    /// <summary>The port nginx listens on, on 127.0.0.1.</summary>
    public int Port => _server.Port;

    /// <summary>The base address of the proxy.</summary>
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");

    /// <summary>What nginx wrote: its output and its error log.</summary>
    public string Output => Describe(_server);

    /// <summary>The configuration <see cref="StartAsync"/> writes.</summary>
    /// <param name="directory">The prefix directory.</param>
    /// <param name="port">The port to listen on.</param>
    /// <param name="upstreamSocket">The Unix domain socket of the upstream server.</param>
    /// <param name="upstreamKeepAlive">Idle upstream connections each worker keeps open.</param>
    /// <returns>The nginx.conf text.</returns>
    public static string Configuration(string directory, int port, string upstreamSocket, int upstreamKeepAlive) =>
        WithHttp(directory, string.Create(CultureInfo.InvariantCulture, $$"""
            access_log off;
            client_max_body_size 64m;

            upstream webhost {
                server unix:{{upstreamSocket}};
                keepalive {{upstreamKeepAlive}};
            }

            server {
                listen 127.0.0.1:{{port}};

                location / {
                    proxy_pass http://webhost;
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_set_header Host $host;
                    proxy_set_header X-Forwarded-For $remote_addr;
                    proxy_request_buffering off;
                }
            }
        """));

    /// <summary>Starts nginx and waits until it accepts connections.</summary>
    /// <param name="upstreamSocket">The Unix domain socket of the upstream server.</param>
    /// <param name="upstreamKeepAlive">Idle upstream connections to keep.</param>
    /// <param name="cancellationToken">Bounds the start.</param>
    /// <returns>The running nginx.</returns>
    public static Task<NginxProcess> StartAsync(string upstreamSocket, int upstreamKeepAlive, CancellationToken cancellationToken) =>
        StartWithAsync((directory, port) => Configuration(directory, port, upstreamSocket, upstreamKeepAlive), cancellationToken);

    /// <summary>
    /// Starts an nginx that serves <paramref name="root"/> itself, logging every request in its default
    /// <c>combined</c> format to <c>access.log</c> in <see cref="Directory"/>: the reference for the host's access log.
    /// </summary>
    /// <param name="root">The directory served.</param>
    /// <param name="cancellationToken">Bounds the start.</param>
    /// <returns>The running nginx.</returns>
    public static Task<NginxProcess> StartStaticAsync(string root, CancellationToken cancellationToken) =>
        StartWithAsync((directory, port) => WithHttp(directory, string.Create(CultureInfo.InvariantCulture, $$"""
            access_log {{directory}}/access.log combined;

            server {
                listen 127.0.0.1:{{port}};
                root {{root}};
            }
        """)), cancellationToken);

    /// <summary>The access log of an nginx from <see cref="StartStaticAsync"/>.</summary>
    public string AccessLogPath => Path.Combine(Directory, "access.log");

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _server.DisposeAsync();

    // The configuration around an http block's own directives: one process in the foreground, every path under directory.
    private static string WithHttp(string directory, string http) => string.Create(CultureInfo.InvariantCulture, $$"""
        # A private nginx for a test: one process in the foreground, everything under {{directory}}.
        daemon off;
        master_process off;
        worker_processes 1;
        pid {{directory}}/nginx.pid;
        error_log {{directory}}/error.log warn;

        events {
            worker_connections 512;
        }

        http {
            client_body_temp_path {{directory}}/client_body;
            proxy_temp_path {{directory}}/proxy;
            fastcgi_temp_path {{directory}}/fastcgi;
            uwsgi_temp_path {{directory}}/uwsgi;
            scgi_temp_path {{directory}}/scgi;
        {{http}}
        }
        """);

    private static async Task<NginxProcess> StartWithAsync(Func<string, int, string> configuration, CancellationToken cancellationToken)
    {
        var nginx = ExternalTool.Find("nginx") ?? throw new InvalidOperationException("nginx is not installed.");
        var directory = System.IO.Directory.CreateTempSubdirectory("webhost-nginx-").FullName;
        var port = LoopbackPort.Free();
        var configPath = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(configPath, configuration(directory, port), cancellationToken);

        // -e: the error log before the configuration is read (the default is under /var/log).
        var server = await ForegroundServer.StartAsync(
            nginx,
            ["-p", directory + "/", "-c", configPath, "-e", Path.Combine(directory, "error.log")],
            directory,
            port,
            Describe,
            cancellationToken);
        return new NginxProcess(server);
    }

    private static string Describe(ForegroundServer server)
    {
        var errorLog = Path.Combine(server.Directory, "error.log");
        return server.Output + (File.Exists(errorLog) ? File.ReadAllText(errorLog) : string.Empty);
    }
}
