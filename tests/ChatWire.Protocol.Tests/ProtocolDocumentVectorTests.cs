using System.Buffers;
using System.Text.Json.Nodes;
using ChatWire.Protocol.Tests.Support;
using MessagePack;

namespace ChatWire.Protocol.Tests;

/// <summary>
/// docs/protocol.md is the contract: its vectors (§7) must decode to exactly their <c>fields</c> and
/// re-encode to exactly their bytes, and its error table (§6) must match <see cref="ErrorCodes"/>.
/// </summary>
public class ProtocolDocumentVectorTests
{
    public static TheoryData<string> VectorNames => [.. ProtocolDocument.Vectors.Select(v => v.Name)];

    [Theory]
    [MemberData(nameof(VectorNames))]
    public void Vector_Decoded_MatchesEveryDocumentedField(string name)
    {
        var vector = Find(name);
        var opcode = ParseOpcode(vector);
        var body = ReadWholeFrame(vector);

        var (decoded, _) = VectorFrames.Decode(opcode, body);

        var documented = JsonNode.Parse(vector.FieldsJson)?.AsObject()
            ?? throw new FormatException($"Vector {name}: fields is not a JSON object.");
        AssertSameFields(name, documented, decoded);
    }

    [Theory]
    [MemberData(nameof(VectorNames))]
    public void Vector_Reencoded_MatchesItsBytes(string name)
    {
        var vector = Find(name);
        var opcode = ParseOpcode(vector);

        var (_, reencoded) = VectorFrames.Decode(opcode, ReadWholeFrame(vector));

        var fromFields = VectorFrames.Encode(opcode, JsonNode.Parse(vector.FieldsJson)!.AsObject());
        Assert.Equal(Hex(fromFields), Hex(reencoded));
        if (vector.Reencodes)
        {
            Assert.Equal(Hex(vector.Frame), Hex(reencoded));
        }
        else
        {
            // Marked as not canonical: it must really differ, or the mark hides nothing.
            Assert.NotEqual(Hex(vector.Frame), Hex(reencoded));
        }
    }

    [Theory]
    [MemberData(nameof(VectorNames))]
    public void Vector_Header_NamesItsDocumentedOpcode(string name)
    {
        var vector = Find(name);
        var reader = new MessagePackReader(ReadWholeFrame(vector));

        var header = FrameCodec.ReadHeader(ref reader);

        Assert.True(header.IsKnown);
        Assert.Equal(ParseOpcode(vector), header.Opcode);
    }

    [Fact]
    public void Document_Vectors_CoverEveryOpcode()
    {
        var opcodes = Enum.GetValues<Opcode>();
        var covered = ProtocolDocument.Vectors.Select(ParseOpcode).ToHashSet();

        Assert.True(ProtocolDocument.Vectors.Count >= opcodes.Length, $"{ProtocolDocument.Vectors.Count} vectors for {opcodes.Length} opcodes.");
        Assert.Empty(opcodes.Where(o => !covered.Contains(o)).Select(ProtocolDocument.WireName));
    }

    [Fact]
    public void Document_Vectors_HaveUniqueNames()
    {
        var names = ProtocolDocument.Vectors.Select(v => v.Name).ToList();

        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Document_Vectors_IncludeAForwardCompatibilityVector()
    {
        Assert.Contains(ProtocolDocument.Vectors, v => !v.Reencodes);
    }

    [Fact]
    public void Document_EveryOpcode_HasASubsectionWithItsValue()
    {
        var section = ProtocolDocument.Section(ProtocolDocument.Text, "## 4.");

        foreach (var opcode in Enum.GetValues<Opcode>())
        {
            Assert.Contains($" {ProtocolDocument.WireName(opcode)} (0x{(byte)opcode:x2})\n", section, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ErrorTable_EveryErrorCode_AppearsWithItsNumberAndName()
    {
        var rows = ProtocolDocument.ErrorTable;

        foreach (var code in ErrorCodes.All)
        {
            var row = Assert.Single(rows, r => r.Code == (int)code);
            Assert.Equal(ErrorCodes.Name(code), row.Name);
        }
    }

    [Fact]
    public void ErrorTable_EveryName_IsAKnownCode()
    {
        var known = ErrorCodes.All.ToDictionary(ErrorCodes.Name, c => (int)c, StringComparer.Ordinal);

        foreach (var row in ProtocolDocument.ErrorTable)
        {
            Assert.True(known.TryGetValue(row.Name, out var number), $"{row.Name} in the table is not an ErrorCode.");
            Assert.Equal(number, row.Code);
        }

        Assert.Equal(ErrorCodes.All.Count, ProtocolDocument.ErrorTable.Count);
    }

    [Fact]
    public void ErrorTable_ClosesColumn_MatchesClosesConnection()
    {
        foreach (var row in ProtocolDocument.ErrorTable)
        {
            Assert.True(
                ErrorCodes.ClosesConnection((ErrorCode)row.Code) == row.Closes,
                $"{row.Name}: the table says closes={row.Closes}, ErrorCodes.ClosesConnection disagrees.");
        }
    }

    [Fact]
    public void ParseVectors_HexOverSeveralLines_JoinsThem()
    {
        const string Markdown = "text\n```vector\nname: x\nopcode: PING\nfields: {\"request_id\": 1}\nhex: 00 00 00\n     03 92 05 01\n```\n";

        var vector = Assert.Single(ProtocolDocument.ParseVectors(Markdown));

        Assert.Equal([0, 0, 0, 3, 0x92, 0x05, 0x01], vector.Frame);
        Assert.True(vector.Reencodes);
    }

    [Fact]
    public void ParseVectors_UnknownKey_Throws()
    {
        const string Markdown = "```vector\nname: x\nopcode: PING\nfeilds: {}\nhex: 00\n```\n";

        Assert.Throws<FormatException>(() => ProtocolDocument.ParseVectors(Markdown));
    }

    private static DocumentVector Find(string name) => ProtocolDocument.Vectors.Single(v => v.Name == name);

    private static Opcode ParseOpcode(DocumentVector vector)
    {
        foreach (var opcode in Enum.GetValues<Opcode>())
        {
            if (ProtocolDocument.WireName(opcode) == vector.Opcode)
            {
                return opcode;
            }
        }

        throw new FormatException($"Vector {vector.Name}: unknown opcode '{vector.Opcode}'.");
    }

    private static ReadOnlySequence<byte> ReadWholeFrame(DocumentVector vector)
    {
        var buffer = new ReadOnlySequence<byte>(vector.Frame);
        Assert.True(FrameReader.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxFrameLength, out var body), $"Vector {vector.Name} is not a whole frame.");
        Assert.True(buffer.IsEmpty, $"Vector {vector.Name} has bytes after its frame.");
        return body;
    }

    private static void AssertSameFields(string name, JsonObject documented, JsonObject decoded)
    {
        foreach (var (key, value) in decoded)
        {
            Assert.True(documented.ContainsKey(key), $"Vector {name}: fields lacks '{key}' (decoded {value?.ToJsonString()}).");
            Assert.True(
                JsonNode.DeepEquals(documented[key], value),
                $"Vector {name}: '{key}' is {documented[key]?.ToJsonString()} in the document, {value?.ToJsonString()} in the bytes.");
        }

        foreach (var (key, _) in documented)
        {
            Assert.True(decoded.ContainsKey(key), $"Vector {name}: fields has '{key}', which the frame does not have.");
        }
    }

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
