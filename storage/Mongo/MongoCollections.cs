using MongoDB.Bson;
using MongoDB.Driver;

namespace ChatWire.Storage.Mongo;

/// <summary>
/// The store's collections. Operations inside a transaction take the transaction's write concern (the
/// driver sends none of its own with them); the writes made outside one, read positions and cursors, use
/// <see cref="MongoCommands.Durable"/> explicitly.
/// </summary>
internal sealed class MongoCollections(IMongoDatabase database)
{
    public IMongoDatabase Database { get; } = database;

    public IMongoCollection<BsonDocument> Events { get; } = database.GetCollection<BsonDocument>(MongoDocuments.Events);

    public IMongoCollection<BsonDocument> Heads { get; } = database.GetCollection<BsonDocument>(MongoDocuments.Heads);

    public IMongoCollection<BsonDocument> Threads { get; } = database.GetCollection<BsonDocument>(MongoDocuments.Threads);

    public IMongoCollection<BsonDocument> ThreadParticipants { get; } = database.GetCollection<BsonDocument>(MongoDocuments.ThreadParticipants);

    public IMongoCollection<BsonDocument> Mentions { get; } = database.GetCollection<BsonDocument>(MongoDocuments.Mentions);

    public IMongoCollection<BsonDocument> Reactions { get; } = database.GetCollection<BsonDocument>(MongoDocuments.Reactions);

    public IMongoCollection<BsonDocument> Usage { get; } = database.GetCollection<BsonDocument>(MongoDocuments.Usage);

    public IMongoCollection<BsonDocument> ReadPositions { get; } = database.GetCollection<BsonDocument>(MongoDocuments.ReadPositions).WithWriteConcern(MongoCommands.Durable);

    public IMongoCollection<BsonDocument> DeviceCursors { get; } = database.GetCollection<BsonDocument>(MongoDocuments.DeviceCursors).WithWriteConcern(MongoCommands.Durable);
}
