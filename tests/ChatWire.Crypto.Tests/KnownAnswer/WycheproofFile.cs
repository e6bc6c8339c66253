using System.Text.Json;

namespace ChatWire.Crypto.Tests.KnownAnswer;

/// <summary>
/// One Project Wycheproof file (C2SP/wycheproof testvectors_v1, copied unchanged under Vectors/wycheproof with its
/// LICENSE). The tests count the cases they run against constants, so a parser that reads nothing fails.
/// </summary>
internal sealed class WycheproofFile : IDisposable
{
    private readonly JsonDocument _document;

    private WycheproofFile(JsonDocument document)
    {
        _document = document;
    }

    /// <summary>The file's own count of its tests (the "numberOfTests" field).</summary>
    public int NumberOfTests => _document.RootElement.GetProperty("numberOfTests").GetInt32();

    public static WycheproofFile Load(string fileName)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Vectors", "wycheproof", fileName);
        return new WycheproofFile(JsonDocument.Parse(File.ReadAllBytes(path)));
    }

    /// <summary>Every test of every group, in file order.</summary>
    public IEnumerable<WycheproofCase> Cases()
    {
        foreach (var group in _document.RootElement.GetProperty("testGroups").EnumerateArray())
        {
            foreach (var test in group.GetProperty("tests").EnumerateArray())
            {
                yield return new WycheproofCase(group, test);
            }
        }
    }

    public void Dispose() => _document.Dispose();
}

/// <summary>One Wycheproof test with its group (the group carries shared parameters such as key sizes or the public key).</summary>
internal readonly record struct WycheproofCase(JsonElement Group, JsonElement Test)
{
    public int Id => Test.GetProperty("tcId").GetInt32();

    /// <summary>"valid", "invalid" or "acceptable".</summary>
    public string Result => Test.GetProperty("result").GetString()!;

    public bool HasFlag(string flag) => Test.GetProperty("flags").EnumerateArray().Any(f => f.GetString() == flag);

    public byte[] Bytes(string name) => Convert.FromHexString(Test.GetProperty(name).GetString()!);

    public int Int(string name) => Test.GetProperty(name).GetInt32();

    public int GroupInt(string name) => Group.GetProperty(name).GetInt32();

    public override string ToString() => $"tcId {Id} ({Result}: {Test.GetProperty("comment").GetString()})";
}
