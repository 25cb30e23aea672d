using EpollTransport.WebHost.Https;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;
using static EpollTransport.WebHost.Tests.Infrastructure.InMemorySettings;

namespace EpollTransport.WebHost.Tests.Https;

/// <summary><see cref="HttpsPolicySettings"/>: the defaults, every setting, and a wrong value stopping the host.</summary>
/// <param name="output">The test output.</param>
public sealed class HttpsPolicySettingsTests(ITestOutputHelper output)
{
    [Fact]
    public void OffByDefault()
    {
        Assert.True(HttpsPolicySettings.TryRead(Configuration([]), out var settings, out _));
        Assert.Equal(new HttpsPolicySettings(false, null, 307, false, TimeSpan.FromDays(30), false, false), settings);
    }

    [Fact]
    public void ReadsEverySetting()
    {
        var configuration = Configuration(new()
        {
            ["HttpsPolicy:RedirectToHttps"] = "true",
            ["HttpsPolicy:HttpsPort"] = "8443",
            ["HttpsPolicy:RedirectStatusCode"] = "301",
            ["HttpsPolicy:Hsts"] = "True",
            ["HttpsPolicy:HstsMaxAgeSeconds"] = "60",
            ["HttpsPolicy:HstsIncludeSubDomains"] = "true",
            ["HttpsPolicy:HstsPreload"] = "true",
        });

        Assert.True(HttpsPolicySettings.TryRead(configuration, out var settings, out _));
        Assert.Equal(new HttpsPolicySettings(true, 8443, 301, true, TimeSpan.FromSeconds(60), true, true), settings);
    }

    [Theory]
    [InlineData("HttpsPolicy:RedirectToHttps", "yes", "Valid values: true, false (default false).")]
    [InlineData("HttpsPolicy:HttpsPort", "0", "Valid values: a port from 1 to 65535 (default: the HTTPS endpoint's).")]
    [InlineData("HttpsPolicy:RedirectStatusCode", "303", "Valid values: 301, 302, 307, 308 (default 307).")]
    [InlineData("HttpsPolicy:RedirectStatusCode", "200", "Valid values: 301, 302, 307, 308 (default 307).")]
    [InlineData("HttpsPolicy:HstsMaxAgeSeconds", "-1", "Valid values: a number of seconds, 0 or more (default 2592000, 30 days).")]
    [InlineData("HttpsPolicy:HstsPreload", "1", "Valid values: true, false (default false).")]
    public void AWrongValueIsNamedWithTheValidOnes(string key, string value, string validValues)
    {
        Assert.False(HttpsPolicySettings.TryRead(Configuration(new() { [key] = value }), out _, out var error));
        Assert.Equal($"Invalid {key} '{value}'. {validValues}", error);
    }

    [Fact]
    public async Task AWrongValueStopsTheHostBeforeItListens()
    {
        var error = await RefusedStart.StandardErrorAsync(output, ["--HttpsPolicy:RedirectToHttps", "always"]);
        Assert.Contains("Invalid HttpsPolicy:RedirectToHttps 'always'.", error, StringComparison.Ordinal);
    }
}
