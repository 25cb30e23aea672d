using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// Client certificates with Kestrel's rules: <c>RequireCertificate</c> refuses a handshake without one,
/// <c>AllowCertificate</c> accepts none; a certificate whose chain is not valid (self-signed, expired) is
/// refused unless <c>ClientCertificateValidation</c> accepts it, and whatever that callback refuses is
/// refused. The accepted certificate is the request's <c>ITlsConnectionFeature.ClientCertificate</c>.
/// </summary>
public class TlsClientCertificateTests
{
    private static readonly Lazy<X509Certificate2> s_client = new(() => TestCertificates.CreateClient("client"));

    [Fact]
    public async Task ARequiredCertificateThatTheValidationAcceptsReachesTheRequest()
    {
        X509Certificate2? seen = null;
        await using var app = await StartAsync(ClientCertificateMode.RequireCertificate, (certificate, _, _) =>
        {
            seen = certificate;
            return true;
        });

        await using var stream = await TlsClient.ConnectAsync(app.Port, clientCertificate: s_client.Value);
        string response = await TlsClient.GetAsync(stream, "/");
        Assert.Contains($"cert={s_client.Value.Thumbprint}", response);
        Assert.Equal(s_client.Value.Thumbprint, seen?.Thumbprint);
    }

    [Fact]
    public async Task ARequiredCertificateThatIsMissingFailsTheHandshake()
    {
        await using var app = await StartAsync(ClientCertificateMode.RequireCertificate, (_, _, _) => true);

        await AssertRefusedAsync(app, clientCertificate: null);
    }

    [Fact]
    public async Task AnAllowedCertificateMayBeMissing()
    {
        await using var app = await StartAsync(ClientCertificateMode.AllowCertificate, validation: null);

        await using var stream = await TlsClient.ConnectAsync(app.Port);
        Assert.Contains("cert=none", await TlsClient.GetAsync(stream, "/"));
    }

    [Theory]
    [InlineData(ClientCertificateMode.AllowCertificate)]
    [InlineData(ClientCertificateMode.RequireCertificate)]
    public async Task AnUntrustedCertificateIsRefusedWithoutAValidationCallback(ClientCertificateMode mode)
    {
        await using var app = await StartAsync(mode, validation: null);

        await AssertRefusedAsync(app, s_client.Value);
        Assert.Contains(app.Events("TlsHandshakeFailed"), e => e.Message.Contains("chain is not valid", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WhatTheValidationCallbackRefusesIsRefused()
    {
        await using var app = await StartAsync(ClientCertificateMode.RequireCertificate, (_, _, _) => false);

        await AssertRefusedAsync(app, s_client.Value);
        Assert.Contains(app.Events("TlsHandshakeFailed"), e => e.Message.Contains("ClientCertificateValidation refused", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnExpiredCertificateIsReportedAsAChainError()
    {
        using var expired = TestCertificates.CreateClient("expired", DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(-1));
        System.Net.Security.SslPolicyErrors? errors = null;
        X509ChainStatusFlags flags = X509ChainStatusFlags.NoError;
        await using var app = await StartAsync(ClientCertificateMode.RequireCertificate, (_, chain, e) =>
        {
            errors = e;
            flags = chain!.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
            return false;
        });

        await AssertRefusedAsync(app, expired);
        Assert.Equal(System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors, errors);
        Assert.True(flags.HasFlag(X509ChainStatusFlags.NotTimeValid), $"chain status {flags}");
    }

    [Fact]
    public async Task AnExpiredServerCertificateIsServedAndTheClientRefusesIt()
    {
        // The server does not judge its own certificate (as with SslStream); a validating client refuses it.
        using var expired = TestCertificates.CreateServer("localhost", DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(-1));
        await using var app = await TlsApp.StartAsync(k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(expired)));

        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
        {
            // Trust the certificate itself; the expiry must still show.
            chain!.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(expired);
            return chain.Build(new X509Certificate2(certificate!));
        };
        using var client = new HttpClient(handler) { Timeout = TransportHarness.Timeout };
        var error = await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.GetStringAsync($"https://localhost:{app.Port}/"));
        Assert.IsType<AuthenticationException>(error.InnerException);
    }

    private static async Task AssertRefusedAsync(TlsApp app, X509Certificate2? clientCertificate)
    {
        // TLS 1.3 finishes the client's side before the server has judged its certificate: the refusal
        // arrives as an alert on the first read, where TLS 1.2 fails the handshake itself.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var stream = await TlsClient.ConnectAsync(app.Port, clientCertificate: clientCertificate);
            await TlsClient.GetAsync(stream, "/");
        });
        await app.WaitForEventAsync("TlsHandshakeFailed");
        Assert.Equal(0, app.KestrelConnectionsStarted);
    }

    private static Task<TlsApp> StartAsync(ClientCertificateMode mode, Func<X509Certificate2, X509Chain?, System.Net.Security.SslPolicyErrors, bool>? validation)
        => TlsApp.StartAsync(
            k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = TestCertificates.Server,
                ClientCertificateMode = mode,
                ClientCertificateValidation = validation,
            })),
            map: app => app.MapGet("/", (HttpContext context) => $"cert={context.Connection.ClientCertificate?.Thumbprint ?? "none"}"));
}
