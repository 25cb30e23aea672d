using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// Certificate files changed on disk are picked up as Kestrel picks them up, whichever engine terminates TLS.
/// Kestrel (its CertificatePathWatcher, with the host's reload-on-change configuration) watches the
/// <c>Certificate:Path</c> of every endpoint, of every <c>Sni</c> entry and of <c>Kestrel:Certificates:Default</c>
/// (not <c>KeyPath</c>: the key goes first, the certificate last), fires when the file's modification time
/// advances or a symbolic link's target changes (certbot's <c>live/</c> links, Kubernetes secrets), ignores a
/// deleted file, then reloads and rebinds the endpoints that use the changed file; on the epoll transport the
/// rebind runs the web host's <c>UseEpollTls</c> callback again. Each case runs on both engines, Kestrel's
/// <c>SslStream</c> being the reference. A reload unbinds and rebinds a fixed port, so the port is one outside the
/// ephemeral range: from a port of that range, an outgoing connection of a test alongside could take it as its source
/// port in the window between, and the rebind would then fail (the likely cause of one Sni case that never saw its new
/// certificate in a loaded CI run, 028d4c8).
/// </summary>
/// <param name="output">The test output.</param>
public sealed class CertificateReloadTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> Cases()
    {
        var cases = new TheoryData<string, string>();
        foreach (var engine in new[] { "Epoll", "SslStream" })
        {
            foreach (var watched in new[] { "Endpoint", "Default", "Sni", "Symlink" })
            {
                cases.Add(engine, watched);
            }
        }

        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task AChangedCertificateFileIsServedAfterKestrelReloads(string engine, string watched)
    {
        using var first = TestCertificate.Create();
        using var second = TestCertificate.Create();
        using var cts = Timeouts.Create();

        // The files the configuration names; a fixed port, because a rebind of port 0 would get another one (see above).
        var names = Directory.CreateTempSubdirectory("webhost-reload-").FullName;
        try
        {
            var certificatePath = Path.Combine(names, "server.crt");
            var keyPath = Path.Combine(names, "server.key");
            Install(first, certificatePath, keyPath, asLinks: watched == "Symlink");
            var sniName = watched == "Sni" ? "b.example" : "localhost";
            var settings = Settings(watched, $"https://127.0.0.1:{LoopbackPort.FreeOutsideEphemeralRange()}", certificatePath, keyPath, fallback: second);
            settings["TlsEngine"] = engine;

            await using var factory = WebHostFactory.StartWithSettings("Epoll", settings, output);
            var address = factory.AddressFor("https");
            Assert.Equal(first.Sha256Thumbprint, await TlsProbe.ServedCertificateAsync(address, sniName, cts.Token));
            var mark = factory.Logs.Mark;

            // As an operator or certbot does: the key first, the certificate (the watched file) last.
            Install(second, certificatePath, keyPath, asLinks: watched == "Symlink");

            await Eventually.HoldsAsync(
                async () => await TlsProbe.ServedCertificateOrEmptyAsync(address, sniName, cts.Token) == second.Sha256Thumbprint,
                $"the new certificate is served ({watched}, {engine})",
                Timeouts.Default);
            Assert.Equal(engine == "Epoll", factory.Logs.Since(mark).Any(LogSink.IsTlsEndpointBound));
            if (watched != "Sni")
            {
                await TlsProbe.AssertServesHttp2Async(second, address, cts.Token);
            }
        }
        finally
        {
            Directory.Delete(names, recursive: true);
        }
    }

    /// <summary>The endpoint's configuration with the certificate files where <paramref name="watched"/> says.</summary>
    private static Dictionary<string, string?> Settings(string watched, string url, string certificatePath, string keyPath, TestCertificate fallback)
    {
        var settings = new Dictionary<string, string?> { ["Kestrel:Endpoints:Https:Url"] = url };
        var prefix = watched switch
        {
            "Default" => "Kestrel:Certificates:Default",
            "Sni" => "Kestrel:Endpoints:Https:Sni:b.example:Certificate",
            _ => "Kestrel:Endpoints:Https:Certificate",
        };
        settings[$"{prefix}:Path"] = certificatePath;
        settings[$"{prefix}:KeyPath"] = keyPath;
        if (watched == "Sni")
        {
            // Names other than b.example get the endpoint's own certificate, which does not change.
            settings["Kestrel:Endpoints:Https:Certificate:Path"] = fallback.PfxPath;
            settings["Kestrel:Endpoints:Https:Certificate:Password"] = TestCertificate.PfxPassword;
        }

        return settings;
    }

    /// <summary>
    /// Puts <paramref name="certificate"/>'s PEM files under the configured names: copies over the old ones, or, with
    /// <paramref name="asLinks"/>, symbolic links to copies in a directory of their own, switched by rename as
    /// certbot switches <c>live/</c> to a new <c>archive/</c> version.
    /// </summary>
    private static void Install(TestCertificate certificate, string certificatePath, string keyPath, bool asLinks)
    {
        if (!asLinks)
        {
            File.Copy(certificate.KeyPemPath, keyPath, overwrite: true);
            File.Copy(certificate.CertificatePemPath, certificatePath, overwrite: true);
            return;
        }

        foreach (var (target, link) in new[] { (certificate.KeyPemPath, keyPath), (certificate.CertificatePemPath, certificatePath) })
        {
            var staged = link + ".new";
            File.CreateSymbolicLink(staged, target);
            File.Move(staged, link, overwrite: true);
        }
    }
}
