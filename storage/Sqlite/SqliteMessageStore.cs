using ChatWire.Storage.Messages;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

/// <summary>
/// The message port over one SQLite file. Appends go through one group-commit writer (one dedicated
/// connection, WAL, synchronous=FULL); reads take pooled connections, which WAL lets run alongside it.
/// A completed append is committed and fsynced. Not for in-memory databases.
/// </summary>
public sealed class SqliteMessageStore : IMessageStore, IAsyncDisposable
{
    /// <summary>The columns <see cref="ReadEvent"/> reads, in its order.</summary>
    internal const string EventColumns = "conversation_id, event_id, seq, kind, sender_user_id, sender_device_id, stored_at, content_type, content, subject_id, "
        + "thread_root_id, group_mentions, mentions, edited_at, deleted_at";

    // Ids per IN list: far below SQLite's bound-parameter limit, and one statement per few hundred ids.
    private const int IdsPerStatement = 500;

    private readonly SqliteAppendWriter _writer;
    private readonly string _readConnectionString;
    private int _disposed;

    private SqliteMessageStore(SqliteAppendWriter writer, string readConnectionString)
    {
        _writer = writer;
        _readConnectionString = readConnectionString;
    }

    /// <summary>Transactions the writer has committed (each one fsync).</summary>
    public long BatchesCommitted => _writer.BatchesCommitted;

    /// <summary>Appends those transactions held, duplicates and conflicts included; divided by <see cref="BatchesCommitted"/> it is the average batch.</summary>
    public long MessagesCommitted => _writer.MessagesCommitted;

    internal string WriterJournalMode => _writer.JournalMode;

    internal long WriterSynchronous => _writer.Synchronous;

    internal long BatchesStarted => _writer.BatchesStarted;

    /// <summary>Opens (creating when missing) the messages database at <paramref name="databasePath"/>, migrates it and starts the writer.</summary>
    public static Task<SqliteMessageStore> OpenAsync(string databasePath, SqliteMessageStoreOptions? options = null, CancellationToken cancellationToken = default) =>
        OpenAsync(SqliteConnections.ForFile(databasePath), options, cancellationToken);

    /// <summary>Opens the messages database <paramref name="connectionString"/> names, migrates it and starts the writer.</summary>
    public static async Task<SqliteMessageStore> OpenAsync(SqliteConnectionStringBuilder connectionString, SqliteMessageStoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        options ??= new SqliteMessageStoreOptions();
        options.Validate();

        var writer = await SqliteAppendWriter.StartAsync(SqliteConnections.Dedicated(connectionString), options, cancellationToken);
        return new SqliteMessageStore(writer, SqliteConnections.Pooled(connectionString));
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

        var from = EventPage.StartSeq(fromSeq, direction);

        await using var connection = await OpenReadConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // One thread is its root and its replies: the replies along the thread index (a range that stops at
        // the limit), the root by its id, merged.
        var (compare, order) = direction switch
        {
            ReadDirection.Before => ("<", "DESC"),
            ReadDirection.After => (">", "ASC"),
            _ => throw new ArgumentOutOfRangeException(nameof(direction), direction, "Unknown read direction."),
        };
        command.CommandText = threadRootId is null
            ? $"""
              SELECT {EventColumns} FROM events
              WHERE conversation_id = $conversation_id AND seq {compare} $from
              ORDER BY seq {order} LIMIT $limit;
              """
            : $"""
              SELECT {EventColumns} FROM (
                  SELECT {EventColumns} FROM events
                  WHERE conversation_id = $conversation_id AND thread_root_id = $root AND seq {compare} $from
                  ORDER BY seq {order} LIMIT $limit)
              UNION ALL
              SELECT {EventColumns} FROM events
              WHERE conversation_id = $conversation_id AND event_id = $root AND seq {compare} $from
              ORDER BY seq {order} LIMIT $limit;
              """;
        command.Parameters.AddGuid("$conversation_id", conversationId);
        if (threadRootId is { } root)
        {
            command.Parameters.AddGuid("$root", root);
        }

        command.Parameters.AddInteger("$from", from);
        command.Parameters.AddInteger("$limit", limit);

        // Rows come nearest-first: the page stops at the byte budget (EventPage).
        var page = new EventPage(limit, maxContentBytes);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (page.HasRoom && await reader.ReadAsync(cancellationToken))
            {
                page.Add(ReadEvent(reader));
            }
        }

        return page.InSeqOrder(direction);
    }

    public async Task<IReadOnlyDictionary<Guid, MessageDetails>> GetMessageDetailsAsync(
        Guid conversationId, IReadOnlyCollection<Guid> messageIds, Guid readerUserId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messageIds);
        if (messageIds.Count == 0)
        {
            return new Dictionary<Guid, MessageDetails>();
        }

        var details = new MessageDetailsBuilder();
        await using var connection = await OpenReadConnectionAsync(cancellationToken);
        foreach (var chunk in messageIds.Distinct().Chunk(IdsPerStatement / 2))
        {
            await using var command = connection.CreateCommand();
            var list = command.BindIds(chunk);
            command.Parameters.AddGuid("$c", conversationId);
            command.Parameters.AddGuid("$reader", readerUserId);
            command.CommandText = $"""
                SELECT root_id, reply_count, last_reply_at FROM threads WHERE conversation_id = $c AND root_id IN ({list});
                SELECT root_id, user_id FROM thread_participants WHERE conversation_id = $c AND root_id IN ({list}) ORDER BY root_id, joined_seq;
                SELECT message_id, emoji, count(*), max(user_id = $reader), min(added_at) AS first FROM reactions
                WHERE conversation_id = $c AND message_id IN ({list}) GROUP BY message_id, emoji ORDER BY message_id, first, emoji;
                """;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                details.AddThread(reader.ReadGuid(0), reader.GetInt32(1), reader.ReadTime(2));
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                details.AddParticipant(reader.ReadGuid(0), reader.ReadGuid(1));
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                details.AddReaction(reader.ReadGuid(0), new ReactionCount(reader.GetString(1), reader.GetInt32(2), reader.GetInt64(3) != 0));
            }
        }

        return details.Build();
    }

    public async Task<IReadOnlyList<(Guid ConversationId, ulong Seq)>> LocateMessageAsync(Guid messageId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenReadConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT conversation_id, seq FROM events WHERE event_id = $id AND kind = 0 ORDER BY conversation_id LIMIT {IMessageStore.MaxLocatedPlaces};";
        command.Parameters.AddGuid("$id", messageId);
        var found = new List<(Guid, ulong)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add((reader.ReadGuid(0), (ulong)reader.GetInt64(1)));
        }

        return found;
    }

    public async Task<AppendResult?> FindStoredAsync(NewEvent newEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(newEvent);
        await using var connection = await OpenReadConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = SqliteAppendWriter.FindSql;
        command.Parameters.AddGuid("$conversation_id", newEvent.ConversationId);
        command.Parameters.AddGuid("$event_id", newEvent.EventId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return EventIdentity.AnswerTo(newEvent, ReadEvent(reader), ReadOriginalDigest(reader));
    }

    /// <summary>The original digest that follows the event's columns in the writer's lookup (<see cref="SqliteAppendWriter.FindSql"/>).</summary>
    internal static byte[]? ReadOriginalDigest(SqliteDataReader reader) => reader.IsDBNull(15) ? null : reader.GetFieldValue<byte[]>(15);

    public async Task<ConversationStats> MarkReadAsync(Guid userId, Guid conversationId, ulong seq, CancellationToken cancellationToken = default)
    {
        await MoveForwardAsync("read_positions", "user_id", "read_seq", userId, [(conversationId, seq)], cancellationToken);
        return (await GetStatsAsync(userId, [conversationId], cancellationToken: cancellationToken))[conversationId];
    }

    public Task SetDeviceCursorsAsync(Guid deviceId, IReadOnlyCollection<(Guid ConversationId, ulong Seq)> cursors, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cursors);
        return cursors.Count == 0
            ? Task.CompletedTask
            : MoveForwardAsync("device_cursors", "device_id", "seq", deviceId, cursors, cancellationToken);
    }

    // Read positions and device cursors: per owner (a user, a device) and conversation, a seq that only moves
    // forward and never past the conversation's newest event. Not through the group-commit writer: losing
    // the last one on power loss costs a badge or a re-delivery, not a message; WAL lets these short
    // transactions take their turn with the writer's.
    private async Task MoveForwardAsync(
        string table, string ownerColumn, string seqColumn, Guid owner, IReadOnlyCollection<(Guid ConversationId, ulong Seq)> positions, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadConnectionAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"""
            INSERT INTO {table} ({ownerColumn}, conversation_id, {seqColumn})
            SELECT $owner, $c, min($seq, coalesce((SELECT last_seq FROM conversation_heads WHERE conversation_id = $c), 0))
            WHERE true
            ON CONFLICT ({ownerColumn}, conversation_id) DO UPDATE SET {seqColumn} = max({seqColumn}, excluded.{seqColumn});
            """;
        command.Parameters.AddGuid("$owner", owner);
        var conversation = command.Parameters.AddBlob("$c", new byte[SqliteValues.GuidLength]);
        var seq = command.Parameters.AddInteger("$seq", 0);
        foreach (var (conversationId, at) in positions)
        {
            conversation.Value = StoredValues.ToBytes(conversationId);
            seq.Value = at > long.MaxValue ? long.MaxValue : (long)at;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
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

        // Each count is a range scan from the read position, stopped at MaxCountedUnread rows.
        await using var connection = await OpenReadConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT h.last_seq, r.read_seq,
              coalesce((SELECT seq FROM device_cursors WHERE device_id = $device AND conversation_id = $c), 0),
              (SELECT count(*) FROM (SELECT 1 FROM events e
                 WHERE e.conversation_id = $c AND e.seq > r.read_seq AND e.kind = 0 AND e.deleted_at IS NULL AND e.sender_user_id <> $user
                 LIMIT {IMessageStore.MaxCountedUnread})),
              (SELECT count(*) FROM (SELECT DISTINCT m.seq FROM mentions m
                 WHERE m.conversation_id = $c AND m.user_id IN ($user, $everyone) AND m.seq > r.read_seq AND m.sender_user_id <> $user
                 LIMIT {IMessageStore.MaxCountedUnread}))
            FROM (SELECT coalesce((SELECT last_seq FROM conversation_heads WHERE conversation_id = $c), 0) AS last_seq) h,
                 (SELECT coalesce((SELECT read_seq FROM read_positions WHERE user_id = $user AND conversation_id = $c), 0) AS read_seq) r;
            """;
        command.Parameters.AddGuid("$user", userId);
        command.Parameters.AddGuid("$device", deviceId ?? Guid.Empty);
        command.Parameters.AddGuid("$everyone", Guid.Empty);
        var conversation = command.Parameters.AddBlob("$c", new byte[SqliteValues.GuidLength]);
        command.Prepare();
        foreach (var id in conversationIds)
        {
            conversation.Value = StoredValues.ToBytes(id);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            stats[id] = UnreadCounts.Stats((ulong)reader.GetInt64(0), (ulong)reader.GetInt64(1), reader.GetInt32(3), reader.GetInt32(4), (ulong)reader.GetInt64(2));
        }

        return stats;
    }

    public async Task<ulong> GetFurthestDeviceCursorAsync(Guid conversationId, IReadOnlyCollection<Guid> deviceIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deviceIds);
        ulong furthest = 0;
        if (deviceIds.Count == 0)
        {
            return furthest;
        }

        await using var connection = await OpenReadConnectionAsync(cancellationToken);
        foreach (var chunk in deviceIds.Distinct().Chunk(IdsPerStatement))
        {
            await using var command = connection.CreateCommand();
            command.Parameters.AddGuid("$c", conversationId);
            command.CommandText = $"SELECT coalesce(max(seq), 0) FROM device_cursors WHERE conversation_id = $c AND device_id IN ({command.BindIds(chunk)});";
            furthest = Math.Max(furthest, (ulong)(long)(await command.ExecuteScalarAsync(cancellationToken))!);
        }

        return furthest;
    }

    public Task<IReadOnlyDictionary<Guid, long>> GetUsageAsync(IReadOnlyCollection<Guid> ownerIds, CancellationToken cancellationToken = default) =>
        ReadByIdsAsync(ownerIds, "SELECT owner_id, bytes FROM storage_usage WHERE owner_id IN ({0});", static reader => reader.GetInt64(1), cancellationToken);

    public Task<IReadOnlyDictionary<Guid, ulong>> GetLatestSeqsAsync(IReadOnlyCollection<Guid> conversationIds, CancellationToken cancellationToken = default) =>
        ReadByIdsAsync(conversationIds, "SELECT conversation_id, last_seq FROM conversation_heads WHERE conversation_id IN ({0});", static reader => (ulong)reader.GetInt64(1), cancellationToken);

    // One value per id found, read with `sql` (whose {0} takes the parameter list) in chunks small enough
    // for SQLite's parameter limit; ids not found are left out.
    private async Task<IReadOnlyDictionary<Guid, T>> ReadByIdsAsync<T>(
        IReadOnlyCollection<Guid> ids, string sql, Func<SqliteDataReader, T> read, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var found = new Dictionary<Guid, T>(ids.Count);
        if (ids.Count == 0)
        {
            return found;
        }

        await using var connection = await OpenReadConnectionAsync(cancellationToken);
        foreach (var chunk in ids.Chunk(IdsPerStatement))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = string.Format(System.Globalization.CultureInfo.InvariantCulture, sql, command.BindIds(chunk));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                found[reader.ReadGuid(0)] = read(reader);
            }
        }

        return found;
    }

    /// <summary>Stops accepting appends, commits and acknowledges what is queued, then closes every connection.</summary>
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
            SqliteConnections.ClearPool(_readConnectionString);
        }
    }

    private async Task<SqliteConnection> OpenReadConnectionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return await SqliteConnections.OpenAsync(_readConnectionString, cancellationToken);
    }

    internal static StoredEvent ReadEvent(SqliteDataReader reader) => new(
        reader.ReadGuid(0),
        reader.ReadGuid(1),
        (ulong)reader.GetInt64(2),
        (EventKind)reader.GetInt64(3),
        reader.ReadGuid(4),
        reader.ReadGuid(5),
        reader.ReadTime(6),
        reader.GetString(7),
        reader.GetFieldValue<byte[]>(8),
        reader.ReadNullableGuid(9))
    {
        ThreadRootId = reader.ReadNullableGuid(10),
        GroupMentions = (GroupMentions)reader.GetInt64(11),
        Mentions = reader.ReadGuids(12),
        EditedAt = reader.ReadNullableTime(13),
        DeletedAt = reader.ReadNullableTime(14),
    };
}
