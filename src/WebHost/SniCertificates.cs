using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;

namespace EpollTransport.WebHost;

/// <summary>
/// An endpoint's <c>Sni</c> configuration section as a certificate selector by host name, for the transport's
/// TLS, with Kestrel's matching rules: an exact name (any case) first, then the longest <c>*.suffix</c> wildcard,
/// then <c>*</c>; no match (or no name sent) and no <c>*</c> fails the handshake. An entry without a
/// certificate uses the endpoint's. Only certificates can vary by name here: an entry that sets
/// <c>Protocols</c>, <c>SslProtocols</c> or <c>ClientCertificateMode</c>, or a certificate from a store, is
/// left to Kestrel's own SNI support (the whole endpoint then uses <c>SslStream</c>).
/// </summary>
internal static class SniCertificates
{
    private static readonly string[] s_supportedCertificateKeys = ["Path", "KeyPath", "Password"];

    /// <summary>Reads the section and loads its certificates.</summary>
    /// <param name="sni">The endpoint's <c>Sni</c> section (not empty).</param>
    /// <param name="endpointCertificate">The endpoint's own certificate (or the default one), if any.</param>
    /// <param name="contentRoot">Where relative certificate paths start, as in Kestrel.</param>
    /// <param name="selector">The selector, when the section can be expressed.</param>
    /// <param name="reason">Why not, otherwise.</param>
    /// <returns>Whether <paramref name="selector"/> was made.</returns>
    public static bool TryCreateSelector(
        IConfigurationSection sni,
        X509Certificate2? endpointCertificate,
        string contentRoot,
        [NotNullWhen(true)] out Func<ConnectionContext?, string?, X509Certificate2?>? selector,
        [NotNullWhen(false)] out string? reason)
    {
        ArgumentNullException.ThrowIfNull(sni);
        var exact = new Dictionary<string, X509Certificate2?>(StringComparer.OrdinalIgnoreCase);
        var wildcards = new List<(string Suffix, X509Certificate2? Certificate)>();
        X509Certificate2? any = null;
        var hasAny = false;
        selector = null;

        foreach (var entry in sni.GetChildren())
        {
            var unsupported = entry.GetChildren().Select(c => c.Key).FirstOrDefault(k => !string.Equals(k, "Certificate", StringComparison.OrdinalIgnoreCase));
            var certificateSection = entry.GetSection("Certificate");
            var unsupportedCertificateKey = certificateSection.GetChildren().Select(c => c.Key)
                .FirstOrDefault(k => !s_supportedCertificateKeys.Contains(k, StringComparer.OrdinalIgnoreCase));
            if (unsupported is not null || unsupportedCertificateKey is not null)
            {
                reason = $"its Sni entry '{entry.Key}' sets {unsupported ?? "Certificate:" + unsupportedCertificateKey}, which only Kestrel's SNI support applies";
                return false;
            }

            var certificate = Load(certificateSection, contentRoot) ?? endpointCertificate;
            var name = entry.Key.Trim();
            if (name == "*")
            {
                (any, hasAny) = (certificate, true);
            }
            else if (name.StartsWith("*.", StringComparison.Ordinal))
            {
                wildcards.Add((name[1..], certificate));
            }
            else
            {
                exact[name] = certificate;
            }
        }

        // Longest suffix first, so that *.a.example.com wins over *.example.com.
        wildcards.Sort((a, b) => b.Suffix.Length.CompareTo(a.Suffix.Length));
        selector = (_, hostName) =>
        {
            if (!string.IsNullOrEmpty(hostName))
            {
                if (exact.TryGetValue(hostName, out var certificate))
                {
                    return certificate;
                }

                foreach (var (suffix, wildcard) in wildcards)
                {
                    if (hostName.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                    {
                        return wildcard;
                    }
                }
            }

            return hasAny ? any : null;
        };
        reason = null;
        return true;
    }

    /// <summary>A certificate file as Kestrel reads it: PEM or DER with <c>KeyPath</c>, else PKCS#12.</summary>
    private static X509Certificate2? Load(IConfigurationSection certificate, string contentRoot)
    {
        var path = certificate["Path"];
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        path = Path.Combine(contentRoot, path);
        var keyPath = certificate["KeyPath"] is { Length: > 0 } key ? Path.Combine(contentRoot, key) : null;
        var password = certificate["Password"];
        if (keyPath is null)
        {
            return X509CertificateLoader.LoadPkcs12FromFile(path, password);
        }

        return password is null
            ? X509Certificate2.CreateFromPemFile(path, keyPath)
            : X509Certificate2.CreateFromEncryptedPemFile(path, password, keyPath);
    }
}
