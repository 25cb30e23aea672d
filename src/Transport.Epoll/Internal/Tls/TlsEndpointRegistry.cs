using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace EpollTransport.Internal.Tls;

/// <summary>An endpoint that asked for the transport's TLS (<c>UseEpollTls</c>), and its settings.</summary>
/// <remarks>
/// The <see cref="ListenOptions"/> itself is kept: its endpoint and protocols are read when it is bound, as
/// Kestrel does (protocols may be set after <c>UseEpollTls</c>, and the any-IP form changes its endpoint
/// when it falls back to IPv4).
/// </remarks>
internal sealed record TlsEndpointRegistration(ListenOptions ListenOptions, HttpsConnectionAdapterOptions HttpsOptions);

/// <summary>
/// The endpoints registered for the transport's TLS, matched to the endpoint Kestrel binds. The factory's
/// <c>BindAsync</c> sees only an <see cref="EndPoint"/>; Kestrel passes the registered options' own
/// endpoint object for most forms, but binds clones for <c>localhost</c> (127.0.0.1 and [::1]) and a new
/// object for the any-IP form's IPv4 fallback, all on the registered port. So a bind matches, in order:
/// the same object; an equal endpoint (not port 0, where equal values are different endpoints); a loopback
/// address of either family on the same port as a registered <c>localhost</c> endpoint; a wildcard of either
/// family on the same port as a registered wildcard. Unix domain sockets match by path, inherited handles by handle.
/// The newest registration wins: a configuration reload registers the endpoint again.
/// </summary>
internal sealed class TlsEndpointRegistry
{
    private readonly Lock _lock = new();
    private readonly List<TlsEndpointRegistration> _registrations = [];

    public int Count => Registrations.Count;

    /// <summary>A snapshot of the registrations, oldest first.</summary>
    public IReadOnlyList<TlsEndpointRegistration> Registrations
    {
        get
        {
            lock (_lock)
            {
                return [.. _registrations];
            }
        }
    }

    public void Register(ListenOptions listenOptions, HttpsConnectionAdapterOptions httpsOptions)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        ArgumentNullException.ThrowIfNull(httpsOptions);
        lock (_lock)
        {
            // A reload's new options for the same endpoint replace the old ones; other endpoints stay.
            _registrations.RemoveAll(r => ReferenceEquals(r.ListenOptions, listenOptions) ||
                (!IsDynamicPort(listenOptions.EndPoint) && SameEndPoint(r.ListenOptions.EndPoint, listenOptions.EndPoint)));
            _registrations.Add(new TlsEndpointRegistration(listenOptions, httpsOptions));
        }
    }

    /// <summary>The registration for the endpoint being bound, or <see langword="null"/> for a plain endpoint.</summary>
    public TlsEndpointRegistration? Match(EndPoint bound)
    {
        ArgumentNullException.ThrowIfNull(bound);
        lock (_lock)
        {
            return Find(r => ReferenceEquals(r.ListenOptions.EndPoint, bound))
                ?? (IsDynamicPort(bound) ? null
                    : Find(r => SameEndPoint(r.ListenOptions.EndPoint, bound))
                    ?? Find(r => IsCloneOf(r.ListenOptions, bound)));
        }
    }

    private TlsEndpointRegistration? Find(Predicate<TlsEndpointRegistration> match)
    {
        for (int i = _registrations.Count - 1; i >= 0; i--)
        {
            if (match(_registrations[i]))
            {
                return _registrations[i];
            }
        }

        return null;
    }

    private static bool IsDynamicPort(EndPoint endPoint) => endPoint is IPEndPoint { Port: 0 };

    private static bool SameEndPoint(EndPoint registered, EndPoint bound) => (registered, bound) switch
    {
        (IPEndPoint a, IPEndPoint b) => a.Equals(b),
        (UnixDomainSocketEndPoint a, UnixDomainSocketEndPoint b) => a.ToString() == b.ToString(),
        (FileHandleEndPoint a, FileHandleEndPoint b) => a.FileHandle == b.FileHandle,
        _ => false,
    };

    /// <summary>
    /// Whether <paramref name="bound"/> is one of the endpoints Kestrel binds for a <c>localhost</c> or
    /// wildcard registration. Only a registration named <c>localhost</c> (its display name, the public
    /// <see cref="ListenOptions.ToString"/>) takes the other loopback family: an explicit 127.0.0.1 endpoint
    /// does not make a separate plain [::1] endpoint on the same port a TLS one. Two wildcards cannot share a
    /// port, so the wildcard forms need no such check.
    /// </summary>
    private static bool IsCloneOf(ListenOptions registered, EndPoint bound)
    {
        if (registered.EndPoint is not IPEndPoint a || bound is not IPEndPoint b || a.Port != b.Port)
        {
            return false;
        }

        if (IsAny(a.Address) && IsAny(b.Address))
        {
            return true;
        }

        return IPAddress.IsLoopback(a.Address) && IPAddress.IsLoopback(b.Address) &&
            (registered.ToString() ?? "").Contains("://localhost:", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsAny(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);
}
