using System.Diagnostics.Metrics;
using System.Reflection;
using System.Text.Json;
using EpollTransport.WebHost.Monitoring;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace EpollTransport.WebHost.Dashboard;

/// <summary>
/// <c>GET /dashboard/data</c>: the JSON the dashboard page (<c>wwwroot/dashboard/</c>) polls once a second.
/// Counters are running totals; the page turns them into rates from the differences between two reads
/// over <c>uptimeSeconds</c>. Only clients <see cref="MonitoringAccess"/> allows may read it.
/// </summary>
internal static class DashboardEndpoints
{
    /// <summary>The data endpoint's path.</summary>
    public const string DataPath = "/dashboard/data";

    /// <summary>Registers <see cref="DashboardMetrics"/>.</summary>
    /// <param name="services">The host's services.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddDashboard(this IServiceCollection services)
        => services.AddSingleton<DashboardMetrics>();

    /// <summary>Maps <see cref="DataPath"/> and starts counting (Kestrel's connections are counted from now on).</summary>
    /// <param name="app">The application.</param>
    /// <param name="transport">The transport the host runs on.</param>
    /// <returns>The endpoint's builder.</returns>
    public static IEndpointConventionBuilder MapDashboard(this WebApplication app, KestrelTransport transport)
    {
        ArgumentNullException.ThrowIfNull(app);

        var metrics = app.Services.GetRequiredService<DashboardMetrics>();
        // The options' type is named statically, so that a trimmed (Native AOT) build keeps their properties.
        var options = transport == KestrelTransport.Epoll
            ? new TransportOptions(app.Services.GetRequiredService<IOptions<EpollTransportOptions>>().Value, typeof(EpollTransportOptions))
            : new TransportOptions(app.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value, typeof(SocketTransportOptions));

        return app.MapGet(DataPath, (HttpContext context) => WriteAsync(context, transport, options, metrics.Snapshot()))
            .RequireMonitoringAccess();
    }

    private static async Task WriteAsync(HttpContext context, KestrelTransport transport, TransportOptions options, DashboardSnapshot snapshot)
    {
        var response = context.Response;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers.CacheControl = "no-store";

        await using var json = new Utf8JsonWriter(response.BodyWriter);
        json.WriteStartObject();
        json.WriteString("transport", transport.ToString());
        WriteOptions(json, options);
        json.WriteNumber("uptimeSeconds", snapshot.Uptime.TotalSeconds);

        json.WriteStartObject("host");
        json.WriteNumber("activeConnections", snapshot.ActiveConnections);
        if (snapshot.Requests is { } requests)
        {
            json.WriteNumber("requests", requests);
            json.WriteNumber("requestsCountedSinceSeconds", snapshot.RequestsCountedSince.TotalSeconds);
        }
        else
        {
            json.WriteNull("requests");
        }

        json.WriteEndObject();

        json.WriteStartArray("instruments");
        foreach (var instrument in snapshot.TransportInstruments)
        {
            json.WriteStartObject();
            json.WriteString("name", instrument.Name);
            json.WriteString("unit", instrument.Unit);
            json.WriteString("description", instrument.Description);
            json.WriteString("kind", IsGauge(instrument) ? "gauge" : "counter");
            json.WriteEndObject();
        }

        json.WriteEndArray();

        json.WriteStartArray("threads");
        foreach (var thread in snapshot.Threads)
        {
            json.WriteStartObject();
            json.WriteString("name", thread.Name);
            json.WriteStartObject("values");
            foreach (var (name, value) in thread.Values)
            {
                json.WriteNumber(name, value);
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }

    // A level (shown as is) rather than a running total (shown as a rate).
    private static bool IsGauge(Instrument instrument)
    {
        var type = instrument.GetType();
        var definition = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
        return definition == typeof(ObservableUpDownCounter<>) || definition == typeof(ObservableGauge<>)
            || definition == typeof(UpDownCounter<>) || definition == typeof(Gauge<>);
    }

    // Every public option of a simple type (numbers, booleans, enums, strings, time spans in their configuration
    // format, e.g. 00:00:00.0200000), as configured.
    private static void WriteOptions(Utf8JsonWriter json, TransportOptions transportOptions)
    {
        var options = transportOptions.Value;
        json.WriteStartObject("options");
        foreach (var property in transportOptions.Type.GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (!property.CanRead || property.GetIndexParameters().Length != 0
                || !(type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(TimeSpan)))
            {
                continue;
            }

            switch (property.GetValue(options))
            {
                case null:
                    json.WriteNull(property.Name);
                    break;
                case bool b:
                    json.WriteBoolean(property.Name, b);
                    break;
                case Enum e:
                    json.WriteString(property.Name, e.ToString());
                    break;
                case string s:
                    json.WriteString(property.Name, s);
                    break;
                case TimeSpan t:
                    json.WriteString(property.Name, t.ToString("c", System.Globalization.CultureInfo.InvariantCulture));
                    break;
                case var number:
                    json.WriteNumber(property.Name, Convert.ToDouble(number, System.Globalization.CultureInfo.InvariantCulture));
                    break;
            }
        }

        json.WriteEndObject();
    }
}

/// <summary>A transport's options and their type, whose public properties a trimmed build keeps.</summary>
/// <param name="Value">The options.</param>
/// <param name="Type">Their type.</param>
internal sealed record TransportOptions(
    object Value,
    [property: System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties)]
    [param: System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties)]
    Type Type);
