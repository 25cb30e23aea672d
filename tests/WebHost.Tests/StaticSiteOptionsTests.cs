using EpollTransport.WebHost.StaticFiles;
using Microsoft.Extensions.Configuration;

namespace EpollTransport.WebHost.Tests;

/// <summary>
/// <see cref="StaticSiteOptions.TryRead"/>: the <c>StaticFiles</c> section bound and checked, a wrong value
/// returned as a message naming the setting and its rule (the host prints it and exits with code 2:
/// <see cref="OutOfProcessTests.InvalidStaticFilesSettingExitsWithAnErrorNamingTheSetting"/>).
/// </summary>
public sealed class StaticSiteOptionsTests
{
    [Fact]
    public void ReadsTheSectionAndKeepsTheDefaultsOfWhatIsNotSet()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["StaticFiles:Cache:MaxFileSize"] = "4096",
            ["StaticFiles:CacheControl:Rules:0:Path"] = "/assets/**",
            ["StaticFiles:CacheControl:Rules:0:Value"] = "public, max-age=60",
        }).Build();

        Assert.True(StaticSiteOptions.TryRead(configuration, out var options, out var error));
        Assert.Null(error);
        Assert.Equal(4096, options.Cache.MaxFileSize);
        Assert.Equal(new FileCacheOptions().SizeLimit, options.Cache.SizeLimit);
        Assert.Equal("/assets/**", Assert.Single(options.CacheControl.Rules).Path);
    }

    [Theory]
    [InlineData("StaticFiles:Cache:SizeLimit", "lots", "'StaticFiles:Cache:SizeLimit'")]
    [InlineData("StaticFiles:Cache:SizeLimit", "0", "StaticFiles:Cache: MaxFileSize must be 0 or more and SizeLimit more than 0, with MaxFileSize no more than SizeLimit.")]
    [InlineData("StaticFiles:Cache:MaxFileSize", "-1", "StaticFiles:Cache: MaxFileSize must be 0 or more")]
    [InlineData("StaticFiles:Cache:MaxFileSize", "134217728", "with MaxFileSize no more than SizeLimit")]
    [InlineData("StaticFiles:Compression:MinimumLength", "-1", "StaticFiles:Compression:MinimumLength must be 0 or more.")]
    [InlineData("StaticFiles:Compression:Enabled", "maybe", "'StaticFiles:Compression:Enabled'")]
    public void AWrongValueIsAnErrorNamingTheSettingAndItsRule(string key, string value, string named)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();

        Assert.False(StaticSiteOptions.TryRead(configuration, out _, out var error));
        Assert.StartsWith("Invalid StaticFiles setting: ", error, StringComparison.Ordinal);
        Assert.Contains(named, error, StringComparison.Ordinal);
    }
}
