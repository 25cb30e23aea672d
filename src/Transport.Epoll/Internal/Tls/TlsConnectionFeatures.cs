using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using EpollTransport.Interop;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace EpollTransport.Internal.Tls;

/// <summary>
/// What a finished handshake negotiated, as the features Kestrel and applications read: the presence of
/// <see cref="ITlsConnectionFeature"/> makes Kestrel's HTTPS middleware pass the connection through and the
/// request's scheme <c>https</c>; <see cref="ITlsApplicationProtocolFeature"/> (ALPN <c>h2</c>) selects HTTP/2;
/// <see cref="ITlsHandshakeFeature.Protocol"/> is what Kestrel's HTTP/2 checks (TLS 1.2 at least).
/// </summary>
internal sealed class TlsConnectionFeatures : ITlsConnectionFeature, ITlsHandshakeFeature, ITlsApplicationProtocolFeature
{
    private static readonly byte[] s_h2 = "h2"u8.ToArray();
    private static readonly byte[] s_http11 = "http/1.1"u8.ToArray();

    public X509Certificate2? ClientCertificate { get; set; }

    public ReadOnlyMemory<byte> ApplicationProtocol { get; private init; }

    public SslProtocols Protocol { get; private init; }

    public TlsCipherSuite? NegotiatedCipherSuite { get; private init; }

    public string HostName { get; private init; } = "";

    /// <summary>Whether the session was resumed from a ticket.</summary>
    public bool Resumed { get; private init; }

#pragma warning disable SYSLIB0058 // obsolete members of the interface, derived from the cipher suite
    public CipherAlgorithmType CipherAlgorithm => Suite switch
    {
        SuiteKind.Aes128 => CipherAlgorithmType.Aes128,
        SuiteKind.Aes256 => CipherAlgorithmType.Aes256,
        _ => CipherAlgorithmType.None,
    };

    public int CipherStrength => Suite switch
    {
        SuiteKind.Aes128 => 128,
        SuiteKind.None => 0,
        _ => 256,
    };

    public HashAlgorithmType HashAlgorithm => Suite == SuiteKind.Aes256 ? HashAlgorithmType.Sha384 : Suite == SuiteKind.None ? HashAlgorithmType.None : HashAlgorithmType.Sha256;

    public int HashStrength => HashAlgorithm switch
    {
        HashAlgorithmType.Sha384 => 384,
        HashAlgorithmType.Sha256 => 256,
        _ => 0,
    };

    public ExchangeAlgorithmType KeyExchangeAlgorithm => Protocol == SslProtocols.Tls12 ? (ExchangeAlgorithmType)44550 /* ECDHE */ : ExchangeAlgorithmType.None;

    public int KeyExchangeStrength => 0;
#pragma warning restore SYSLIB0058

    private enum SuiteKind
    {
        None,
        Aes128,
        Aes256,
        ChaCha20,
    }

    private SuiteKind Suite => NegotiatedCipherSuite switch
    {
        TlsCipherSuite.TLS_AES_128_GCM_SHA256 or TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 or TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => SuiteKind.Aes128,
        TlsCipherSuite.TLS_AES_256_GCM_SHA384 or TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 or TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => SuiteKind.Aes256,
        null => SuiteKind.None,
        _ => SuiteKind.ChaCha20,
    };

    private static X509Certificate2? PeerCertificate(SafeSslHandle ssl)
    {
        nint x509 = OpenSsl.GetPeerCertificate(ssl);
        if (x509 == 0)
        {
            return null;
        }

        try
        {
            return TlsCertificates.FromOpenSsl(x509);
        }
        finally
        {
            LibCrypto.X509Free(x509);
        }
    }

    public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(ClientCertificate);

    /// <summary>Reads what the finished handshake of <paramref name="session"/> negotiated.</summary>
    public static unsafe TlsConnectionFeatures From(TlsSession session)
    {
        var ssl = session.Ssl;
        byte* alpn;
        uint alpnLength;
        OpenSsl.GetAlpnSelected(ssl, &alpn, &alpnLength);
        var protocol = new ReadOnlySpan<byte>(alpn, (int)alpnLength);

        nint cipher = OpenSsl.GetCurrentCipher(ssl);
        byte* name = OpenSsl.GetServerName(ssl.DangerousGetHandle(), OpenSsl.TLSEXT_NAMETYPE_host_name);
        return new TlsConnectionFeatures
        {
            ApplicationProtocol = protocol.SequenceEqual(s_h2) ? s_h2 : protocol.SequenceEqual(s_http11) ? s_http11 : protocol.ToArray(),
#pragma warning disable CA5397 // reporting what was negotiated, not choosing a version
            Protocol = OpenSsl.Version(ssl) switch
            {
                OpenSsl.TLS1_3_VERSION => SslProtocols.Tls13,
                OpenSsl.TLS1_2_VERSION => SslProtocols.Tls12,
                _ => SslProtocols.None,
            },
#pragma warning restore CA5397
            NegotiatedCipherSuite = cipher == 0 ? null : (TlsCipherSuite)OpenSsl.CipherGetProtocolId(cipher),
            HostName = name is null ? "" : System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)name) ?? "",
            ClientCertificate = session.ClientCertificate ?? PeerCertificate(ssl), // a resumed session skips the verify callback
            Resumed = OpenSsl.SessionReused(ssl) == 1,
        };
    }
}
