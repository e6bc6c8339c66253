using System.Net;
using ChatWire.Storage.Messages;
using ChatWire.Storage.Mongo;
using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.Core.Clusters;
using MongoDB.Driver.Core.Connections;
using MongoDB.Driver.Core.Servers;

namespace ChatWire.Storage.Tests.Mongo;

// Golden tests of what the MongoDB store sends, no server needed: each expected document is written from the
// MongoDB manual's description of the command, operator or option (canonical extended JSON, so the BSON
// types are checked too).
public sealed class MongoCommandsTests
{
    private static readonly Guid Conversation = Guid.Parse("0c0c0c0c-0000-4000-8000-000000000001");
    private static readonly Guid Event = Guid.Parse("e0e0e0e0-0000-7000-8000-000000000002");
    private static readonly Guid User = Guid.Parse("aaaaaaaa-0000-4000-8000-000000000003");
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_767_225_600_123);

    // The same Guids as BSON binary subtype 4 (UUID, standard byte order).
    private const string C = """{ "$binary" : { "base64" : "DAwMDAAAQACAAAAAAAAAAQ==", "subType" : "04" } }""";
    private const string E = """{ "$binary" : { "base64" : "4ODg4AAAcACAAAAAAAAAAg==", "subType" : "04" } }""";
    private const string U = """{ "$binary" : { "base64" : "qqqqqgAAQACAAAAAAAAAAw==", "subType" : "04" } }""";
    private const string Nil = """{ "$binary" : { "base64" : "AAAAAAAAAAAAAAAAAAAAAA==", "subType" : "04" } }""";
    private const string Date = """{ "$date" : { "$numberLong" : "1767225600123" } }""";
    private const string NoBytes = """{ "$binary" : { "base64" : "", "subType" : "00" } }""";

    [Fact]
    public void Durable_IsMajorityWithJournal()
    {
        Rendered.AssertJson("""{ "w" : "majority", "j" : true }""", MongoCommands.Durable.ToBsonDocument());
    }

    [Fact]
    public void BatchTransaction_ReadsASnapshotOnThePrimary_CommitsDurably()
    {
        var options = MongoCommands.BatchTransaction;

        Rendered.AssertJson("""{ "level" : "snapshot" }""", options.ReadConcern.ToBsonDocument());
        Assert.Equal(ReadPreferenceMode.Primary, options.ReadPreference.ReadPreferenceMode);
        Rendered.AssertJson("""{ "w" : "majority", "j" : true }""", options.WriteConcern.ToBsonDocument());
    }

    [Fact]
    public void CreateIndexes_Events_UniqueKeysPartialIndexesAndTenYearTtl()
    {
        var command = MongoCommands.CreateIndexes(MongoDocuments.Events, MongoCommands.EventsIndexes(new MongoMessageStoreOptions("mongodb://unused").RetentionSeconds));

        Rendered.AssertJson("""
            {
              "createIndexes" : "events",
              "indexes" : [
                { "key" : { "conversationId" : 1, "seq" : 1 }, "name" : "conversation_seq", "unique" : true },
                { "key" : { "conversationId" : 1, "eventId" : 1 }, "name" : "conversation_event", "unique" : true },
                { "key" : { "conversationId" : 1, "threadRootId" : 1, "seq" : 1 }, "name" : "conversation_thread_seq",
                  "partialFilterExpression" : { "threadRootId" : { "$exists" : true } } },
                { "key" : { "conversationId" : 1, "subjectId" : 1 }, "name" : "conversation_edits", "partialFilterExpression" : { "kind" : 3 } },
                { "key" : { "eventId" : 1 }, "name" : "event" },
                { "key" : { "storedAt" : 1 }, "name" : "stored_at_ttl", "expireAfterSeconds" : 315619200 }
              ],
              "writeConcern" : { "w" : "majority", "j" : true }
            }
            """, command);
    }

    [Fact]
    public void EventsIndexes_RetentionDays_BecomeTheTtlExpiryInSeconds()
    {
        var options = new MongoMessageStoreOptions("mongodb://unused") { RetentionDays = 3652 };

        var ttl = MongoCommands.EventsIndexes(options.RetentionSeconds)[^1];

        Rendered.AssertJson("""{ "key" : { "storedAt" : 1 }, "name" : "stored_at_ttl", "expireAfterSeconds" : 315532800 }""", ttl);
        Assert.Equal(3653, new MongoMessageStoreOptions("mongodb://unused").RetentionDays);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(24_856)] // 24,856 days is past int.MaxValue seconds, the server's limit for expireAfterSeconds.
    public void Options_RetentionOutOfRange_Throws(int days)
    {
        var options = new MongoMessageStoreOptions("mongodb://unused") { RetentionDays = days };

        Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
    }

    [Fact]
    public void ChangeExpiry_IsCollModOfTheTtlIndex()
    {
        var ttl = MongoCommands.EventsIndexes(86_400)[^1];

        Rendered.AssertJson("""{ "collMod" : "events", "index" : { "name" : "stored_at_ttl", "expireAfterSeconds" : 86400 } }""", MongoCommands.ChangeExpiry("events", ttl));
    }

    [Fact]
    public void Indexes_OtherCollections_UniqueOnTheirKeys_MentionsExpireWithTheEvents()
    {
        var indexes = MongoCommands.Indexes(315_619_200).ToDictionary(i => i.Collection, i => new BsonArray(i.Indexes));

        Rendered.AssertJson("""
            [
              { "key" : { "conversationId" : 1, "userId" : 1, "seq" : 1 }, "name" : "conversation_user_seq", "unique" : true },
              { "key" : { "storedAt" : 1 }, "name" : "stored_at_ttl", "expireAfterSeconds" : 315619200 }
            ]
            """, indexes["mentions"]);
        Rendered.AssertJson("""[{ "key" : { "conversationId" : 1, "rootId" : 1 }, "name" : "conversation_root", "unique" : true }]""", indexes["threads"]);
        Rendered.AssertJson("""[{ "key" : { "conversationId" : 1, "rootId" : 1, "userId" : 1 }, "name" : "conversation_root_user", "unique" : true }]""", indexes["thread_participants"]);
        Rendered.AssertJson("""[{ "key" : { "conversationId" : 1, "messageId" : 1, "emoji" : 1, "userId" : 1 }, "name" : "conversation_message_emoji_user", "unique" : true }]""", indexes["reactions"]);
        Rendered.AssertJson("""[{ "key" : { "userId" : 1, "conversationId" : 1 }, "name" : "user_conversation", "unique" : true }]""", indexes["read_positions"]);
        Rendered.AssertJson("""[{ "key" : { "deviceId" : 1, "conversationId" : 1 }, "name" : "device_conversation", "unique" : true }]""", indexes["device_cursors"]);
    }

    [Fact]
    public void ShardKeys_EveryCollectionIsShardedAndEveryUniqueIndexStartsWithItsShardKeyField()
    {
        // MongoDB enforces a unique index on a sharded collection only when the shard key is its prefix.
        var keys = MongoCommands.ShardKeys.ToDictionary(k => k.Collection, k => k.Field);

        Assert.Equal(MongoCommands.Collections.Order(), keys.Keys.Order());
        Assert.Equal("conversationId", keys["events"]);
        foreach (var (collection, indexes) in MongoCommands.Indexes(1))
        {
            foreach (var index in indexes.Where(i => i.GetValue("unique", false).AsBoolean))
            {
                Assert.Equal(keys[collection], index["key"].AsBsonDocument.GetElement(0).Name);
            }
        }
    }

    [Fact]
    public void Sharding_HelloThenShardCollectionWithAHashedKey()
    {
        Rendered.AssertJson("""{ "hello" : 1 }""", MongoCommands.Hello());
        Assert.True(MongoCommands.IsShardedCluster(BsonDocument.Parse("""{ "isWritablePrimary" : true, "msg" : "isdbgrid", "ok" : 1.0 }""")));
        Assert.False(MongoCommands.IsShardedCluster(BsonDocument.Parse("""{ "isWritablePrimary" : true, "setName" : "rs0", "ok" : 1.0 }""")));
        Assert.True(MongoCommands.SupportsTransactions(BsonDocument.Parse("""{ "isWritablePrimary" : true, "setName" : "rs0", "ok" : 1.0 }""")));
        Assert.True(MongoCommands.SupportsTransactions(BsonDocument.Parse("""{ "isWritablePrimary" : true, "msg" : "isdbgrid", "ok" : 1.0 }""")));
        Assert.False(MongoCommands.SupportsTransactions(BsonDocument.Parse("""{ "isWritablePrimary" : true, "maxWireVersion" : 25, "ok" : 1.0 }""")));
        Rendered.AssertJson("""{ "shardCollection" : "chatwire.events", "key" : { "conversationId" : "hashed" } }""", MongoCommands.ShardCollection("chatwire", "events", "conversationId"));
        Rendered.AssertJson("""{ "key" : { "conversationId" : "hashed" }, "name" : "conversationId_hashed" }""", MongoCommands.ShardKeyIndex("conversationId"));
        Rendered.AssertJson("""{ "create" : "events" }""", MongoCommands.CreateCollection("events"));
    }

    [Fact]
    public void ErrorChecks_AlreadyShardedAndDuplicateKey_RecognisedByCode()
    {
        Assert.True(MongoCommands.IsAlreadySharded(CommandError(23, "AlreadyInitialized", "collection already sharded with different options")));
        Assert.True(MongoCommands.IsAlreadySharded(CommandError(20, "IllegalOperation", "sharding already enabled for collection chatwire.events; already sharded")));
        Assert.False(MongoCommands.IsAlreadySharded(CommandError(13, "Unauthorized", "not authorized on admin")));
        Assert.True(MongoCommands.IsDuplicateKey(CommandError(11000, "DuplicateKey", "E11000 duplicate key error collection: chatwire.events index: conversation_seq")));
        Assert.False(MongoCommands.IsDuplicateKey(CommandError(112, "WriteConflict", "write conflict")));
    }

    [Fact]
    public void FindEvent_IsTheIdempotencyKey()
    {
        Rendered.AssertJson($$"""{ "conversationId" : {{C}}, "eventId" : {{E}} }""", Rendered.Of(MongoCommands.FindEvent(Conversation, Event)));
        Rendered.AssertJson($$"""{ "conversationId" : {{C}}, "seq" : { "$numberLong" : "7" } }""", Rendered.Of(MongoCommands.EventAt(Conversation, 7)));
        Rendered.AssertJson("""{ "seq" : 1, "kind" : 1, "senderUserId" : 1, "threadRootId" : 1, "deletedAt" : 1, "_id" : 0 }""", Rendered.Of(MongoCommands.TargetProjection));
    }

    [Fact]
    public void Heads_ReadByIdAndIncrementedWithUpsert()
    {
        Rendered.AssertJson($$"""{ "_id" : { "$in" : [{{C}}] } }""", Rendered.Of(MongoCommands.Heads([Conversation])));
        Rendered.AssertJson(
            $$"""{ "q" : { "_id" : {{C}} }, "u" : { "$inc" : { "lastSeq" : { "$numberLong" : "3" } } }, "upsert" : true }""",
            Rendered.Of(MongoCommands.IncrementHead(Conversation, 3)));
    }

    [Fact]
    public void Usage_IncrementedWithUpsert_BulkWritesUnordered()
    {
        Rendered.AssertJson(
            $$"""{ "q" : { "_id" : {{U}} }, "u" : { "$inc" : { "bytes" : { "$numberLong" : "100" } } }, "upsert" : true }""",
            Rendered.Of(MongoCommands.AddUsage(User, 100)));
        Assert.False(MongoCommands.Unordered.IsOrdered);
    }

    [Fact]
    public void InsertEvent_CarriesTheWholeEventDocument()
    {
        var stored = new StoredEvent(Conversation, Event, 42, EventKind.Message, User, User, Now, "text/plain", "hi"u8.ToArray())
        {
            ThreadRootId = Event,
            Mentions = [User],
            GroupMentions = GroupMentions.Here,
        };

        var model = MongoCommands.InsertEvent(MongoDocuments.ToDocument(stored, [1, 2, 3]));

        Rendered.AssertJson($$"""
            {
              "conversationId" : {{C}},
              "seq" : { "$numberLong" : "42" },
              "eventId" : {{E}},
              "kind" : 0,
              "senderUserId" : {{U}},
              "senderDeviceId" : {{U}},
              "storedAt" : {{Date}},
              "contentType" : "text/plain",
              "content" : { "$binary" : { "base64" : "aGk=", "subType" : "00" } },
              "threadRootId" : {{E}},
              "mentions" : [{{U}}],
              "groupMentions" : 2,
              "originalDigest" : { "$binary" : { "base64" : "AQID", "subType" : "00" } }
            }
            """, model.Document);
    }

    [Fact]
    public void EditAndDelete_SetTheContentAndTimes_DeleteUnsetsTheMentions()
    {
        Rendered.AssertJson(
            $$"""{ "$set" : { "contentType" : "text/plain", "content" : { "$binary" : { "base64" : "aGk=", "subType" : "00" } }, "editedAt" : {{Date}} } }""",
            Rendered.Of(MongoCommands.EditMessage("text/plain", "hi"u8.ToArray(), Now)));
        Rendered.AssertJson(
            $$"""{ "$set" : { "contentType" : "", "content" : {{NoBytes}}, "deletedAt" : {{Date}} }, "$unset" : { "mentions" : 1, "groupMentions" : 1 } }""",
            Rendered.Of(MongoCommands.DeleteMessage(Now)));
        Rendered.AssertJson($$"""{ "conversationId" : {{C}}, "kind" : 3, "subjectId" : {{E}} }""", Rendered.Of(MongoCommands.EditsOf(Conversation, Event)));
        Rendered.AssertJson($$"""{ "$set" : { "content" : {{NoBytes}}, "deletedAt" : {{Date}} } }""", Rendered.Of(MongoCommands.EraseEdit(Now)));
        Rendered.AssertJson($$"""{ "conversationId" : {{C}}, "seq" : { "$numberLong" : "7" } }""", Rendered.Of(MongoCommands.MentionsAt(Conversation, 7)));
    }

    [Fact]
    public void Threads_ReplyCountedParticipantsAndMentionsAddedOnce()
    {
        Rendered.AssertJson(
            $$"""{ "q" : { "conversationId" : {{C}}, "rootId" : {{E}} }, "u" : { "$inc" : { "replyCount" : 1 }, "$set" : { "lastReplyAt" : {{Date}} } }, "upsert" : true }""",
            Rendered.Of(MongoCommands.AddReply(Conversation, Event, Now)));
        Rendered.AssertJson(
            $$"""{ "q" : { "conversationId" : {{C}}, "rootId" : {{E}}, "userId" : {{U}} }, "u" : { "$setOnInsert" : { "joinedSeq" : { "$numberLong" : "5" } } }, "upsert" : true }""",
            Rendered.Of(MongoCommands.AddParticipant(Conversation, Event, User, 5)));
        Rendered.AssertJson(
            $$"""
            { "q" : { "conversationId" : {{C}}, "userId" : {{Nil}}, "seq" : { "$numberLong" : "5" } },
              "u" : { "$setOnInsert" : { "senderUserId" : {{U}}, "storedAt" : {{Date}} } }, "upsert" : true }
            """,
            Rendered.Of(MongoCommands.AddMention(Conversation, Guid.Empty, 5, User, Now)));
        Rendered.AssertJson($$"""{ "conversationId" : {{C}}, "rootId" : {{E}} }""", Rendered.Of(MongoCommands.ParticipantsOf(Conversation, Event)));
    }

    [Fact]
    public void Reactions_OneDocumentPerUserAndEmoji_CheckedByOneAggregation()
    {
        Rendered.AssertJson(
            $$"""{ "conversationId" : {{C}}, "messageId" : {{E}}, "emoji" : "👍", "userId" : {{U}} }""",
            Rendered.Of(MongoCommands.Reaction(Conversation, Event, "👍", User)));
        Rendered.AssertJson(
            $$"""{ "conversationId" : {{C}}, "messageId" : {{E}}, "emoji" : "👍", "userId" : {{U}}, "addedAt" : {{Date}} }""",
            MongoCommands.ReactionDocument(Conversation, Event, "👍", User, Now));
        Rendered.AssertJson(
            $$"""
            [
              { "$match" : { "conversationId" : {{C}}, "messageId" : {{E}} } },
              { "$group" : { "_id" : "$emoji", "byUser" : { "$sum" : { "$cond" : [{ "$eq" : ["$userId", {{U}}] }, 1, 0] } } } }
            ]
            """,
            Rendered.Of(MongoCommands.ReactionEmojiByUser(Conversation, Event, User)));
    }

    [Fact]
    public void ReadEvents_Before_NewestFirstBelowTheSeq()
    {
        var (filter, options) = MongoCommands.ReadEvents(Conversation, 10, ReadDirection.Before, 50, threadRootId: null);

        Rendered.AssertJson($$"""{ "conversationId" : {{C}}, "seq" : { "$lt" : { "$numberLong" : "10" } } }""", Rendered.Of(filter));
        Rendered.AssertJson("""{ "seq" : -1 }""", Rendered.Of(options.Sort));
        Assert.Equal((50, 50), (options.Limit, options.BatchSize));
    }

    [Fact]
    public void ReadEvents_AfterInAThread_TheRootOrItsReplies()
    {
        var (filter, options) = MongoCommands.ReadEvents(Conversation, 0, ReadDirection.After, 5000, threadRootId: Event);

        Rendered.AssertJson(
            $$"""{ "conversationId" : {{C}}, "seq" : { "$gt" : { "$numberLong" : "0" } }, "$or" : [{ "threadRootId" : {{E}} }, { "eventId" : {{E}} }] }""",
            Rendered.Of(filter));
        Rendered.AssertJson("""{ "seq" : 1 }""", Rendered.Of(options.Sort));
        Assert.Equal((5000, 1000), (options.Limit, options.BatchSize));
    }

    [Fact]
    public void LocateMessage_MessagesOnly_ConversationAndSeq()
    {
        var (filter, options) = MongoCommands.LocateMessage(Event);

        Rendered.AssertJson($$"""{ "eventId" : {{E}}, "kind" : 0 }""", Rendered.Of(filter));
        Rendered.AssertJson("""{ "conversationId" : 1 }""", Rendered.Of(options.Sort));
        Rendered.AssertJson("""{ "conversationId" : 1, "seq" : 1, "_id" : 0 }""", Rendered.Of(options.Projection));
        Assert.Equal(100, options.Limit);
    }

    [Fact]
    public void Positions_MoveForwardWithMaxAndUpsert()
    {
        Rendered.AssertJson(
            $$"""{ "q" : { "userId" : {{U}}, "conversationId" : {{C}} }, "u" : { "$max" : { "readSeq" : { "$numberLong" : "5" } } }, "upsert" : true }""",
            Rendered.Of(MongoCommands.MoveForward("userId", "readSeq", User, Conversation, 5)));
        Rendered.AssertJson($$"""{ "userId" : {{U}}, "conversationId" : { "$in" : [{{C}}] } }""", Rendered.Of(MongoCommands.Positions("userId", User, [Conversation])));
        Rendered.AssertJson($$"""{ "_id" : { "$in" : [{{U}}] } }""", Rendered.Of(MongoCommands.ByIds([User])));
    }

    [Fact]
    public void FurthestDeviceCursor_TheDevicesCursorsInOneConversation_HighestSeqFirst()
    {
        // The user's device ids stand in the same place as any other ids: User's bytes serve as one here.
        Rendered.AssertJson(
            $$"""{ "conversationId" : {{C}}, "deviceId" : { "$in" : [{{U}}] } }""",
            Rendered.Of(MongoCommands.CursorsOfDevices(Conversation, [User])));
        Rendered.AssertJson("""{ "seq" : -1 }""", Rendered.Of(MongoCommands.HighestSeqFirst));
    }

    [Fact]
    public void Stats_UnreadAndMentionCounts_StopAtTheCap()
    {
        Rendered.AssertJson(
            $$"""
            { "conversationId" : {{C}}, "seq" : { "$gt" : { "$numberLong" : "2" } }, "kind" : 0, "deletedAt" : { "$exists" : false }, "senderUserId" : { "$ne" : {{U}} } }
            """,
            Rendered.Of(MongoCommands.Unread(Conversation, User, 2)));
        Assert.Equal(1000L, MongoCommands.CountUpToMaxUnread.Limit);
        Rendered.AssertJson(
            $$"""
            [
              { "$match" : { "conversationId" : {{C}}, "userId" : { "$in" : [{{U}}, {{Nil}}] }, "seq" : { "$gt" : { "$numberLong" : "2" } }, "senderUserId" : { "$ne" : {{U}} } } },
              { "$group" : { "_id" : "$seq" } },
              { "$limit" : 1000 },
              { "$count" : "count" }
            ]
            """,
            Rendered.Of(MongoCommands.CountMentions(Conversation, User, 2)));
    }

    [Fact]
    public void MessageDetails_ThreadsByRootParticipantsByJoinOrder_ReactionsGroupedAndOrdered()
    {
        Rendered.AssertJson($$"""{ "conversationId" : {{C}}, "rootId" : { "$in" : [{{E}}] } }""", Rendered.Of(MongoCommands.ThreadsOf(Conversation, [Event])));
        Rendered.AssertJson("""{ "joinedSeq" : 1 }""", Rendered.Of(MongoCommands.ByJoinedSeq));
        Rendered.AssertJson(
            $$"""
            [
              { "$match" : { "conversationId" : {{C}}, "messageId" : { "$in" : [{{E}}] } } },
              { "$group" : {
                  "_id" : { "messageId" : "$messageId", "emoji" : "$emoji" },
                  "count" : { "$sum" : 1 },
                  "mine" : { "$max" : { "$eq" : ["$userId", {{U}}] } },
                  "first" : { "$min" : "$addedAt" } } },
              { "$sort" : { "_id.messageId" : 1, "first" : 1, "_id.emoji" : 1 } }
            ]
            """,
            Rendered.Of(MongoCommands.ReactionCounts(Conversation, [Event], User)));
    }

    private static MongoCommandException CommandError(int code, string codeName, string message)
    {
        var connection = new ConnectionId(new ServerId(new ClusterId(), new DnsEndPoint("localhost", 27017)));
        var result = new BsonDocument { { "ok", 0 }, { "errmsg", message }, { "code", code }, { "codeName", codeName } };
        return new MongoCommandException(connection, message, new BsonDocument("shardCollection", "chatwire.events"), result);
    }
}
