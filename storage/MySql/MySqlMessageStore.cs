using System.Data;
using System.Globalization;
using ChatWire.Storage.Messages;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

/// <summary>
/// The message port on MySQL (MariaDB, InnoDB), safe with several gateway nodes appending to the same
/// conversations at once, each with its own store.
/// <para>
/// Seqs: every conversation has a head row, <c>conversation_heads(conversation_id, last_seq)</c>. Each node's
/// group-commit writer stores a batch of appends in one READ COMMITTED transaction that first locks the
/// heads of the batch's conversations (an upsert, so a new conversation's head is created, then
/// <c>SELECT … FOR UPDATE</c>) in key order, then per append: answers a stored id Duplicate or Conflict, applies the change's rules (edits,
/// deletions, reactions, threads), takes <c>last_seq + 1</c> and queues the row (runs of rows go in one
/// multi-row INSERT); then writes the heads and the storage usage (owners in key order) and commits. The head lock makes every node's
/// batches in one conversation take turns, so each one reads the last seq the previous one committed:
/// seqs are unique and gap-free, and nothing about a seq is remembered between transactions. Locking in
/// one order everywhere avoids deadlocks between batches; a deadlock or lock wait timeout that happens
/// anyway rolls the whole batch back (giving its seqs back) and it is tried again from the start. An
/// append completes only after COMMIT, which with innodb_flush_log_at_trx_commit=1 is durable.
/// </para>
/// <para>
/// Idempotency: the unique key (event_id, conversation_id) names an event across nodes, and everything runs
/// under the head lock, so a resend reaching another node finds the original row and is answered Duplicate
/// (same device, kind, subject and original body, compared through the SHA-256 kept in original_digest) or
/// Conflict. A batch of plain messages leaves finding a stored id to that key: the INSERT fails with a
/// duplicate key, and the batch goes again from the start, this time looking its ids up in one query first
/// (and so do the next batches, as resends come in bursts). Changes are looked up one by one before their
/// rules run. One conversation's history is one range of the primary key (conversation_id, seq).
/// </para>
/// <para>
/// Reads, read positions and device cursors use pooled connections outside the writer. Commit observers are
/// told of the batches this instance commits, not of other nodes'.
/// </para>
/// </summary>
public sealed class MySqlMessageStore : IMessageStore, IAsyncDisposable
{
    /// <summary>The columns <see cref="ReadEvent"/> reads, in its order.</summary>
    internal const string EventColumns = "conversation_id, event_id, seq, kind, sender_user_id, sender_device_id, stored_at, content_type, content, subject_id, "
        + "thread_root_id, group_mentions, mentions, edited_at, deleted_at";

    // Ids per IN list: one statement per few hundred ids keeps statements far below max_allowed_packet.
    private const int IdsPerStatement = 500;

    private readonly MySqlAppendWriter _writer;
    private readonly string _connectionString;
    private int _disposed;

    private MySqlMessageStore(MySqlAppendWriter writer, string connectionString)
    {
        _writer = writer;
        _connectionString = connectionString;
    }

    /// <summary>Transactions the writer has committed (each one redo-log flush).</summary>
    public long BatchesCommitted => _writer.BatchesCommitted;

    /// <summary>Appends those transactions held, duplicates and conflicts included; divided by <see cref="BatchesCommitted"/> it is the average batch.</summary>
    public long MessagesCommitted => _writer.MessagesCommitted;

    /// <summary>Batch attempts rolled back for a deadlock or lock wait timeout and tried again.</summary>
    public long BatchesRetried => _writer.BatchesRetried;

    /// <summary>
    /// Batches that met a stored event id in their INSERT (a resend) and went again, looking their ids up first;
    /// a batch normally leaves that lookup to the unique key.
    /// </summary>
    public long BatchesLookedUpAgain => _writer.BatchesLookedUpAgain;

    internal long BatchesStarted => _writer.BatchesStarted;

    /// <summary>Creates the database when missing, migrates the messages schema and starts the writer.</summary>
    public static async Task<MySqlMessageStore> OpenAsync(MySqlMessageStoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var connectionString = MySqlValues.Normalize(options.ConnectionString);

        await MySqlCommands.EnsureDatabaseAsync(connectionString, cancellationToken);
        await using (var connection = new MySqlConnection(connectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await new MySqlMigrator(MySqlMigrator.MessagesScope).MigrateAsync(connection, cancellationToken);
        }

        var writer = await MySqlAppendWriter.StartAsync(connectionString, options, cancellationToken);
        return new MySqlMessageStore(writer, connectionString);
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

        var (compare, order) = direction switch
        {
            ReadDirection.Before => ("<", "DESC"),
            ReadDirection.After => (">", "ASC"),
            _ => throw new ArgumentOutOfRangeException(nameof(direction), direction, "Unknown read direction."),
        };

        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // One thread is its root and its replies: the replies along the thread index (a range that stops at
        // the limit), the root by its id, merged.
        command.CommandText = threadRootId is null
            ? $"""
              SELECT {EventColumns} FROM events
              WHERE conversation_id = @conversation_id AND seq {compare} @from
              ORDER BY seq {order} LIMIT @limit;
              """
            : $"""
              (SELECT {EventColumns} FROM events
               WHERE conversation_id = @conversation_id AND thread_root_id = @root AND seq {compare} @from
               ORDER BY seq {order} LIMIT @limit)
              UNION ALL
              (SELECT {EventColumns} FROM events
               WHERE conversation_id = @conversation_id AND event_id = @root AND seq {compare} @from)
              ORDER BY seq {order} LIMIT @limit;
              """;
        command.Parameters.AddGuid("@conversation_id", conversationId);
        if (threadRootId is { } root)
        {
            command.Parameters.AddGuid("@root", root);
        }

        command.Parameters.AddInteger("@from", from);
        command.Parameters.AddInteger("@limit", limit);

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
        await using var connection = await OpenConnectionAsync(cancellationToken);
        foreach (var chunk in messageIds.Distinct().Chunk(IdsPerStatement))
        {
            await using var command = connection.CreateCommand();
            var list = command.BindIds(chunk);
            command.Parameters.AddGuid("@c", conversationId);
            command.Parameters.AddGuid("@reader", readerUserId);
            // Reactions in the order their emoji were first used on the message, as on SQLite.
            command.CommandText = $"""
                SELECT root_id, reply_count, last_reply_at FROM threads WHERE conversation_id = @c AND root_id IN ({list});
                SELECT root_id, user_id FROM thread_participants WHERE conversation_id = @c AND root_id IN ({list}) ORDER BY root_id, joined_seq;
                SELECT message_id, emoji, count(*), max(user_id = @reader), min(added_at) AS first FROM reactions
                WHERE conversation_id = @c AND message_id IN ({list}) GROUP BY message_id, emoji ORDER BY message_id, first, emoji;
                """;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                details.AddThread(reader.ReadGuid(0), (int)reader.GetInt64(1), reader.ReadTime(2));
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                details.AddParticipant(reader.ReadGuid(0), reader.ReadGuid(1));
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                details.AddReaction(reader.ReadGuid(0), new ReactionCount(reader.ReadUtf8(1), (int)reader.GetInt64(2), reader.GetInt64(3) != 0));
            }
        }

        return details.Build();
    }

    public async Task<IReadOnlyList<(Guid ConversationId, ulong Seq)>> LocateMessageAsync(Guid messageId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT conversation_id, seq FROM events WHERE event_id = @id AND kind = 0 ORDER BY conversation_id LIMIT {IMessageStore.MaxLocatedPlaces};";
        command.Parameters.AddGuid("@id", messageId);
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
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = MySqlAppendWriter.FindSql;
        command.Parameters.AddGuid("@conversation_id", newEvent.ConversationId);
        command.Parameters.AddGuid("@event_id", newEvent.EventId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return EventIdentity.AnswerTo(newEvent, ReadEvent(reader), ReadOriginalDigest(reader));
    }

    /// <summary>The original digest that follows the event's columns in the writer's lookup (<see cref="MySqlAppendWriter.FindSql"/>).</summary>
    internal static byte[]? ReadOriginalDigest(MySqlDataReader reader) => reader.IsDBNull(15) ? null : reader.GetFieldValue<byte[]>(15);

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

    public async Task<ulong> GetFurthestDeviceCursorAsync(Guid conversationId, IReadOnlyCollection<Guid> deviceIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deviceIds);
        ulong furthest = 0;
        if (deviceIds.Count == 0)
        {
            return furthest;
        }

        await using var connection = await OpenConnectionAsync(cancellationToken);
        foreach (var chunk in deviceIds.Distinct().Chunk(IdsPerStatement))
        {
            await using var command = connection.CreateCommand();
            command.Parameters.AddGuid("@conversation", conversationId);
            command.CommandText = $"SELECT coalesce(max(seq), 0) FROM device_cursors WHERE conversation_id = @conversation AND device_id IN ({command.BindIds(chunk)});";
            furthest = Math.Max(furthest, Convert.ToUInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture));
        }

        return furthest;
    }

    // Read positions and device cursors: per owner (a user, a device) and conversation, a seq that only moves
    // forward and never past the conversation's newest event. Not through the group-commit writer: losing
    // the last one costs a badge or a re-delivery, not a message. READ COMMITTED makes the head a plain
    // read (no shared lock that would queue behind, and deadlock with, the writers' head locks); a head only
    // grows, so clamping to the one read is never past the newest event. Rows are written in key order, so
    // two such transactions for one owner wait rather than deadlock.
    private async Task MoveForwardAsync(
        string table, string ownerColumn, string seqColumn, Guid owner, IReadOnlyCollection<(Guid ConversationId, ulong Seq)> positions, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
        await using var command = new MySqlCommand(
            $"""
            INSERT INTO {table} ({ownerColumn}, conversation_id, {seqColumn})
            SELECT @owner, @c, LEAST(@seq, COALESCE((SELECT last_seq FROM conversation_heads WHERE conversation_id = @c), 0))
            ON DUPLICATE KEY UPDATE {seqColumn} = GREATEST({seqColumn}, VALUES({seqColumn}));
            """,
            connection,
            transaction);
        command.Parameters.AddGuid("@owner", owner);
        var conversation = command.Parameters.AddBinary("@c", new byte[MySqlValues.GuidLength]);
        var seq = command.Parameters.AddInteger("@seq", 0);
        foreach (var (conversationId, at) in positions.OrderBy(p => p.ConversationId, MySqlValues.KeyOrder))
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

        await using var connection = await OpenConnectionAsync(cancellationToken);
        var positions = new Dictionary<Guid, (long Last, long Read, long Cursor)>(conversationIds.Count);
        foreach (var chunk in conversationIds.Distinct().Chunk(IdsPerStatement))
        {
            await using var command = connection.CreateCommand();
            var list = command.BindIds(chunk);
            command.Parameters.AddGuid("@user", userId);
            command.Parameters.AddGuid("@device", deviceId ?? Guid.Empty);
            command.CommandText = $"""
                SELECT conversation_id, last_seq FROM conversation_heads WHERE conversation_id IN ({list});
                SELECT conversation_id, read_seq FROM read_positions WHERE user_id = @user AND conversation_id IN ({list});
                SELECT conversation_id, seq FROM device_cursors WHERE device_id = @device AND conversation_id IN ({list});
                """;
            foreach (var id in chunk)
            {
                positions[id] = default;
            }

            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            for (var column = 0; column < 3; column++)
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    var id = reader.ReadGuid(0);
                    var value = reader.GetInt64(1);
                    var p = positions[id];
                    positions[id] = column switch
                    {
                        0 => p with { Last = value },
                        1 => p with { Read = value },
                        _ => p with { Cursor = value },
                    };
                }

                await reader.NextResultAsync(cancellationToken);
            }
        }

        // Each count is a range scan from the read position, stopped at MaxCountedUnread rows; a conversation
        // read to its end needs none.
        await using var counts = connection.CreateCommand();
        counts.CommandText = $"""
            SELECT (SELECT count(*) FROM (SELECT 1 FROM events
                      WHERE conversation_id = @c AND seq > @read AND kind = 0 AND deleted_at IS NULL AND sender_user_id <> @user
                      LIMIT {IMessageStore.MaxCountedUnread}) AS unread),
                   (SELECT count(*) FROM (SELECT DISTINCT seq FROM mentions
                      WHERE conversation_id = @c AND user_id IN (@user, @everyone) AND seq > @read AND sender_user_id <> @user
                      LIMIT {IMessageStore.MaxCountedUnread}) AS mentioned);
            """;
        counts.Parameters.AddGuid("@user", userId);
        counts.Parameters.AddGuid("@everyone", Guid.Empty);
        var conversation = counts.Parameters.AddBinary("@c", new byte[MySqlValues.GuidLength]);
        var read = counts.Parameters.AddInteger("@read", 0);
        foreach (var id in conversationIds)
        {
            var (last, readSeq, cursor) = positions[id];
            int unread = 0, mentions = 0;
            if (last > readSeq)
            {
                conversation.Value = StoredValues.ToBytes(id);
                read.Value = readSeq;
                await using var reader = await counts.ExecuteReaderAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                unread = (int)reader.GetInt64(0);
                mentions = (int)reader.GetInt64(1);
            }

            stats[id] = UnreadCounts.Stats((ulong)last, (ulong)readSeq, unread, mentions, (ulong)cursor);
        }

        return stats;
    }

    public Task<IReadOnlyDictionary<Guid, long>> GetUsageAsync(IReadOnlyCollection<Guid> ownerIds, CancellationToken cancellationToken = default) =>
        ReadByIdsAsync(ownerIds, "SELECT owner_id, bytes FROM storage_usage WHERE owner_id IN ({0});", static reader => reader.GetInt64(1), cancellationToken);

    // A head at 0 belongs to a conversation whose first batch stored nothing (all refused): it has no events.
    public Task<IReadOnlyDictionary<Guid, ulong>> GetLatestSeqsAsync(IReadOnlyCollection<Guid> conversationIds, CancellationToken cancellationToken = default) =>
        ReadByIdsAsync(conversationIds, "SELECT conversation_id, last_seq FROM conversation_heads WHERE conversation_id IN ({0}) AND last_seq > 0;", static reader => (ulong)reader.GetInt64(1), cancellationToken);

    // One value per id found, read with `sql` (whose {0} takes the parameter list) in chunks; ids not found
    // are left out.
    private async Task<IReadOnlyDictionary<Guid, T>> ReadByIdsAsync<T>(
        IReadOnlyCollection<Guid> ids, string sql, Func<MySqlDataReader, T> read, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var found = new Dictionary<Guid, T>(ids.Count);
        if (ids.Count == 0)
        {
            return found;
        }

        await using var connection = await OpenConnectionAsync(cancellationToken);
        foreach (var chunk in ids.Chunk(IdsPerStatement))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = string.Format(CultureInfo.InvariantCulture, sql, command.BindIds(chunk));
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
            await using var connection = new MySqlConnection(_connectionString);
            await MySqlConnection.ClearPoolAsync(connection);
        }
    }

    private async Task<MySqlConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var connection = new MySqlConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    internal static StoredEvent ReadEvent(MySqlDataReader reader) => new(
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
