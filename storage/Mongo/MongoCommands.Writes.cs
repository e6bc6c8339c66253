using ChatWire.Storage.Messages;
using MongoDB.Bson;
using MongoDB.Driver;

namespace ChatWire.Storage.Mongo;

// What the batched writer sends inside a batch's transaction: the idempotency look-up, the heads, the
// events, usage, and the change rules' reads and writes.
internal static partial class MongoCommands
{
    private static FilterDefinitionBuilder<BsonDocument> Filter => Builders<BsonDocument>.Filter;

    private static UpdateDefinitionBuilder<BsonDocument> Update => Builders<BsonDocument>.Update;

    /// <summary>The event <paramref name="eventId"/> of a conversation: at most one, by the unique (conversation, event id) index.</summary>
    public static FilterDefinition<BsonDocument> FindEvent(Guid conversationId, Guid eventId) =>
        Filter.Eq(EventFields.ConversationId, Id(conversationId)) & Filter.Eq(EventFields.EventId, Id(eventId));

    /// <summary>The event at <paramref name="seq"/> of a conversation.</summary>
    public static FilterDefinition<BsonDocument> EventAt(Guid conversationId, long seq) =>
        Filter.Eq(EventFields.ConversationId, Id(conversationId)) & Filter.Eq(EventFields.Seq, seq);

    /// <summary>What the change rules need of a message: no content.</summary>
    public static ProjectionDefinition<BsonDocument> TargetProjection { get; } = Builders<BsonDocument>.Projection
        .Include(EventFields.Seq).Include(EventFields.Kind).Include(EventFields.SenderUserId).Include(EventFields.ThreadRootId).Include(EventFields.DeletedAt)
        .Exclude(Fields.Id);

    /// <summary>The heads of <paramref name="conversationIds"/>: the last seq each has handed out.</summary>
    public static FilterDefinition<BsonDocument> Heads(IEnumerable<Guid> conversationIds) =>
        Filter.In(Fields.Id, conversationIds.Select(Id));

    /// <summary>
    /// Moves a conversation's head past the <paramref name="count"/> seqs a batch allocated, creating it for
    /// a conversation's first event. Inside the batch's transaction: if another writer moved the head after
    /// the batch read it, this write conflicts and the whole batch runs again.
    /// </summary>
    public static UpdateOneModel<BsonDocument> IncrementHead(Guid conversationId, long count) =>
        new(Filter.Eq(Fields.Id, Id(conversationId)), Update.Inc(Fields.LastSeq, count)) { IsUpsert = true };

    public static InsertOneModel<BsonDocument> InsertEvent(BsonDocument eventDocument) => new(eventDocument);

    /// <summary>Adds <paramref name="bytes"/> of stored content to an owner's usage.</summary>
    public static UpdateOneModel<BsonDocument> AddUsage(Guid ownerId, long bytes) =>
        new(Filter.Eq(Fields.Id, Id(ownerId)), Update.Inc(Fields.Bytes, bytes)) { IsUpsert = true };

    /// <summary>
    /// The bulk writes of a batch: the models touch distinct documents (one per event, head or owner), so
    /// their order does not matter, and inside a transaction any failure aborts all of them anyway.
    /// </summary>
    public static BulkWriteOptions Unordered { get; } = new() { IsOrdered = false };

    /// <summary>An edit by its author: the message takes the new content and the edit's time.</summary>
    public static UpdateDefinition<BsonDocument> EditMessage(string contentType, ReadOnlyMemory<byte> content, DateTimeOffset now) =>
        Update.Set(EventFields.ContentType, contentType).Set(EventFields.Content, MongoDocuments.Bytes(content)).Set(EventFields.EditedAt, MongoDocuments.Time(now));

    /// <summary>A deletion: the content and mentions go, the seq stays as a tombstone.</summary>
    public static UpdateDefinition<BsonDocument> DeleteMessage(DateTimeOffset now) =>
        Update.Set(EventFields.ContentType, string.Empty).Set(EventFields.Content, MongoDocuments.Bytes(default))
            .Set(EventFields.DeletedAt, MongoDocuments.Time(now))
            .Unset(EventFields.Mentions).Unset(EventFields.GroupMentions);

    /// <summary>The edits (kind 3) of a message, whose content a deletion erases too.</summary>
    public static FilterDefinition<BsonDocument> EditsOf(Guid conversationId, Guid messageId) =>
        Filter.Eq(EventFields.ConversationId, Id(conversationId)) & Filter.Eq(EventFields.Kind, (int)EventKind.MessageEdited) & Filter.Eq(EventFields.SubjectId, Id(messageId));

    public static UpdateDefinition<BsonDocument> EraseEdit(DateTimeOffset now) =>
        Update.Set(EventFields.Content, MongoDocuments.Bytes(default)).Set(EventFields.DeletedAt, MongoDocuments.Time(now));

    /// <summary>
    /// Records a reply in its root's thread summary. Equality fields of the filter become the fields of the
    /// document an upsert inserts.
    /// </summary>
    public static UpdateOneModel<BsonDocument> AddReply(Guid conversationId, Guid rootId, DateTimeOffset now) =>
        new(Filter.Eq(Fields.ConversationId, Id(conversationId)) & Filter.Eq(Fields.RootId, Id(rootId)),
            Update.Inc(Fields.ReplyCount, 1).Set(Fields.LastReplyAt, MongoDocuments.Time(now)))
        { IsUpsert = true };

    /// <summary>A thread participant, kept with the seq they joined at; a second add changes nothing.</summary>
    public static UpdateOneModel<BsonDocument> AddParticipant(Guid conversationId, Guid rootId, Guid userId, long joinedSeq) =>
        new(Filter.Eq(Fields.ConversationId, Id(conversationId)) & Filter.Eq(Fields.RootId, Id(rootId)) & Filter.Eq(Fields.UserId, Id(userId)),
            Update.SetOnInsert(Fields.JoinedSeq, joinedSeq))
        { IsUpsert = true };

    /// <summary>The participants of one thread.</summary>
    public static FilterDefinition<BsonDocument> ParticipantsOf(Guid conversationId, Guid rootId) =>
        Filter.Eq(Fields.ConversationId, Id(conversationId)) & Filter.Eq(Fields.RootId, Id(rootId));

    /// <summary>
    /// A mention of <paramref name="userId"/> (the nil user for @channel and @here) by the message at
    /// <paramref name="seq"/>; a second add changes nothing. It expires with its message.
    /// </summary>
    public static UpdateOneModel<BsonDocument> AddMention(Guid conversationId, Guid userId, long seq, Guid senderUserId, DateTimeOffset storedAt) =>
        new(Filter.Eq(Fields.ConversationId, Id(conversationId)) & Filter.Eq(Fields.UserId, Id(userId)) & Filter.Eq(Fields.Seq, seq),
            Update.SetOnInsert(Fields.SenderUserId, Id(senderUserId)).SetOnInsert(Fields.StoredAt, MongoDocuments.Time(storedAt)))
        { IsUpsert = true };

    /// <summary>The mentions made by the message at <paramref name="seq"/>.</summary>
    public static FilterDefinition<BsonDocument> MentionsAt(Guid conversationId, long seq) =>
        Filter.Eq(Fields.ConversationId, Id(conversationId)) & Filter.Eq(Fields.Seq, seq);

    /// <summary>Every reaction to a message.</summary>
    public static FilterDefinition<BsonDocument> ReactionsOf(Guid conversationId, Guid messageId) =>
        Filter.Eq(Fields.ConversationId, Id(conversationId)) & Filter.Eq(Fields.MessageId, Id(messageId));

    /// <summary>One user's reaction with one emoji.</summary>
    public static FilterDefinition<BsonDocument> Reaction(Guid conversationId, Guid messageId, string emoji, Guid userId) =>
        ReactionsOf(conversationId, messageId) & Filter.Eq(Fields.Emoji, emoji) & Filter.Eq(Fields.UserId, Id(userId));

    public static BsonDocument ReactionDocument(Guid conversationId, Guid messageId, string emoji, Guid userId, DateTimeOffset now) => new()
    {
        { Fields.ConversationId, Id(conversationId) },
        { Fields.MessageId, Id(messageId) },
        { Fields.Emoji, emoji },
        { Fields.UserId, Id(userId) },
        { Fields.AddedAt, MongoDocuments.Time(now) },
    };

    /// <summary>
    /// A message's reactions grouped by emoji, each with how many are <paramref name="userId"/>'s (0 or 1):
    /// the group count is the distinct emoji, the sum the user's reactions. An aggregation rather than
    /// <c>distinct</c>, which a transaction may not run on a sharded collection.
    /// </summary>
    public static PipelineDefinition<BsonDocument, BsonDocument> ReactionEmojiByUser(Guid conversationId, Guid messageId, Guid userId) => new BsonDocument[]
    {
        new("$match", new BsonDocument { { Fields.ConversationId, Id(conversationId) }, { Fields.MessageId, Id(messageId) } }),
        new("$group", new BsonDocument
        {
            { "_id", "$" + Fields.Emoji },
            { "byUser", new BsonDocument("$sum", new BsonDocument("$cond", new BsonArray { new BsonDocument("$eq", new BsonArray { "$" + Fields.UserId, Id(userId) }), 1, 0 })) },
        }),
    };

    /// <summary>A duplicate key, on its own or among a bulk write's errors.</summary>
    public static bool IsDuplicateKey(MongoException exception) => exception switch
    {
        MongoWriteException write => write.WriteError?.Code == DuplicateKeyCode,
        MongoBulkWriteException bulk => bulk.WriteErrors.Any(e => e.Code == DuplicateKeyCode),
        MongoCommandException command => command.Code == DuplicateKeyCode,
        _ => false,
    };

    private static BsonBinaryData Id(Guid id) => MongoDocuments.Id(id);
}
