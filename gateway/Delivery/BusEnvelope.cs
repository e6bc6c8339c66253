using System.Buffers.Binary;
using ChatWire.Storage.Messages;

namespace ChatWire.Gateway.Delivery;

internal enum EnvelopeKind : byte
{
    /// <summary>A stored conversation event: routing header, then the encoded EVENT frame.</summary>
    Event = 1,

    /// <summary>A device's session was revoked: its id.</summary>
    DeviceRevoked = 2,

    /// <summary>A frame for every connection of the topic's user (READ_STATE): the frame exactly as they receive it.</summary>
    UserFrame = 3,

    /// <summary>
    /// An ephemeral frame (USER_TYPING) for the connections of a conversation's members but one user: conversation
    /// id (16), that user's id (16), then the frame. Not stored; dropped by a connection with a backlog.
    /// </summary>
    ConversationFrame = 4,
}

/// <summary>The routing header of a bus payload (see <see cref="BusEnvelope"/>).</summary>
internal readonly record struct EnvelopeHeader(EnvelopeKind Kind, EventKind EventKind, Guid ConversationId, Guid SubjectId, ulong Seq, Guid DeviceId);

/// <summary>
/// What gateway nodes put on the bus (docs/architecture.md, "Bus envelope"). Byte 0 is the envelope version
/// (1), byte 1 its kind. An event: event kind (1 byte), conversation id (16), subject id (16, zero when
/// none), seq (8, big-endian), then the EVENT frame exactly as connections receive it, so a node forwards
/// it without re-encoding. A revocation: the device id (16). A frame for a user's connections: the frame. A node ignores versions and kinds it does not
/// know, so nodes of different versions can share a bus during a rolling upgrade.
/// </summary>
internal static class BusEnvelope
{
    public const byte Version = 1;
    public const int EventHeaderLength = 2 + 1 + 16 + 16 + 8;
    private const int RevocationLength = 2 + 16;

    /// <summary>
    /// Whether a payload is worth publishing again after a bus outage (docs/architecture.md): stored events,
    /// which devices de-duplicate by seq, and revocations, which must arrive. Not membership events (a
    /// replayed join arriving after a later leave would route a former member again; the routes are re-read
    /// from the directory instead), nor read states or typing, which are stale by then.
    /// </summary>
    public static bool IsWorthReplaying(ReadOnlySpan<byte> payload) =>
        payload.Length >= 3 && payload[0] == Version
        && ((payload[1] == (byte)EnvelopeKind.Event && payload[2] is not ((byte)EventKind.MemberJoined or (byte)EventKind.MemberLeft))
            || payload[1] == (byte)EnvelopeKind.DeviceRevoked);

    /// <summary>The envelope of <paramref name="stored"/> around its encoded <paramref name="frame"/>.</summary>
    public static byte[] ForEvent(StoredEvent stored, ReadOnlySpan<byte> frame)
    {
        var payload = new byte[EventHeaderLength + frame.Length];
        payload[0] = Version;
        payload[1] = (byte)EnvelopeKind.Event;
        payload[2] = (byte)stored.Kind;
        stored.ConversationId.TryWriteBytes(payload.AsSpan(3, 16), bigEndian: true, out _);
        (stored.SubjectId ?? Guid.Empty).TryWriteBytes(payload.AsSpan(19, 16), bigEndian: true, out _);
        BinaryPrimitives.WriteUInt64BigEndian(payload.AsSpan(35, 8), stored.Seq);
        frame.CopyTo(payload.AsSpan(EventHeaderLength));
        return payload;
    }

    public static byte[] ForRevocation(Guid deviceId)
    {
        var payload = new byte[RevocationLength];
        payload[0] = Version;
        payload[1] = (byte)EnvelopeKind.DeviceRevoked;
        deviceId.TryWriteBytes(payload.AsSpan(2, 16), bigEndian: true, out _);
        return payload;
    }

    public static byte[] ForConversationFrame(Guid conversationId, Guid exceptUserId, ReadOnlySpan<byte> frame)
    {
        var payload = new byte[2 + 32 + frame.Length];
        payload[0] = Version;
        payload[1] = (byte)EnvelopeKind.ConversationFrame;
        conversationId.TryWriteBytes(payload.AsSpan(2, 16), bigEndian: true, out _);
        exceptUserId.TryWriteBytes(payload.AsSpan(18, 16), bigEndian: true, out _);
        frame.CopyTo(payload.AsSpan(34));
        return payload;
    }

    public static byte[] ForUserFrame(ReadOnlySpan<byte> frame)
    {
        var payload = new byte[2 + frame.Length];
        payload[0] = Version;
        payload[1] = (byte)EnvelopeKind.UserFrame;
        frame.CopyTo(payload.AsSpan(2));
        return payload;
    }

    /// <summary>Reads the header; false for a payload this node does not understand (another version or kind, or truncated).</summary>
    public static bool TryRead(ReadOnlySpan<byte> payload, out EnvelopeHeader header, out ReadOnlySpan<byte> frame)
    {
        header = default;
        frame = default;
        if (payload.Length < 2 || payload[0] != Version)
        {
            return false;
        }

        switch ((EnvelopeKind)payload[1])
        {
            case EnvelopeKind.Event when payload.Length > EventHeaderLength:
                header = new EnvelopeHeader(
                    EnvelopeKind.Event,
                    (EventKind)payload[2],
                    new Guid(payload.Slice(3, 16), bigEndian: true),
                    new Guid(payload.Slice(19, 16), bigEndian: true),
                    BinaryPrimitives.ReadUInt64BigEndian(payload.Slice(35, 8)),
                    Guid.Empty);
                frame = payload[EventHeaderLength..];
                return true;
            case EnvelopeKind.ConversationFrame when payload.Length > 34:
                header = new EnvelopeHeader(
                    EnvelopeKind.ConversationFrame, default, new Guid(payload.Slice(2, 16), bigEndian: true), new Guid(payload.Slice(18, 16), bigEndian: true), 0, Guid.Empty);
                frame = payload[34..];
                return true;
            case EnvelopeKind.UserFrame when payload.Length > 2:
                header = new EnvelopeHeader(EnvelopeKind.UserFrame, default, Guid.Empty, Guid.Empty, 0, Guid.Empty);
                frame = payload[2..];
                return true;
            case EnvelopeKind.DeviceRevoked when payload.Length == RevocationLength:
                header = new EnvelopeHeader(EnvelopeKind.DeviceRevoked, default, Guid.Empty, Guid.Empty, 0, new Guid(payload.Slice(2, 16), bigEndian: true));
                return true;
            default:
                return false;
        }
    }
}
