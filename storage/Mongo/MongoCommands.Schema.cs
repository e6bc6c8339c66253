using ChatWire.Storage.Messages;
using MongoDB.Bson;
using MongoDB.Driver;

namespace ChatWire.Storage.Mongo;

/// <summary>
/// Every command, filter, update, index and write model the MongoDB store sends, built in small static
/// methods so the golden tests render exactly what goes to the server (tests/…/Mongo/MongoCommandsTests).
/// This part: durability settings, collections, indexes and shard keys.
/// </summary>
internal static partial class MongoCommands
{
    /// <summary>
    /// Acknowledged by a majority of the replica set, each member having written it to its journal: what an
    /// append's acknowledgement promises (it survives a failover and a power loss).
    /// </summary>
    public static WriteConcern Durable { get; } = new("majority", journal: true);

    /// <summary>
    /// Each batch's transaction: snapshot reads (every read of the batch sees one point in time, and a write
    /// to a document changed since then fails with a write conflict: that is what keeps seqs gap-free with
    /// several writers), on the primary, committed with <see cref="Durable"/>.
    /// </summary>
    public static TransactionOptions BatchTransaction { get; } = new(
        readConcern: ReadConcern.Snapshot,
        readPreference: ReadPreference.Primary,
        writeConcern: Durable);

    // MongoDB error codes (src/mongo/base/error_codes.yml): a unique index refused a key; a collection already
    // exists; a collection is already sharded (with another key, or on an older server); an index exists
    // under the same name with other options.
    public const int DuplicateKeyCode = 11000;
    public const int NamespaceExistsCode = 48;
    public const int AlreadyInitializedCode = 23;
    public const int IndexOptionsConflictCode = 85;

    /// <summary>The collections the store uses, created at start-up: a transaction may not create one on a sharded cluster.</summary>
    public static IReadOnlyList<string> Collections { get; } =
    [
        MongoDocuments.Events, MongoDocuments.Heads, MongoDocuments.Threads, MongoDocuments.ThreadParticipants, MongoDocuments.Mentions,
        MongoDocuments.Reactions, MongoDocuments.ReadPositions, MongoDocuments.DeviceCursors, MongoDocuments.Usage,
    ];

    /// <summary>
    /// The shard key of each collection on a sharded cluster, always one hashed field: the conversation for
    /// everything a conversation holds (so a batch's reads and writes for one conversation go to one shard),
    /// the owner for read positions, cursors and usage. Every unique index below starts with its collection's
    /// shard key field, which is what MongoDB requires of a unique index on a sharded collection.
    /// </summary>
    public static IReadOnlyList<(string Collection, string Field)> ShardKeys { get; } =
    [
        (MongoDocuments.Events, EventFields.ConversationId),
        (MongoDocuments.Heads, Fields.Id),
        (MongoDocuments.Threads, Fields.ConversationId),
        (MongoDocuments.ThreadParticipants, Fields.ConversationId),
        (MongoDocuments.Mentions, Fields.ConversationId),
        (MongoDocuments.Reactions, Fields.ConversationId),
        (MongoDocuments.ReadPositions, Fields.UserId),
        (MongoDocuments.DeviceCursors, Fields.DeviceId),
        (MongoDocuments.Usage, Fields.Id),
    ];

    /// <summary><c>hello</c>: a mongos answers with <c>msg: "isdbgrid"</c>.</summary>
    public static BsonDocument Hello() => new("hello", 1);

    public static bool IsShardedCluster(BsonDocument helloReply) =>
        helloReply.TryGetValue("msg", out var msg) && msg is BsonString { Value: "isdbgrid" };

    /// <summary>
    /// Whether the deployment runs multi-document transactions: a replica set member (it names its set) or a
    /// mongos. A standalone server does not, and every batch would fail.
    /// </summary>
    public static bool SupportsTransactions(BsonDocument helloReply) =>
        IsShardedCluster(helloReply) || helloReply.Contains("setName");

    /// <summary><c>create</c>, for a collection that may already exist (<see cref="NamespaceExistsCode"/> is then expected).</summary>
    public static BsonDocument CreateCollection(string collection) => new("create", collection);

    /// <summary>The admin command that shards <paramref name="collection"/> on the hashed <paramref name="field"/>.</summary>
    public static BsonDocument ShardCollection(string database, string collection, string field) => new()
    {
        { "shardCollection", $"{database}.{collection}" },
        { "key", new BsonDocument(field, "hashed") },
    };

    /// <summary>The index that supports a hashed shard key; created before sharding a collection that may hold documents.</summary>
    public static BsonDocument ShardKeyIndex(string field) => new()
    {
        { "key", new BsonDocument(field, "hashed") },
        { "name", $"{field}_hashed" },
    };

    /// <summary>
    /// Whether sharding a collection failed only because it is sharded already (a restart, or another
    /// gateway starting at the same time). Recent servers answer an identical request with ok; older ones
    /// and a different key answer AlreadyInitialized.
    /// </summary>
    public static bool IsAlreadySharded(MongoCommandException exception) =>
        exception.Code == AlreadyInitializedCode
        || exception.ErrorMessage?.Contains("already sharded", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary><c>createIndexes</c> on <paramref name="collection"/>; indexes that exist with the same definition are left as they are.</summary>
    public static BsonDocument CreateIndexes(string collection, IEnumerable<BsonDocument> indexes) => new()
    {
        { "createIndexes", collection },
        { "indexes", new BsonArray(indexes) },
        { "writeConcern", Durable.ToBsonDocument() },
    };

    /// <summary><c>collMod</c> giving an existing TTL index the expiry of <paramref name="ttlIndex"/> (one of <see cref="Indexes"/>).</summary>
    public static BsonDocument ChangeExpiry(string collection, BsonDocument ttlIndex) => new()
    {
        { "collMod", collection },
        { "index", new BsonDocument { { "name", ttlIndex["name"] }, { "expireAfterSeconds", ttlIndex["expireAfterSeconds"] } } },
    };

    /// <summary>The secondary indexes of every collection (the _id index is implicit).</summary>
    public static IReadOnlyList<(string Collection, IReadOnlyList<BsonDocument> Indexes)> Indexes(long retentionSeconds) =>
    [
        (MongoDocuments.Events, EventsIndexes(retentionSeconds)),
        (MongoDocuments.Threads, [Index("conversation_root", Unique, (Fields.ConversationId, 1), (Fields.RootId, 1))]),
        (MongoDocuments.ThreadParticipants, [Index("conversation_root_user", Unique, (Fields.ConversationId, 1), (Fields.RootId, 1), (Fields.UserId, 1))]),
        (MongoDocuments.Mentions, MentionsIndexes(retentionSeconds)),
        (MongoDocuments.Reactions, [Index("conversation_message_emoji_user", Unique, (Fields.ConversationId, 1), (Fields.MessageId, 1), (Fields.Emoji, 1), (Fields.UserId, 1))]),
        (MongoDocuments.ReadPositions, [Index("user_conversation", Unique, (Fields.UserId, 1), (Fields.ConversationId, 1))]),
        (MongoDocuments.DeviceCursors, [Index("device_conversation", Unique, (Fields.DeviceId, 1), (Fields.ConversationId, 1))]),
    ];

    /// <summary>
    /// The events' indexes. Unique on (conversation, seq): one event per seq. Unique on (conversation, event
    /// id): the idempotency key; it is stricter than (conversation, sender device, id), since an id names one
    /// event in its conversation whoever sends it (a second device's use of it is a Conflict). The TTL index
    /// removes an event <paramref name="retentionSeconds"/> after it was stored.
    /// </summary>
    public static IReadOnlyList<BsonDocument> EventsIndexes(long retentionSeconds) =>
    [
        Index("conversation_seq", Unique, (EventFields.ConversationId, 1), (EventFields.Seq, 1)),
        Index("conversation_event", Unique, (EventFields.ConversationId, 1), (EventFields.EventId, 1)),

        // Paging one thread: its replies in seq order; only replies carry the field.
        Index("conversation_thread_seq", new BsonDocument("partialFilterExpression", new BsonDocument(EventFields.ThreadRootId, new BsonDocument("$exists", true))),
            (EventFields.ConversationId, 1), (EventFields.ThreadRootId, 1), (EventFields.Seq, 1)),

        // The edits of a message, to erase when it is deleted.
        Index("conversation_edits", new BsonDocument("partialFilterExpression", new BsonDocument(EventFields.Kind, (int)EventKind.MessageEdited)),
            (EventFields.ConversationId, 1), (EventFields.SubjectId, 1)),

        // LocateMessageAsync: which conversations hold a message id.
        Index("event", null, (EventFields.EventId, 1)),
        Ttl("stored_at_ttl", EventFields.StoredAt, retentionSeconds),
    ];

    /// <summary>Mentions are counted by range from a read position; they expire with the messages they point at.</summary>
    public static IReadOnlyList<BsonDocument> MentionsIndexes(long retentionSeconds) =>
    [
        Index("conversation_user_seq", Unique, (Fields.ConversationId, 1), (Fields.UserId, 1), (Fields.Seq, 1)),
        Ttl("stored_at_ttl", Fields.StoredAt, retentionSeconds),
    ];

    private static BsonDocument Unique { get; } = new("unique", true);

    private static BsonDocument Index(string name, BsonDocument? options, params (string Field, int Order)[] keys)
    {
        var key = new BsonDocument();
        foreach (var (field, order) in keys)
        {
            key.Add(field, order);
        }

        var index = new BsonDocument { { "key", key }, { "name", name } };
        if (options is not null)
        {
            index.AddRange(options);
        }

        return index;
    }

    // A TTL index must be a single-field index on a date field (MongoDB manual, "TTL Indexes"); the server
    // keeps expireAfterSeconds as a 32-bit integer, which the options validate.
    private static BsonDocument Ttl(string name, string field, long retentionSeconds) => new()
    {
        { "key", new BsonDocument(field, 1) },
        { "name", name },
        { "expireAfterSeconds", checked((int)retentionSeconds) },
    };
}
