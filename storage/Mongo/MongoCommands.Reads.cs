using ChatWire.Storage.Messages;
using MongoDB.Bson;
using MongoDB.Driver;

namespace ChatWire.Storage.Mongo;

// What the store's reads send, and the forward-only position updates.
internal static partial class MongoCommands
{
    /// <summary>
    /// A page of a conversation next to <paramref name="from"/> (exclusive), nearest first, so a byte budget
    /// cut keeps the events nearest the start; with a thread root, the root and its replies only.
    /// </summary>
    public static (FilterDefinition<BsonDocument> Filter, FindOptions<BsonDocument> Options) ReadEvents(
        Guid conversationId, long from, ReadDirection direction, int limit, Guid? threadRootId)
    {
        var range = direction switch
        {
            ReadDirection.Before => Filter.Lt(EventFields.Seq, from),
            ReadDirection.After => Filter.Gt(EventFields.Seq, from),
            _ => throw new ArgumentOutOfRangeException(nameof(direction), direction, "Unknown read direction."),
        };
        var filter = Filter.Eq(EventFields.ConversationId, Id(conversationId)) & range;
        if (threadRootId is { } root)
        {
            // Each branch has its index: the replies (conversation, threadRootId, seq), the root (conversation, eventId).
            filter &= Filter.Or(Filter.Eq(EventFields.ThreadRootId, Id(root)), Filter.Eq(EventFields.EventId, Id(root)));
        }

        var sort = direction == ReadDirection.Before ? Builders<BsonDocument>.Sort.Descending(EventFields.Seq) : Builders<BsonDocument>.Sort.Ascending(EventFields.Seq);
        return (filter, new FindOptions<BsonDocument> { Sort = sort, Limit = limit, BatchSize = Math.Min(limit, 1000) });
    }

    /// <summary>The messages (kind 0) with this id, deleted ones included, in any conversation: seq and conversation only.</summary>
    public static (FilterDefinition<BsonDocument> Filter, FindOptions<BsonDocument> Options) LocateMessage(Guid messageId) =>
        (Filter.Eq(EventFields.EventId, Id(messageId)) & Filter.Eq(EventFields.Kind, (int)EventKind.Message),
         new FindOptions<BsonDocument>
         {
             Sort = Builders<BsonDocument>.Sort.Ascending(EventFields.ConversationId),
             Limit = IMessageStore.MaxLocatedPlaces,
             Projection = Builders<BsonDocument>.Projection.Include(EventFields.ConversationId).Include(EventFields.Seq).Exclude(Fields.Id),
         });

    /// <summary>Documents whose _id is one of <paramref name="ids"/> (heads, usage).</summary>
    public static FilterDefinition<BsonDocument> ByIds(IEnumerable<Guid> ids) => Filter.In(Fields.Id, ids.Select(Id));

    /// <summary>An owner's positions (read positions by user, cursors by device) in some conversations.</summary>
    public static FilterDefinition<BsonDocument> Positions(string ownerField, Guid ownerId, IEnumerable<Guid> conversationIds) =>
        Filter.Eq(ownerField, Id(ownerId)) & Filter.In(Fields.ConversationId, conversationIds.Select(Id));

    /// <summary>The delivery cursors that these devices hold in one conversation.</summary>
    public static FilterDefinition<BsonDocument> CursorsOfDevices(Guid conversationId, IEnumerable<Guid> deviceIds) =>
        Filter.Eq(Fields.ConversationId, Id(conversationId)) & Filter.In(Fields.DeviceId, deviceIds.Select(Id));

    /// <summary>Positions (read positions, device cursors) furthest first.</summary>
    public static SortDefinition<BsonDocument> HighestSeqFirst { get; } = Builders<BsonDocument>.Sort.Descending(Fields.Seq);

    /// <summary>
    /// Moves an owner's position in a conversation up to <paramref name="seq"/>, never down (<c>$max</c>),
    /// creating it when missing. The caller has already capped <paramref name="seq"/> at the conversation's head.
    /// </summary>
    public static UpdateOneModel<BsonDocument> MoveForward(string ownerField, string seqField, Guid ownerId, Guid conversationId, long seq) =>
        new(Filter.Eq(ownerField, Id(ownerId)) & Filter.Eq(Fields.ConversationId, Id(conversationId)), Update.Max(seqField, seq)) { IsUpsert = true };

    /// <summary>Messages after the read position from other people, not deleted: counted up to <see cref="IMessageStore.MaxCountedUnread"/>.</summary>
    public static FilterDefinition<BsonDocument> Unread(Guid conversationId, Guid userId, long readSeq) =>
        Filter.Eq(EventFields.ConversationId, Id(conversationId))
        & Filter.Gt(EventFields.Seq, readSeq)
        & Filter.Eq(EventFields.Kind, (int)EventKind.Message)
        & Filter.Exists(EventFields.DeletedAt, false)
        & Filter.Ne(EventFields.SenderUserId, Id(userId));

    public static CountOptions CountUpToMaxUnread { get; } = new() { Limit = IMessageStore.MaxCountedUnread };

    /// <summary>
    /// The messages after the read position that mention the user or everyone (the nil user), from other
    /// people, each counted once however many mention rows it has, up to <see cref="IMessageStore.MaxCountedUnread"/>.
    /// </summary>
    public static PipelineDefinition<BsonDocument, BsonDocument> CountMentions(Guid conversationId, Guid userId, long readSeq) => new BsonDocument[]
    {
        new("$match", new BsonDocument
        {
            { Fields.ConversationId, Id(conversationId) },
            { Fields.UserId, new BsonDocument("$in", new BsonArray { Id(userId), Id(Guid.Empty) }) },
            { Fields.Seq, new BsonDocument("$gt", readSeq) },
            { Fields.SenderUserId, new BsonDocument("$ne", Id(userId)) },
        }),
        new("$group", new BsonDocument("_id", "$" + Fields.Seq)),
        new("$limit", IMessageStore.MaxCountedUnread),
        new("$count", "count"),
    };

    /// <summary>The thread summaries (or participants) of some roots of one conversation.</summary>
    public static FilterDefinition<BsonDocument> ThreadsOf(Guid conversationId, IEnumerable<Guid> rootIds) =>
        Filter.Eq(Fields.ConversationId, Id(conversationId)) & Filter.In(Fields.RootId, rootIds.Select(Id));

    /// <summary>Participants in the order they joined.</summary>
    public static SortDefinition<BsonDocument> ByJoinedSeq { get; } = Builders<BsonDocument>.Sort.Ascending(Fields.JoinedSeq);

    /// <summary>
    /// Reaction counts of some messages: one row per (message, emoji) with its count, whether the reader is
    /// among them, and when it was first added, ordered by message, then first added, then emoji (the
    /// server compares strings by their UTF-8 bytes, as SQLite's BINARY collation does).
    /// </summary>
    public static PipelineDefinition<BsonDocument, BsonDocument> ReactionCounts(Guid conversationId, IEnumerable<Guid> messageIds, Guid readerUserId) => new BsonDocument[]
    {
        new("$match", new BsonDocument
        {
            { Fields.ConversationId, Id(conversationId) },
            { Fields.MessageId, new BsonDocument("$in", new BsonArray(messageIds.Select(Id))) },
        }),
        new("$group", new BsonDocument
        {
            { "_id", new BsonDocument { { Fields.MessageId, "$" + Fields.MessageId }, { Fields.Emoji, "$" + Fields.Emoji } } },
            { "count", new BsonDocument("$sum", 1) },
            { "mine", new BsonDocument("$max", new BsonDocument("$eq", new BsonArray { "$" + Fields.UserId, Id(readerUserId) })) },
            { "first", new BsonDocument("$min", "$" + Fields.AddedAt) },
        }),
        new("$sort", new BsonDocument { { "_id." + Fields.MessageId, 1 }, { "first", 1 }, { "_id." + Fields.Emoji, 1 } }),
    };
}
