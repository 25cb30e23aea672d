using EpollTransport.WebHost.AccessLog;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;
using static EpollTransport.WebHost.Tests.Infrastructure.InMemorySettings;

namespace EpollTransport.WebHost.Tests.AccessLog;

/// <summary>The access log's settings: defaults, every key, wrong values named, and a path that cannot be written stopping the host.</summary>
/// <param name="output">The test output.</param>
public sealed class AccessLogSettingsTests(ITestOutputHelper output)
{
    [Fact]
    public void OffByDefaultToStandardOutputInCombined()
    {
        Assert.True(AccessLogSettings.TryRead(Configuration([]), "/srv/site", out var settings, out var error));
        Assert.Null(error);
        Assert.Equal(new AccessLogSettings(Enabled: false, Path: "-", Format: AccessLogFormat.Combined, QueueCapacity: 16_384), settings);
        Assert.True(settings.IsStandardOutput);
    }

    [Fact]
    public void ReadsEverySettingAndResolvesARelativePathAgainstTheContentRoot()
    {
        var configuration = Configuration(new()
        {
            ["AccessLog:Enabled"] = " True ",
            ["AccessLog:Path"] = "logs/access.log",
            ["AccessLog:Format"] = "JSON",
            ["AccessLog:QueueCapacity"] = "100",
        });
        Assert.True(AccessLogSettings.TryRead(configuration, "/srv/site", out var settings, out _));
        Assert.Equal(new AccessLogSettings(true, "/srv/site/logs/access.log", AccessLogFormat.Json, 100), settings);
        Assert.False(settings.IsStandardOutput);
    }

    [Theory]
    [InlineData("AccessLog:Enabled", "yes", "Valid values: true, false (default false).")]
    [InlineData("AccessLog:Format", "common", "Valid values: combined, json (default combined).")]
    [InlineData("AccessLog:Format", "", "Valid values: combined, json (default combined).")]
    [InlineData("AccessLog:QueueCapacity", "0", "Valid values: a number of records from 1 to 1048576 (default 16384).")]
    [InlineData("AccessLog:QueueCapacity", "-5", "Valid values: a number of records from 1 to 1048576 (default 16384).")]
    [InlineData("AccessLog:Path", " ", "Valid values: a file path (relative to the content root), or - for standard output (default -).")]
    public void AWrongValueIsNamedWithTheValidOnes(string key, string value, string validValues)
    {
        Assert.False(AccessLogSettings.TryRead(Configuration(new() { [key] = value }), "/srv/site", out _, out var error));
        Assert.Equal($"Invalid {key} '{value}'. {validValues}", error);
    }

    [Theory]
    [InlineData("missing-directory")]
    [InlineData("under-a-file")]
    [InlineData("a-directory")]
    public async Task APathThatCannotBeWrittenStopsTheHostWithTheReason(string kind)
    {
        var directory = Directory.CreateTempSubdirectory("webhost-accesslog-").FullName;
        try
        {
            var path = kind switch
            {
                "missing-directory" => Path.Combine(directory, "no-such-directory", "access.log"),
                "under-a-file" => Path.Combine(File.Create(Path.Combine(directory, "file")).Name, "access.log"),
                _ => directory,
            };
            var error = await RefusedStart.StandardErrorAsync(output, ["--AccessLog:Enabled", "true", "--AccessLog:Path", path]);
            Assert.Contains($"Invalid AccessLog:Path '{path}': it cannot be opened for appending (", error, StringComparison.Ordinal);
            Assert.Contains("Valid values: a file in an existing directory this process may write to, or - for standard output.", error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
