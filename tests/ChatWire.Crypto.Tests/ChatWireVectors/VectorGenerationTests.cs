using System.Text.Json.Nodes;

namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>
/// Writing the vectors (skipped unless CHATWIRE_GENERATE_VECTORS=1) and checking that the committed files are exactly
/// what the generator makes, so nobody edits a vector by hand to make a test pass.
/// </summary>
public sealed class VectorGenerationTests
{
    [VectorGenerationFact]
    [Trait("Category", "VectorGeneration")]
    public void Generate_WritesEveryVectorFileIntoTheSourceTree()
    {
        var directory = SourceDirectory();
        foreach (var (name, document) in VectorGenerator.GenerateAll())
        {
            File.WriteAllText(Path.Combine(directory, name), VectorGenerator.Serialize(document));
        }

        Assert.Equal(13, Directory.GetFiles(directory, "*.json").Length);
    }

    [Fact]
    public void Generate_CommittedFiles_EqualTheGeneratorsOutput()
    {
        var generated = VectorGenerator.GenerateAll();
        var committed = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "ChatWireVectors"), "*.json").Select(Path.GetFileName).Order(StringComparer.Ordinal);

        Assert.Equal(generated.Keys, committed);
        foreach (var (name, document) in generated)
        {
            Assert.True(
                VectorGenerator.Serialize(document) == VectorFile.ReadText(name),
                $"{name} differs from the generator's output: regenerate with CHATWIRE_GENERATE_VECTORS=1 (VectorGeneration category) and review the diff.");
        }
    }

    [Fact]
    public void Generate_EveryFile_StatesItsOwnCount()
    {
        foreach (var (name, document) in VectorGenerator.GenerateAll())
        {
            var list = document.Last().Value!.AsArray();
            Assert.True(list.Count > 0, name);
            Assert.Equal(list.Count, (int)document["count"]!);
        }
    }

    // tests/ChatWire.Crypto.Tests/ChatWireVectors in the source tree.
    private static string SourceDirectory() => Path.Combine(VectorFile.ProjectDirectory(), "ChatWireVectors");
}

/// <summary>A fact that runs only when CHATWIRE_GENERATE_VECTORS=1: it rewrites committed files.</summary>
internal sealed class VectorGenerationFactAttribute : FactAttribute
{
    public VectorGenerationFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("CHATWIRE_GENERATE_VECTORS") != "1")
        {
            Skip = "Rewrites ChatWireVectors/*.json; set CHATWIRE_GENERATE_VECTORS=1 to run.";
        }
    }
}

/// <summary>Reads a committed ChatWire vector file from the test output directory.</summary>
internal static class VectorFile
{
    public static string ReadText(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "ChatWireVectors", name));

    /// <summary>tests/ChatWire.Crypto.Tests in the source tree, found from the test assembly's directory upwards.</summary>
    public static string ProjectDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ChatWire.Crypto.Tests.csproj")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException("tests/ChatWire.Crypto.Tests was not found above the test assembly.");
    }

    public static JsonObject Load(string name) => JsonNode.Parse(ReadText(name))!.AsObject();

    /// <summary>The document's list, checked against its "count" and against the count the test expects.</summary>
    public static List<JsonNode> Items(JsonObject document, string listName, int expected)
    {
        var items = document[listName]!.AsArray().Select(item => item!).ToList();
        Assert.Equal(expected, items.Count);
        Assert.Equal(expected, (int)document["count"]!);
        return items;
    }

    public static byte[] Bytes(this JsonNode? node, string name) => Convert.FromHexString((string)node![name]!);

    public static Guid Id(this JsonNode? node, string name) => Guid.Parse((string)node![name]!);

    public static string Str(this JsonNode? node, string name) => (string)node![name]!;
}
