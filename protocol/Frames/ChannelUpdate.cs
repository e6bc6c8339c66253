using System.Buffers;
using ChatWire.Protocol.Internal;
using MessagePack;

namespace ChatWire.Protocol.Frames;

/// <summary>Which of a channel's settings a <see cref="EventKind.ChannelUpdated"/> event changed (docs/protocol.md §4.10).</summary>
[Flags]
public enum ChannelChanges : uint
{
    /// <summary>Nothing named (a reader of a newer server's event may meet bits it does not know).</summary>
    None = 0,

    /// <summary>The channel was renamed.</summary>
    Name = 1,

    /// <summary>The topic was set or cleared.</summary>
    Topic = 2,

    /// <summary>Slow mode was turned on, off or changed.</summary>
    SlowMode = 4,

    /// <summary>The channel was archived or unarchived.</summary>
    Archived = 8,
}

/// <summary>
/// The content of a <see cref="EventKind.ChannelUpdated"/> event: what changed, and the channel's settings as they
/// stood after the change, a MessagePack array <c>[changed, name, topic, slow_mode_seconds, archived_at_ms]</c>
/// (docs/protocol.md §4.10). Readers skip elements after the fifth, which later versions may add.
/// </summary>
/// <param name="Changed">Which settings the change touched.</param>
/// <param name="Name">The channel's name, without the '#'.</param>
/// <param name="Topic">Its topic; empty when it has none.</param>
/// <param name="SlowModeSeconds">Its slow mode: the seconds each member waits between messages; 0 when off.</param>
/// <param name="ArchivedAtUnixMs">When it was archived, Unix ms; 0 when it is not archived.</param>
public readonly record struct ChannelUpdate(ChannelChanges Changed, string Name, string Topic, uint SlowModeSeconds, long ArchivedAtUnixMs)
{
    /// <summary>The elements a version 1 writer writes; a reader requires them.</summary>
    public const int Fields = 5;

    /// <summary>The most UTF-8 bytes a reader takes for the name or the topic (generous: both are far shorter).</summary>
    public const int MaxTextBytes = 4096;

    /// <summary>The content bytes of this update.</summary>
    public byte[] Encode()
    {
        var buffer = new ArrayBufferWriter<byte>(64 + Name.Length + (Topic.Length * 3));
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(Fields);
        writer.Write((uint)Changed);
        writer.Write(Name);
        writer.Write(Topic);
        writer.Write(SlowModeSeconds);
        writer.Write(ArchivedAtUnixMs);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Reads an event's content; false when it is not a version 1 channel update (too few elements, a wrong type, a
    /// string over <see cref="MaxTextBytes"/> or not UTF-8, bytes left over after the array).
    /// </summary>
    public static bool TryDecode(ReadOnlyMemory<byte> content, out ChannelUpdate update)
    {
        update = default;
        try
        {
            var reader = new MessagePackReader(content);
            var count = MessagePackFields.ReadArrayHeader(ref reader, int.MaxValue, 0, "channel update");
            if (count < Fields)
            {
                return false;
            }

            var changed = (ChannelChanges)reader.ReadUInt32();
            var name = MessagePackFields.ReadString(ref reader, MaxTextBytes, 0, "name");
            var topic = MessagePackFields.ReadString(ref reader, MaxTextBytes, 0, "topic");
            var slowMode = reader.ReadUInt32();
            var archivedAt = reader.ReadInt64();
            for (var i = Fields; i < count; i++)
            {
                MessagePackFields.SkipBounded(ref reader, 1, ProtocolLimits.Default.MaxSkipDepth, 0);
            }

            if (!reader.End)
            {
                return false;
            }

            update = new ChannelUpdate(changed, name, topic, slowMode, archivedAt);
            return true;
        }
        catch (Exception ex) when (ex is ProtocolException or MessagePackSerializationException or EndOfStreamException or OverflowException)
        {
            return false;
        }
    }
}
