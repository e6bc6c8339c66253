using System.Buffers;
using ChatWire.Protocol.Internal;
using MessagePack;

namespace ChatWire.Protocol.Frames;

/// <summary>
/// SEND <c>[0x10, request_id, conversation_id, message_id, content_type, content, thread_root_id?, mentions?,
/// group_mentions?, membership_epoch?, distribution_id?]</c>: store a message. The client generates
/// <paramref name="MessageId"/> (UUIDv7); resending the same id is answered with the original seq.
/// </summary>
/// <param name="RequestId">Echoed in SEND_ACK or ERROR.</param>
/// <param name="ConversationId">Channel, DM or group DM.</param>
/// <param name="MessageId">Client-generated idempotency key.</param>
/// <param name="ContentType">Media type of <paramref name="Content"/> (≤ 128 bytes), e.g. <c>text/plain</c>.</param>
/// <param name="Content">Opaque bytes (an end-to-end envelope or plaintext), ≤ the WELCOME's max content length.</param>
public readonly record struct Send(uint RequestId, Guid ConversationId, Guid MessageId, string ContentType, ReadOnlyMemory<byte> Content)
    : IFrame<Send>
{
    /// <summary>The message this one replies to in its thread; <see cref="Guid.Empty"/> (the default) for none.</summary>
    public Guid ThreadRootId { get; init; }

    private readonly IReadOnlyList<Guid>? _mentions;

    /// <summary>Users the message mentions (at most <see cref="ProtocolLimits.MaxMentions"/>); empty by default.</summary>
    public IReadOnlyList<Guid> Mentions { get => _mentions ?? []; init => _mentions = value; }

    /// <summary>Bit 0: @channel; bit 1: @here.</summary>
    public GroupMentions GroupMentions { get; init; }

    /// <summary>
    /// For end-to-end content (<c>application/vnd.chatwire.e2e</c>): the conversation's membership epoch the content was
    /// sealed for; the server refuses any other than the current one (STALE_EPOCH). Ignored for other content.
    /// </summary>
    public ulong MembershipEpoch { get; init; }

    /// <summary>
    /// For end-to-end content: the 16-byte chain id of the sender-chain distribution the content was sealed under,
    /// which must be complete for the conversation's current recipients (DISTRIBUTION_MISMATCH). At most
    /// <see cref="ProtocolLimits.MaxDistributionIdLength"/> bytes on the wire; ignored for other content.
    /// </summary>
    public ReadOnlyMemory<byte> DistributionId { get; init; }

    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.Send;

    /// <inheritdoc/>
    public static int RequiredFields => 4;

    /// <inheritdoc/>
    public static int KnownFields => 9;

    /// <inheritdoc/>
    public int FieldCount =>
        !DistributionId.IsEmpty ? 9
        : MembershipEpoch != 0 ? 8
        : GroupMentions != GroupMentions.None ? 7
        : Mentions.Count > 0 ? 6
        : ThreadRootId != Guid.Empty ? 5
        : 4;

    /// <inheritdoc/>
    public static Send ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits)
    {
        var send = new Send(requestId,
            MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id"),
            MessagePackFields.ReadUuid(ref reader, requestId, "message_id"),
            MessagePackFields.ReadContentType(ref reader, limits.MaxContentTypeLength, requestId),
            MessagePackFields.ReadBin(ref reader, limits.MaxContentLength, requestId, "content"));
        if (present <= 4)
        {
            return send;
        }

        var threadRoot = MessagePackFields.ReadUuid(ref reader, requestId, "thread_root_id");
        var mentions = present > 5 ? MessagePackFields.ReadUuids(ref reader, limits.MaxMentions, requestId, "mentions") : [];
        var groups = present > 6 ? ReadGroupMentions(ref reader, requestId) : GroupMentions.None;
        var epoch = present > 7 ? reader.ReadUInt64() : 0;
        var distribution = present > 8 ? ReadDistributionId(ref reader, limits, requestId) : default;
        return send with { ThreadRootId = threadRoot, Mentions = mentions, GroupMentions = groups, MembershipEpoch = epoch, DistributionId = distribution };
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, ConversationId);
        MessagePackFields.WriteUuid(ref writer, MessageId);
        writer.Write(ContentType);
        writer.Write(Content.Span);
        var count = FieldCount;
        if (count > 4)
        {
            MessagePackFields.WriteUuid(ref writer, ThreadRootId);
        }

        if (count > 5)
        {
            MessagePackFields.WriteUuids(ref writer, Mentions);
        }

        if (count > 6)
        {
            writer.Write((byte)GroupMentions);
        }

        if (count > 7)
        {
            writer.Write(MembershipEpoch);
        }

        if (count > 8)
        {
            writer.Write(DistributionId.Span);
        }
    }

    internal static GroupMentions ReadGroupMentions(ref MessagePackReader reader, uint requestId)
    {
        var value = reader.ReadUInt32();
        if (value > (uint)(GroupMentions.Channel | GroupMentions.Here))
        {
            ThrowHelper.InvalidField($"group_mentions holds only bit 0 (@channel) and bit 1 (@here); got {value}.", requestId);
        }

        return (GroupMentions)value;
    }

    private static ReadOnlyMemory<byte> ReadDistributionId(ref MessagePackReader reader, ProtocolLimits limits, uint requestId)
    {
        var bytes = MessagePackFields.ReadBinOrNil(ref reader, requestId, "distribution_id");
        if (bytes is not { } seq || seq.Length > limits.MaxDistributionIdLength)
        {
            ThrowHelper.InvalidField($"distribution_id must be a bin of at most {limits.MaxDistributionIdLength} bytes.", requestId);
            return default;
        }

        return seq.ToArray();
    }
}

/// <summary>Who a message mentions besides the users it names (SEND and EVENT <c>group_mentions</c>).</summary>
[Flags]
public enum GroupMentions : byte
{
    /// <summary>Neither.</summary>
    None = 0,

    /// <summary>@channel: every member of the conversation.</summary>
    Channel = 1,

    /// <summary>@here: the members who are online.</summary>
    Here = 2,
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

    /// <summary>The author edited the subject message; the content is its new content.</summary>
    MessageEdited = 3,

    /// <summary>The subject message was deleted (by its author or a team admin, the sender); its content is gone.</summary>
    MessageDeleted = 4,

    /// <summary>The sender reacted to the subject message with the emoji in the content (UTF-8).</summary>
    ReactionAdded = 5,

    /// <summary>The sender took back their reaction (the emoji in the content) to the subject message.</summary>
    ReactionRemoved = 6,

    /// <summary>Reserved: a seq that holds nothing. No version 1 server writes it (seqs are allocated inside the storing transaction); a client skips it.</summary>
    Skip = 7,

    /// <summary>
    /// A channel's name, topic, slow mode or archive state changed; the sender is who changed it, the content a
    /// <see cref="ChannelUpdate"/> with the channel's settings after the change.
    /// </summary>
    ChannelUpdated = 8,
}

/// <summary>One emoji's reactions on a message: how many users, and whether the reader is one of them.</summary>
/// <param name="Emoji">The emoji, as REACT sent it.</param>
/// <param name="Count">How many users reacted with it.</param>
/// <param name="Mine">Whether the user reading is one of them.</param>
public readonly record struct Reaction(string Emoji, uint Count, bool Mine);

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
    internal const int KnownAfterConversation = 18;

    // Null in a default instance; the properties read them as empty.
    private readonly IReadOnlyList<Guid>? _mentions;
    private readonly IReadOnlyList<Guid>? _threadParticipants;
    private readonly IReadOnlyList<Reaction>? _reactions;

    /// <summary>For a message in a thread, the thread's root message; <see cref="Guid.Empty"/> otherwise.</summary>
    public Guid ThreadRootId { get; init; }

    /// <summary>For a message, the users it mentions.</summary>
    public IReadOnlyList<Guid> Mentions { get => _mentions ?? []; init => _mentions = value; }

    /// <summary>For a message, @channel and @here.</summary>
    public GroupMentions GroupMentions { get; init; }

    /// <summary>In HISTORY_PAGE, for a message its author edited: when, Unix ms (the content is the edited one); 0 otherwise.</summary>
    public long EditedAtUnixMs { get; init; }

    /// <summary>For a deleted message (a tombstone, without content) or an edit of one: when it was deleted, Unix ms; 0 otherwise.</summary>
    public long DeletedAtUnixMs { get; init; }

    /// <summary>In HISTORY_PAGE, for a thread root: how many replies it has.</summary>
    public uint ReplyCount { get; init; }

    /// <summary>In HISTORY_PAGE, for a thread root: when the last reply came, Unix ms; 0 without replies.</summary>
    public long LastReplyUnixMs { get; init; }

    /// <summary>In HISTORY_PAGE, for a thread root: who takes part (its author first, then repliers in the order they joined; at most 50).</summary>
    public IReadOnlyList<Guid> ThreadParticipants { get => _threadParticipants ?? []; init => _threadParticipants = value; }

    /// <summary>In HISTORY_PAGE, for a message: its reactions, one entry per emoji (at most 50).</summary>
    public IReadOnlyList<Reaction> Reactions { get => _reactions ?? []; init => _reactions = value; }

    // Optional fields hold their defaults off the end: a plain message is written exactly as protocol
    // version 1 first defined it, and each field is written only when it, or one after it, is not default.
    internal int FieldsAfterConversation =>
        Reactions.Count > 0 ? 18
        : ThreadParticipants.Count > 0 ? 17
        : LastReplyUnixMs != 0 ? 16
        : ReplyCount != 0 ? 15
        : DeletedAtUnixMs != 0 ? 14
        : EditedAtUnixMs != 0 ? 13
        : GroupMentions != GroupMentions.None ? 12
        : Mentions.Count > 0 ? 11
        : ThreadRootId != Guid.Empty ? 10
        : Kind != EventKind.Message || SubjectId != Guid.Empty ? 9
        : RequiredAfterConversation;

    /// <summary>
    /// At most how many bytes this event takes in a HISTORY_PAGE entry (or after the conversation id in an
    /// EVENT), content and content type included: for fitting pages into a frame.
    /// </summary>
    public int EncodedLengthBound()
    {
        // Headers at their widest: array16, bin8 for ids, str32/bin32, uint64/int64 with their markers.
        var count = FieldsAfterConversation;
        var bytes = 3 + (18 * 3) + 9 + 9 + 5 + System.Text.Encoding.UTF8.GetByteCount(ContentType) + 5 + Content.Length;
        bytes += count > 7 ? 2 + 18 : 0;
        bytes += count > 9 ? 18 : 0;
        bytes += count > 10 ? 5 + (18 * Mentions.Count) : 0;
        bytes += count > 11 ? 2 : 0;
        bytes += count > 12 ? 9 : 0;
        bytes += count > 13 ? 9 : 0;
        bytes += count > 14 ? 5 : 0;
        bytes += count > 15 ? 9 : 0;
        bytes += count > 16 ? 5 + (18 * ThreadParticipants.Count) : 0;
        if (count > 17)
        {
            bytes += 5;
            foreach (var reaction in Reactions)
            {
                bytes += 1 + 5 + System.Text.Encoding.UTF8.GetByteCount(reaction.Emoji) + 5 + 1;
            }
        }

        return bytes;
    }

    internal static ConversationEvent ReadAfterConversation(ref MessagePackReader reader, Guid conversationId, uint requestId, int present, ProtocolLimits limits)
    {
        var eventId = MessagePackFields.ReadUuid(ref reader, requestId, "event_id");
        var seq = reader.ReadUInt64();
        var sender = MessagePackFields.ReadUuid(ref reader, requestId, "sender_user_id");
        var device = MessagePackFields.ReadUuid(ref reader, requestId, "sender_device_id");
        var time = reader.ReadInt64();
        var contentType = MessagePackFields.ReadContentType(ref reader, limits.MaxContentTypeLength, requestId);
        var content = MessagePackFields.ReadBin(ref reader, limits.MaxContentLength, requestId, "content");
        var kind = present > 7 ? (EventKind)MessagePackFields.ReadByteValue(ref reader, requestId, "kind") : EventKind.Message;
        var subject = present > 8 ? MessagePackFields.ReadUuid(ref reader, requestId, "subject_id") : Guid.Empty;
        var e = new ConversationEvent(conversationId, eventId, seq, sender, device, time, contentType, content, kind, subject);
        if (present <= 9)
        {
            return e;
        }

        var max = limits.MaxListedPerMessage;
        return e with
        {
            ThreadRootId = MessagePackFields.ReadUuid(ref reader, requestId, "thread_root_id"),
            Mentions = present > 10 ? MessagePackFields.ReadUuids(ref reader, limits.MaxMentions, requestId, "mentions") : [],
            GroupMentions = present > 11 ? Send.ReadGroupMentions(ref reader, requestId) : GroupMentions.None,
            EditedAtUnixMs = present > 12 ? reader.ReadInt64() : 0,
            DeletedAtUnixMs = present > 13 ? reader.ReadInt64() : 0,
            ReplyCount = present > 14 ? reader.ReadUInt32() : 0,
            LastReplyUnixMs = present > 15 ? reader.ReadInt64() : 0,
            ThreadParticipants = present > 16 ? MessagePackFields.ReadUuids(ref reader, max, requestId, "thread_participants") : [],
            Reactions = present > 17 ? ReadReactions(ref reader, limits, requestId) : [],
        };
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
        var count = FieldsAfterConversation;
        if (count <= RequiredAfterConversation)
        {
            return;
        }

        writer.Write((byte)Kind);
        MessagePackFields.WriteUuid(ref writer, SubjectId);
        if (count > 9)
        {
            MessagePackFields.WriteUuid(ref writer, ThreadRootId);
        }

        if (count > 10)
        {
            MessagePackFields.WriteUuids(ref writer, Mentions);
        }

        if (count > 11)
        {
            writer.Write((byte)GroupMentions);
        }

        if (count > 12)
        {
            writer.Write(EditedAtUnixMs);
        }

        if (count > 13)
        {
            writer.Write(DeletedAtUnixMs);
        }

        if (count > 14)
        {
            writer.Write(ReplyCount);
        }

        if (count > 15)
        {
            writer.Write(LastReplyUnixMs);
        }

        if (count > 16)
        {
            MessagePackFields.WriteUuids(ref writer, ThreadParticipants);
        }

        if (count > 17)
        {
            writer.WriteArrayHeader(Reactions.Count);
            foreach (var reaction in Reactions)
            {
                writer.WriteArrayHeader(3);
                writer.Write(reaction.Emoji);
                writer.Write(reaction.Count);
                writer.Write(reaction.Mine);
            }
        }
    }

    private static Reaction[] ReadReactions(ref MessagePackReader reader, ProtocolLimits limits, uint requestId)
    {
        var count = MessagePackFields.ReadArrayHeader(ref reader, limits.MaxListedPerMessage, requestId, "reactions");
        var reactions = new Reaction[count];
        for (var i = 0; i < count; i++)
        {
            var fields = MessagePackFields.ReadArrayHeader(ref reader, int.MaxValue, requestId, "reactions[]");
            if (fields < 3)
            {
                ThrowHelper.Malformed($"reactions[{i}] has {fields} fields; 3 are required.", requestId);
            }

            reactions[i] = new Reaction(
                MessagePackFields.ReadString(ref reader, limits.MaxEmojiLength, requestId, "emoji"),
                reader.ReadUInt32(),
                reader.ReadBoolean());
            for (var extra = 3; extra < fields; extra++)
            {
                MessagePackFields.SkipBounded(ref reader, 1, limits.MaxSkipDepth, requestId);
            }
        }

        return reactions;
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
    /// <summary>When not <see cref="Guid.Empty"/> (the default), page only this thread: the root message and its replies.</summary>
    public Guid ThreadRootId { get; init; }

    /// <inheritdoc/>
    public static Opcode Opcode => Opcode.History;

    /// <inheritdoc/>
    public static int RequiredFields => 4;

    /// <inheritdoc/>
    public static int KnownFields => 5;

    /// <inheritdoc/>
    public int FieldCount => ThreadRootId == Guid.Empty ? RequiredFields : KnownFields;

    /// <inheritdoc/>
    public static History ReadFields(ref MessagePackReader reader, uint requestId, int present, ProtocolLimits limits)
    {
        var conversationId = MessagePackFields.ReadUuid(ref reader, requestId, "conversation_id");
        var fromSeq = reader.ReadUInt64();
        var direction = reader.ReadUInt32();
        var limit = reader.ReadUInt32();

        // Every field is decoded before the ranges are checked (docs/protocol.md §2.3): a malformed
        // thread_root_id is MALFORMED_FRAME whatever direction and limit hold.
        var thread = present > 4 ? MessagePackFields.ReadUuid(ref reader, requestId, "thread_root_id") : Guid.Empty;
        if (direction > (uint)HistoryDirection.After)
        {
            ThrowHelper.InvalidField($"direction must be 0 (before) or 1 (after); got {direction}.", requestId);
        }

        if (limit == 0 || limit > limits.MaxHistoryLimit)
        {
            ThrowHelper.InvalidField($"limit must be 1 to {limits.MaxHistoryLimit}; got {limit}.", requestId);
        }

        return new History(requestId, conversationId, fromSeq, (HistoryDirection)direction, limit) { ThreadRootId = thread };
    }

    /// <inheritdoc/>
    public void WriteFields(ref MessagePackWriter writer)
    {
        MessagePackFields.WriteUuid(ref writer, ConversationId);
        writer.Write(FromSeq);
        writer.Write((uint)Direction);
        writer.Write(Limit);
        if (FieldCount > RequiredFields)
        {
            MessagePackFields.WriteUuid(ref writer, ThreadRootId);
        }
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
