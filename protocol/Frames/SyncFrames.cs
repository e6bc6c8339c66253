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
public readonly record struct ConversationState(Guid ConversationId, ulong LastSeq)
{
    internal const int RequiredFields = 2;
}

/// <summary>
/// SYNC_PAGE <c>[0x16, request_id, conversations, has_more]</c>, each conversation an array
/// <c>[conversation_id, last_seq]</c>, ascending by conversation id.
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

            conversations[i] = new ConversationState(MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id"), reader.ReadUInt64());
            for (var extra = ConversationState.RequiredFields; extra < fields; extra++)
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
            writer.WriteArrayHeader(ConversationState.RequiredFields);
            MessagePackFields.WriteUuid(ref writer, conversation.ConversationId);
            writer.Write(conversation.LastSeq);
        }

        writer.Write(HasMore);
    }
}
