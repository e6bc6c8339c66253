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
    internal const string EventColumns = "conversation_id, event_id, seq, kind, sender_user_id, sender_device_id, stored_at, content_type, content, subject_id";

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
        Guid conversationId, ulong fromSeq, ReadDirection direction, int limit, long maxContentBytes = long.MaxValue, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);

        // Seqs are stored as signed 64-bit integers and never come near long.MaxValue.
        var from = fromSeq > long.MaxValue ? long.MaxValue : (long)fromSeq;
        if (direction == ReadDirection.Before && from == 0)
        {
            from = long.MaxValue;
        }

        await using var connection = await OpenReadConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = direction switch
        {
            // The newest `limit` below the start, read backwards along the primary key, then reversed.
            ReadDirection.Before => $"""
                SELECT {EventColumns} FROM events
                WHERE conversation_id = $conversation_id AND seq < $from
                ORDER BY seq DESC LIMIT $limit;
                """,
            ReadDirection.After => $"""
                SELECT {EventColumns} FROM events
                WHERE conversation_id = $conversation_id AND seq > $from
                ORDER BY seq LIMIT $limit;
                """,
            _ => throw new ArgumentOutOfRangeException(nameof(direction), direction, "Unknown read direction."),
        };
        command.Parameters.AddGuid("$conversation_id", conversationId);
        command.Parameters.AddInteger("$from", from);
        command.Parameters.AddInteger("$limit", limit);

        // Rows come nearest-first, so stopping at the byte budget keeps the events nearest the start.
        var events = new List<StoredEvent>(Math.Min(limit, 256));
        long bytes = 0;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (bytes < maxContentBytes && await reader.ReadAsync(cancellationToken))
            {
                var e = ReadEvent(reader);
                bytes += e.Content.Length;
                events.Add(e);
            }
        }

        if (direction == ReadDirection.Before)
        {
            events.Reverse();
        }

        return events;
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
            var names = new string[chunk.Length];
            for (var i = 0; i < chunk.Length; i++)
            {
                names[i] = "$id" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                command.Parameters.AddGuid(names[i], chunk[i]);
            }

            command.CommandText = string.Format(System.Globalization.CultureInfo.InvariantCulture, sql, string.Join(", ", names));
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
        reader.ReadNullableGuid(9));
}
