using ChatWire.Protocol.Internal;
using MessagePack;

namespace ChatWire.Protocol.Frames;

/// <summary>
/// SYNC <c>[0x15, request_id, after_conversation_id, limit]</c>: list the conversations the user belongs to
/// with where each stands, ordered by conversation id, a page at a time (docs/protocol.md §4.13).
/// </summary>
/// <param name="RequestId">Echoed in SYNC_PAGE or ERROR.</param>
/// <param name="AfterConversationId">Exclusive start: the last conversation id of the previous page, or <see cref="Guid.Empty"/> (the nil UUID) for the first page.</param>
/// <param name="Limit">1 to <see cref="ProtocolLimits.MaxSyncLimit"/> conversations.</param>
public readonly record struct Sync(uint RequestId, Guid AfterConversationId, uint Limit) : IFrame<Sync>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Sync;

    /// <inheritdoc/>
    public static int RequiredFields => 2;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static Sync ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits)
    {
        var after = MessagePackFields.ReadUuid(ref reader, requestId, "after_conversation_id");
        var limit = reader.ReadUInt32();
        if (limit == 0 || limit > limits.MaxSyncLimit)
        {
            ThrowHelper.InvalidField($"limit must be 1 to {limits.MaxSyncLimit}; got {limit}.", requestId);
        }

        return new Sync(requestId, after, limit);
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, AfterConversationId);
        writer.Write(Limit);
    }
}

/// <summary>Where one conversation stands, as SYNC_PAGE lists it.</summary>
/// <param name="ConversationId">The conversation.</param>
/// <param name="LastSeq">The seq of its newest stored event; 0 when it has none.</param>
/// <param name="ReadSeq">The user's read position (shared by all their devices); 0 when nothing is read.</param>
/// <param name="UnreadCount">Messages from other people after the read position (deleted ones not counted), at most 1000.</param>
/// <param name="MentionCount">Of those, the ones that mention the user, @channel or @here, or reply in a thread the user takes part in; at most 1000.</param>
/// <param name="Muted">The user muted the conversation's team.</param>
/// <param name="E2e">The conversation is end-to-end encrypted (reserved: false until the server supports it).</param>
/// <param name="DeviceCursor">The asking device's delivery cursor (RECEIVED): it holds every event up to here.</param>
public readonly record struct ConversationState(
    Guid ConversationId, ulong LastSeq, ulong ReadSeq = 0, uint UnreadCount = 0, uint MentionCount = 0, bool Muted = false, bool E2e = false, ulong DeviceCursor = 0)
{
    internal const int RequiredFields = 2;
    internal const int KnownFields = 8;

    // Trailing fields at their defaults are left off (docs/protocol.md §2.4).
    internal int FieldCount =>
        DeviceCursor != 0 ? 8 : E2e ? 7 : Muted ? 6 : MentionCount != 0 ? 5 : UnreadCount != 0 ? 4 : ReadSeq != 0 ? 3 : RequiredFields;

    internal static ConversationState Read(ref MessagePackReader reader, int present, uint requestId) => new(
        MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id"),
        reader.ReadUInt64(),
        present > 2 ? reader.ReadUInt64() : 0,
        present > 3 ? reader.ReadUInt32() : 0,
        present > 4 ? reader.ReadUInt32() : 0,
        present > 5 && reader.ReadBoolean(),
        present > 6 && reader.ReadBoolean(),
        present > 7 ? reader.ReadUInt64() : 0);

    internal void Write(ref MessagePackWriter writer)
    {
        var count = FieldCount;
        writer.WriteArrayHeader(count);
        MessagePackFields.WriteUuid(ref writer, ConversationId);
        writer.Write(LastSeq);
        if (count > 2)
        {
            writer.Write(ReadSeq);
        }

        if (count > 3)
        {
            writer.Write(UnreadCount);
        }

        if (count > 4)
        {
            writer.Write(MentionCount);
        }

        if (count > 5)
        {
            writer.Write(Muted);
        }

        if (count > 6)
        {
            writer.Write(E2e);
        }

        if (count > 7)
        {
            writer.Write(DeviceCursor);
        }
    }
}

/// <summary>
/// SYNC_PAGE <c>[0x16, request_id, conversations, has_more]</c>, each conversation an array
/// <c>[conversation_id, last_seq, read_seq?, unread_count?, mention_count?, muted?, e2e?, device_cursor?]</c>, ascending by conversation id.
/// </summary>
/// <param name="RequestId">The SYNC's request id.</param>
/// <param name="Conversations">The page, ascending by conversation id.</param>
/// <param name="HasMore">Whether conversations follow the last one of this page.</param>
public readonly record struct SyncPage(uint RequestId, IReadOnlyList<ConversationState> Conversations, bool HasMore) : IFrame<SyncPage>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.SyncPage;

    /// <inheritdoc/>
    public static int RequiredFields => 2;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static SyncPage ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits)
    {
        var count = MessagePackFields.ReadArrayHeader(ref reader, limits.MaxSyncLimit, requestId, "conversations");
        var conversations = new ConversationState[count];
        for (var i = 0; i < count; i++)
        {
            var fields = MessagePackFields.ReadArrayHeader(ref reader, int.MaxValue, requestId, "conversations[]");
            if (fields < ConversationState.RequiredFields)
            {
                ThrowHelper.Malformed($"conversations[{i}] has {fields} fields; {ConversationState.RequiredFields} are required.", requestId);
            }

            var known = Math.Min(fields, ConversationState.KnownFields);
            conversations[i] = ConversationState.Read(ref reader, known, requestId);
            for (var extra = known; extra < fields; extra++)
            {
                MessagePackFields.SkipBounded(ref reader, 1, limits.MaxSkipDepth, requestId);
            }
        }

        return new SyncPage(requestId, conversations, reader.ReadBoolean());
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(Conversations.Count);
        foreach (var conversation in Conversations)
        {
            conversation.Write(ref writer);
        }

        writer.Write(HasMore);
    }
}
