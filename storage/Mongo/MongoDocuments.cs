using ChatWire.Storage.Messages;
using MongoDB.Bson;

namespace ChatWire.Storage.Mongo;

/// <summary>
/// The BSON the store keeps, written and read by hand (no class maps, no global serializer settings):
/// Guids are binary subtype 4 (the standard byte order), times BSON dates (UTC milliseconds, which the
/// TTL monitor needs), seqs 64-bit integers, content binary subtype 0. Optional fields are left out
/// rather than stored as null.
/// </summary>
internal static class MongoDocuments
{
    public const string Events = "events";

    /// <summary>One document per conversation: <c>{ _id: conversation, lastSeq }</c>, the last seq handed out.</summary>
    public const string Heads = "conversation_heads";

    public const string Threads = "threads";
    public const string ThreadParticipants = "thread_participants";
    public const string Mentions = "mentions";
    public const string Reactions = "reactions";
    public const string ReadPositions = "read_positions";
    public const string DeviceCursors = "device_cursors";

    /// <summary>One document per owner (a user or a team): <c>{ _id: owner, bytes }</c>.</summary>
    public const string Usage = "storage_usage";

    public static BsonBinaryData Id(Guid id) => new(id, GuidRepresentation.Standard);

    public static Guid ToGuid(BsonValue value) => value.AsBsonBinaryData.ToGuid(GuidRepresentation.Standard);

    public static BsonDateTime Time(DateTimeOffset time) => new(time.ToUnixTimeMilliseconds());

    public static DateTimeOffset ToTime(BsonValue value) => DateTimeOffset.FromUnixTimeMilliseconds(value.AsBsonDateTime.MillisecondsSinceEpoch);

    /// <summary>A time as the store keeps it: whole milliseconds, UTC.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset time) => DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds());

    /// <summary>A seq as stored: seqs never come near long.MaxValue, and a larger bound reads as "all".</summary>
    public static long Seq(ulong seq) => seq > long.MaxValue ? long.MaxValue : (long)seq;

    public static BsonBinaryData Bytes(ReadOnlyMemory<byte> bytes) => new(bytes.ToArray(), BsonBinarySubType.Binary);

    /// <summary>The events document of <paramref name="e"/>, with the digest of a message's original body.</summary>
    public static BsonDocument ToDocument(StoredEvent e, byte[]? originalDigest)
    {
        var document = new BsonDocument
        {
            { EventFields.ConversationId, Id(e.ConversationId) },
            { EventFields.Seq, Seq(e.Seq) },
            { EventFields.EventId, Id(e.EventId) },
            { EventFields.Kind, (int)e.Kind },
            { EventFields.SenderUserId, Id(e.SenderUserId) },
            { EventFields.SenderDeviceId, Id(e.SenderDeviceId) },
            { EventFields.StoredAt, Time(e.StoredAt) },
            { EventFields.ContentType, e.ContentType },
            { EventFields.Content, Bytes(e.Content) },
        };
        if (e.SubjectId is { } subject)
        {
            document.Add(EventFields.SubjectId, Id(subject));
        }

        if (e.ThreadRootId is { } root)
        {
            document.Add(EventFields.ThreadRootId, Id(root));
        }

        if (e.Mentions.Count > 0)
        {
            document.Add(EventFields.Mentions, new BsonArray(e.Mentions.Select(Id)));
        }

        if (e.GroupMentions != GroupMentions.None)
        {
            document.Add(EventFields.GroupMentions, (int)e.GroupMentions);
        }

        if (e.EditedAt is { } edited)
        {
            document.Add(EventFields.EditedAt, Time(edited));
        }

        if (e.DeletedAt is { } deleted)
        {
            document.Add(EventFields.DeletedAt, Time(deleted));
        }

        if (originalDigest is not null)
        {
            document.Add(EventFields.OriginalDigest, new BsonBinaryData(originalDigest, BsonBinarySubType.Binary));
        }

        return document;
    }

    /// <summary>The event an events document holds (fields the store does not know are ignored, _id among them).</summary>
    public static StoredEvent ToStoredEvent(BsonDocument document) => new(
        ToGuid(document[EventFields.ConversationId]),
        ToGuid(document[EventFields.EventId]),
        (ulong)document[EventFields.Seq].ToInt64(),
        (EventKind)document[EventFields.Kind].ToInt32(),
        ToGuid(document[EventFields.SenderUserId]),
        ToGuid(document[EventFields.SenderDeviceId]),
        ToTime(document[EventFields.StoredAt]),
        document[EventFields.ContentType].AsString,
        document[EventFields.Content].AsBsonBinaryData.Bytes,
        OptionalGuid(document, EventFields.SubjectId))
    {
        ThreadRootId = OptionalGuid(document, EventFields.ThreadRootId),
        Mentions = document.TryGetValue(EventFields.Mentions, out var mentions) && mentions.IsBsonArray
            ? [.. mentions.AsBsonArray.Select(ToGuid)]
            : [],
        GroupMentions = document.TryGetValue(EventFields.GroupMentions, out var group) && group.IsNumeric ? (GroupMentions)group.ToInt32() : GroupMentions.None,
        EditedAt = OptionalTime(document, EventFields.EditedAt),
        DeletedAt = OptionalTime(document, EventFields.DeletedAt),
    };

    /// <summary>The digest of a message's original body; null for other kinds.</summary>
    public static byte[]? OriginalDigest(BsonDocument document) =>
        document.TryGetValue(EventFields.OriginalDigest, out var digest) && digest.IsBsonBinaryData ? digest.AsBsonBinaryData.Bytes : null;

    public static Guid? OptionalGuid(BsonDocument document, string field) =>
        document.TryGetValue(field, out var value) && value.IsBsonBinaryData ? ToGuid(value) : null;

    public static DateTimeOffset? OptionalTime(BsonDocument document, string field) =>
        document.TryGetValue(field, out var value) && value.IsValidDateTime ? ToTime(value) : null;
}

/// <summary>The field names of an events document.</summary>
internal static class EventFields
{
    public const string ConversationId = "conversationId";
    public const string Seq = "seq";
    public const string EventId = "eventId";
    public const string Kind = "kind";
    public const string SenderUserId = "senderUserId";
    public const string SenderDeviceId = "senderDeviceId";

    /// <summary>A BSON date: the TTL index expires events by it.</summary>
    public const string StoredAt = "storedAt";

    public const string ContentType = "contentType";
    public const string Content = "content";
    public const string SubjectId = "subjectId";
    public const string ThreadRootId = "threadRootId";
    public const string Mentions = "mentions";
    public const string GroupMentions = "groupMentions";
    public const string EditedAt = "editedAt";
    public const string DeletedAt = "deletedAt";

    /// <summary>SHA-256 of a message's content type and body as sent (<see cref="EventIdentity.Digest"/>).</summary>
    public const string OriginalDigest = "originalDigest";
}

/// <summary>The field names of the documents beside the events (threads, mentions, reactions, positions, heads, usage).</summary>
internal static class Fields
{
    public const string Id = "_id";
    public const string ConversationId = "conversationId";
    public const string LastSeq = "lastSeq";
    public const string RootId = "rootId";
    public const string ReplyCount = "replyCount";
    public const string LastReplyAt = "lastReplyAt";
    public const string UserId = "userId";
    public const string DeviceId = "deviceId";
    public const string JoinedSeq = "joinedSeq";
    public const string Seq = "seq";
    public const string SenderUserId = "senderUserId";
    public const string StoredAt = "storedAt";
    public const string MessageId = "messageId";
    public const string Emoji = "emoji";
    public const string AddedAt = "addedAt";
    public const string ReadSeq = "readSeq";
    public const string Bytes = "bytes";
}
