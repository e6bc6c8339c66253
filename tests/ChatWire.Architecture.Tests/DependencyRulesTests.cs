using System.Xml.Linq;

namespace ChatWire.Architecture.Tests;

// docs/architecture.md, "Projects": the dependency direction between projects. Read from the project files themselves so a
// new reference that breaks a rule fails the suite before it can land.
public sealed class DependencyRulesTests
{
    private static readonly string Root = FindRoot();

    public static TheoryData<string> ProjectFiles()
    {
        var data = new TheoryData<string>();
        foreach (var path in AllProjects())
        {
            data.Add(Path.GetRelativePath(Root, path));
        }

        return data;
    }

    [Fact]
    public void Protocol_ReferencesNoOtherChatWireProject()
    {
        Assert.Empty(References("protocol/ChatWire.Protocol.csproj"));
    }

    [Theory]
    [InlineData("routing/ChatWire.Routing.csproj")]
    [InlineData("storage/ChatWire.Storage.csproj")]
    public void RoutingAndStorage_ReferenceOnlyProtocol(string project)
    {
        foreach (var reference in References(project))
        {
            Assert.Equal("protocol/ChatWire.Protocol.csproj", reference);
        }
    }

    [Theory]
    [MemberData(nameof(ProjectFiles))]
    public void Gateway_IsReferencedOnlyByTestsAndBenchmarks(string project)
    {
        if (project.StartsWith("tests/", StringComparison.Ordinal) || project.StartsWith("bench/", StringComparison.Ordinal))
        {
            return;
        }

        Assert.DoesNotContain("gateway/ChatWire.Gateway.csproj", References(project));
    }

    [Theory]
    [MemberData(nameof(ProjectFiles))]
    public void ServerProjects_NeverReferenceClients(string project)
    {
        string[] server = ["protocol/", "routing/", "storage/", "gateway/"];
        if (!server.Any(prefix => project.StartsWith(prefix, StringComparison.Ordinal)))
        {
            return;
        }

        Assert.DoesNotContain(References(project), reference => reference.StartsWith("clients/", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(ProjectFiles))]
    public void Clients_ReferenceOnlyProtocolAndOtherClients(string project)
    {
        if (!project.StartsWith("clients/", StringComparison.Ordinal))
        {
            return;
        }

        foreach (var reference in References(project))
        {
            Assert.True(
                reference == "protocol/ChatWire.Protocol.csproj" || reference.StartsWith("clients/", StringComparison.Ordinal),
                $"{project} references {reference}; a client may reference only protocol/ and clients/.");
        }
    }

    [Theory]
    [MemberData(nameof(ProjectFiles))]
    public void ServerProjects_NeverReferenceClientCrypto(string project)
    {
        // docs/e2e.md: the server never holds or parses end-to-end key material, so it cannot link the code that does.
        string[] server = ["protocol/", "routing/", "storage/", "gateway/"];
        if (!server.Any(prefix => project.StartsWith(prefix, StringComparison.Ordinal)))
        {
            return;
        }

        Assert.DoesNotContain("clients/ChatWire.Crypto/ChatWire.Crypto.csproj", References(project));
    }

    [Fact]
    public void ClientCrypto_ReferencesNoOtherChatWireProject()
    {
        Assert.True(File.Exists(Path.Combine(Root, "clients/ChatWire.Crypto/ChatWire.Crypto.csproj")));
        Assert.Empty(References("clients/ChatWire.Crypto/ChatWire.Crypto.csproj"));
    }

    [Fact]
    public void Layout_HasOneProjectFileDirectlyInEachServerFolder()
    {
        foreach (var (folder, name) in new[] { ("gateway", "Gateway"), ("protocol", "Protocol"), ("routing", "Routing"), ("storage", "Storage") })
        {
            var files = Directory.GetFiles(Path.Combine(Root, folder), "*.csproj");
            Assert.Equal([Path.Combine(Root, folder, $"ChatWire.{name}.csproj")], files);
        }
    }

    [Fact]
    public void References_OfGateway_AreRead()
    {
        // Guards the test itself: if reference parsing broke, every rule above would pass vacuously.
        Assert.Contains("protocol/ChatWire.Protocol.csproj", References("gateway/ChatWire.Gateway.csproj"));
        Assert.Contains("storage/ChatWire.Storage.csproj", References("gateway/ChatWire.Gateway.csproj"));
    }

    private static IEnumerable<string> AllProjects() =>
        Directory.EnumerateFiles(Root, "*.csproj", SearchOption.AllDirectories)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !path.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);

    private static List<string> References(string project)
    {
        var path = Path.Combine(Root, project);
        var directory = Path.GetDirectoryName(path)!;
        return XDocument.Load(path)
            .Descendants("ProjectReference")
            .Select(element => element.Attribute("Include")!.Value.Replace('\\', '/'))
            .Select(include => Path.GetRelativePath(Root, Path.GetFullPath(Path.Combine(directory, include))).Replace('\\', '/'))
            .ToList();
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "ChatWire.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("ChatWire.sln not found above " + AppContext.BaseDirectory);
    }
}
