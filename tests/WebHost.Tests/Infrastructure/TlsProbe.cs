using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace EpollTransport.WebHost.Tests.Infrastructure;

/// <summary>Looks at what an HTTPS endpoint presents, from a raw TLS client (no HTTP).</summary>
public static class TlsProbe
{
    /// <summary>
    /// Connects, does a TLS handshake that sends <paramref name="serverName"/> as SNI (none when it is empty)
    /// and accepts any certificate, and returns the certificate the server presented.
    /// </summary>
    /// <param name="address">The endpoint (host and port).</param>
    /// <param name="serverName">The SNI host name; empty for none.</param>
    /// <param name="cancellationToken">Bounds the connection and the handshake.</param>
    /// <returns>The served certificate's SHA-256 thumbprint (hex, upper case), as <see cref="TestCertificate.Sha256Thumbprint"/>.</returns>
    public static async Task<string> ServedCertificateAsync(Uri address, string serverName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        using var client = new TcpClient(address.HostNameType == UriHostNameType.IPv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork);
        await client.ConnectAsync(address.Host.Trim('[', ']'), address.Port, cancellationToken);
        await using var tls = new SslStream(client.GetStream());
        await tls.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions
            {
                TargetHost = serverName,
                // Any certificate: the probe reports which one was served, the test compares it.
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null,
            },
            cancellationToken);
        return tls.RemoteCertificate!.GetCertHashString(HashAlgorithmName.SHA256);
    }
}
