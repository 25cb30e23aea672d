using EpollTransport.Interop;

namespace EpollTransport.Internal.Tls;

/// <summary>Whether the system's OpenSSL 3 can be used: loaded once, on the first bind of a TLS endpoint.</summary>
internal static class OpenSslLibrary
{
    private const nuint MinimumVersion = 0x30000000; // OpenSSL 3.0.0

    private static readonly Lazy<string?> s_unavailableReason = new(Probe);

    /// <summary><see langword="null"/> when usable; otherwise why not, for the fallback warning.</summary>
    public static string? UnavailableReason => s_unavailableReason.Value;

    private static string? Probe()
    {
        try
        {
            nuint version = LibCrypto.VersionNumber();
            if (version < MinimumVersion)
            {
                return $"the system's OpenSSL is version 0x{version:x}; 3.0 or later is needed.";
            }

            return OpenSsl.InitSsl(0, 0) == 1 ? null : $"OPENSSL_init_ssl failed: {OpenSslError.Drain()}";
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return $"{OpenSsl.Library} or {LibCrypto.Library} could not be loaded ({ex.Message}). Install OpenSSL 3 (Debian and Ubuntu: libssl3).";
        }
    }
}
