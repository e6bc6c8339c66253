using ChatWire.Storage.Messages;
using MongoDB.Bson;
using MongoDB.Driver;

namespace ChatWire.Storage.Mongo;

/// <summary>
/// The message port over MongoDB, for the distributed mode: one document per conversation event in
/// <c>events</c> (unique on (conversation, seq) and on (conversation, event id); never a document per
/// conversation, which would reach the 16 MB limit), thread summaries, participants, mentions, reactions,
/// read positions, device cursors, usage and the conversation heads beside them. Appends go through one
/// batched writer per store (<see cref="MongoAppendWriter"/>, which documents how seqs stay gap-free with
/// several gateway processes writing at once); a completed append is committed with write concern majority
/// and j: true. Events expire after <see cref="MongoMessageStoreOptions.RetentionDays"/> through a TTL index.
/// </summary>
/// <remarks>
/// Needs a replica set or a sharded cluster (every batch is a multi-document transaction), which every
/// production MongoDB is. On a sharded cluster (detected at start-up) every collection is sharded on a
/// hashed key: the conversation id for what a conversation holds, the owner for positions and usage.
/// </remarks>
public sealed class MongoMessageStore : IMessageStore, IAsyncDisposable
{
    // Ids per $in: keeps one command small however many conversations a caller names.
    private const int IdsPerQuery = 1000;

    private readonly IMongoClient _client;
    private readonly MongoCollections _collections;
    private readonly MongoAppendWriter _writer;
    private int _disposed;

    private MongoMessageStore(IMongoClient client, MongoCollections collections, MongoAppendWriter writer)
    {
        _client = client;
        _collections = collections;
        _writer = writer;
    }

    /// <summary>Transactions the writer has committed.</summary>
    public long BatchesCommitted => _writer.BatchesCommitted;

    /// <summary>Appends those transactions held, duplicates and conflicts included.</summary>
    public long MessagesCommitted => _writer.MessagesCommitted;

    /// <summary>Transaction attempts, retries after write conflicts included: above <see cref="BatchesCommitted"/> when writers contend.</summary>
    public long BatchAttempts => _writer.BatchAttempts;

    /// <summary>Connects, creates the collections, shard keys (on a sharded cluster) and indexes, and starts the writer.</summary>
    public static async Task<MongoMessageStore> OpenAsync(MongoMessageStoreOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        var client = new MongoClient(options.ConnectionString);
        try
        {
            var database = client.GetDatabase(options.Database);
            await MongoSchema.EnsureAsync(client, database, options.RetentionSeconds, ct);
            var collections = new MongoCollections(database);
            var writer = new MongoAppendWriter(client, collections, options);
            writer.Start();
            return new MongoMessageStore(client, collections, writer);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public ValueTask<Task<AppendResult>> EnqueueAsync(NewEvent newEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newEvent);
        ArgumentNullException.ThrowIfNull(newEvent.ContentType, nameof(newEvent));
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _writer.EnqueueAsync(newEvent, cancellationToken);
    }

    public IDisposable ObserveCommits(ICommitObserver observer) => _writer.Observe(observer);

    public async Task<IReadOnlyList<StoredEvent>> ReadAsync(
        Guid conversationId, ulong fromSeq, ReadDirection direction, int limit, long maxContentBytes = long.MaxValue, Guid? threadRootId = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ThrowIfDisposed();
        var from = EventPage.StartSeq(fromSeq, direction);

        var (filter, options) = MongoCommands.ReadEvents(conversationId, from, direction, limit, threadRootId);

        // Documents come nearest-first: the page stops at the byte budget (EventPage).
        var page = new EventPage(limit, maxContentBytes);
        using (var cursor = await _collections.Events.FindAsync(filter, options, cancellationToken))
        {
            while (page.HasRoom && page.Count < limit && await cursor.MoveNextAsync(cancellationToken))
            {
                foreach (var document in cursor.Current)
                {
                    page.Add(MongoDocuments.ToStoredEvent(document));
                    if (!page.HasRoom)
                    {
                        break;
                    }
                }
            }
        }

        return page.InSeqOrder(direction);
    }

    public async Task<IReadOnlyDictionary<Guid, MessageDetails>> GetMessageDetailsAsync(
        Guid conversationId, IReadOnlyCollection<Guid> messageIds, Guid readerUserId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messageIds);
        ThrowIfDisposed();
        var details = new MessageDetailsBuilder();
        foreach (var chunk in messageIds.Distinct().Chunk(IdsPerQuery))
        {
            var roots = MongoCommands.ThreadsOf(conversationId, chunk);
            foreach (var thread in await _collections.Threads.Find(roots).ToListAsync(cancellationToken))
            {
                details.AddThread(MongoDocuments.ToGuid(thread[Fields.RootId]), thread[Fields.ReplyCount].ToInt32(), MongoDocuments.ToTime(thread[Fields.LastReplyAt]));
            }

            foreach (var participant in await _collections.ThreadParticipants.Find(roots).Sort(MongoCommands.ByJoinedSeq).ToListAsync(cancellationToken))
            {
                details.AddParticipant(MongoDocuments.ToGuid(participant[Fields.RootId]), MongoDocuments.ToGuid(participant[Fields.UserId]));
            }

            var counts = await _collections.Reactions.AggregateAsync(MongoCommands.ReactionCounts(conversationId, chunk, readerUserId), cancellationToken: cancellationToken);
            foreach (var row in await counts.ToListAsync(cancellationToken))
            {
                var key = row["_id"].AsBsonDocument;
                details.AddReaction(MongoDocuments.ToGuid(key[Fields.MessageId]), new ReactionCount(key[Fields.Emoji].AsString, row["count"].ToInt32(), row["mine"].ToBoolean()));
            }
        }

        return details.Build();
    }

    public async Task<IReadOnlyList<(Guid ConversationId, ulong Seq)>> LocateMessageAsync(Guid messageId, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var (filter, options) = MongoCommands.LocateMessage(messageId);
        using var cursor = await _collections.Events.FindAsync(filter, options, cancellationToken);
        return (await cursor.ToListAsync(cancellationToken))
            .Select(d => (MongoDocuments.ToGuid(d[EventFields.ConversationId]), (ulong)d[EventFields.Seq].ToInt64()))
            .ToList();
    }

    public async Task<AppendResult?> FindStoredAsync(NewEvent newEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newEvent);
        ThrowIfDisposed();
        using var cursor = await _collections.Events.FindAsync(MongoCommands.FindEvent(newEvent.ConversationId, newEvent.EventId), cancellationToken: cancellationToken);
        var existing = await cursor.FirstOrDefaultAsync(cancellationToken);
        return existing is null
            ? null
            : EventIdentity.AnswerTo(newEvent, MongoDocuments.ToStoredEvent(existing), MongoDocuments.OriginalDigest(existing));
    }

    public async Task<ConversationStats> MarkReadAsync(Guid userId, Guid conversationId, ulong seq, CancellationToken cancellationToken = default)
    {
        await MoveForwardAsync(_collections.ReadPositions, Fields.UserId, Fields.ReadSeq, userId, [(conversationId, seq)], cancellationToken);
        return (await GetStatsAsync(userId, [conversationId], cancellationToken: cancellationToken))[conversationId];
    }

    public Task SetDeviceCursorsAsync(Guid deviceId, IReadOnlyCollection<(Guid ConversationId, ulong Seq)> cursors, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cursors);
        return cursors.Count == 0
            ? Task.CompletedTask
            : MoveForwardAsync(_collections.DeviceCursors, Fields.DeviceId, Fields.Seq, deviceId, cursors, cancellationToken);
    }

    // Read positions and device cursors: per owner and conversation, a seq that only moves forward ($max) and
    // never past the conversation's newest event. Not through the writer: losing the last one costs a badge
    // or a re-delivery, not a message. Heads only grow, so capping at a head read just before is safe.
    private async Task MoveForwardAsync(
        IMongoCollection<BsonDocument> collection, string ownerField, string seqField, Guid owner, IReadOnlyCollection<(Guid ConversationId, ulong Seq)> positions, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        var heads = await GetLatestSeqsAsync([.. positions.Select(p => p.ConversationId).Distinct()], cancellationToken);
        var moves = positions
            .Select(p => MongoCommands.MoveForward(ownerField, seqField, owner, p.ConversationId, MongoDocuments.Seq(Math.Min(p.Seq, heads.GetValueOrDefault(p.ConversationId)))))
            .ToList();
        await collection.BulkWriteAsync(moves, MongoCommands.Unordered, cancellationToken);
    }

    public async Task<IReadOnlyDictionary<Guid, ConversationStats>> GetStatsAsync(
        Guid userId, IReadOnlyCollection<Guid> conversationIds, Guid? deviceId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(conversationIds);
        var stats = new Dictionary<Guid, ConversationStats>(conversationIds.Count);
        if (conversationIds.Count == 0)
        {
            return stats;
        }

        var heads = await GetLatestSeqsAsync(conversationIds, cancellationToken);
        var reads = await ReadPositionsAsync(_collections.ReadPositions, Fields.UserId, Fields.ReadSeq, userId, conversationIds, cancellationToken);
        var cursors = deviceId is { } device
            ? await ReadPositionsAsync(_collections.DeviceCursors, Fields.DeviceId, Fields.Seq, device, conversationIds, cancellationToken)
            : new Dictionary<Guid, ulong>();

        // Each count is a range from the read position, stopped at MaxCountedUnread.
        foreach (var id in conversationIds)
        {
            var last = heads.GetValueOrDefault(id);
            var read = reads.GetValueOrDefault(id);
            int unread = 0, mentions = 0;
            if (last > read)
            {
                var from = MongoDocuments.Seq(read);
                unread = (int)await _collections.Events.CountDocumentsAsync(MongoCommands.Unread(id, userId, from), MongoCommands.CountUpToMaxUnread, cancellationToken);
                var counted = await (await _collections.Mentions.AggregateAsync(MongoCommands.CountMentions(id, userId, from), cancellationToken: cancellationToken))
                    .FirstOrDefaultAsync(cancellationToken);
                mentions = counted?["count"].ToInt32() ?? 0;
            }

            stats[id] = UnreadCounts.Stats(last, read, unread, mentions, cursors.GetValueOrDefault(id));
        }

        return stats;
    }

    public async Task<ulong> GetFurthestDeviceCursorAsync(Guid conversationId, IReadOnlyCollection<Guid> deviceIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deviceIds);
        ThrowIfDisposed();
        ulong furthest = 0;
        foreach (var chunk in deviceIds.Distinct().Chunk(IdsPerQuery))
        {
            var top = await _collections.DeviceCursors.Find(MongoCommands.CursorsOfDevices(conversationId, chunk))
                .Sort(MongoCommands.HighestSeqFirst).Limit(1).FirstOrDefaultAsync(cancellationToken);
            if (top is not null)
            {
                furthest = Math.Max(furthest, (ulong)top[Fields.Seq].ToInt64());
            }
        }

        return furthest;
    }

    private static async Task<Dictionary<Guid, ulong>> ReadPositionsAsync(
        IMongoCollection<BsonDocument> collection, string ownerField, string seqField, Guid owner, IReadOnlyCollection<Guid> conversationIds, CancellationToken cancellationToken)
    {
        var found = new Dictionary<Guid, ulong>();
        foreach (var chunk in conversationIds.Chunk(IdsPerQuery))
        {
            foreach (var position in await collection.Find(MongoCommands.Positions(ownerField, owner, chunk)).ToListAsync(cancellationToken))
            {
                found[MongoDocuments.ToGuid(position[Fields.ConversationId])] = (ulong)position[seqField].ToInt64();
            }
        }

        return found;
    }

    public async Task<IReadOnlyDictionary<Guid, long>> GetUsageAsync(IReadOnlyCollection<Guid> ownerIds, CancellationToken cancellationToken = default) =>
        await ReadByIdsAsync(_collections.Usage, ownerIds, static d => d[Fields.Bytes].ToInt64(), cancellationToken);

    public async Task<IReadOnlyDictionary<Guid, ulong>> GetLatestSeqsAsync(IReadOnlyCollection<Guid> conversationIds, CancellationToken cancellationToken = default) =>
        await ReadByIdsAsync(_collections.Heads, conversationIds, static d => (ulong)d[Fields.LastSeq].ToInt64(), cancellationToken);

    // One value per _id found, in chunks of IdsPerQuery; ids not found are left out.
    private async Task<Dictionary<Guid, T>> ReadByIdsAsync<T>(IMongoCollection<BsonDocument> collection, IReadOnlyCollection<Guid> ids, Func<BsonDocument, T> read, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ThrowIfDisposed();
        var found = new Dictionary<Guid, T>(ids.Count);
        foreach (var chunk in ids.Chunk(IdsPerQuery))
        {
            foreach (var document in await collection.Find(MongoCommands.ByIds(chunk)).ToListAsync(cancellationToken))
            {
                found[MongoDocuments.ToGuid(document[Fields.Id])] = read(document);
            }
        }

        return found;
    }

    /// <summary>Stops accepting appends, commits and acknowledges what is queued, then closes the client.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await _writer.DisposeAsync();
        }
        finally
        {
            _client.Dispose();
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
