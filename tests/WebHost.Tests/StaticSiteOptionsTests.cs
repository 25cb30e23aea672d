using EpollTransport.WebHost.StaticFiles;
using EpollTransport.WebHost.Tests.Infrastructure;
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

    [Theory]
    [InlineData("/index.html", "/index.html")]
    [InlineData("index.html", "/index.html")]
    [InlineData(" /app/shell.html ", "/app/shell.html")]
    [InlineData("", "")]
    public void AFallbackFileInsideWwwrootIsAcceptedAndStartsWithASlash(string value, string normalised)
    {
        using var site = TempSite.Create();
        site.Write("index.html", "<p>home</p>");
        site.Write("app/shell.html", "<p>app</p>");
        var options = new StaticSiteOptions { FallbackFile = value };

        Assert.True(options.TryCheckFallbackFile(site.WebRoot, out var error), error);
        Assert.Equal(normalised, options.FallbackFile);
    }

    [Theory]
    [InlineData("/missing.html", "no such file in wwwroot")]
    [InlineData("/app", "no such file in wwwroot")]
    [InlineData("/../outside.html", "it is outside wwwroot")]
    [InlineData("/app/../../outside.html", "it is outside wwwroot")]
    [InlineData("/..\\outside.html", "it is outside wwwroot")]
    [InlineData("/link.html", "it leads out of wwwroot through a symbolic link")]
    public void AFallbackFileThatIsNotAFileInsideWwwrootIsAnError(string value, string problem)
    {
        using var site = TempSite.Create();
        site.Write("app/shell.html", "<p>app</p>");
        var outside = Path.Combine(site.ContentRoot, "outside.html");
        File.WriteAllText(outside, "<p>outside</p>");
        File.CreateSymbolicLink(site.PathOf("link.html"), outside);
        var options = new StaticSiteOptions { FallbackFile = value };

        Assert.False(options.TryCheckFallbackFile(site.WebRoot, out var error));
        Assert.Equal($"Invalid StaticFiles setting: StaticFiles:FallbackFile '{options.FallbackFile}': {problem}.", error);
    }

    [Fact]
    public void AFallbackFileWithoutAWebRootIsAnError()
    {
        var options = new StaticSiteOptions { FallbackFile = "/index.html" };

        Assert.False(options.TryCheckFallbackFile(null, out var error));
        Assert.EndsWith("there is no wwwroot to serve it from.", error, StringComparison.Ordinal);
    }
}
