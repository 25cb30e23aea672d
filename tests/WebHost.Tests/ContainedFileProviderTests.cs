using Microsoft.Extensions.FileProviders;

namespace EpollTransport.WebHost.Tests;

/// <summary>The symbolic link policy of <see cref="ContainedFileProvider"/>, without a server.</summary>
public sealed class ContainedFileProviderTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("contained-provider-").FullName;

    public ContainedFileProviderTests()
    {
        Directory.CreateDirectory(Path.Combine(_directory, "real", "sub"));
        Directory.CreateDirectory(Path.Combine(_directory, "outside"));
        File.WriteAllText(Path.Combine(_directory, "real", "page.html"), "<p>page</p>");
        File.WriteAllText(Path.Combine(_directory, "real", "sub", "deep.txt"), "deep");
        File.WriteAllText(Path.Combine(_directory, "outside", "secret.txt"), "secret");

        File.CreateSymbolicLink(Path.Combine(_directory, "real", "alias.html"), "page.html");
        File.CreateSymbolicLink(Path.Combine(_directory, "real", "escape.txt"), "../outside/secret.txt");
        File.CreateSymbolicLink(Path.Combine(_directory, "real", "sub", "back.txt"), "../../real/sub/deep.txt");
        Directory.CreateSymbolicLink(Path.Combine(_directory, "real", "out"), "../outside");
        File.CreateSymbolicLink(Path.Combine(_directory, "real", "a.txt"), "b.txt");
        File.CreateSymbolicLink(Path.Combine(_directory, "real", "b.txt"), "a.txt");

        // The web root itself is a link, as with a deployment that switches a "current" link.
        Directory.CreateSymbolicLink(Path.Combine(_directory, "root"), "real");
    }

    private string Root => Path.Combine(_directory, "root");

    [Fact]
    public void FilesInsideARootThatIsALinkAreServed()
    {
        using var physical = new PhysicalFileProvider(Root);
        var provider = new ContainedFileProvider(physical, Root);

        Assert.Equal(Path.Combine(_directory, "real"), provider.Root);
        var page = provider.GetFileInfo("/page.html");
        Assert.True(page.Exists);
        Assert.Equal("<p>page</p>".Length, page.Length);
        Assert.True(provider.GetFileInfo("/sub/deep.txt").Exists);
    }

    [Fact]
    public void ALinkThatStaysInsideIsDescribedByItsTarget()
    {
        using var physical = new PhysicalFileProvider(Root);
        var provider = new ContainedFileProvider(physical, Root);

        // The link's own length would be that of "page.html", its text.
        var alias = provider.GetFileInfo("/alias.html");
        Assert.True(alias.Exists);
        Assert.Equal("<p>page</p>".Length, alias.Length);
        Assert.Equal(Path.Combine(_directory, "real", "page.html"), alias.PhysicalPath);

        // Through "..", out of the root's link name and back in by the real name: still inside.
        Assert.True(provider.GetFileInfo("/sub/back.txt").Exists);
    }

    [Theory]
    [InlineData("/escape.txt")]
    [InlineData("/out/secret.txt")]
    [InlineData("/a.txt")]
    public void LinksThatLeaveOrLoopAreNotFound(string subpath)
    {
        using var physical = new PhysicalFileProvider(Root);
        var provider = new ContainedFileProvider(physical, Root);

        Assert.False(provider.GetFileInfo(subpath).Exists);
        Assert.False(provider.IsContained(subpath));
    }

    [Fact]
    public void DirectoryListingsLeaveOutWhatLeaves()
    {
        using var physical = new PhysicalFileProvider(Root);
        var provider = new ContainedFileProvider(physical, Root);

        Assert.False(provider.GetDirectoryContents("/out").Exists);
        var names = provider.GetDirectoryContents("/").Select(entry => entry.Name).ToList();
        Assert.Contains("page.html", names);
        Assert.Contains("alias.html", names);
        Assert.Contains("sub", names);
        Assert.DoesNotContain("escape.txt", names);
        Assert.DoesNotContain("out", names);
    }

    public void Dispose()
    {
        Directory.Delete(_directory, recursive: true);
    }
}
