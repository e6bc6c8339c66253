using System.Globalization;
using System.Threading.Channels;
using ChatWire.Storage.Messages;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

/// <summary>
/// The group-commit writer: one thread owns the one write connection, takes the first queued append
/// plus whatever else is already waiting (up to the batch size) and commits them in one transaction,
/// so N appends cost one fsync. Waiters complete only after COMMIT returns.
/// </summary>
internal sealed class SqliteAppendWriter : IAsyncDisposable
{
    private const string FindSql = """
        SELECT seq, sender_user_id, stored_at, content_type, content FROM messages
        WHERE conversation_id = $conversation_id AND sender_device_id = $sender_device_id AND message_id = $message_id;
        """;

    // Upsert + RETURNING (SQLite 3.35+): the seq is allocated by the same transaction that stores the row.
    private const string AllocateSeqSql = """
        INSERT INTO conversation_heads (conversation_id, last_seq) VALUES ($conversation_id, 1)
        ON CONFLICT (conversation_id) DO UPDATE SET last_seq = last_seq + 1
        RETURNING last_seq;
        """;

    private const string InsertSql = """
        INSERT INTO messages (conversation_id, seq, message_id, sender_user_id, sender_device_id, stored_at, content_type, content)
        VALUES ($conversation_id, $seq, $message_id, $sender_user_id, $sender_device_id, $stored_at, $content_type, $content);
        """;

    private readonly SqliteConnection _connection;
    private readonly Channel<PendingAppend> _queue;
    private readonly int _maxBatchSize;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Prepared once, rebound per message. The Guid parameters share buffers that are overwritten in
    // place: SQLite copies a bound blob, so reuse is safe and a message costs no Guid arrays.
    private readonly SqliteCommand _find;
    private readonly SqliteCommand _allocateSeq;
    private readonly SqliteCommand _insert;
    private readonly byte[] _conversationId = new byte[SqliteValues.GuidLength];
    private readonly byte[] _messageId = new byte[SqliteValues.GuidLength];
    private readonly byte[] _senderUserId = new byte[SqliteValues.GuidLength];
    private readonly byte[] _senderDeviceId = new byte[SqliteValues.GuidLength];
    private readonly SqliteParameter _seq;
    private readonly SqliteParameter _storedAt;
    private readonly SqliteParameter _contentType;
    private readonly SqliteParameter _content;

    private long _batchesStarted;
    private long _batchesCommitted;
    private long _messagesCommitted;
    private int _disposed;

    private SqliteAppendWriter(SqliteConnection connection, SqliteMessageStoreOptions options, string journalMode, long synchronous)
    {
        _connection = connection;
        _maxBatchSize = options.MaxBatchSize;
        JournalMode = journalMode;
        Synchronous = synchronous;
        _queue = Channel.CreateBounded<PendingAppend>(new BoundedChannelOptions(options.QueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });

        _find = CreateCommand(FindSql);
        _find.Parameters.AddBlob("$conversation_id", _conversationId);
        _find.Parameters.AddBlob("$sender_device_id", _senderDeviceId);
        _find.Parameters.AddBlob("$message_id", _messageId);

        _allocateSeq = CreateCommand(AllocateSeqSql);
        _allocateSeq.Parameters.AddBlob("$conversation_id", _conversationId);

        _insert = CreateCommand(InsertSql);
        _insert.Parameters.AddBlob("$conversation_id", _conversationId);
        _seq = _insert.Parameters.AddInteger("$seq", 0);
        _insert.Parameters.AddBlob("$message_id", _messageId);
        _insert.Parameters.AddBlob("$sender_user_id", _senderUserId);
        _insert.Parameters.AddBlob("$sender_device_id", _senderDeviceId);
        _storedAt = _insert.Parameters.AddInteger("$stored_at", 0);
        _contentType = _insert.Parameters.AddText("$content_type", string.Empty);
        _content = _insert.Parameters.AddBlob("$content", []);

        _find.Prepare();
        _allocateSeq.Prepare();
        _insert.Prepare();
    }

    /// <summary>The journal mode in force on the write connection ("wal" for a file).</summary>
    public string JournalMode { get; }

    /// <summary>PRAGMA synchronous on the write connection: 2 = FULL.</summary>
    public long Synchronous { get; }

    public long BatchesCommitted => Interlocked.Read(ref _batchesCommitted);

    public long MessagesCommitted => Interlocked.Read(ref _messagesCommitted);

    /// <summary>Batches the writer has closed (taken from the queue) and begun to commit.</summary>
    public long BatchesStarted => Interlocked.Read(ref _batchesStarted);

    /// <summary>
    /// Opens the dedicated write connection, migrates the messages schema and starts the writer thread.
    /// </summary>
    public static async Task<SqliteAppendWriter> StartAsync(string connectionString, SqliteMessageStoreOptions options, CancellationToken cancellationToken)
    {
        var connection = await SqliteConnections.OpenAsync(connectionString, cancellationToken);
        try
        {
            var journalMode = await SqliteConnections.EnableWriteAheadLogAsync(connection, cancellationToken);

            // FULL, not NORMAL: in WAL mode NORMAL survives a process crash but may lose the last
            // commits on power loss, and an ACK promises the message survives both (DESIGN §4).
            await SqliteConnections.ExecuteAsync(connection, "PRAGMA synchronous = FULL;", cancellationToken);
            long synchronous;
            await using (var check = connection.CreateCommand())
            {
                check.CommandText = "PRAGMA synchronous;";
                synchronous = Convert.ToInt64(await check.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
            }

            await new SqliteMigrator(SqliteMigrator.MessagesScope).MigrateAsync(connection, cancellationToken);

            var writer = new SqliteAppendWriter(connection, options, journalMode, synchronous);
            writer.Start();
            return writer;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public Task<AppendResult> EnqueueAsync(NewMessage message, CancellationToken cancellationToken)
    {
        var pending = new PendingAppend(message);
        if (!_queue.Writer.TryWrite(pending))
        {
            return EnqueueSlowAsync(pending, cancellationToken);
        }

        // Cancelling stops the wait, not the write: a message already queued may still be stored, and a
        // resend with the same id then answers Duplicate.
        return cancellationToken.CanBeCanceled ? pending.Task.WaitAsync(cancellationToken) : pending.Task;
    }

    /// <summary>Stops accepting appends, commits everything already queued, then closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await _stopped.Task;
            return;
        }

        _queue.Writer.TryComplete();
        try
        {
            await _stopped.Task;
        }
        finally
        {
            await _find.DisposeAsync();
            await _allocateSeq.DisposeAsync();
            await _insert.DisposeAsync();
            await _connection.DisposeAsync();
        }
    }

    private async Task<AppendResult> EnqueueSlowAsync(PendingAppend pending, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.Writer.WriteAsync(pending, cancellationToken);
        }
        catch (ChannelClosedException exception)
        {
            throw new ObjectDisposedException("The message store is closed.", exception);
        }

        return await pending.Task.WaitAsync(cancellationToken);
    }

    private SqliteCommand CreateCommand(string sql)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    private void Start()
    {
        // A thread of its own rather than a pool task: every commit blocks in fsync, and parking a
        // thread-pool thread there for each batch would starve the gateway's async work.
        var thread = new Thread(Run)
        {
            IsBackground = true,
            Name = "ChatWire SQLite writer",
        };
        thread.Start();
    }

    private void Run()
    {
        var reader = _queue.Reader;
        var batch = new List<PendingAppend>(_maxBatchSize);
        try
        {
            while (WaitForWork(reader))
            {
                while (batch.Count < _maxBatchSize && reader.TryRead(out var pending))
                {
                    batch.Add(pending);
                }

                if (batch.Count > 0)
                {
                    Interlocked.Increment(ref _batchesStarted);
                    CommitBatch(batch);
                    batch.Clear();
                }
            }

            _stopped.TrySetResult();
        }
#pragma warning disable CA1031 // The writer must not die silently: whatever stops it fails every waiter.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            _queue.Writer.TryComplete(exception);
            foreach (var pending in batch)
            {
                pending.TrySetException(exception);
            }

            while (reader.TryRead(out var pending))
            {
                pending.TrySetException(exception);
            }

            _stopped.TrySetException(exception);
        }
    }

    private static bool WaitForWork(ChannelReader<PendingAppend> reader)
    {
        // Blocking is right here: this thread exists only to wait for and write appends.
        var wait = reader.WaitToReadAsync();
        return wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
    }

    private void CommitBatch(List<PendingAppend> batch)
    {
        SqliteTransaction? transaction = null;
        try
        {
            transaction = _connection.BeginTransaction(deferred: false);
            _find.Transaction = transaction;
            _allocateSeq.Transaction = transaction;
            _insert.Transaction = transaction;

            var storedAt = SqliteValues.FromUnixMilliseconds(SqliteValues.ToUnixMilliseconds(DateTimeOffset.UtcNow));
            foreach (var pending in batch)
            {
                pending.Result = Append(pending.Message, storedAt);
            }

            transaction.Commit();
        }
#pragma warning disable CA1031 // Any failure fails the batch's waiters; the writer goes on with the next batch.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            // Rolling back also returns every seq this batch allocated, so the sequence stays gap-free.
            TryRollback(transaction);
            foreach (var pending in batch)
            {
                pending.TrySetException(exception);
            }

            return;
        }
        finally
        {
            _find.Transaction = null;
            _allocateSeq.Transaction = null;
            _insert.Transaction = null;
            transaction?.Dispose();
        }

        Interlocked.Increment(ref _batchesCommitted);
        Interlocked.Add(ref _messagesCommitted, batch.Count);
        foreach (var pending in batch)
        {
            pending.TrySetResult(pending.Result!);
        }
    }

    private AppendResult Append(NewMessage message, DateTimeOffset storedAt)
    {
        SqliteValues.WriteGuid(message.ConversationId, _conversationId);
        SqliteValues.WriteGuid(message.MessageId, _messageId);
        SqliteValues.WriteGuid(message.SenderUserId, _senderUserId);
        SqliteValues.WriteGuid(message.SenderDeviceId, _senderDeviceId);

        // Inside the batch's transaction, so an earlier append of this batch with the same key is seen.
        using (var existing = _find.ExecuteReader())
        {
            if (existing.Read())
            {
                var contentType = existing.GetString(3);
                var content = existing.GetFieldValue<byte[]>(4);
                if (!string.Equals(contentType, message.ContentType, StringComparison.Ordinal)
                    || !message.Content.Span.SequenceEqual(content))
                {
                    return new AppendResult(AppendOutcome.Conflict, null);
                }

                return new AppendResult(AppendOutcome.Duplicate, new StoredMessage(
                    message.ConversationId,
                    message.MessageId,
                    (ulong)existing.GetInt64(0),
                    existing.ReadGuid(1),
                    message.SenderDeviceId,
                    existing.ReadTime(2),
                    contentType,
                    content));
            }
        }

        var seq = Convert.ToInt64(_allocateSeq.ExecuteScalar(), CultureInfo.InvariantCulture);
        _seq.Value = seq;
        _storedAt.Value = SqliteValues.ToUnixMilliseconds(storedAt);
        _contentType.Value = message.ContentType;
        _content.Value = SqliteValues.ToBlob(message.Content);
        _insert.ExecuteNonQuery();

        return new AppendResult(AppendOutcome.Stored, new StoredMessage(
            message.ConversationId,
            message.MessageId,
            (ulong)seq,
            message.SenderUserId,
            message.SenderDeviceId,
            storedAt,
            message.ContentType,
            message.Content));
    }

    private static void TryRollback(SqliteTransaction? transaction)
    {
        if (transaction is null)
        {
            return;
        }

        try
        {
            transaction.Rollback();
        }
#pragma warning disable CA1031 // SQLite may have rolled back already (e.g. after an I/O error); the batch's failure is what matters.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
