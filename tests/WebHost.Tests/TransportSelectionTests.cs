namespace EpollTransport.WebHost.Tests;

/// <summary>The web host's parsing of the <c>Transport</c> setting and its content root fallback.</summary>
public sealed class TransportSelectionTests
{
    // The expected value by name: KestrelTransport is internal, and a public test method cannot take it.
    [Theory]
    [InlineData(null, nameof(KestrelTransport.Epoll))]
    [InlineData("Epoll", nameof(KestrelTransport.Epoll))]
    [InlineData("epoll", nameof(KestrelTransport.Epoll))]
    [InlineData("EPOLL", nameof(KestrelTransport.Epoll))]
    [InlineData("Sockets", nameof(KestrelTransport.Sockets))]
    [InlineData(" sockets ", nameof(KestrelTransport.Sockets))]
    public void AcceptsTransportNamesInAnyCase(string? value, string expected)
    {
        Assert.True(TransportSelection.TryParse(value, out var transport));
        Assert.Equal(Enum.Parse<KestrelTransport>(expected), transport);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("1")]
    [InlineData("Foo")]
    [InlineData("Libuv")]
    [InlineData("Epoll,Sockets")]
    public void RejectsEverythingElse(string value)
    {
        Assert.False(TransportSelection.TryParse(value, out _));
        Assert.Equal($"Invalid Transport '{value}'. Valid values: Epoll, Sockets.", TransportSelection.InvalidValueMessage(value));
    }

    [Fact]
    public void ContentRootFallsBackToTheAppDirectoryWhenTheCurrentOneHasNoSite()
    {
        var directory = Directory.CreateTempSubdirectory("webhost-root-").FullName;
        try
        {
            Assert.Equal(AppContext.BaseDirectory, ContentRootSelection.FallbackContentRoot([], directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("wwwroot")]
    [InlineData("appsettings.json")]
    public void ContentRootStaysTheCurrentDirectoryWhenItHasASite(string entry)
    {
        var directory = Directory.CreateTempSubdirectory("webhost-root-").FullName;
        try
        {
            if (entry == "wwwroot")
            {
                Directory.CreateDirectory(Path.Combine(directory, entry));
            }
            else
            {
                File.WriteAllText(Path.Combine(directory, entry), "{}");
            }

            Assert.Null(ContentRootSelection.FallbackContentRoot([], directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("--contentRoot=/srv/site")]
    [InlineData("--contentRoot", "/srv/site")]
    [InlineData("--urls=http://127.0.0.1:0", "--contentroot=/srv/site")]
    public void ContentRootGivenOnTheCommandLineIsLeftToTheHost(params string[] args)
    {
        var directory = Directory.CreateTempSubdirectory("webhost-root-").FullName;
        try
        {
            Assert.Null(ContentRootSelection.FallbackContentRoot(args, directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
