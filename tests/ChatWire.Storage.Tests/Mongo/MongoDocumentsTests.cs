using ChatWire.Storage.Messages;
using ChatWire.Storage.Mongo;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;

namespace ChatWire.Storage.Tests.Mongo;

// The events document and StoredEvent map onto each other without loss, through real BSON bytes.
public sealed class MongoDocumentsTests
{
    [Fact]
    public void ToDocument_EveryField_RoundTripsThroughBsonBytes()
    {
        var original = new StoredEvent(
            Guid.NewGuid(), Guid.CreateVersion7(), 123_456_789_012, EventKind.Message, Guid.NewGuid(), Guid.NewGuid(),
            MongoDocuments.Truncate(DateTimeOffset.UtcNow), "application/vnd.chatwire.e2e", new byte[] { 0, 1, 2, 250, 255 }, Guid.NewGuid())
        {
            ThreadRootId = Guid.NewGuid(),
            Mentions = [Guid.NewGuid(), Guid.NewGuid()],
            GroupMentions = GroupMentions.Channel | GroupMentions.Here,
            EditedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_767_225_600_001),
            DeletedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_767_225_600_002),
        };
        byte[] digest = [9, 8, 7];

        var read = RoundTrip(MongoDocuments.ToDocument(original, digest));

        AssertSame(original, MongoDocuments.ToStoredEvent(read));
        Assert.Equal(digest, MongoDocuments.OriginalDigest(read));
    }

    [Fact]
    public void ToDocument_NoOptionalFields_LeavesThemOut_AndReadsThemBackEmpty()
    {
        var membership = new StoredEvent(Guid.NewGuid(), Guid.CreateVersion7(), 1, EventKind.MemberJoined, Guid.NewGuid(), Guid.NewGuid(),
            MongoDocuments.Truncate(DateTimeOffset.UtcNow), string.Empty, ReadOnlyMemory<byte>.Empty);

        var document = RoundTrip(MongoDocuments.ToDocument(membership, originalDigest: null));

        Assert.Equal(
            ["conversationId", "seq", "eventId", "kind", "senderUserId", "senderDeviceId", "storedAt", "contentType", "content"],
            document.Names);
        AssertSame(membership, MongoDocuments.ToStoredEvent(document));
        Assert.Null(MongoDocuments.OriginalDigest(document));
    }

    [Fact]
    public void ToDocument_ContentSlice_StoresOnlyTheSlice()
    {
        var buffer = "xxhelloyy"u8.ToArray();
        var e = new StoredEvent(Guid.NewGuid(), Guid.NewGuid(), 1, EventKind.Message, Guid.NewGuid(), Guid.NewGuid(), DateTimeOffset.UnixEpoch, "text/plain", buffer.AsMemory(2, 5));

        Assert.Equal("hello"u8.ToArray(), MongoDocuments.ToStoredEvent(RoundTrip(MongoDocuments.ToDocument(e, null))).Content.ToArray());
    }

    [Fact]
    public void ToStoredEvent_ServerAddedId_IsIgnored()
    {
        var e = new StoredEvent(Guid.NewGuid(), Guid.NewGuid(), 3, EventKind.Message, Guid.NewGuid(), Guid.NewGuid(), DateTimeOffset.UnixEpoch, "text/plain", "x"u8.ToArray());
        var document = MongoDocuments.ToDocument(e, null);
        document.InsertAt(0, new BsonElement("_id", ObjectId.GenerateNewId()));

        AssertSame(e, MongoDocuments.ToStoredEvent(RoundTrip(document)));
    }

    [Fact]
    public void Truncate_KeepsWholeMillisecondsInUtc_AsTheStoreKeepsTimes()
    {
        var time = new DateTimeOffset(2026, 12, 2, 10, 0, 0, 123, TimeSpan.FromHours(2)).AddTicks(4567);

        var truncated = MongoDocuments.Truncate(time);

        Assert.Equal(time.ToUnixTimeMilliseconds(), truncated.ToUnixTimeMilliseconds());
        Assert.Equal(TimeSpan.Zero, truncated.Offset);
        Assert.Equal(truncated, MongoDocuments.ToTime(MongoDocuments.Time(truncated)));
    }

    // docs/capacity.md ("Message store: bytes per message") computes storage per year from these sizes: a
    // change to the events document's layout changes them, and the capacity model must be redone with it.
    // The insert carries the document with the _id the driver adds (an ObjectId) and, for a message, the
    // 32-byte SHA-256 of its original body (the idempotency check).
    [Theory]
    [InlineData("application/vnd.chatwire.e2e", 458, 773)]
    [InlineData("text/plain", 100, 397)]
    public void ToDocument_PlainMessage_HasTheSizeTheCapacityModelCounts(string contentType, int contentBytes, int expectedBsonBytes)
    {
        var message = new StoredEvent(Guid.NewGuid(), Guid.CreateVersion7(), 1_234_567, EventKind.Message, Guid.NewGuid(), Guid.NewGuid(),
            MongoDocuments.Truncate(DateTimeOffset.UtcNow), contentType, new byte[contentBytes]);
        var document = MongoDocuments.ToDocument(message, new byte[32]);
        document.InsertAt(0, new BsonElement("_id", ObjectId.GenerateNewId()));

        Assert.Equal(expectedBsonBytes, document.ToBson().Length);
    }

    private static BsonDocument RoundTrip(BsonDocument document) => BsonSerializer.Deserialize<BsonDocument>(document.ToBson());

    private static void AssertSame(StoredEvent expected, StoredEvent actual)
    {
        Assert.Equal(
            (expected.ConversationId, expected.EventId, expected.Seq, expected.Kind, expected.SenderUserId, expected.SenderDeviceId, expected.StoredAt, expected.ContentType, expected.SubjectId),
            (actual.ConversationId, actual.EventId, actual.Seq, actual.Kind, actual.SenderUserId, actual.SenderDeviceId, actual.StoredAt, actual.ContentType, actual.SubjectId));
        Assert.Equal(expected.Content.ToArray(), actual.Content.ToArray());
        Assert.Equal((expected.ThreadRootId, expected.GroupMentions, expected.EditedAt, expected.DeletedAt), (actual.ThreadRootId, actual.GroupMentions, actual.EditedAt, actual.DeletedAt));
        Assert.Equal(expected.Mentions, actual.Mentions);
    }
}
