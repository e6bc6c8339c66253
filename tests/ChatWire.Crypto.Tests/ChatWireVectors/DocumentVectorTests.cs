using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>
/// The <c>e2e-vector</c> blocks of docs/e2e.md ("The main values, inline"): each names a committed vector file and a
/// field in it, and its value must be that field's, so a client written from the document alone checks itself against
/// the same bytes the SDK's tests check (the files equal the generator's output, and the library reproduces them).
/// </summary>
public sealed partial class DocumentVectorTests
{
    private static readonly List<DocumentVector> Blocks = Parse(File.ReadAllText(Path.Combine(VectorFile.ProjectDirectory(), "..", "..", "docs", "e2e.md")));

    public static TheoryData<string> Paths => [.. Blocks.Select(b => b.Key)];

    [Fact]
    public void Document_PrintsTheMainValues()
    {
        Assert.Equal(19, Blocks.Count);
        Assert.Equal(Blocks.Count, Blocks.Select(b => b.Key).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Value_EqualsTheCommittedFile(string key)
    {
        var block = Blocks.Single(b => b.Key == key);
        var node = Navigate(VectorFile.Load(block.File), block.Path);
        Assert.Equal(node.ToString(), block.Value);
    }

    [Fact]
    public void Parse_JoinsContinuationLines_AndRefusesUnknownKeys()
    {
        var parsed = Parse("x\n```e2e-vector\nfile: a.json\npath: v[0].k\nvalue: 0a0b\n       0c\n```\n");
        Assert.Equal(new DocumentVector("a.json", "v[0].k", "0a0b0c"), Assert.Single(parsed));
        Assert.Throws<FormatException>(() => Parse("```e2e-vector\nfile: a.json\nhex: 00\n```\n"));
    }

    private static JsonNode Navigate(JsonNode node, string path)
    {
        foreach (Match part in PathPart().Matches(path))
        {
            node = part.Groups["index"].Success
                ? node.AsArray()[int.Parse(part.Groups["index"].Value, System.Globalization.CultureInfo.InvariantCulture)]!
                : node.AsObject()[part.Groups["name"].Value] ?? throw new KeyNotFoundException($"No '{part.Value}' in {path}.");
        }

        return node;
    }

    private static List<DocumentVector> Parse(string markdown)
    {
        var blocks = new List<DocumentVector>();
        Dictionary<string, StringBuilder>? block = null;
        StringBuilder? last = null;
        foreach (var raw in markdown.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (block is null)
            {
                if (line.Trim() == "```e2e-vector")
                {
                    block = [];
                }

                continue;
            }

            if (line.Trim() == "```")
            {
                blocks.Add(new DocumentVector(block["file"].ToString(), block["path"].ToString(), block["value"].ToString()));
                block = null;
                last = null;
            }
            else if (KeyLine().Match(line) is { Success: true } match)
            {
                var key = match.Groups[1].Value;
                if (key is not ("file" or "path" or "value"))
                {
                    throw new FormatException($"Unknown key '{key}' in an e2e-vector block.");
                }

                block[key] = last = new StringBuilder(match.Groups[2].Value.Trim());
            }
            else if (last is not null && line.StartsWith(' '))
            {
                last.Append(line.Trim());
            }
        }

        return blocks;
    }

    [GeneratedRegex(@"^([a-z_]+):\s?(.*)$")]
    private static partial Regex KeyLine();

    [GeneratedRegex(@"(?<name>[a-z_0-9]+)|\[(?<index>\d+)\]")]
    private static partial Regex PathPart();

    private sealed record DocumentVector(string File, string Path, string Value)
    {
        public string Key => $"{File} {Path}";
    }
}
