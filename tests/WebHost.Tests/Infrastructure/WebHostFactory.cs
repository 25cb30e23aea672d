using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// Runs the web host's real <c>Program</c> on real Kestrel (.NET 10's <see cref="WebApplicationFactory{TEntryPoint}.UseKestrel()"/>)
/// with the transport chosen through configuration, exactly as a user would choose it, and with the
/// test endpoints on. Captures the logs and the connections.
/// </summary>
public sealed class WebHostFactory : WebApplicationFactory<Program>
{
    private readonly string _transport;
    private readonly string _urls;
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly string _contentRoot;
    private readonly Action<KestrelServerOptions>? _configureKestrel;
    private readonly Action<IServiceCollection>? _configureServices;
    private IHost? _host;

    /// <summary>Creates the factory; the server starts on <see cref="WebApplicationFactory{TEntryPoint}.StartServer"/>.</summary>
    /// <param name="transport">The value of the <c>Transport</c> setting, e.g. <c>Epoll</c>.</param>
    /// <param name="urls">
    /// The <c>urls</c> to listen on; <see langword="null"/> listens on <c>http://127.0.0.1:0</c> (a dynamic port),
    /// and an empty string sets none (for endpoints configured under <c>Kestrel:Endpoints</c> or in code).
    /// </param>
    /// <param name="settings">More configuration settings.</param>
    /// <param name="contentRoot">The content root; <see langword="null"/> means <see cref="TestPaths.ContentRoot"/>.</param>
    /// <param name="configureKestrel">More Kestrel configuration in code, e.g. <c>ListenHandle</c>.</param>
    /// <param name="configureServices">More services, e.g. an <c>IStartupFilter</c> that stands in for a remote client.</param>
    /// <param name="tls">
    /// When set, every address of <paramref name="urls"/> becomes an HTTPS endpoint of <c>Kestrel:Endpoints</c> with this
    /// certificate (<see cref="TlsEndpoints"/>), served as the README configures HTTPS; the clients made here speak TLS and
    /// trust only it. An empty <paramref name="urls"/> is left alone.
    /// </param>
    public WebHostFactory(
        string transport,
        string? urls = null,
        IReadOnlyDictionary<string, string?>? settings = null,
        string? contentRoot = null,
        Action<KestrelServerOptions>? configureKestrel = null,
        Action<IServiceCollection>? configureServices = null,
        TestCertificate? tls = null)
    {
        _transport = transport;
        _contentRoot = contentRoot ?? TestPaths.ContentRoot;
        _configureKestrel = configureKestrel;
        _configureServices = configureServices;

        // Not UseKestrel(0): with a minimal-hosting Program the app starts the host on its own thread
        // right after Build(), and UseKestrel(port) rewrites the server addresses after Build() — a race
        // that sometimes fails with "Addresses cannot be modified after the server has started". The
        // address is passed as the ordinary urls setting instead, before the app is built.
        _urls = urls ?? "http://127.0.0.1:0";
        _settings = settings ?? new Dictionary<string, string?>();
        if (tls is not null && _urls.Length > 0)
        {
            Tls = tls;
            _settings = new Dictionary<string, string?>(_settings.Concat(TlsEndpoints(tls, _urls)));
            _urls = string.Empty;
        }

        UseKestrel();
    }

    /// <summary>The certificate of the HTTPS endpoints this factory made of its urls, if it did.</summary>
    public TestCertificate? Tls { get; }

    /// <summary>The scheme of the endpoints made of the urls: <c>https</c> with <see cref="Tls"/>, else <c>http</c>.</summary>
    public string Scheme => Tls is null ? "http" : "https";

    /// <summary>Every log entry the server wrote, at every level.</summary>
    public LogSink Logs { get; } = new();

    /// <summary>The connections Kestrel dispatched.</summary>
    public ConnectionTracker Connections { get; } = new();

    /// <summary>The running host (after <see cref="WebApplicationFactory{TEntryPoint}.StartServer"/>).</summary>
    public IHost Host => _host ?? throw new InvalidOperationException("The server has not started.");

    /// <summary>The addresses Kestrel listens on, with the real ports.</summary>
    public IReadOnlyList<string> Addresses =>
        [.. Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses];

    /// <summary>The first address as a URI (e.g. <c>http://127.0.0.1:40123/</c>).</summary>
    public Uri BaseAddress => new(Addresses[0]);

    /// <summary>The first address with the given scheme.</summary>
    /// <param name="scheme"><c>http</c> or <c>https</c>.</param>
    /// <returns>The address as a URI.</returns>
    public Uri AddressFor(string scheme) =>
        new(Addresses.First(a => a.StartsWith(scheme + "://", StringComparison.OrdinalIgnoreCase)));

    /// <summary>The first TCP address as an end point for raw sockets.</summary>
    public IPEndPoint EndPoint
    {
        get
        {
            var uri = BaseAddress;
            return new IPEndPoint(IPAddress.Parse(uri.Host.Trim('[', ']')), uri.Port);
        }
    }

    /// <summary>
    /// An <see cref="HttpClient"/> for <see cref="BaseAddress"/>, bounded by <see cref="Timeouts.Default"/> (over TLS it
    /// trusts only <see cref="Tls"/>).
    /// </summary>
    /// <returns>A new client; dispose it.</returns>
    public HttpClient CreateHttpClient()
    {
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false };
        Tls?.Trust(handler.SslOptions);
        return new(handler) { BaseAddress = BaseAddress, Timeout = Timeouts.Default };
    }

    /// <summary>A <see cref="RawHttpConnection"/> to <see cref="EndPoint"/>, over TLS with <see cref="Tls"/>.</summary>
    /// <param name="cancellationToken">Bounds the connect and the handshake.</param>
    /// <param name="receiveBufferSize">See <see cref="RawHttpConnection.ConnectAsync"/>.</param>
    /// <returns>The connection.</returns>
    public Task<RawHttpConnection> ConnectAsync(CancellationToken cancellationToken, int? receiveBufferSize = null) =>
        RawHttpConnection.ConnectAsync(EndPoint, cancellationToken, receiveBufferSize, Tls);

    /// <summary>A <see cref="RawHttpConnection"/> to another of this server's end points, over TLS with <see cref="Tls"/>.</summary>
    /// <param name="endPoint">The end point (TCP or Unix domain socket).</param>
    /// <param name="cancellationToken">Bounds the connect and the handshake.</param>
    /// <returns>The connection.</returns>
    public Task<RawHttpConnection> ConnectAsync(EndPoint endPoint, CancellationToken cancellationToken) =>
        RawHttpConnection.ConnectAsync(endPoint, cancellationToken, receiveBufferSize: null, Tls);

    /// <summary>A GET of <paramref name="path"/> on a new connection of its own (<see cref="ConnectAsync(EndPoint, CancellationToken)"/>).</summary>
    /// <param name="path">The request target.</param>
    /// <param name="cancellationToken">Bounds the exchange.</param>
    /// <param name="endPoint">The end point; <see langword="null"/> for <see cref="EndPoint"/>.</param>
    /// <returns>The response's status code and body.</returns>
    public async Task<(int Status, string Body)> GetOnNewConnectionAsync(string path, CancellationToken cancellationToken, EndPoint? endPoint = null)
    {
        using var connection = await ConnectAsync(endPoint ?? EndPoint, cancellationToken);
        await connection.SendAsync(RawHttpConnection.Get(path), cancellationToken);
        var response = await connection.ReadResponseAsync(cancellationToken);
        return (response.StatusCode, response.BodyText);
    }

    /// <summary>Starts the server and returns it.</summary>
    /// <returns>This factory.</returns>
    /// <exception cref="TimeoutException">The server did not start within <see cref="Timeouts.Default"/>.</exception>
    public WebHostFactory Start()
    {
        // StartServer waits for the application to report that it started, without a time limit.
        Task.Run(StartServer).WaitAsync(Timeouts.Default).GetAwaiter().GetResult();
        return this;
    }

    /// <inheritdoc />
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        builder.UseContentRoot(_contentRoot);
        builder.UseSetting("Transport", _transport);
        builder.UseSetting("EnableTestEndpoints", "true");
        builder.UseSetting(WebHostDefaults.ServerUrlsKey, _urls);

        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureLogging(logging =>
        {
            // The tests read the logs from the sink (and print what matters); no console noise.
            logging.ClearProviders();
            logging.AddProvider(new CapturingLoggerProvider(Logs));

            // The app's own filters stop most Kestrel categories below Warning; this provider sees everything.
            logging.AddFilter<CapturingLoggerProvider>(category: null, LogLevel.Trace);
        });

        // Through the host's endpoint defaults: Kestrel keeps only one such action, and the host sets it.
        builder.ConfigureServices(services => services
            .AddEndpointDefaults(listenOptions => listenOptions.Use(Connections.Middleware))
            .Configure<KestrelServerOptions>(options => _configureKestrel?.Invoke(options)));
        if (_configureServices is not null)
        {
            builder.ConfigureServices(_configureServices);
        }
    }

    /// <summary>
    /// Starts a server with no urls and <paramref name="settings"/> (endpoints under <c>Kestrel:Endpoints</c>); if it
    /// does not start, its logs go to <paramref name="output"/>.
    /// </summary>
    /// <param name="transport">The <c>Transport</c> setting.</param>
    /// <param name="settings">The configuration settings.</param>
    /// <param name="output">The test output.</param>
    /// <returns>The started server.</returns>
    public static WebHostFactory StartWithSettings(string transport, IReadOnlyDictionary<string, string?> settings, Xunit.Abstractions.ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var factory = new WebHostFactory(transport, urls: string.Empty, settings: settings);
        try
        {
            return factory.Start();
        }
        catch
        {
            output.WriteLine(string.Join(Environment.NewLine, factory.Logs.All));
            throw;
        }
    }

    /// <summary>
    /// Each address of <paramref name="urls"/> (separated by <c>;</c>) as an HTTPS endpoint of <c>Kestrel:Endpoints</c>
    /// (<c>Tls0</c>, <c>Tls1</c>, …) with the certificate's PEM files: <c>http://127.0.0.1:0</c> becomes
    /// <c>https://127.0.0.1:0</c>, <c>http://unix:/path</c> <c>https://unix:/path</c>.
    /// </summary>
    /// <param name="certificate">The certificate.</param>
    /// <param name="urls">The addresses.</param>
    /// <returns>The settings.</returns>
    public static IEnumerable<KeyValuePair<string, string?>> TlsEndpoints(TestCertificate certificate, string urls)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(urls);
        var addresses = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return addresses.SelectMany((url, i) =>
        {
            var https = url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? "https://" + url["http://".Length..] : url;
            return certificate.PemEndpoint($"Tls{i}", https);
        });
    }

    /// <inheritdoc />
    protected override IHost CreateHost(IHostBuilder builder)
    {
        var host = base.CreateHost(builder);
        _host = host;
        return host;
    }
}
