using ChatWire.Storage.Messages;
using ChatWire.Storage.Mongo;
using ChatWire.Storage.Tests.Contracts;
using MongoDB.Driver;

namespace ChatWire.Storage.Tests.Mongo;

/// <summary>
/// The message store contract against a real MongoDB (a replica set or a sharded cluster: the store needs
/// transactions), named by CHATWIRE_TEST_MONGO_URI, in a fresh database per test. No server can be
/// installed on these machines, so without the variable test.sh leaves this category out, and a run that
/// includes it anyway fails at once rather than passing.
/// </summary>
[Trait("Category", "MongoContract")]
public sealed class MongoMessageStoreTests : MessageStoreContract
{
    public const string UriVariable = "CHATWIRE_TEST_MONGO_URI";

    private readonly string _database = $"chatwire_test_{Guid.NewGuid():N}";

    private static string Uri => Environment.GetEnvironmentVariable(UriVariable) is { Length: > 0 } uri
        ? uri
        : throw new InvalidOperationException($"{UriVariable} is not set; run with it or filter Category!=MongoContract");

    protected override async Task<IMessageStore> CreateStoreAsync() => await OpenAsync();

    protected override async Task DisposeStoreAsync(IMessageStore store)
    {
        await ((MongoMessageStore)store).DisposeAsync();
        using var client = new MongoClient(Uri);
        await client.DropDatabaseAsync(_database);
    }

    [Fact]
    public async Task AppendAsync_TwoStoresOnOneDatabase_OneConversationStaysGapFree()
    {
        // Two gateway processes: two stores, two writers, two clients, one conversation, no other coordination.
        var conversation = Guid.NewGuid();
        await using var second = await OpenAsync();
        IMessageStore[] stores = [Store, second];

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => stores[i % 2].AppendAsync(NewMessage(conversation, $"m{i}"))));

        Assert.All(results, r => Assert.Equal(AppendOutcome.Stored, r.Outcome));
        var expected = Enumerable.Range(1, 200).Select(n => (ulong)n).ToList();
        Assert.Equal(expected, results.Select(r => r.Event!.Seq).Order());
        Assert.Equal(expected, (await Store.ReadAsync(conversation, 0, ReadDirection.After, 1000)).Select(e => e.Seq));
        Assert.Equal(200UL, await LatestSeqAsync(conversation));
    }

    [Fact]
    public async Task AppendAsync_SameMessageThroughTwoStores_StoredOnce()
    {
        var conversation = Guid.NewGuid();
        await using var second = await OpenAsync();
        var message = NewMessage(conversation, "hello");

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => (i % 2 == 0 ? Store : second).AppendAsync(message)));

        Assert.Single(results, r => r.Outcome == AppendOutcome.Stored);
        Assert.All(results, r => Assert.Equal(1UL, r.Event!.Seq));
    }

    [Fact]
    public async Task OpenAsync_Twice_LeavesTheIndexesAsTheyAre_AndTheTtlIndexExists()
    {
        await using var again = await OpenAsync();
        using var client = new MongoClient(Uri);

        var indexes = await (await client.GetDatabase(_database).GetCollection<MongoDB.Bson.BsonDocument>("events").Indexes.ListAsync()).ToListAsync();

        var ttl = Assert.Single(indexes, i => i["name"] == "stored_at_ttl");
        Assert.Equal(315_619_200, ttl["expireAfterSeconds"].ToInt64());
        Assert.True(Assert.Single(indexes, i => i["name"] == "conversation_seq")["unique"].ToBoolean());
    }

    private Task<MongoMessageStore> OpenAsync() => MongoMessageStore.OpenAsync(new MongoMessageStoreOptions(Uri, _database));
}
