using ChatWire.Storage.Messages;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

/// <summary>
/// The message port over one SQLite file. Appends go through one group-commit writer (one dedicated
/// connection, WAL, synchronous=FULL); reads take pooled connections, which WAL lets run alongside it.
/// A completed <see cref="AppendAsync"/> is committed and fsynced. Not for in-memory databases.
/// </summary>
public sealed class SqliteMessageStore : IMessageStore, IAsyncDisposable
{
    private const string MessageColumns = "conversation_id, message_id, seq, sender_user_id, sender_device_id, stored_at, content_type, content";

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

    public Task<AppendResult> AppendAsync(NewMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(message.ContentType, nameof(message));
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _writer.EnqueueAsync(message, cancellationToken);
    }

    public async Task<IReadOnlyList<StoredMessage>> ReadAsync(Guid conversationId, ulong fromSeq, ReadDirection direction, int limit, CancellationToken cancellationToken = default)
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
                SELECT {MessageColumns} FROM messages
                WHERE conversation_id = $conversation_id AND seq < $from
                ORDER BY seq DESC LIMIT $limit;
                """,
            ReadDirection.After => $"""
                SELECT {MessageColumns} FROM messages
                WHERE conversation_id = $conversation_id AND seq > $from
                ORDER BY seq LIMIT $limit;
                """,
            _ => throw new ArgumentOutOfRangeException(nameof(direction), direction, "Unknown read direction."),
        };
        command.Parameters.AddGuid("$conversation_id", conversationId);
        command.Parameters.AddInteger("$from", from);
        command.Parameters.AddInteger("$limit", limit);

        var messages = new List<StoredMessage>(Math.Min(limit, 256));
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                messages.Add(ReadMessage(reader));
            }
        }

        if (direction == ReadDirection.Before)
        {
            messages.Reverse();
        }

        return messages;
    }

    public async Task<StoredMessage?> FindByIdAsync(Guid conversationId, Guid messageId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenReadConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();

        // The same id from two devices is two messages; the first stored one answers.
        command.CommandText = $"""
            SELECT {MessageColumns} FROM messages
            WHERE message_id = $message_id AND conversation_id = $conversation_id
            ORDER BY seq LIMIT 1;
            """;
        command.Parameters.AddGuid("$message_id", messageId);
        command.Parameters.AddGuid("$conversation_id", conversationId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadMessage(reader) : null;
    }

    public async Task<ulong> GetLatestSeqAsync(Guid conversationId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenReadConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT last_seq FROM conversation_heads WHERE conversation_id = $conversation_id;";
        command.Parameters.AddGuid("$conversation_id", conversationId);
        return await command.ExecuteScalarAsync(cancellationToken) is long seq ? (ulong)seq : 0;
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

    private static StoredMessage ReadMessage(SqliteDataReader reader) => new(
        reader.ReadGuid(0),
        reader.ReadGuid(1),
        (ulong)reader.GetInt64(2),
        reader.ReadGuid(3),
        reader.ReadGuid(4),
        reader.ReadTime(5),
        reader.GetString(6),
        reader.GetFieldValue<byte[]>(7));
}
