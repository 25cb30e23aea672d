using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Internal.Tls;

/// <summary>
/// Decides at bind whether the transport terminates a registered endpoint's TLS, and builds it. Anything the
/// transport cannot honour leaves the endpoint to Kestrel's own TLS (set up by <c>UseEpollTls</c>'s
/// <c>UseHttps</c>), with a warning naming the reason: serving is never refused for it.
/// </summary>
internal sealed class TlsEndpointBuilder(EpollTransportOptions options, EpollTransportMetrics metrics, ILogger logger)
{
    private readonly Lock _lock = new();
    private readonly TlsHandshakeLimit _handshakeLimit = new(options.MaxConcurrentTlsHandshakes, logger);
    private TlsTicketKeys? _ticketKeys;
    private bool _libraryWarned;
    private bool _kernelTlsReported;

    /// <summary>Why the system's OpenSSL cannot be used, or <see langword="null"/>; replaceable by tests.</summary>
    internal Func<string?> OpenSslUnavailableReason { get; set; } = () => OpenSslLibrary.UnavailableReason;

    /// <summary>The kernel's list of TCP upper-layer protocols (<see cref="KernelTls"/>); replaceable by tests.</summary>
    internal Func<string?> ReadAvailableUlps { get; set; } = KernelTls.ReadAvailableUlps;

    /// <summary>The endpoint's TLS, or <see langword="null"/> when Kestrel's TLS serves it (logged).</summary>
    public TlsEndpoint? TryBuild(TlsEndpointRegistration registration, EndPoint boundEndPoint, EpollConnectionListener listener, int threadCount)
    {
        var https = registration.HttpsOptions;
        string? reason = Unsupported(https);
        if (reason is not null)
        {
            EpollTransportLog.TlsFallback(logger, boundEndPoint, reason);
            return null;
        }

        if (OpenSslUnavailableReason() is { } unavailable)
        {
            // One warning for the transport, not one per endpoint: the cause is the machine's.
            lock (_lock)
            {
                if (!_libraryWarned)
                {
                    _libraryWarned = true;
                    EpollTransportLog.TlsFallback(logger, boundEndPoint, unavailable);
                }
            }

            return null;
        }

        try
        {
            var context = TlsServerContext.Create(https, registration.ListenOptions.Protocols, TicketKeys());
            EpollTransportLog.TlsEndpointBound(logger, boundEndPoint, registration.ListenOptions.ToString() ?? "");
            ReportKernelTlsOnce();
            return new TlsEndpoint(context, threadCount, options, metrics, _handshakeLimit, logger, listener.QueueAccepted);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or InvalidOperationException)
        {
            EpollTransportLog.TlsFallback(logger, boundEndPoint, $"the certificate or settings could not be given to OpenSSL: {ex.Message}");
            return null;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _ticketKeys?.Dispose();
            _ticketKeys = null;
        }
    }

    /// <summary>Whether the kernel would allow kernel TLS: once per transport, at its first TLS endpoint.</summary>
    private void ReportKernelTlsOnce()
    {
        lock (_lock)
        {
            if (_kernelTlsReported)
            {
                return;
            }

            _kernelTlsReported = true;
        }

        if (logger.IsEnabled(LogLevel.Debug))
        {
            EpollTransportLog.KernelTls(logger, KernelTls.Describe(ReadAvailableUlps()));
        }
    }

    /// <summary>Settings only SslStream can honour.</summary>
    internal static string? Unsupported(HttpsConnectionAdapterOptions https)
    {
        if (https.OnAuthenticate is not null)
        {
            return "the endpoint sets OnAuthenticate, an SslStream callback OpenSSL cannot run.";
        }

        if (https.ClientCertificateMode == ClientCertificateMode.DelayCertificate)
        {
            return "ClientCertificateMode.DelayCertificate asks for a certificate by renegotiation, which the transport's TLS never does.";
        }

        if (https.TlsClientHelloBytesCallback is not null)
        {
            return "the endpoint sets TlsClientHelloBytesCallback, which only Kestrel's TLS calls.";
        }

        return null;
    }

    private TlsTicketKeys? TicketKeys()
    {
        if (options.TlsSessionTicketKeyLifetime <= TimeSpan.Zero)
        {
            return null;
        }

        lock (_lock)
        {
            return _ticketKeys ??= new TlsTicketKeys(options.TlsSessionTicketKeyLifetime);
        }
    }
}
