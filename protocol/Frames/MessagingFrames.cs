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
    public static Send ReadFields(ref MessagePackReader reader, uint requestId, ProtocolLimits limits) =>
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
    public static SendAck ReadFields(ref MessagePackReader reader, uint requestId, ProtocolLimits limits) =>
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

/// <summary>A stored message as delivered in MESSAGE and HISTORY_PAGE.</summary>
/// <param name="ConversationId">The conversation it belongs to.</param>
/// <param name="MessageId">The sender's idempotency key.</param>
/// <param name="Seq">Its place in the conversation.</param>
/// <param name="SenderUserId">Who sent it.</param>
/// <param name="SenderDeviceId">From which device.</param>
/// <param name="ServerTimeUnixMs">When the server stored it, Unix milliseconds.</param>
/// <param name="ContentType">Media type of the content.</param>
/// <param name="Content">Opaque content bytes.</param>
public readonly record struct ChatMessage(
    Guid ConversationId,
    Guid MessageId,
    ulong Seq,
    Guid SenderUserId,
    Guid SenderDeviceId,
    long ServerTimeUnixMs,
    string ContentType,
    ReadOnlyMemory<byte> Content)
{
    internal const int FieldsAfterConversation = 7;

    internal static ChatMessage ReadAfterConversation(ref MessagePackReader reader, Guid conversationId, uint requestId, ProtocolLimits limits) =>
        new(conversationId,
            MessagePackFields.ReadUuid(ref reader, requestId, "message_id"),
            reader.ReadUInt64(),
            MessagePackFields.ReadUuid(ref reader, requestId, "sender_user_id"),
            MessagePackFields.ReadUuid(ref reader, requestId, "sender_device_id"),
            reader.ReadInt64(),
            MessagePackFields.ReadString(ref reader, limits.MaxContentTypeLength, requestId, "content_type"),
            MessagePackFields.ReadBin(ref reader, limits.MaxContentLength, requestId, "content"));

    internal void WriteAfterConversation(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, MessageId);
        writer.Write(Seq);
        MessagePackFields.WriteUuid(ref writer, SenderUserId);
        MessagePackFields.WriteUuid(ref writer, SenderDeviceId);
        writer.Write(ServerTimeUnixMs);
        writer.Write(ContentType);
        writer.Write(Content.Span);
    }
}

/// <summary>
/// MESSAGE <c>[0x12, 0, conversation_id, message_id, seq, sender_user_id, sender_device_id, server_time_ms,
/// content_type, content]</c>: pushed to every connected device of every member after the message is stored.
/// </summary>
/// <param name="Message">The stored message.</param>
public readonly record struct MessageEvent(ChatMessage Message) : IFrame<MessageEvent>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Message;

    /// <inheritdoc/>
    public static int RequiredFields => 1 + ChatMessage.FieldsAfterConversation;

    /// <summary>Always 0: events are not answers to a request.</summary>
    public uint RequestId => 0;

    /// <inheritdoc/>
    public static MessageEvent ReadFields(ref MessagePackReader reader, uint requestId, ProtocolLimits limits)
    {
        var conversationId = MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id");
        return new MessageEvent(ChatMessage.ReadAfterConversation(ref reader, conversationId, requestId, limits));
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, Message.ConversationId);
        Message.WriteAfterConversation(ref writer);
    }
}

/// <summary>Which way HISTORY pages from its starting seq.</summary>
public enum HistoryDirection : byte
{
    /// <summary>Messages with seq below the starting seq (0 = from the newest), newest first in selection.</summary>
    Before = 0,

    /// <summary>Messages with seq above the starting seq.</summary>
    After = 1,
}

/// <summary>
/// HISTORY <c>[0x13, request_id, conversation_id, from_seq, direction, limit]</c>: page a conversation.
/// <see cref="HistoryDirection.Before"/> selects the <paramref name="Limit"/> messages just below
/// <paramref name="FromSeq"/> (0 means "from the newest"); <see cref="HistoryDirection.After"/> those just
/// above it. Either way the page lists them in ascending seq.
/// </summary>
/// <param name="RequestId">Echoed in HISTORY_PAGE or ERROR.</param>
/// <param name="ConversationId">The conversation to page.</param>
/// <param name="FromSeq">Exclusive starting seq.</param>
/// <param name="Direction">0 = before, 1 = after.</param>
/// <param name="Limit">1 to 200 messages.</param>
public readonly record struct History(uint RequestId, Guid ConversationId, ulong FromSeq, HistoryDirection Direction, uint Limit)
    : IFrame<History>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.History;

    /// <inheritdoc/>
    public static int RequiredFields => 4;

    /// <inheritdoc/>
    public static History ReadFields(ref MessagePackReader reader, uint requestId, ProtocolLimits limits)
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
/// HISTORY_PAGE <c>[0x14, request_id, conversation_id, messages, has_more]</c>, each message an array
/// <c>[message_id, seq, sender_user_id, sender_device_id, server_time_ms, content_type, content]</c> in ascending seq.
/// </summary>
/// <param name="RequestId">The HISTORY's request id.</param>
/// <param name="ConversationId">The conversation paged.</param>
/// <param name="Messages">The page, ascending by seq.</param>
/// <param name="HasMore">Whether more messages lie further in the requested direction.</param>
public readonly record struct HistoryPage(uint RequestId, Guid ConversationId, IReadOnlyList<ChatMessage> Messages, bool HasMore)
    : IFrame<HistoryPage>
{
    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.HistoryPage;

    /// <inheritdoc/>
    public static int RequiredFields => 3;

    /// <inheritdoc/>
    public static HistoryPage ReadFields(ref MessagePackReader reader, uint requestId, ProtocolLimits limits)
    {
        var conversationId = MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id");
        var count = MessagePackFields.ReadArrayHeader(ref reader, limits.MaxHistoryLimit, requestId, "messages");
        var messages = new ChatMessage[count];
        for (var i = 0; i < count; i++)
        {
            var fields = reader.ReadArrayHeader();
            if (fields < ChatMessage.FieldsAfterConversation)
            {
                ThrowHelper.Malformed($"messages[{i}] has {fields} fields; {ChatMessage.FieldsAfterConversation} are required.", requestId);
            }

            messages[i] = ChatMessage.ReadAfterConversation(ref reader, conversationId, requestId, limits);
            for (var extra = ChatMessage.FieldsAfterConversation; extra < fields; extra++)
            {
                MessagePackFields.SkipBounded(ref reader, 1, limits.MaxSkipDepth, requestId);
            }
        }

        return new HistoryPage(requestId, conversationId, messages, reader.ReadBoolean());
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, ConversationId);
        writer.WriteArrayHeader(Messages.Count);
        foreach (var message in Messages)
        {
            writer.WriteArrayHeader(ChatMessage.FieldsAfterConversation);
            message.WriteAfterConversation(ref writer);
        }

        writer.Write(HasMore);
    }
}
