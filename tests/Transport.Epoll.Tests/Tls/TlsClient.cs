using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace EpollTransport.Tests.Tls;

/// <summary>Raw TLS clients (SslStream over a socket) for what HttpClient does not expose.</summary>
internal static class TlsClient
{
    /// <summary>Sends one HTTP/1.1 request with <c>Connection: close</c> and reads the response to its end.</summary>
    public static async Task<string> GetAsync(SslStream stream, string path, string host = "localhost")
    {
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"));
        using var reader = new StreamReader(stream, leaveOpen: true);
        return await reader.ReadToEndAsync().WaitAsync(TransportHarness.Timeout);
    }

    /// <summary>
    /// Connects and completes a handshake; the stream trusts exactly <paramref name="serverCertificate"/> (the
    /// test certificate by default). <paramref name="wrap"/> puts a stream of the test's between TLS and the socket.
    /// </summary>
    public static async Task<SslStream> ConnectAsync(
        int port,
        string? targetHost = "localhost",
        SslProtocols protocols = SslProtocols.None,
        List<SslApplicationProtocol>? alpn = null,
        X509Certificate2? serverCertificate = null,
        X509Certificate2? clientCertificate = null,
        Func<Stream, Stream>? wrap = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WaitAsync(TransportHarness.Timeout);
        return await HandshakeAsync(socket, targetHost, protocols, alpn, serverCertificate, clientCertificate, wrap);
    }

    /// <summary>As <see cref="ConnectAsync"/>, over a <paramref name="socket"/> already connected (the stream owns it).</summary>
    public static async Task<SslStream> HandshakeAsync(
        Socket socket,
        string? targetHost = "localhost",
        SslProtocols protocols = SslProtocols.None,
        List<SslApplicationProtocol>? alpn = null,
        X509Certificate2? serverCertificate = null,
        X509Certificate2? clientCertificate = null,
        Func<Stream, Stream>? wrap = null)
    {
        var expected = serverCertificate ?? TestCertificates.Server;
        Stream inner = new NetworkStream(socket, ownsSocket: true);
        var stream = new SslStream(wrap is null ? inner : wrap(inner), leaveInnerStreamOpen: false);
        try
        {
            await stream.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = targetHost,
                EnabledSslProtocols = protocols,
                ApplicationProtocols = alpn ?? [SslApplicationProtocol.Http11],
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == expected.GetCertHashString(),
                ClientCertificates = clientCertificate is null ? null : [clientCertificate],
                LocalCertificateSelectionCallback = clientCertificate is null ? null : (_, _, _, _, _) => clientCertificate,
            }).WaitAsync(TransportHarness.Timeout);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }
}
