using System.Net;
using EpollTransport.Internal.Tls;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Tests.Tls;

/// <summary>
/// Kernel TLS detection: the kernel's list of TCP upper-layer protocols (<c>/proc/sys/net/ipv4/tcp_available_ulp</c>,
/// injected here) decides whether it offers the <c>tls</c> ULP; the transport reports that once, at its first TLS
/// endpoint, and says it does not use it.
/// </summary>
public class KernelTlsTests
{
    public static TheoryData<string?, string> Lists => new()
    {
        { "espintcp mptcp tls\n", nameof(KernelTlsSupport.Offered) },
        { "tls\n", nameof(KernelTlsSupport.Offered) },
        { "tls mptcp", nameof(KernelTlsSupport.Offered) },
        { "mptcp\n", nameof(KernelTlsSupport.NotOffered) },
        { "\n", nameof(KernelTlsSupport.NotOffered) },
        { string.Empty, nameof(KernelTlsSupport.NotOffered) },
        { "ktls tls_sw tlsx\n", nameof(KernelTlsSupport.NotOffered) }, // whole names only
        { "TLS\n", nameof(KernelTlsSupport.NotOffered) }, // the kernel's names are lower case
        { null, nameof(KernelTlsSupport.Unknown) },
    };

    [Theory]
    [MemberData(nameof(Lists))]
    public void TheTlsUlpIsFoundByItsWholeName(string? availableUlps, string expected)
        => Assert.Equal(Enum.Parse<KernelTlsSupport>(expected), KernelTls.Detect(availableUlps));

    [Fact]
    public void TheDescriptionNamesTheListAndNeverClaimsKernelTlsIsUsed()
    {
        var offered = KernelTls.Describe("espintcp mptcp tls\n");
        Assert.Contains("offers the 'tls' ULP", offered, StringComparison.Ordinal);
        Assert.Contains("'espintcp mptcp tls'", offered, StringComparison.Ordinal);

        var notOffered = KernelTls.Describe("mptcp\n");
        Assert.Contains("does not offer the 'tls' ULP", notOffered, StringComparison.Ordinal);
        Assert.Contains("'mptcp'", notOffered, StringComparison.Ordinal);
        Assert.Contains("modprobe tls", notOffered, StringComparison.Ordinal);

        Assert.Contains("cannot be read", KernelTls.Describe(null), StringComparison.Ordinal);
        Assert.All(new[] { offered, notOffered, KernelTls.Describe(null) }, d => Assert.EndsWith("kernel TLS is not used.", d, StringComparison.Ordinal));
    }

    [Fact]
    public void TheRealListIsTheKernelsFile()
    {
        // Whatever this machine's kernel offers: the detection reads the file the kernel documents (every Linux
        // since 4.13 has it), unchanged. The path is spelt out here: taken from KernelTls, a wrong one would match itself.
        var expected = File.ReadAllText("/proc/sys/net/ipv4/tcp_available_ulp");
        Assert.Equal(expected, KernelTls.ReadAvailableUlps());
    }

    [Fact]
    public async Task TheTransportReportsItOnceAtItsFirstTlsEndpoint()
    {
        var reads = 0;
        await using var app = await TlsApp.StartAsync(
            k =>
            {
                k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(TestCertificates.Server));
                k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(TestCertificates.Server));
            },
            map: web => web.Services.GetEpollFactory().TlsBuilder.ReadAvailableUlps = () =>
            {
                Interlocked.Increment(ref reads);
                return "espintcp mptcp tls\n";
            });

        Assert.Equal(2, app.Events("TlsEndpointBound").Count);
        var report = Assert.Single(app.Events("KernelTls"));
        Assert.Equal(LogLevel.Debug, report.Level);
        Assert.Equal($"Kernel TLS: {KernelTls.Describe("espintcp mptcp tls\n")}", report.Message);
        Assert.Equal(1, reads);
    }

    [Fact]
    public async Task AnEndpointLeftToKestrelsTlsReportsNothing()
    {
        await using var app = await TlsApp.StartAsync(
            k => k.Listen(IPAddress.Loopback, 0, o => o.UseEpollTls(new Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions
            {
                ServerCertificate = TestCertificates.Server,
                OnAuthenticate = (_, _) => { },
            })));

        Assert.Single(app.Events("TlsFallback"));
        Assert.Empty(app.Events("KernelTls"));
    }
}
