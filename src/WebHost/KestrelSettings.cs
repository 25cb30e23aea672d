using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace EpollTransport.WebHost;

/// <summary>
/// Binds <see cref="KestrelServerOptions"/> (its <see cref="KestrelServerOptions.Limits"/> above all) from the
/// <c>Kestrel</c> configuration section. ASP.NET Core itself reads only <c>Kestrel:Endpoints</c>,
/// <c>Kestrel:Certificates</c> and <c>Kestrel:EndpointDefaults</c> from there.
/// </summary>
internal static class KestrelSettings
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Kestrel";

    /// <summary>Binds the section's options onto Kestrel's.</summary>
    /// <param name="builder">The application builder.</param>
    public static void Bind(WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var section = builder.Configuration.GetSection(SectionName);
        builder.Services.Configure<KestrelServerOptions>(section);

        // The binder cannot set MinDataRate (read-only properties): these two are read by hand.
        builder.Services.Configure<KestrelServerOptions>(options =>
        {
            options.Limits.MinRequestBodyDataRate = ReadRate(section.GetSection("Limits:MinRequestBodyDataRate"), options.Limits.MinRequestBodyDataRate);
            options.Limits.MinResponseDataRate = ReadRate(section.GetSection("Limits:MinResponseDataRate"), options.Limits.MinResponseDataRate);
        });
    }

    /// <summary>
    /// Reads a <see cref="MinDataRate"/> from <c>BytesPerSecond</c> and <c>GracePeriod</c> keys; a key that is
    /// absent keeps the current value.
    /// </summary>
    /// <param name="section">The section, e.g. <c>Kestrel:Limits:MinResponseDataRate</c>.</param>
    /// <param name="current">The value so far.</param>
    /// <returns>The rate to use.</returns>
    public static MinDataRate? ReadRate(IConfigurationSection section, MinDataRate? current)
    {
        ArgumentNullException.ThrowIfNull(section);
        var bytesPerSecond = section.GetValue<double?>(nameof(MinDataRate.BytesPerSecond));
        var gracePeriod = section.GetValue<TimeSpan?>(nameof(MinDataRate.GracePeriod));
        if (bytesPerSecond is null && gracePeriod is null)
        {
            return current;
        }

        return new MinDataRate(
            bytesPerSecond ?? current?.BytesPerSecond ?? 240,
            gracePeriod ?? current?.GracePeriod ?? TimeSpan.FromSeconds(5));
    }
}
