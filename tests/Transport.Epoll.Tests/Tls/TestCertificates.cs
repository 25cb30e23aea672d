using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EpollTransport.Tests.Tls;

/// <summary>Self-signed ECDSA P-256 certificates made in process, for server and client sides of the TLS tests.</summary>
internal static class TestCertificates
{
    private static readonly Lazy<X509Certificate2> s_server = new(() => CreateServer("localhost"));

    /// <summary>A server certificate for <c>localhost</c>, 127.0.0.1 and ::1, valid from yesterday for a year.</summary>
    public static X509Certificate2 Server => s_server.Value;

    public static X509Certificate2 CreateServer(string name, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(name);
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        names.AddIpAddress(System.Net.IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        return Create(request, notBefore, notAfter);
    }

    public static X509Certificate2 CreateClient(string name, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        return Create(request, notBefore, notAfter);
    }

    private static X509Certificate2 Create(CertificateRequest request, DateTimeOffset? notBefore, DateTimeOffset? notAfter)
    {
        using var ephemeral = request.CreateSelfSigned(notBefore ?? DateTimeOffset.UtcNow.AddDays(-1), notAfter ?? DateTimeOffset.UtcNow.AddYears(1));

        // Through PFX, as a certificate loaded from a file would be: the key is then exportable.
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pfx), null, X509KeyStorageFlags.Exportable);
    }
}
