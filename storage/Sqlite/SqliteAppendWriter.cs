using System.Globalization;
using ChatWire.Storage.Messages;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

/// <summary>
/// The SQLite group-commit writer (<see cref="GroupCommitWriter"/>): its thread owns the one write connection
/// and commits each batch in one transaction, so N appends cost one fsync. After COMMIT returns, the commit
/// observers are told of the batch, then the waiters complete.
/// </summary>
internal sealed class SqliteAppendWriter : GroupCommitWriter
{
    // The event's columns, then the original digest (ReadOriginalDigest); also FindStoredAsync's.
    internal const string FindSql = $"""
        SELECT {SqliteMessageStore.EventColumns}, original_digest FROM events
        WHERE conversation_id = $conversation_id AND event_id = $event_id;
        """;

    // A conversation's last seq is read once per batch (at its first event there) and written once per batch
    // (before COMMIT), in the batch's transaction: a rolled-back batch gives its seqs back, and the sequence
    // stays gap-free. In between, the writer (the only one) counts on from what it read.
    private const string ReadHeadSql = "SELECT last_seq FROM conversation_heads WHERE conversation_id = $conversation_id;";

    private const string WriteHeadSql = """
        INSERT INTO conversation_heads (conversation_id, last_seq) VALUES ($conversation_id, $last_seq)
        ON CONFLICT (conversation_id) DO UPDATE SET last_seq = excluded.last_seq;
        """;

    private const string InsertSql = """
        INSERT INTO events (conversation_id, seq, kind, event_id, sender_user_id, sender_device_id, stored_at, content_type, content, subject_id,
                            thread_root_id, group_mentions, mentions, original_digest)
        VALUES ($conversation_id, $seq, $kind, $event_id, $sender_user_id, $sender_device_id, $stored_at, $content_type, $content, $subject_id,
                $thread_root_id, $group_mentions, $mentions, $original_digest)
        ON CONFLICT (event_id, conversation_id) DO NOTHING;
        """;

    private const string AddUsageSql = """
        INSERT INTO storage_usage (owner_id, bytes) VALUES ($owner_id, $bytes)
        ON CONFLICT (owner_id) DO UPDATE SET bytes = bytes + excluded.bytes;
        """;

    private readonly SqliteConnection _connection;

    // Prepared once, rebound per message. The Guid parameters share buffers that are overwritten in
    // place: SQLite copies a bound blob, so reuse is safe and a message costs no Guid arrays.
    private readonly SqliteCommand _find;
    private readonly SqliteCommand _readHead;
    private readonly SqliteCommand _writeHead;
    private readonly SqliteParameter _headSeq;

    // Per batch: each conversation's last seq as read at its first event, and as last taken.
    private readonly Dictionary<Guid, (long Read, long Taken)> _heads = [];
    private readonly SqliteCommand _insert;
    private readonly SqliteCommand _addUsage;
    private readonly byte[] _ownerId = new byte[SqliteValues.GuidLength];
    private readonly SqliteParameter _usageBytes;
    private readonly Dictionary<Guid, long> _batchUsage = [];
    private readonly byte[] _conversationId = new byte[SqliteValues.GuidLength];
    private readonly byte[] _eventId = new byte[SqliteValues.GuidLength];
    private readonly byte[] _senderUserId = new byte[SqliteValues.GuidLength];
    private readonly byte[] _senderDeviceId = new byte[SqliteValues.GuidLength];
    private readonly byte[] _subjectId = new byte[SqliteValues.GuidLength];
    private readonly SqliteParameter _seq;
    private readonly SqliteParameter _kind;
    private readonly SqliteParameter _subject;
    private readonly SqliteParameter _storedAt;
    private readonly SqliteParameter _contentType;
    private readonly SqliteParameter _content;
    private readonly SqliteParameter _threadRoot;
    private readonly SqliteParameter _groupMentions;
    private readonly SqliteParameter _mentions;
    private readonly SqliteParameter _originalDigest;

    // Reused for every message: the writer is one thread.
    private readonly System.Security.Cryptography.IncrementalHash _digest = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
    private readonly MessageChanges _changes;
    private SqliteTransaction? _transaction;

    private SqliteAppendWriter(SqliteConnection connection, SqliteMessageStoreOptions options, string journalMode, long synchronous)
        : base("ChatWire SQLite writer", options.MaxBatchSize, options.MaxBatchBytes, options.QueueCapacity, options.QueueByteCapacity)
    {
        _connection = connection;
        JournalMode = journalMode;
        Synchronous = synchronous;

        _find = CreateCommand(FindSql);
        _find.Parameters.AddBlob("$conversation_id", _conversationId);
        _find.Parameters.AddBlob("$event_id", _eventId);

        _readHead = CreateCommand(ReadHeadSql);
        _readHead.Parameters.AddBlob("$conversation_id", _conversationId);
        _writeHead = CreateCommand(WriteHeadSql);
        _writeHead.Parameters.AddBlob("$conversation_id", _conversationId);
        _headSeq = _writeHead.Parameters.AddInteger("$last_seq", 0);

        _insert = CreateCommand(InsertSql);
        _insert.Parameters.AddBlob("$conversation_id", _conversationId);
        _seq = _insert.Parameters.AddInteger("$seq", 0);
        _kind = _insert.Parameters.AddInteger("$kind", 0);
        _insert.Parameters.AddBlob("$event_id", _eventId);
        _insert.Parameters.AddBlob("$sender_user_id", _senderUserId);
        _insert.Parameters.AddBlob("$sender_device_id", _senderDeviceId);
        _storedAt = _insert.Parameters.AddInteger("$stored_at", 0);
        _contentType = _insert.Parameters.AddText("$content_type", string.Empty);
        _content = _insert.Parameters.AddBlob("$content", []);
        _subject = _insert.Parameters.AddBlob("$subject_id", _subjectId);
        _threadRoot = _insert.Parameters.AddBlob("$thread_root_id", []);
        _groupMentions = _insert.Parameters.AddInteger("$group_mentions", 0);
        _mentions = _insert.Parameters.AddBlob("$mentions", []);
        _originalDigest = _insert.Parameters.AddBlob("$original_digest", []);
        _changes = new MessageChanges(connection, () => _transaction);

        _addUsage = CreateCommand(AddUsageSql);
        _addUsage.Parameters.AddBlob("$owner_id", _ownerId);
        _usageBytes = _addUsage.Parameters.AddInteger("$bytes", 0);

        _find.Prepare();
        _readHead.Prepare();
        _writeHead.Prepare();
        _insert.Prepare();
        _addUsage.Prepare();
    }

    /// <summary>The journal mode in force on the write connection ("wal" for a file).</summary>
    public string JournalMode { get; }

    /// <summary>PRAGMA synchronous on the write connection: 2 = FULL.</summary>
    public long Synchronous { get; }

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
            // commits on power loss, and an ACK promises the message survives both (docs/protocol.md §4.8).
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

    protected override async ValueTask CloseAsync()
    {
        await _find.DisposeAsync();
        await _readHead.DisposeAsync();
        await _writeHead.DisposeAsync();
        await _insert.DisposeAsync();
        await _addUsage.DisposeAsync();
        await _connection.DisposeAsync();
        _digest.Dispose();
    }

    protected override void StoreBatch(List<PendingAppend> batch)
    {
        SqliteTransaction? transaction = null;
        try
        {
            transaction = _connection.BeginTransaction(deferred: false);
            _transaction = transaction;
            _find.Transaction = transaction;
            _readHead.Transaction = transaction;
            _writeHead.Transaction = transaction;
            _insert.Transaction = transaction;
            _addUsage.Transaction = transaction;

            var storedAt = StoredValues.FromUnixMilliseconds(StoredValues.ToUnixMilliseconds(DateTimeOffset.UtcNow));
            _batchUsage.Clear();
            _heads.Clear();
            foreach (var pending in batch)
            {
                pending.Result = Append(pending.Event, storedAt);
                if (pending.Result.Outcome == AppendOutcome.Stored && pending.Event.Content.Length > 0)
                {
                    CountUsage(pending.Event);
                }
            }

            foreach (var (conversation, head) in _heads)
            {
                if (head.Taken != head.Read)
                {
                    StoredValues.WriteGuid(conversation, _conversationId);
                    _headSeq.Value = head.Taken;
                    _writeHead.ExecuteNonQuery();
                }
            }

            // One update per owner per batch, in the batch's transaction: the counts match the events.
            foreach (var (owner, bytes) in _batchUsage)
            {
                StoredValues.WriteGuid(owner, _ownerId);
                _usageBytes.Value = bytes;
                _addUsage.ExecuteNonQuery();
            }

            transaction.Commit();
        }
        catch
        {
            // Rolling back also returns every seq this batch allocated, so the sequence stays gap-free. The
            // batch's waiters then fail with the exception, and the writer goes on with the next batch.
            TryRollback(transaction);
            throw;
        }
        finally
        {
            _find.Transaction = null;
            _readHead.Transaction = null;
            _writeHead.Transaction = null;
            _insert.Transaction = null;
            _addUsage.Transaction = null;
            _transaction = null;
            transaction?.Dispose();
        }
    }

    private SqliteCommand CreateCommand(string sql)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    private AppendResult Append(NewEvent e, DateTimeOffset storedAt)
    {
        StoredValues.WriteGuid(e.ConversationId, _conversationId);
        StoredValues.WriteGuid(e.EventId, _eventId);
        StoredValues.WriteGuid(e.SenderUserId, _senderUserId);
        StoredValues.WriteGuid(e.SenderDeviceId, _senderDeviceId);

        // A plain message changes nothing else: it is inserted straight away, and only when its id is taken
        // already (the insert did nothing) is the earlier event read. Other events are checked against what
        // they change first, and that check must not run for a resend.
        if (e.Kind == EventKind.Message && e.ThreadRootId is null)
        {
            return Insert(e, storedAt) ?? FindExisting(e) ?? throw new InvalidOperationException("The event was not inserted, yet no event holds its id.");
        }

        if (FindExisting(e) is { } existing)
        {
            return existing;
        }

        // What the event changes (a message edited, a reaction added, …) is checked and applied first, in the
        // same transaction: a refused or no-op change takes no seq.
        var change = _changes.Apply(e, storedAt);
        if (change.Outcome != AppendOutcome.Stored)
        {
            return change;
        }

        return Insert(e, storedAt) ?? throw new InvalidOperationException("The event's id was taken within its own transaction.");
    }

    // Inside the batch's transaction, so an earlier append of this batch with the same id is seen.
    private AppendResult? FindExisting(NewEvent e)
    {
        using var existing = _find.ExecuteReader();
        if (!existing.Read())
        {
            return null;
        }

        var original = SqliteMessageStore.ReadEvent(existing);
        return EventIdentity.AnswerTo(e, original, SqliteMessageStore.ReadOriginalDigest(existing), _digest);
    }

    // Stores the event under the conversation's next seq; null (and no seq taken) when its id is taken already.
    private AppendResult? Insert(NewEvent e, DateTimeOffset storedAt)
    {
        if (!_heads.TryGetValue(e.ConversationId, out var head))
        {
            var read = _readHead.ExecuteScalar() is { } last ? Convert.ToInt64(last, CultureInfo.InvariantCulture) : 0;
            head = (read, read);
        }

        var seq = head.Taken + 1;
        _seq.Value = seq;
        _kind.Value = (long)e.Kind;
        _storedAt.Value = StoredValues.ToUnixMilliseconds(storedAt);
        _contentType.Value = e.ContentType;
        _content.Value = StoredValues.ArrayOf(e.Content);
        if (e.SubjectId is { } subject)
        {
            StoredValues.WriteGuid(subject, _subjectId);
            _subject.Value = _subjectId;
        }
        else
        {
            _subject.Value = DBNull.Value;
        }

        _threadRoot.Value = e.ThreadRootId is { } root ? StoredValues.ToBytes(root) : DBNull.Value;
        _groupMentions.Value = (long)e.GroupMentions;
        _mentions.Value = e.Mentions.Count > 0 ? StoredValues.ToBytes(e.Mentions) : DBNull.Value;
        _originalDigest.Value = (object?)EventIdentity.OriginalDigest(_digest, e) ?? DBNull.Value;
        if (_insert.ExecuteNonQuery() == 0)
        {
            _heads[e.ConversationId] = head;
            return null;
        }

        _heads[e.ConversationId] = (head.Read, seq);
        if (e.Kind == EventKind.Message && (e.ThreadRootId is not null || e.Mentions.Count > 0 || e.GroupMentions != GroupMentions.None))
        {
            _changes.RecordMessage(e, seq, storedAt);
        }

        return new AppendResult(AppendOutcome.Stored, e.ToStored((ulong)seq, storedAt));
    }

    private void CountUsage(NewEvent e)
    {
        _batchUsage[e.SenderUserId] = _batchUsage.GetValueOrDefault(e.SenderUserId) + e.Content.Length;
        if (e.UsageTeamId is { } team)
        {
            _batchUsage[team] = _batchUsage.GetValueOrDefault(team) + e.Content.Length;
        }
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
