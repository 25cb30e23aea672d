using System.IO.Compression;
using System.Net;
using System.Xml.Linq;
using EpollTransport.WebHost.Tests.Infrastructure;
using Xunit.Abstractions;

namespace EpollTransport.WebHost.Tests.Packaging;

/// <summary>
/// The NuGet package as a new user gets it: <c>dotnet pack</c> of the library into a folder feed, a brand-new
/// web app that references only that package (no project reference, no repository settings), built and run
/// as its own process, serving a request on an epoll thread.
/// </summary>
/// <param name="output">The test output.</param>
[Collection(Reliability.ExternalTools.Name)]
public sealed class PackageRoundTripTests(ITestOutputHelper output)
{
    /// <summary>The trait of the tests that pack and build outside the solution: <c>--filter Category=Package</c>.</summary>
    public const string Category = "Package";

    private const string PackageId = "EpollTransport";
    private static readonly TimeSpan s_dotnetTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    [Trait("Category", Category)]
    public async Task PackedLibraryServesANewAppOnEpollThreads()
    {
        var root = Directory.CreateTempSubdirectory("epoll-package-").FullName;
        try
        {
            // Packed from a copy of the sources, so that the solution's build output is neither used nor touched.
            var sources = Path.Combine(root, "sources");
            CopyLibrarySources(sources);
            var feed = Path.Combine(root, "feed");
            await DotnetAsync(sources, "pack", Path.Combine("src", "Transport.Epoll", "EpollTransport.csproj"), "-c", "Release", "-o", feed);

            var version = CheckPackageContents(feed);

            var app = Path.Combine(root, "app");
            WriteApp(app, feed, Path.Combine(root, "packages"), version);
            await DotnetAsync(app, "build", "-c", "Release");

            await RunAppAsync(Path.Combine(app, "bin", "Release", "net10.0", "PackageSmoke.dll"), app);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The library project and the repository-wide settings it builds with, without build output.</summary>
    private static void CopyLibrarySources(string destination)
    {
        var repository = TestPaths.RepositoryRoot;
        foreach (var name in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json", ".editorconfig", "LICENSE" })
        {
            var file = Path.Combine(repository, name);
            if (File.Exists(file))
            {
                Directory.CreateDirectory(destination);
                File.Copy(file, Path.Combine(destination, name));
            }
        }

        var project = Path.Combine(repository, "src", "Transport.Epoll");
        foreach (var file in Directory.EnumerateFiles(project, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(project, file);
            if (relative.StartsWith("bin/", StringComparison.Ordinal) || relative.StartsWith("obj/", StringComparison.Ordinal))
            {
                continue;
            }

            var target = Path.Combine(destination, "src", "Transport.Epoll", relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>Checks what the package carries and returns its version.</summary>
    private static string CheckPackageContents(string feed)
    {
        var package = Assert.Single(Directory.GetFiles(feed, PackageId + ".*.nupkg"));
        var version = Path.GetFileNameWithoutExtension(package)[(PackageId.Length + 1)..];
        Assert.True(File.Exists(Path.Combine(feed, $"{PackageId}.{version}.snupkg")), "No symbols package next to " + package);

        using var zip = ZipFile.OpenRead(package);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        foreach (var expected in new[] { "README.md", "LICENSE", "lib/net10.0/EpollTransport.dll", "lib/net10.0/EpollTransport.xml" })
        {
            Assert.Contains(expected, entries);
        }

        using var nuspecStream = zip.GetEntry(PackageId + ".nuspec")!.Open();
        var metadata = XDocument.Load(nuspecStream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string? Element(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;
        Assert.Equal(PackageId, Element("id"));
        Assert.Equal("MIT", Element("license"));
        Assert.Equal("README.md", Element("readme"));
        Assert.False(string.IsNullOrWhiteSpace(Element("description")));

        using var readme = new StreamReader(zip.GetEntry("README.md")!.Open());
        Assert.Contains("UseEpoll", readme.ReadToEnd(), StringComparison.Ordinal);
        return version;
    }

    /// <summary>A minimal web app, as <c>dotnet new web</c> would start one, restoring only from <paramref name="feed"/>.</summary>
    private static void WriteApp(string directory, string feed, string packagesFolder, string version)
    {
        Directory.CreateDirectory(directory);

        // Empty files stop MSBuild's search for settings in the folders above.
        File.WriteAllText(Path.Combine(directory, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(directory, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(directory, "Directory.Packages.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);

        // A private packages folder: the package under test never lands in (or comes from) the user's cache.
        File.WriteAllText(Path.Combine(directory, "PackageSmoke.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk.Web">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <RestorePackagesPath>{packagesFolder}</RestorePackagesPath>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="{PackageId}" Version="[{version}]" />
              </ItemGroup>
            </Project>
            """);

        // The default, inline scheduling runs the endpoint on the epoll thread that read the request, so its
        // name shows which transport served it.
        File.WriteAllText(Path.Combine(directory, "Program.cs"), """
            var builder = WebApplication.CreateBuilder(args);
            builder.WebHost.UseEpoll();
            var app = builder.Build();
            app.MapGet("/thread", () => Thread.CurrentThread.Name ?? "(unnamed)");
            app.Run();
            """);
    }

    private async Task RunAppAsync(string dll, string workingDirectory)
    {
        using var cts = Timeouts.Create(TimeSpan.FromSeconds(60));
        await using var host = WebHostProcess.Start(
            workingDirectory,
            ["--urls", "http://127.0.0.1:0"],
            entryAssembly: dll);
        try
        {
            var address = await host.WaitForListeningAsync(cts.Token);

            // A request that an epoll thread reads while Kestrel waits for it runs there. Inline running is
            // opportunistic, though: a request whose bytes are in before Kestrel asks for them (its pool thread
            // was descheduled after the previous response) runs on that pool thread, and a connection whose
            // handler seemed to block its loop (on a starved machine) runs on the pool for a while. So a few
            // keep-alive connections, until one request has run on an epoll thread; with thread-pool
            // scheduling none ever would.
            var names = new List<string>();
            for (var connection = 0; connection < 8 && !names.Any(IsEpollThread); connection++)
            {
                using var client = new HttpClient { BaseAddress = address, Timeout = Timeouts.Default };
                for (var i = 0; i < 3; i++)
                {
                    using var response = await client.GetAsync(new Uri("/thread", UriKind.Relative), cts.Token);
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    names.Add(await response.Content.ReadAsStringAsync(cts.Token));
                }
            }

            output.WriteLine("Served on: " + string.Join(", ", names));
            Assert.Contains(names, IsEpollThread);

            var threads = host.ThreadNames();
            Assert.Contains(threads, IsEpollThread);
            Assert.DoesNotContain(".NET Sockets", threads);
        }
        finally
        {
            output.WriteLine(host.Output);
        }
    }

    private static bool IsEpollThread(string name) => name.StartsWith("epoll-", StringComparison.Ordinal);

    private async Task DotnetAsync(string workingDirectory, params string[] arguments)
    {
        var result = await ExternalTool.RunAsync(
            WebHostProcess.DotnetHost(),
            [.. arguments, "-nologo", "-nodeReuse:false", "--disable-build-servers"],
            s_dotnetTimeout,
            workingDirectory,
            new Dictionary<string, string?>
            {
                // Set by the test host's own MSBuild; a nested build must find its SDK by itself.
                ["MSBuildExtensionsPath"] = null,
                ["MSBuildSDKsPath"] = null,
                ["MSBUILD_EXE_PATH"] = null,
                ["MSBuildLoadMicrosoftTargetsReadOnly"] = null,
                ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
                ["DOTNET_NOLOGO"] = "1",
                ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
            });
        output.WriteLine($"dotnet {string.Join(' ', arguments)}: {result}");
        Assert.True(result.ExitCode == 0, $"dotnet {string.Join(' ', arguments)} failed: {result}");
    }
}
