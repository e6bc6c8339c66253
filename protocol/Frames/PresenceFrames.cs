using ChatWire.Protocol.Internal;
using MessagePack;

namespace ChatWire.Protocol.Frames;

/// <summary>A user's presence (PRESENCE) and the status a user sets (SET_STATUS).</summary>
public enum PresenceStatus : byte
{
    /// <summary>No device of the user is connected.</summary>
    Offline = 0,

    /// <summary>Connected and available.</summary>
    Online = 1,

    /// <summary>Connected, but away from the device.</summary>
    Away = 2,

    /// <summary>Connected, and does not want to be disturbed (no notifications).</summary>
    DoNotDisturb = 3,
}

/// <summary>
/// TYPING <c>[0x1d, request_id, conversation_id]</c>: the user is typing in the conversation. Not stored;
/// the other members' connections get USER_TYPING. A client sends it at most every few seconds while the
/// user types. Answered with OK (seq 0).
/// </summary>
/// <param name="RequestId">Echoed in OK or ERROR.</param>
/// <param name="ConversationId">Where the user types.</param>
public readonly record struct Typing(uint RequestId, Guid ConversationId) : IFrame<Typing>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Typing;

    /// <inheritdoc/>
    public static int RequiredFields => 1;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static Typing ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(requestId, MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id"));

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer) => MessagePackFields.WriteUuid(ref writer, ConversationId);
}

/// <summary>
/// USER_TYPING <c>[0x1e, 0, conversation_id, user_id]</c>: pushed to the other members' connections when a
/// member types. A client shows "… is typing" for a few seconds (6 s) unless another USER_TYPING or a message
/// from that user comes first.
/// </summary>
/// <param name="ConversationId">Where.</param>
/// <param name="UserId">Who types.</param>
public readonly record struct UserTyping(Guid ConversationId, Guid UserId) : IFrame<UserTyping>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.UserTyping;

    /// <inheritdoc/>
    public static int RequiredFields => 2;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <summary>Always 0: pushed.</summary>
    public uint RequestId => 0;

    /// <inheritdoc/>
    public static UserTyping ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id"), MessagePackFields.ReadUuid(ref reader, requestId, "user_id"));

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, ConversationId);
        MessagePackFields.WriteUuid(ref writer, UserId);
    }
}

/// <summary>
/// SET_STATUS <c>[0x1f, request_id, status]</c>: the user's status while connected: 1 online, 2 away, 3 do
/// not disturb (0, offline, is not settable). Shared by all of the user's devices. Answered with OK.
/// </summary>
/// <param name="RequestId">Echoed in OK or ERROR.</param>
/// <param name="Status">Online, Away or DoNotDisturb.</param>
public readonly record struct SetStatus(uint RequestId, PresenceStatus Status) : IFrame<SetStatus>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.SetStatus;

    /// <inheritdoc/>
    public static int RequiredFields => 1;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static SetStatus ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits)
    {
        var status = reader.ReadUInt32();
        if (status is < (uint)PresenceStatus.Online or > (uint)PresenceStatus.DoNotDisturb)
        {
            ThrowHelper.InvalidField($"status must be 1 (online), 2 (away) or 3 (do not disturb); got {status}.", requestId);
        }

        return new SetStatus(requestId, (PresenceStatus)status);
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer) => writer.Write((byte)Status);
}

/// <summary>
/// PRESENCE_WATCH <c>[0x20, request_id, user_ids]</c>: the users whose presence this connection shows, at most
/// 200; replaces the previous set (an empty array stops watching). Answered with PRESENCE listing each of them;
/// from then on each change of one of them is pushed as PRESENCE with request id 0.
/// </summary>
/// <param name="RequestId">Echoed in PRESENCE or ERROR.</param>
/// <param name="UserIds">The users to watch.</param>
public readonly record struct PresenceWatch(uint RequestId, IReadOnlyList<Guid> UserIds) : IFrame<PresenceWatch>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.PresenceWatch;

    /// <inheritdoc/>
    public static int RequiredFields => 1;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static PresenceWatch ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(requestId, MessagePackFields.ReadUuids(ref reader, limits.MaxPresenceWatch, requestId, "user_ids"));

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer) => MessagePackFields.WriteUuids(ref writer, UserIds);
}

/// <summary>One user's presence in PRESENCE.</summary>
/// <param name="UserId">The user.</param>
/// <param name="Status">Offline, or the status of a connected user.</param>
/// <param name="LastSeenUnixMs">When the user's last device disconnected, Unix ms; 0 when online or never seen.</param>
public readonly record struct PresenceEntry(Guid UserId, PresenceStatus Status, long LastSeenUnixMs);

/// <summary>
/// PRESENCE <c>[0x21, request_id, entries]</c>, each entry <c>[user_id, status, last_seen_ms]</c>: the answer to
/// PRESENCE_WATCH (every watched user), or pushed with request id 0 when watched users change.
/// </summary>
/// <param name="RequestId">The PRESENCE_WATCH's request id, or 0 when pushed.</param>
/// <param name="Entries">The users and their presence.</param>
public readonly record struct PresenceFrame(uint RequestId, IReadOnlyList<PresenceEntry> Entries) : IFrame<PresenceFrame>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Presence;

    /// <inheritdoc/>
    public static int RequiredFields => 1;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static PresenceFrame ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits)
    {
        var count = MessagePackFields.ReadArrayHeader(ref reader, limits.MaxPresenceWatch, requestId, "entries");
        var entries = new PresenceEntry[count];
        for (var i = 0; i < count; i++)
        {
            var fields = MessagePackFields.ReadArrayHeader(ref reader, int.MaxValue, requestId, "entries[]");
            if (fields < 3)
            {
                ThrowHelper.Malformed($"entries[{i}] has {fields} fields; 3 are required.", requestId);
            }

            var user = MessagePackFields.ReadUuid(ref reader, requestId, "user_id");
            var status = reader.ReadUInt32();
            if (status > byte.MaxValue)
            {
                ThrowHelper.InvalidField($"status must be 0 to 255; got {status}.", requestId);
            }

            entries[i] = new PresenceEntry(user, (PresenceStatus)status, reader.ReadInt64());
            for (var extra = 3; extra < fields; extra++)
            {
                MessagePackFields.SkipBounded(ref reader, 1, limits.MaxSkipDepth, requestId);
            }
        }

        return new PresenceFrame(requestId, entries);
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(Entries.Count);
        foreach (var entry in Entries)
        {
            writer.WriteArrayHeader(3);
            MessagePackFields.WriteUuid(ref writer, entry.UserId);
            writer.Write((byte)entry.Status);
            writer.Write(entry.LastSeenUnixMs);
        }
    }
}
