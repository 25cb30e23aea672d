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

        // Bound part by part rather than as one object: KestrelServerOptions also holds members no binder can fill
        // (ConfigurationLoader, ApplicationServices, the obsolete EnableAltSvc), which the configuration binder's source
        // generator — the binder of a Native AOT build — rejects at compile time.
        builder.Services.Configure<KestrelServerOptions>(options =>
        {
            options.AddServerHeader = section.GetValue(nameof(options.AddServerHeader), options.AddServerHeader);
            options.AllowSynchronousIO = section.GetValue(nameof(options.AllowSynchronousIO), options.AllowSynchronousIO);
            options.AllowResponseHeaderCompression = section.GetValue(nameof(options.AllowResponseHeaderCompression), options.AllowResponseHeaderCompression);
            options.AllowAlternateSchemes = section.GetValue(nameof(options.AllowAlternateSchemes), options.AllowAlternateSchemes);
            options.AllowHostHeaderOverride = section.GetValue(nameof(options.AllowHostHeaderOverride), options.AllowHostHeaderOverride);
            options.DisableStringReuse = section.GetValue(nameof(options.DisableStringReuse), options.DisableStringReuse);

            var limits = section.GetSection(nameof(options.Limits));
#pragma warning disable SYSLIB1100 // MinDataRate has no parameterless constructor: the two rates are read by hand below.
            limits.Bind(options.Limits);
#pragma warning restore SYSLIB1100

            // The binder cannot set MinDataRate (read-only properties): these two are read by hand.
            options.Limits.MinRequestBodyDataRate = ReadRate(limits.GetSection("MinRequestBodyDataRate"), options.Limits.MinRequestBodyDataRate);
            options.Limits.MinResponseDataRate = ReadRate(limits.GetSection("MinResponseDataRate"), options.Limits.MinResponseDataRate);
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
