using ChatWire.Protocol.Internal;
using MessagePack;

namespace ChatWire.Protocol.Frames;

/// <summary>
/// SEND <c>[0x10, request_id, conversation_id, message_id, content_type, content]</c>: store a message.
/// The client generates <paramref name="MessageId"/> (UUIDv7); resending the same id is answered with the original seq.
/// </summary>
/// <param name="RequestId">Echoed in SEND_ACK or ERROR.</param>
/// <param name="ConversationId">Channel, DM or group DM.</param>
/// <param name="MessageId">Client-generated idempotency key.</param>
/// <param name="ContentType">Media type of <paramref name="Content"/> (≤ 128 bytes), e.g. <c>text/plain</c>.</param>
/// <param name="Content">Opaque bytes (an end-to-end envelope or plaintext), ≤ the WELCOME's max content length.</param>
public readonly record struct Send(uint RequestId, Guid ConversationId, Guid MessageId, string ContentType, ReadOnlyMemory<byte> Content)
    : IFrame<Send>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Send;

    /// <inheritdoc/>
    public static int RequiredFields => 4;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static Send ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(requestId,
            MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id"),
            MessagePackFields.ReadUuid(ref reader, requestId, "message_id"),
            MessagePackFields.ReadString(ref reader, limits.MaxContentTypeLength, requestId, "content_type"),
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
/// SEND_ACK <c>[0x11, request_id, conversation_id, message_id, seq, server_time_ms]</c>: the message is durable.
/// </summary>
/// <param name="RequestId">The SEND's request id.</param>
/// <param name="ConversationId">As sent.</param>
/// <param name="MessageId">As sent.</param>
/// <param name="Seq">The message's place in the conversation (gap-free, from 1).</param>
/// <param name="ServerTimeUnixMs">When the server stored it, Unix milliseconds.</param>
public readonly record struct SendAck(uint RequestId, Guid ConversationId, Guid MessageId, ulong Seq, long ServerTimeUnixMs)
    : IFrame<SendAck>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.SendAck;

    /// <inheritdoc/>
    public static int RequiredFields => 4;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static SendAck ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits) =>
        new(requestId,
            MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id"),
            MessagePackFields.ReadUuid(ref reader, requestId, "message_id"),
            reader.ReadUInt64(),
            reader.ReadInt64());

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, ConversationId);
        MessagePackFields.WriteUuid(ref writer, MessageId);
        writer.Write(Seq);
        writer.Write(ServerTimeUnixMs);
    }
}

/// <summary>
/// What a stored conversation event is. Every kind takes a seq in its conversation, so a client's
/// contiguous watermark advances over all of them; a reader keeps (and skips over) kinds it does not know.
/// </summary>
public enum EventKind : byte
{
    /// <summary>A message (SEND). The default when a frame leaves the kind off.</summary>
    Message = 0,

    /// <summary>The subject user became a member of the conversation; the sender is who added them (themselves for a join).</summary>
    MemberJoined = 1,

    /// <summary>The subject user stopped being a member; the sender is who removed them (themselves for a leave).</summary>
    MemberLeft = 2,
}

/// <summary>
/// A stored conversation event as delivered in EVENT and HISTORY_PAGE (docs/protocol.md §4.10): a message,
/// or a membership change, with its place (<paramref name="Seq"/>) in the conversation.
/// </summary>
/// <param name="ConversationId">The conversation it belongs to.</param>
/// <param name="EventId">For a message, the message id the sender chose (its idempotency key); for other kinds, an id the server chose.</param>
/// <param name="Seq">Its place in the conversation: gap-free over every kind.</param>
/// <param name="SenderUserId">Who sent it (for membership changes: who made the change).</param>
/// <param name="SenderDeviceId">From which device.</param>
/// <param name="ServerTimeUnixMs">When the server stored it, Unix milliseconds.</param>
/// <param name="ContentType">Media type of the content; empty for kinds without content.</param>
/// <param name="Content">Opaque content bytes; empty for kinds without content.</param>
/// <param name="Kind">What the event is; <see cref="EventKind.Message"/> when the frame leaves it off.</param>
/// <param name="SubjectId">For membership kinds, the user who joined or left; <see cref="Guid.Empty"/> (the nil UUID) when the kind has no subject.</param>
public readonly record struct ConversationEvent(
    Guid ConversationId,
    Guid EventId,
    ulong Seq,
    Guid SenderUserId,
    Guid SenderDeviceId,
    long ServerTimeUnixMs,
    string ContentType,
    ReadOnlyMemory<byte> Content,
    EventKind Kind = EventKind.Message,
    Guid SubjectId = default)
{
    internal const int RequiredAfterConversation = 7;
    internal const int KnownAfterConversation = 9;

    // A message without a subject is written exactly as protocol version 1 first defined it.
    internal int FieldsAfterConversation => Kind == EventKind.Message && SubjectId == Guid.Empty ? RequiredAfterConversation : KnownAfterConversation;

    internal static ConversationEvent ReadAfterConversation(ref MessagePackReader reader, Guid conversationId, uint requestId, int present, ProtocolLimits limits)
    {
        var eventId = MessagePackFields.ReadUuid(ref reader, requestId, "event_id");
        var seq = reader.ReadUInt64();
        var sender = MessagePackFields.ReadUuid(ref reader, requestId, "sender_user_id");
        var device = MessagePackFields.ReadUuid(ref reader, requestId, "sender_device_id");
        var time = reader.ReadInt64();
        var contentType = MessagePackFields.ReadString(ref reader, limits.MaxContentTypeLength, requestId, "content_type");
        var content = MessagePackFields.ReadBin(ref reader, limits.MaxContentLength, requestId, "content");
        var kind = present > RequiredAfterConversation ? ReadKind(ref reader, requestId) : EventKind.Message;
        var subject = present > RequiredAfterConversation + 1 ? MessagePackFields.ReadUuid(ref reader, requestId, "subject_id") : Guid.Empty;
        return new ConversationEvent(conversationId, eventId, seq, sender, device, time, contentType, content, kind, subject);
    }

    internal void WriteAfterConversation(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, EventId);
        writer.Write(Seq);
        MessagePackFields.WriteUuid(ref writer, SenderUserId);
        MessagePackFields.WriteUuid(ref writer, SenderDeviceId);
        writer.Write(ServerTimeUnixMs);
        writer.Write(ContentType);
        writer.Write(Content.Span);
        if (FieldsAfterConversation > RequiredAfterConversation)
        {
            writer.Write((byte)Kind);
            MessagePackFields.WriteUuid(ref writer, SubjectId);
        }
    }

    private static EventKind ReadKind(ref MessagePackReader reader, uint requestId)
    {
        var kind = reader.ReadUInt32();
        if (kind > byte.MaxValue)
        {
            ThrowHelper.InvalidField($"kind must be 0 to 255; got {kind}.", requestId);
        }

        return (EventKind)kind;
    }
}

/// <summary>
/// EVENT <c>[0x12, 0, conversation_id, event_id, seq, sender_user_id, sender_device_id, server_time_ms,
/// content_type, content, kind?, subject_id?]</c>: pushed to every connection of every member after the event
/// is stored, in seq order per conversation. <c>kind</c> and <c>subject_id</c> are left off for a message.
/// </summary>
/// <param name="Event">The stored event.</param>
public readonly record struct EventFrame(ConversationEvent Event) : IFrame<EventFrame>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Event;

    /// <inheritdoc/>
    public static int RequiredFields => 1 + ConversationEvent.RequiredAfterConversation;

    /// <inheritdoc/>
    public static int KnownFields => 1 + ConversationEvent.KnownAfterConversation;

    /// <inheritdoc/>
    public int FieldCount => 1 + Event.FieldsAfterConversation;

    /// <summary>Always 0: events are not answers to a request.</summary>
    public uint RequestId => 0;

    /// <inheritdoc/>
    public static EventFrame ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits)
    {
        var conversationId = MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id");
        return new EventFrame(ConversationEvent.ReadAfterConversation(ref reader, conversationId, requestId, present - 1, limits));
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, Event.ConversationId);
        Event.WriteAfterConversation(ref writer);
    }
}

/// <summary>Which way HISTORY pages from its starting seq.</summary>
public enum HistoryDirection : byte
{
    /// <summary>Events with seq below the starting seq (0 = from the newest), newest first in selection.</summary>
    Before = 0,

    /// <summary>Events with seq above the starting seq.</summary>
    After = 1,
}

/// <summary>
/// HISTORY <c>[0x13, request_id, conversation_id, from_seq, direction, limit]</c>: page a conversation.
/// <see cref="HistoryDirection.Before"/> selects the <paramref name="Limit"/> events just below
/// <paramref name="FromSeq"/> (0 means "from the newest"); <see cref="HistoryDirection.After"/> those just
/// above it. Either way the page lists them in ascending seq.
/// </summary>
/// <param name="RequestId">Echoed in HISTORY_PAGE or ERROR.</param>
/// <param name="ConversationId">The conversation to page.</param>
/// <param name="FromSeq">Exclusive starting seq.</param>
/// <param name="Direction">0 = before, 1 = after.</param>
/// <param name="Limit">1 to <see cref="ProtocolLimits.MaxHistoryLimit"/> events.</param>
public readonly record struct History(uint RequestId, Guid ConversationId, ulong FromSeq, HistoryDirection Direction, uint Limit)
    : IFrame<History>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.History;

    /// <inheritdoc/>
    public static int RequiredFields => 4;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static History ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits)
    {
        var conversationId = MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id");
        var fromSeq = reader.ReadUInt64();
        var direction = reader.ReadUInt32();
        var limit = reader.ReadUInt32();
        if (direction > (uint)HistoryDirection.After)
        {
            ThrowHelper.InvalidField($"direction must be 0 (before) or 1 (after); got {direction}.", requestId);
        }

        if (limit == 0 || limit > limits.MaxHistoryLimit)
        {
            ThrowHelper.InvalidField($"limit must be 1 to {limits.MaxHistoryLimit}; got {limit}.", requestId);
        }

        return new History(requestId, conversationId, fromSeq, (HistoryDirection)direction, limit);
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, ConversationId);
        writer.Write(FromSeq);
        writer.Write((uint)Direction);
        writer.Write(Limit);
    }
}

/// <summary>
/// HISTORY_PAGE <c>[0x14, request_id, conversation_id, events, has_more]</c>, each event an array
/// <c>[event_id, seq, sender_user_id, sender_device_id, server_time_ms, content_type, content, kind?, subject_id?]</c>
/// in ascending seq.
/// </summary>
/// <param name="RequestId">The HISTORY's request id.</param>
/// <param name="ConversationId">The conversation paged.</param>
/// <param name="Events">The page, ascending by seq.</param>
/// <param name="HasMore">Whether more events lie further in the requested direction.</param>
public readonly record struct HistoryPage(uint RequestId, Guid ConversationId, IReadOnlyList<ConversationEvent> Events, bool HasMore)
    : IFrame<HistoryPage>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.HistoryPage;

    /// <inheritdoc/>
    public static int RequiredFields => 3;

    /// <inheritdoc/>
    public int FieldCount => RequiredFields;

    /// <inheritdoc/>
    public static HistoryPage ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits)
    {
        var conversationId = MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id");
        var count = MessagePackFields.ReadArrayHeader(ref reader, limits.MaxHistoryLimit, requestId, "events");
        var events = new ConversationEvent[count];
        for (var i = 0; i < count; i++)
        {
            var fields = MessagePackFields.ReadArrayHeader(ref reader, int.MaxValue, requestId, "events[]");
            if (fields < ConversationEvent.RequiredAfterConversation)
            {
                ThrowHelper.Malformed($"events[{i}] has {fields} fields; {ConversationEvent.RequiredAfterConversation} are required.", requestId);
            }

            var known = Math.Min(fields, ConversationEvent.KnownAfterConversation);
            events[i] = ConversationEvent.ReadAfterConversation(ref reader, conversationId, requestId, known, limits);
            for (var extra = known; extra < fields; extra++)
            {
                MessagePackFields.SkipBounded(ref reader, 1, limits.MaxSkipDepth, requestId);
            }
        }

        return new HistoryPage(requestId, conversationId, events, reader.ReadBoolean());
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, ConversationId);
        writer.WriteArrayHeader(Events.Count);
        foreach (var item in Events)
        {
            writer.WriteArrayHeader(item.FieldsAfterConversation);
            item.WriteAfterConversation(ref writer);
        }

        writer.Write(HasMore);
    }
}
