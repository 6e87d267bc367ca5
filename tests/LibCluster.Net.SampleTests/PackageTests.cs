using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using LibCluster.SampleTests.Support;
using Xunit.Abstractions;

namespace LibCluster.SampleTests;

/// <summary>
/// The NuGet packages as a user gets them: <c>dotnet pack</c> output checked for what a package must carry, then consumed
/// from a local folder feed by the app of docs/getting-started.md, created from scratch with the CLI.
/// </summary>
[Collection(SampleProcesses.Name)]
public sealed partial class PackageTests(PackedLibraries packages, ITestOutputHelper output) : IClassFixture<PackedLibraries>
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void Pack_BothLibraries_CarryIdVersionDescriptionLicenceReadmeTagsXmlDocsAndSymbols()
    {
        foreach (var id in PackedLibraries.Ids)
        {
            using var package = ZipFile.OpenRead(packages.Package(id));
            var entries = package.Entries.Select(e => e.FullName).ToArray();
            entries.Should().Contain([$"{id}.nuspec", "README.md", $"lib/net10.0/{id}.dll", $"lib/net10.0/{id}.xml"]);

            XDocument nuspec;
            using (var stream = package.GetEntry($"{id}.nuspec")!.Open())
            {
                nuspec = XDocument.Load(stream);
            }

            string? Field(string name) => nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value;
            Field("id").Should().Be(id);
            Field("version").Should().Be(packages.Version);
            Field("description").Should().NotBeNullOrWhiteSpace();
            Field("tags").Should().Contain("libcluster");
            Field("readme").Should().Be("README.md");
            var license = nuspec.Descendants().Single(e => e.Name.LocalName == "license");
            license.Attribute("type")?.Value.Should().Be("expression");
            license.Value.Should().Be("MIT");

            // The package's own readme (src/{id}/PACKAGE.md, packed as README.md), not the repository's: a package page
            // cannot follow the README's relative links to docs/*.md, so the package readme names them as plain paths.
            using (var reader = new StreamReader(package.GetEntry("README.md")!.Open()))
            {
                var packed = reader.ReadToEnd();
                packed.Should().Be(File.ReadAllText(Repository.File("src", id, "PACKAGE.md")), "the package carries its own readme");
                packed.Should().StartWith($"# {id}\n").And.Contain($"dotnet add package {id}\n").And.Contain("AddLibCluster(").And.Contain("docs/configuration.md");
                MarkdownLinks.Relative(packed).Should().BeEmpty("a package page cannot follow relative links");
                var settings = JsonBlock().Matches(packed).Select(m => m.Groups["json"].Value).ToArray();
                settings.Should().NotBeEmpty("the readme shows the appsettings.json section");
                foreach (var json in settings)
                {
                    using var document = JsonDocument.Parse(json);
                    document.RootElement.GetProperty("LibCluster").GetProperty("Topologies").EnumerateObject().Should().NotBeEmpty();
                }
            }

            using (var reader = new StreamReader(package.GetEntry($"lib/net10.0/{id}.xml")!.Open()))
            {
                reader.ReadToEnd().Should().Contain("<member name=", "the XML documentation is packed for IntelliSense");
            }

            using var symbols = ZipFile.OpenRead(packages.Package(id, "snupkg"));
            symbols.Entries.Select(e => e.FullName).Should().Contain($"lib/net10.0/{id}.pdb");
        }

        // The Eureka package depends on the core package of the same version.
        using var eureka = ZipFile.OpenRead(packages.Package("LibCluster.Net.Eureka"));
        using var eurekaSpec = eureka.GetEntry("LibCluster.Net.Eureka.nuspec")!.Open();
        XDocument.Load(eurekaSpec).Descendants().Where(e => e.Name.LocalName == "dependency")
            .Should().Contain(d => (string?)d.Attribute("id") == "LibCluster.Net" && (string?)d.Attribute("version") == packages.Version);
    }

    [LinuxFact]
    public async Task PackagesFromLocalFeed_GettingStartedApp_TwoProcessesFormAClusterAndExchangeMessages()
    {
        using var work = new TempDirectory("consumer");
        var (project, ports) = await CreateGettingStartedAppAsync(work);

        // Built once, so that the two `dotnet run`s below do not build the same project at the same time.
        await Dotnet.RunAsync(project, CommandTimeout, "build");

        await RunTwoNodesAsync(info => StartNode(project, info), ports);
    }

    /// <summary>
    /// The same app compiled ahead of time to one native executable (<c>PublishAot</c>): the packages must work
    /// without a JIT and with trimming, where reflection-based configuration binding would fail. The publish must be
    /// free of trimming and AOT warnings.
    /// </summary>
    [NativeAotFact]
    public async Task PackagesFromLocalFeed_GettingStartedAppCompiledNatively_TwoProcessesFormAClusterAndExchangeMessages()
    {
        using var work = new TempDirectory("native");
        var (project, ports) = await CreateGettingStartedAppAsync(work);

        var publish = await Dotnet.RunAsync(project, TimeSpan.FromMinutes(10), "publish", "-c", "Release", "-r", "linux-x64", "-p:PublishAot=true", "-o", "native");
        publish.Should().NotMatchRegex(@"warning (IL\d{4}|SYSLIB1\d{3})", "the packages are trim- and AOT-safe");
        var executable = Path.Combine(project, "native", "HelloCluster");
        File.Exists(executable).Should().BeTrue(publish);
        File.Exists(Path.Combine(project, "native", "LibCluster.Net.dll")).Should().BeFalse("a native build carries no assemblies");

        await RunTwoNodesAsync(
            info =>
            {
                // The native executable itself, in the project folder (where appsettings.json is, as with dotnet run).
                var native = new System.Diagnostics.ProcessStartInfo(executable) { WorkingDirectory = project };
                Dotnet.Clean(native);
                foreach (var (key, value) in info)
                {
                    native.Environment[key] = value;
                }

                return native;
            },
            ports);
    }

    /// <summary>The app of docs/getting-started.md, created with the CLI against this run's packages, on free ports.</summary>
    private async Task<(string Project, int[] Ports)> CreateGettingStartedAppAsync(TempDirectory work)
    {

        // Nothing from above the temp folder (a stray Directory.Build.props) may shape this build, and the feed is added
        // to the machine's package sources, not put in their place (no <clear/>).
        File.WriteAllText(work.Combine("Directory.Build.props"), "<Project />\n");
        File.WriteAllText(work.Combine("Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(work.Combine("nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="libcluster-test-feed" value="{packages.Feed}" />
              </packageSources>
            </configuration>

            """);

        // docs/getting-started.md, "Install", with the versions pinned: this run's packages, and the Hosting version the
        // repository already uses (so that the restore needs nothing new).
        await Dotnet.RunAsync(work.Path, CommandTimeout, "new", "console", "-n", "HelloCluster");
        var project = work.Combine("HelloCluster");
        await Dotnet.RunAsync(project, CommandTimeout, "add", "package", "LibCluster.Net", "--version", packages.Version);
        await Dotnet.RunAsync(project, CommandTimeout, "add", "package", "Microsoft.Extensions.Hosting", "--version", HostingVersion());

        // Program.cs and appsettings.json exactly as the page shows them, except for the ports: free ones, not 9001 and 9002.
        var ports = FreePorts.Take(2);
        File.WriteAllText(Path.Combine(project, "Program.cs"), DocSnippets.Get("getting-started.md", "getting-started", "Program.cs"));
        var settings = DocSnippets.Get("getting-started.md", "getting-started", "appsettings.json");
        settings.Should().Contain("9001").And.Contain("9002");
        File.WriteAllText(Path.Combine(project, "appsettings.json"), settings.Replace("9001", Dotnet.Text(ports[0]), StringComparison.Ordinal).Replace("9002", Dotnet.Text(ports[1]), StringComparison.Ordinal));
        return (project, ports);
    }

    /// <summary>
    /// docs/getting-started.md, "Running two nodes locally": two nodes with the cookie exported, the second with its
    /// name and port overridden; each sees the other and gets its reply; each stops gracefully on SIGTERM.
    /// </summary>
    private async Task RunTwoNodesAsync(Func<Dictionary<string, string>, System.Diagnostics.ProcessStartInfo> startInfo, int[] ports)
    {
        var cookie = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48));
        await using var first = ChildProcess.Start("app0", startInfo(new() { ["LibCluster__Node__Cookie"] = cookie }));
        await using var second = ChildProcess.Start("app1", startInfo(new()
        {
            ["LibCluster__Node__Cookie"] = cookie,
            ["LibCluster__Node__Name"] = "app1@127.0.0.1",
            ["LibCluster__Node__Port"] = Dotnet.Text(ports[1]),
        }));
        try
        {
            await first.WaitForLineAsync(l => l == "NodeUp app1@127.0.0.1: app0@127.0.0.1 is connected to [app1@127.0.0.1]", StartTimeout, "its view with app1");
            await first.WaitForLineAsync(l => l == "app1@127.0.0.1 replied: hello from app1@127.0.0.1", StartTimeout, "app1's reply");
            await second.WaitForLineAsync(l => l == "NodeUp app0@127.0.0.1: app1@127.0.0.1 is connected to [app0@127.0.0.1]", StartTimeout, "its view with app0");
            await second.WaitForLineAsync(l => l == "app0@127.0.0.1 replied: hello from app0@127.0.0.1", StartTimeout, "app0's reply");

            // Ctrl+C (here SIGTERM, which dotnet run passes on) on the second node: the first sees it leave gracefully.
            second.Signal(Signals.SigTerm);
            (await second.WaitForExitAsync(StopTimeout)).Should().Be(0, second.Tail());
            await first.WaitForLineAsync(l => l == "NodeDown app1@127.0.0.1 (shutdown): app0@127.0.0.1 is connected to []", StopTimeout, "that app1 left");

            first.Signal(Signals.SigTerm);
            (await first.WaitForExitAsync(StopTimeout)).Should().Be(0, first.Tail());
        }
        finally
        {
            output.WriteLine($"----- first node\n{first.Output}\n----- second node\n{second.Output}");
        }
    }

    private static System.Diagnostics.ProcessStartInfo StartNode(string project, Dictionary<string, string> environment)
    {
        // docs/getting-started.md, "Running two nodes locally": dotnet run in the project folder, the cookie exported.
        var info = Dotnet.StartInfo(project, "run", "--no-build");
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        return info;
    }

    private static string HostingVersion()
    {
        var props = File.ReadAllText(Repository.File("Directory.Packages.props"));
        return HostingVersionPattern().Match(props) is { Success: true } match
            ? match.Groups["version"].Value
            : throw new InvalidOperationException("Directory.Packages.props has no version for Microsoft.Extensions.Hosting.");
    }

    [GeneratedRegex("""<PackageVersion Include="Microsoft\.Extensions\.Hosting" Version="(?<version>[^"]+)" />""")]
    private static partial Regex HostingVersionPattern();

    [GeneratedRegex("^```json\n(?<json>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex JsonBlock();
}

/// <summary>The links of a markdown text that only work inside the repository.</summary>
internal static partial class MarkdownLinks
{
    /// <summary>
    /// The targets of inline links and images (<c>[text](target)</c>) and of reference definitions
    /// (<c>[label]: target</c>) that are neither absolute (<c>https:</c>, <c>mailto:</c>, any scheme) nor an anchor
    /// in the same page (<c>#section</c>).
    /// </summary>
    public static IReadOnlyList<string> Relative(string markdown) =>
        InlineLink().Matches(markdown).Concat(ReferenceDefinition().Matches(markdown))
            .Select(m => m.Groups["target"].Value)
            .Where(target => !target.StartsWith('#') && !AbsoluteTarget().IsMatch(target))
            .ToArray();

    [GeneratedRegex(@"\]\(\s*<?(?<target>[^)\s>]*)")]
    private static partial Regex InlineLink();

    [GeneratedRegex(@"^ {0,3}\[[^\]]+\]:\s*<?(?<target>[^\s>]+)", RegexOptions.Multiline)]
    private static partial Regex ReferenceDefinition();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9+.-]*:")]
    private static partial Regex AbsoluteTarget();
}

public sealed class MarkdownLinksTests
{
    [Theory]
    [InlineData("[Configuration](docs/configuration.md)", "docs/configuration.md")]
    [InlineData("see [the guide](../docs/getting-started.md#install).", "../docs/getting-started.md#install")]
    [InlineData("![logo](images/logo.png)", "images/logo.png")]
    [InlineData("[sample]( samples/MyClusteredApp )", "samples/MyClusteredApp")]
    [InlineData("[docs]: docs/strategies.md", "docs/strategies.md")]
    public void Relative_RelativeTarget_IsFound(string markdown, string target) =>
        MarkdownLinks.Relative(markdown).Should().Equal(target);

    [Theory]
    [InlineData("[libcluster](https://hexdocs.pm/libcluster)")]
    [InlineData("[mail](mailto:someone@example.com)")]
    [InlineData("[Install](#install)")]
    [InlineData("[home]: https://example.com/")]
    [InlineData("see docs/configuration.md in the repository")]
    [InlineData("[Install](#install), then [the docs](https://example.com/docs/configuration.md)")]
    public void Relative_AbsoluteAnchorOrPlainPath_IsNotFound(string markdown) =>
        MarkdownLinks.Relative(markdown).Should().BeEmpty();
}
