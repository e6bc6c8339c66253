using ChatWire.Protocol.Internal;
using MessagePack;

namespace ChatWire.Protocol.Frames;

/// <summary>
/// OK <c>[0x17, request_id, seq, server_time_ms]</c>: the answer to EDIT, DELETE, REACT and READ. For the
/// first three, <paramref name="Seq"/> is the event the change was stored as, or 0 when nothing needed
/// storing (the change was already in effect); for READ it is the read position now in force.
/// </summary>
/// <param name="RequestId">The request's id.</param>
/// <param name="Seq">The stored event's seq, the read position, or 0.</param>
/// <param name="ServerTimeUnixMs">When the server stored it, Unix milliseconds; 0 when nothing was stored.</param>
public readonly record struct Ok(uint RequestId, ulong Seq, long ServerTimeUnixMs) : IFrame<Ok>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Ok;

    /// <inheritdoc/>
    public static int RequiredFields => 2;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static Ok ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(requestId, reader.ReadUInt64(), reader.ReadInt64());

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        writer.Write(Seq);
        writer.Write(ServerTimeUnixMs);
    }
}

/// <summary>
/// EDIT <c>[0x18, request_id, conversation_id, message_id, content_type, content]</c>: replace the content
/// of a message the user sent. Stored as a message_edited event; answered with OK.
/// </summary>
/// <param name="RequestId">Echoed in OK or ERROR.</param>
/// <param name="ConversationId">The message's conversation.</param>
/// <param name="MessageId">The message to edit.</param>
/// <param name="ContentType">The new content's media type.</param>
/// <param name="Content">The new content (the same rules as SEND's).</param>
public readonly record struct Edit(uint RequestId, Guid ConversationId, Guid MessageId, string ContentType, ReadOnlyMemory<byte> Content) : IFrame<Edit>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Edit;

    /// <inheritdoc/>
    public static int RequiredFields => 4;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static Edit ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(requestId,
            MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id"),
            MessagePackFields.ReadUuid(ref reader, requestId, "message_id"),
            MessagePackFields.ReadContentType(ref reader, limits.MaxContentTypeLength, requestId),
            MessagePackFields.ReadBin(ref reader, limits.MaxContentLength, requestId, "content"));

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, ConversationId);
        MessagePackFields.WriteUuid(ref writer, MessageId);
        writer.Write(ContentType);
        writer.Write(Content.Span);
    }
}

/// <summary>
/// DELETE <c>[0x19, request_id, conversation_id, message_id]</c>: delete a message (the user's own, or any
/// in a channel of a team the user administers). Stored as a message_deleted event; answered with OK.
/// </summary>
/// <param name="RequestId">Echoed in OK or ERROR.</param>
/// <param name="ConversationId">The message's conversation.</param>
/// <param name="MessageId">The message to delete.</param>
public readonly record struct Delete(uint RequestId, Guid ConversationId, Guid MessageId) : IFrame<Delete>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Delete;

    /// <inheritdoc/>
    public static int RequiredFields => 2;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static Delete ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(requestId,
            MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id"),
            MessagePackFields.ReadUuid(ref reader, requestId, "message_id"));

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, ConversationId);
        MessagePackFields.WriteUuid(ref writer, MessageId);
    }
}

/// <summary>
/// REACT <c>[0x1A, request_id, conversation_id, message_id, emoji, remove]</c>: add (or, with
/// <paramref name="Remove"/>, take back) the user's reaction with an emoji. Idempotent per (user, message,
/// emoji); answered with OK.
/// </summary>
/// <param name="RequestId">Echoed in OK or ERROR.</param>
/// <param name="ConversationId">The message's conversation.</param>
/// <param name="MessageId">The message reacted to.</param>
/// <param name="Emoji">The emoji: 1 to 64 bytes of UTF-8 without white space or control characters, e.g. 👍 or <c>:shipit:</c>.</param>
/// <param name="Remove">False to add the reaction, true to remove it.</param>
public readonly record struct React(uint RequestId, Guid ConversationId, Guid MessageId, string Emoji, bool Remove) : IFrame<React>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.React;

    /// <inheritdoc/>
    public static int RequiredFields => 4;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static React ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(requestId,
            MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id"),
            MessagePackFields.ReadUuid(ref reader, requestId, "message_id"),
            MessagePackFields.ReadString(ref reader, limits.MaxEmojiLength, requestId, "emoji"),
            reader.ReadBoolean());

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, ConversationId);
        MessagePackFields.WriteUuid(ref writer, MessageId);
        writer.Write(Emoji);
        writer.Write(Remove);
    }
}

/// <summary>
/// READ <c>[0x1B, request_id, conversation_id, seq]</c>: the user has read the conversation up to
/// <paramref name="Seq"/>. The position only moves forward and never past the newest event; all of the
/// user's connections are told with READ_STATE. Answered with OK carrying the position in force.
/// </summary>
/// <param name="RequestId">Echoed in OK or ERROR.</param>
/// <param name="ConversationId">The conversation.</param>
/// <param name="Seq">Read up to here (inclusive).</param>
public readonly record struct MarkRead(uint RequestId, Guid ConversationId, ulong Seq) : IFrame<MarkRead>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Read;

    /// <inheritdoc/>
    public static int RequiredFields => 2;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static MarkRead ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(requestId, MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id"), reader.ReadUInt64());

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, ConversationId);
        writer.Write(Seq);
    }
}

/// <summary>
/// READ_STATE <c>[0x1C, 0, conversation_id, read_seq, unread_count, mention_count]</c>: pushed to every
/// connection of a user when their read position in a conversation moves (from any of their devices), so
/// every device clears the same badge.
/// </summary>
/// <param name="ConversationId">The conversation.</param>
/// <param name="ReadSeq">The user's read position now.</param>
/// <param name="UnreadCount">Messages from others after it (at most 1000).</param>
/// <param name="MentionCount">Of those, the ones that mention the user (at most 1000).</param>
public readonly record struct ReadState(Guid ConversationId, ulong ReadSeq, uint UnreadCount, uint MentionCount) : IFrame<ReadState>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.ReadState;

    /// <inheritdoc/>
    public static int RequiredFields => 4;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <summary>Always 0: pushed, not an answer.</summary>
    public uint RequestId => 0;

    /// <inheritdoc/>
    public static ReadState ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id"), reader.ReadUInt64(), reader.ReadUInt32(), reader.ReadUInt32());

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, ConversationId);
        writer.Write(ReadSeq);
        writer.Write(UnreadCount);
        writer.Write(MentionCount);
    }
}

/// <summary>
/// RECEIVED <c>[0x22, request_id, cursors]</c>, each cursor <c>[conversation_id, seq]</c>: this device holds every
/// event of the conversation up to <c>seq</c> (its contiguous watermark). At most 500 per frame. Answered with
/// OK (seq 0).
/// </summary>
/// <param name="RequestId">Echoed in OK or ERROR.</param>
/// <param name="Cursors">Conversations and the seq up to which this device holds everything.</param>
public readonly record struct Received(uint RequestId, IReadOnlyList<(Guid ConversationId, ulong Seq)> Cursors) : IFrame<Received>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Received;

    /// <inheritdoc/>
    public static int RequiredFields => 1;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static Received ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits)
    {
        var count = MessagePackFields.ReadArrayHeader(ref reader, limits.MaxSyncLimit, requestId, "cursors");
        var cursors = new (Guid, ulong)[count];
        for (var i = 0; i < count; i++)
        {
            var fields = MessagePackFields.ReadArrayHeader(ref reader, int.MaxValue, requestId, "cursors[]");
            if (fields < 2)
            {
                ThrowHelper.Malformed($"cursors[{i}] has {fields} fields; 2 are required.", requestId);
            }

            cursors[i] = (MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id"), reader.ReadUInt64());
            for (var extra = 2; extra < fields; extra++)
            {
                MessagePackFields.SkipBounded(ref reader, 1, limits.MaxSkipDepth, requestId);
            }
        }

        return new Received(requestId, cursors);
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(Cursors.Count);
        foreach (var (conversation, seq) in Cursors)
        {
            writer.WriteArrayHeader(2);
            MessagePackFields.WriteUuid(ref writer, conversation);
            writer.Write(seq);
        }
    }
}
