using System.Buffers;
using System.Text.Json.Nodes;
using ChatWire.Protocol.Frames;
using ChatWire.Protocol.Tests.Support;
using MessagePack;

namespace ChatWire.Protocol.Tests;

// The content of a channel_updated event (docs/protocol.md §4.10, kind 8): [changed, name, topic, slow_mode_seconds,
// archived_at_ms]; readers require the five elements and skip further ones.
public class ChannelUpdateTests
{
    [Fact]
    public void DocumentVector_Content_ReadsAsTheTextSays()
    {
        var vector = ProtocolDocument.Vectors.Single(v => v.Name == "EVENT-channel-updated");
        var fields = JsonNode.Parse(vector.FieldsJson)!.AsObject();
        var content = Convert.FromHexString(fields["content_hex"]!.GetValue<string>());

        Assert.Equal(8, fields["kind"]!.GetValue<int>());
        Assert.Equal((int)EventKind.ChannelUpdated, fields["kind"]!.GetValue<int>());
        Assert.True(ChannelUpdate.TryDecode(content, out var update));
        var expected = new ChannelUpdate(ChannelChanges.Topic | ChannelChanges.SlowMode, "design", "Q3 launch", 30, 0);
        Assert.Equal(expected, update);
        Assert.Equal(content, expected.Encode());
        Assert.Contains(string.Join(' ', content.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))), ProtocolDocument.Text.Replace("\n", " ", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ChannelChanges.None, "", "", 0u, 0L)]
    [InlineData(ChannelChanges.Name | ChannelChanges.Archived, "design-v2", "Deploys 🚀 and incidents", 21_600u, 1_764_088_260_000L)]
    [InlineData((ChannelChanges)0xFFFF_FFFF, "x", "y", uint.MaxValue, long.MaxValue)]
    public void Encode_ThenDecode_GivesItBack(ChannelChanges changed, string name, string topic, uint slowMode, long archivedAt)
    {
        var update = new ChannelUpdate(changed, name, topic, slowMode, archivedAt);

        Assert.True(ChannelUpdate.TryDecode(update.Encode(), out var decoded));
        Assert.Equal(update, decoded);
    }

    [Fact]
    public void Decode_ElementsAfterTheFifth_AreSkipped()
    {
        var content = Write((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(7);
            w.Write(2u);
            w.Write("design");
            w.Write("new");
            w.Write(0u);
            w.Write(0L);
            w.WriteArrayHeader(2);
            w.Write("nested");
            w.WriteMapHeader(1);
            w.Write(1);
            w.Write(true);
            w.WriteNil();
        });

        Assert.True(ChannelUpdate.TryDecode(content, out var update));
        Assert.Equal(new ChannelUpdate(ChannelChanges.Topic, "design", "new", 0, 0), update);
    }

    public static TheoryData<string, byte[]> Malformed => new()
    {
        { "empty", [] },
        { "not an array", Write((ref MessagePackWriter w) => w.Write("design")) },
        { "four elements", Write((ref MessagePackWriter w) => { w.WriteArrayHeader(4); w.Write(1u); w.Write("a"); w.Write("b"); w.Write(0u); }) },
        { "name nil", Write((ref MessagePackWriter w) => { w.WriteArrayHeader(5); w.Write(1u); w.WriteNil(); w.Write("b"); w.Write(0u); w.Write(0L); }) },
        { "topic a bin", Write((ref MessagePackWriter w) => { w.WriteArrayHeader(5); w.Write(1u); w.Write("a"); w.Write(new byte[] { 0x62 }); w.Write(0u); w.Write(0L); }) },
        { "slow mode negative", Write((ref MessagePackWriter w) => { w.WriteArrayHeader(5); w.Write(4u); w.Write("a"); w.Write("b"); w.Write(-1); w.Write(0L); }) },
        { "changed a string", Write((ref MessagePackWriter w) => { w.WriteArrayHeader(5); w.Write("1"); w.Write("a"); w.Write("b"); w.Write(0u); w.Write(0L); }) },
        { "name not UTF-8", Write((ref MessagePackWriter w) => { w.WriteArrayHeader(5); w.Write(1u); w.WriteString(new byte[] { 0xC3, 0x28 }); w.Write("b"); w.Write(0u); w.Write(0L); }) },
        { "topic over the limit", Write((ref MessagePackWriter w) => { w.WriteArrayHeader(5); w.Write(2u); w.Write("a"); w.Write(new string('t', ChannelUpdate.MaxTextBytes + 1)); w.Write(0u); w.Write(0L); }) },
        { "cut short", Write((ref MessagePackWriter w) => { w.WriteArrayHeader(5); w.Write(1u); w.Write("a"); }) },
        { "bytes after the array", [.. new ChannelUpdate(ChannelChanges.Name, "a", "b", 0, 0).Encode(), 0xC0] },
        { "array header claiming more than there is", Write((ref MessagePackWriter w) => w.WriteArrayHeader(int.MaxValue)) },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Decode_Malformed_IsFalse_NeverThrows(string what, byte[] content)
    {
        Assert.False(ChannelUpdate.TryDecode(content, out var update), what);
        Assert.Equal(default(ChannelUpdate), update);
    }

    private static byte[] Write(Writing write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        write(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private delegate void Writing(ref MessagePackWriter writer);
}
