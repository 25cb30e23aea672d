using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>
/// A self-signed server certificate for <c>localhost</c>, <c>127.0.0.1</c> and <c>::1</c>, made at run time with
/// <see cref="CertificateRequest"/> (no dev-cert tooling) and written to a temporary directory as PEM
/// (certificate and PKCS#8 key) and as a password-protected PFX. Disposing deletes the files.
/// </summary>
public sealed class TestCertificate : IDisposable
{
    private TestCertificate(string directory, string thumbprint)
    {
        Directory = directory;
        Sha256Thumbprint = thumbprint;
    }

    /// <summary>The temporary directory holding the files.</summary>
    public string Directory { get; }

    /// <summary>The certificate in PEM.</summary>
    public string CertificatePemPath => Path.Combine(Directory, "server.crt");

    /// <summary>The private key in PEM (unencrypted PKCS#8).</summary>
    public string KeyPemPath => Path.Combine(Directory, "server.key");

    /// <summary>Certificate and key in PKCS#12, protected by <see cref="PfxPassword"/>.</summary>
    public string PfxPath => Path.Combine(Directory, "server.pfx");

    /// <summary>The PFX's password.</summary>
    public static string PfxPassword => "test-password";

    /// <summary>The certificate's SHA-256 thumbprint (hex, upper case): what clients pin.</summary>
    public string Sha256Thumbprint { get; }

    /// <summary>Creates the certificate and its files.</summary>
    /// <returns>The certificate.</returns>
    public static TestCertificate Create()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("webhost-tls-").FullName;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], false));

        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var result = new TestCertificate(directory, certificate.GetCertHashString(HashAlgorithmName.SHA256));
        File.WriteAllText(result.CertificatePemPath, certificate.ExportCertificatePem());
        File.WriteAllText(result.KeyPemPath, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllBytes(result.PfxPath, certificate.Export(X509ContentType.Pfx, PfxPassword));
        return result;
    }

    /// <summary>
    /// The standard Kestrel configuration of an HTTPS endpoint with this certificate in PEM:
    /// <c>Kestrel:Endpoints:{name}:Url</c>, <c>…:Certificate:Path</c> and <c>…:Certificate:KeyPath</c>.
    /// </summary>
    /// <param name="name">The endpoint's name.</param>
    /// <param name="url">Its URL.</param>
    /// <returns>The settings.</returns>
    public Dictionary<string, string?> PemEndpoint(string name, string url = "https://127.0.0.1:0") => new()
    {
        [$"Kestrel:Endpoints:{name}:Url"] = url,
        [$"Kestrel:Endpoints:{name}:Certificate:Path"] = CertificatePemPath,
        [$"Kestrel:Endpoints:{name}:Certificate:KeyPath"] = KeyPemPath,
    };

    /// <summary><see cref="PemEndpoint"/> as command-line arguments (<c>--Kestrel:Endpoints:{name}:Url URL</c>, …).</summary>
    /// <param name="name">The endpoint's name.</param>
    /// <param name="url">Its URL.</param>
    /// <returns>The arguments.</returns>
    public IEnumerable<string> PemEndpointArguments(string name, string url = "https://127.0.0.1:0") =>
        PemEndpoint(name, url).SelectMany(setting => new[] { "--" + setting.Key, setting.Value! });

    /// <summary>The same with the PFX: <c>…:Certificate:Path</c> and <c>…:Certificate:Password</c>.</summary>
    /// <param name="name">The endpoint's name.</param>
    /// <param name="url">Its URL.</param>
    /// <returns>The settings.</returns>
    public Dictionary<string, string?> PfxEndpoint(string name, string url = "https://127.0.0.1:0") => new()
    {
        [$"Kestrel:Endpoints:{name}:Url"] = url,
        [$"Kestrel:Endpoints:{name}:Certificate:Path"] = PfxPath,
        [$"Kestrel:Endpoints:{name}:Certificate:Password"] = PfxPassword,
    };

    /// <summary>
    /// An <see cref="HttpClient"/> that speaks exactly <paramref name="version"/>
    /// (<see cref="HttpVersionPolicy.RequestVersionExact"/>) and trusts only this certificate.
    /// </summary>
    /// <param name="baseAddress">The server.</param>
    /// <param name="version">The HTTP version.</param>
    /// <returns>The client; dispose it.</returns>
    public HttpClient CreateClient(Uri baseAddress, Version version)
    {
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false };
        Trust(handler.SslOptions);
        return new HttpClient(handler)
        {
            BaseAddress = baseAddress,
            Timeout = Timeouts.Default,
            DefaultRequestVersion = version,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    /// <summary>Makes a TLS client trust this certificate, and only it (pinned by its thumbprint).</summary>
    /// <param name="options">The client's options.</param>
    public void Trust(SslClientAuthenticationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            certificate is not null &&
            string.Equals(certificate.GetCertHashString(HashAlgorithmName.SHA256), Sha256Thumbprint, StringComparison.OrdinalIgnoreCase);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: it is a temporary directory.
        }
    }
}
