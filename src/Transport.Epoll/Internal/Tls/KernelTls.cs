namespace EpollTransport.Internal.Tls;

// Kernel TLS (kTLS): after the handshake the kernel can take over a socket's record encryption (setsockopt
// TCP_ULP "tls", then TLS_TX/TLS_RX with the session's keys), so that sendfile(2) sends a file's pages encrypted
// without copying them through user space; OpenSSL 3 does it with SSL_OP_ENABLE_KTLS and SSL_sendfile. Two
// conditions: the kernel offers the "tls" upper-layer protocol (CONFIG_TLS; the ULP is listed in
// tcp_available_ulp once registered, i.e. built in or its module loaded), and OpenSSL writes the records to the
// socket itself (a socket write BIO, whose BIO_get_ktls_send then says whether this libssl build offloaded).
// The transport's TLS does not meet the second on purpose: it encrypts a flush's segments into its own buffer
// and sends them with one send(2). So the kernel's side is detected and reported once, at the first TLS bind,
// and nothing is offloaded: without a kernel that offers the ULP there is nothing to measure a gain against.

/// <summary>What the kernel offers for kernel TLS.</summary>
internal enum KernelTlsSupport
{
    /// <summary>The list of upper-layer protocols could not be read (no <c>/proc</c>, or a kernel before 4.13).</summary>
    Unknown,

    /// <summary>The kernel does not offer the <c>tls</c> upper-layer protocol (CONFIG_TLS off, or its module not loaded).</summary>
    NotOffered,

    /// <summary>The kernel offers the <c>tls</c> upper-layer protocol.</summary>
    Offered,
}

/// <summary>Detects kernel TLS support from <c>/proc/sys/net/ipv4/tcp_available_ulp</c> and describes it for the log.</summary>
internal static class KernelTls
{
    /// <summary>The kernel's space-separated list of the TCP upper-layer protocols it has registered.</summary>
    public const string AvailableUlpPath = "/proc/sys/net/ipv4/tcp_available_ulp";

    /// <summary>The contents of <see cref="AvailableUlpPath"/>, or <see langword="null"/> when it cannot be read.</summary>
    public static string? ReadAvailableUlps()
    {
        try
        {
            return File.ReadAllText(AvailableUlpPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>What <paramref name="availableUlps"/>, the contents of <see cref="AvailableUlpPath"/>, says.</summary>
    public static KernelTlsSupport Detect(string? availableUlps) =>
        availableUlps is null ? KernelTlsSupport.Unknown :
        Names(availableUlps).Contains("tls", StringComparer.Ordinal) ? KernelTlsSupport.Offered :
        KernelTlsSupport.NotOffered;

    /// <summary>One sentence for the KernelTls log event.</summary>
    public static string Describe(string? availableUlps)
    {
        const string NotUsed = "the transport's TLS encrypts records in user space with OpenSSL and sends them itself, so kernel TLS is not used.";
        var list = availableUlps is null ? string.Empty : string.Join(' ', Names(availableUlps));
        return Detect(availableUlps) switch
        {
            KernelTlsSupport.Offered => $"the kernel offers the 'tls' ULP ({AvailableUlpPath}: '{list}'), but {NotUsed}",
            KernelTlsSupport.NotOffered => $"the kernel does not offer the 'tls' ULP ({AvailableUlpPath}: '{list}'; it needs CONFIG_TLS, as a module loaded with 'modprobe tls'); {NotUsed}",
            _ => $"unknown ({AvailableUlpPath} cannot be read); {NotUsed}",
        };
    }

    private static string[] Names(string availableUlps) =>
        availableUlps.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
}
