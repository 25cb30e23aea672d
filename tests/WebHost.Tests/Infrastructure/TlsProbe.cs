using System.Net;
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

    /// <summary>
    /// <see cref="ServedCertificateAsync"/>, or an empty string when the connection is refused or cut, as it may be
    /// while Kestrel rebinds the endpoint.
    /// </summary>
    /// <param name="address">The endpoint.</param>
    /// <param name="serverName">The SNI host name; empty for none.</param>
    /// <param name="cancellationToken">Bounds the connection and the handshake.</param>
    /// <returns>The thumbprint, or empty.</returns>
    public static async Task<string> ServedCertificateOrEmptyAsync(Uri address, string serverName, CancellationToken cancellationToken)
    {
        try
        {
            return await ServedCertificateAsync(address, serverName, cancellationToken);
        }
        catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException)
        {
            return string.Empty;
        }
    }

    /// <summary>Asserts that <paramref name="address"/> answers <c>/plaintext</c> over HTTP/2 with <paramref name="certificate"/>.</summary>
    /// <param name="certificate">The only certificate the client trusts.</param>
    /// <param name="address">The endpoint.</param>
    /// <param name="cancellationToken">Bounds the request.</param>
    /// <returns>A task.</returns>
    public static async Task AssertServesHttp2Async(TestCertificate certificate, Uri address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var client = certificate.CreateClient(address, HttpVersion.Version20);
        using var response = await client.GetAsync(new Uri("/plaintext", UriKind.Relative), cancellationToken);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("Hello, World!", await response.Content.ReadAsStringAsync(cancellationToken));
    }
}
