using System.Buffers;
using ChatWire.Protocol.Tests.Support;

namespace ChatWire.Protocol.Tests;

public class HostileCorpusTests
{
    [Fact]
    public void HostileCorpus_EveryCase_DecodesToItsExpectedCode()
    {
        Assert.Empty(Mismatches(HostileCorpus.Cases));
    }

    // Other seeds reach mutations the default seed does not, so a wrong expectation cannot hide there.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void HostileCorpus_OtherSeeds_EveryCaseDecodesToItsExpectedCode(int seed)
    {
        Assert.Empty(Mismatches(HostileCorpus.Build(seed, 500)));
    }

    [Fact]
    public void HostileCorpus_Cases_HaveUniqueNamesWholeFramesWithinTheLimit()
    {
        var cases = HostileCorpus.Cases;

        Assert.Equal(cases.Count, cases.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count());
        Assert.True(cases.Count(c => c.Name.StartsWith('g')) == HostileCorpus.DefaultGeneratedCount);
        Assert.All(cases, c =>
        {
            Assert.True(c.FrameBytes.Length >= 4, c.Name);
            Assert.Equal((uint)(c.FrameBytes.Length - 4), System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(c.FrameBytes));
            Assert.True(c.FrameBytes.Length - 4 <= ProtocolLimits.DefaultMaxFrameLength, c.Name);
        });
    }

    [Fact]
    public void HostileCorpus_Cases_NoneClosesAnAuthenticatedConnection()
    {
        Assert.DoesNotContain(HostileCorpus.Cases, c => ErrorCodes.ClosesConnection(c.Expected));
    }

    [Fact]
    public void HostileCorpus_Cases_CoverEveryDecodingCode()
    {
        var codes = HostileCorpus.Cases.Select(c => c.Expected).ToHashSet();

        Assert.Equal(
            new[] { ErrorCode.MalformedFrame, ErrorCode.UnknownOpcode, ErrorCode.InvalidField, ErrorCode.ContentTooLarge },
            codes.Order().ToArray());
    }

    [Theory]
    [InlineData("truncated-")]
    [InlineData("wrong-type-")]
    [InlineData("lying-")]
    [InlineData("nested-")]
    [InlineData("unknown-opcode-")]
    [InlineData("not-an-array-")]
    [InlineData("bytes-after-")]
    [InlineData("element-count-")]
    [InlineData("out-of-range-")]
    [InlineData("id-length-")]
    [InlineData("too-long-")]
    [InlineData("invalid-utf8-")]
    public void HostileCorpus_GeneratedCases_IncludeEveryMutation(string mutation)
    {
        Assert.Contains(HostileCorpus.Cases, c => c.Name.StartsWith('g') && c.Name.Contains("-" + mutation, StringComparison.Ordinal));
    }

    [Fact]
    public void HostileCorpus_SameSeed_SameCases()
    {
        var first = HostileCorpus.Build(42, 100);
        var second = HostileCorpus.Build(42, 100);
        var other = HostileCorpus.Build(43, 100);

        Assert.Equal(first.Select(c => (c.Name, Convert.ToHexString(c.FrameBytes), c.Expected)), second.Select(c => (c.Name, Convert.ToHexString(c.FrameBytes), c.Expected)));
        Assert.NotEqual(first.Select(c => c.Name), other.Select(c => c.Name));
    }

    // Control: the frames the mutations start from are valid, and the corpus's own encoder writes them
    // exactly as the codec would.
    [Fact]
    public void HostileCorpus_ValidFrames_DecodeAndMatchTheCanonicalEncoding()
    {
        foreach (var frame in HostileCorpus.ValidFrames(HostileCorpus.DefaultSeed, 300))
        {
            var buffer = new ReadOnlySequence<byte>(frame);
            Assert.True(FrameReader.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxFrameLength, out var body));

            Assert.Null(ServerDecoder.Decode(body, ProtocolLimits.Default, out _));
            Assert.Equal(Convert.ToHexString(frame), Convert.ToHexString(Canonical(body)));
        }
    }

    private static List<string> Mismatches(IReadOnlyList<(string Name, byte[] FrameBytes, ErrorCode Expected)> cases)
    {
        var mismatches = new List<string>();
        foreach (var (name, frameBytes, expected) in cases)
        {
            try
            {
                var buffer = new ReadOnlySequence<byte>(frameBytes);
                if (!FrameReader.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxFrameLength, out var body) || !buffer.IsEmpty)
                {
                    mismatches.Add($"{name}: not exactly one whole frame");
                    continue;
                }

                var actual = ServerDecoder.Decode(body, ProtocolLimits.Default, out _);
                if (actual != expected)
                {
                    mismatches.Add($"{name}: expected {expected}, got {actual?.ToString() ?? "a decoded frame"}");
                }
            }
#pragma warning disable CA1031 // Anything but ProtocolException escaping the codec is a finding.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                mismatches.Add($"{name}: threw {ex.GetType().Name}: {ex.Message}");
            }
        }

        return mismatches;
    }

    private static byte[] Canonical(ReadOnlySequence<byte> body)
    {
        var reader = new MessagePack.MessagePackReader(body);
        var header = FrameCodec.ReadHeader(ref reader);
        return header.Opcode switch
        {
            Opcode.Send => FrameCodec.ToArray(FrameCodec.Decode<Frames.Send>(body, ProtocolLimits.Default)),
            Opcode.History => FrameCodec.ToArray(FrameCodec.Decode<Frames.History>(body, ProtocolLimits.Default)),
            Opcode.Ping => FrameCodec.ToArray(FrameCodec.Decode<Frames.Ping>(body, ProtocolLimits.Default)),
            Opcode.Edit => FrameCodec.ToArray(FrameCodec.Decode<Frames.Edit>(body, ProtocolLimits.Default)),
            Opcode.Delete => FrameCodec.ToArray(FrameCodec.Decode<Frames.Delete>(body, ProtocolLimits.Default)),
            Opcode.Read => FrameCodec.ToArray(FrameCodec.Decode<Frames.MarkRead>(body, ProtocolLimits.Default)),
            _ => throw new InvalidOperationException($"Unexpected {header.Opcode}."),
        };
    }
}
