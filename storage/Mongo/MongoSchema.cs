using MongoDB.Bson;
using MongoDB.Driver;

namespace ChatWire.Storage.Mongo;

/// <summary>
/// What the store sets up at start-up, every time (each step leaves what exists as it is, so several
/// gateways may start at once): the collections, on a sharded cluster their hashed shard keys, and the
/// indexes, the events' TTL index among them.
/// </summary>
internal static class MongoSchema
{
    public static async Task EnsureAsync(IMongoClient client, IMongoDatabase database, long retentionSeconds, CancellationToken cancellationToken)
    {
        var admin = client.GetDatabase("admin");
        var hello = await admin.RunCommandAsync<BsonDocument>(MongoCommands.Hello(), cancellationToken: cancellationToken);
        if (!MongoCommands.SupportsTransactions(hello))
        {
            throw new InvalidOperationException(
                "The MongoDB message store needs a replica set or a sharded cluster (every batch is a transaction); the server named is a standalone server. A single-node replica set will do for development.");
        }

        var sharded = MongoCommands.IsShardedCluster(hello);

        foreach (var collection in MongoCommands.Collections)
        {
            try
            {
                await database.RunCommandAsync<BsonDocument>(MongoCommands.CreateCollection(collection), cancellationToken: cancellationToken);
            }
            catch (MongoCommandException exception) when (exception.Code == MongoCommands.NamespaceExistsCode)
            {
            }
        }

        if (sharded)
        {
            // The shard key's index first: sharding a collection that already holds documents needs it.
            foreach (var (collection, field) in MongoCommands.ShardKeys)
            {
                await database.RunCommandAsync<BsonDocument>(MongoCommands.CreateIndexes(collection, [MongoCommands.ShardKeyIndex(field)]), cancellationToken: cancellationToken);
                try
                {
                    await admin.RunCommandAsync<BsonDocument>(MongoCommands.ShardCollection(database.DatabaseNamespace.DatabaseName, collection, field), cancellationToken: cancellationToken);
                }
                catch (MongoCommandException exception) when (MongoCommands.IsAlreadySharded(exception))
                {
                }
            }
        }

        foreach (var (collection, indexes) in MongoCommands.Indexes(retentionSeconds))
        {
            var create = MongoCommands.CreateIndexes(collection, indexes);
            try
            {
                await database.RunCommandAsync<BsonDocument>(create, cancellationToken: cancellationToken);
            }
            catch (MongoCommandException exception) when (exception.Code == MongoCommands.IndexOptionsConflictCode)
            {
                // The retention setting changed since the indexes were made: a TTL index takes its new
                // expiry through collMod (createIndexes does not change an existing index), then the rest.
                foreach (var ttl in indexes.Where(i => i.Contains("expireAfterSeconds")))
                {
                    await database.RunCommandAsync<BsonDocument>(MongoCommands.ChangeExpiry(collection, ttl), cancellationToken: cancellationToken);
                }

                await database.RunCommandAsync<BsonDocument>(create, cancellationToken: cancellationToken);
            }
        }
    }
}
