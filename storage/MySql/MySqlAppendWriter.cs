using System.Data;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ChatWire.Storage.Messages;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

/// <summary>
/// The MySQL group-commit writer (<see cref="GroupCommitWriter"/>): its thread owns one connection and stores
/// each batch in one transaction that locks the batch's conversation heads first (see
/// <see cref="MySqlMessageStore"/> for why that makes seqs safe with several nodes). After COMMIT returns, this writer's observers are told of the batch, then
/// the waiters complete.
/// </summary>
internal sealed class MySqlAppendWriter : GroupCommitWriter
{
    // The event's columns, then the original digest (ReadOriginalDigest); also FindStoredAsync's.
    internal const string FindSql = $"""
        SELECT {MySqlMessageStore.EventColumns}, original_digest FROM events
        WHERE conversation_id = @conversation_id AND event_id = @event_id;
        """;

    // Content bytes per multi-row INSERT, at most (a larger single event goes alone): far below MariaDB's
    // default max_allowed_packet (16 MiB), however the driver escapes the bytes.
    private const long MaxInsertBytes = 1L << 20;

    // After a batch met an event id it had taken for new (a resend whose SEND_ACK was lost), this many batches
    // look their ids up first: resends come in bursts (a device reconnecting sends its whole unacknowledged
    // window), and each one found by the unique key instead costs its batch a second attempt.
    private const int LookUpBatchesAfterDuplicate = 32;

    private readonly string _connectionString;
    private readonly int _maxAttempts;

    // Built once, rebound per lookup: MySqlConnector writes parameter values into the statement at
    // execution, so the Guid buffers are overwritten in place.
    private readonly MySqlCommand _find;
    private readonly byte[] _conversationId = new byte[MySqlValues.GuidLength];
    private readonly byte[] _eventId = new byte[MySqlValues.GuidLength];

    // New events not yet sent: inserted together, one multi-row INSERT per run of plain events, and before
    // anything that reads the events table (a lookup, a change's rule check, a reply's thread).
    private readonly List<(NewEvent Event, long Seq, byte[]? Digest)> _rows = [];
    private long _rowBytes;
    private long _storedAt;

    // Per batch: the locked heads (read inside the transaction, never kept across batches) and the bytes per owner.
    private readonly SortedDictionary<Guid, long> _heads = new(MySqlValues.KeyOrder);
    private readonly HashSet<Guid> _advanced = [];
    private readonly HashSet<(Guid ConversationId, Guid EventId)> _storedIds = [];
    private readonly SortedDictionary<Guid, long> _batchUsage = new(MySqlValues.KeyOrder);

    // Reused for every message: the writer is one thread.
    private readonly IncrementalHash _digest = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly MySqlMessageChanges _changes;
    private MySqlConnection _connection;
    private MySqlTransaction? _transaction;

    private long _batchesRetried;
    private long _batchesLookedUpAgain;
    private int _lookUpBatches;

    // Whether the batch being stored looked its ids up first (else the unique key finds a resend).
    private bool _lookUp;

    private MySqlAppendWriter(MySqlConnection connection, string connectionString, MySqlMessageStoreOptions options)
        : base("ChatWire MySQL writer", options.MaxBatchSize, options.MaxBatchBytes, options.QueueCapacity, options.QueueByteCapacity)
    {
        _connection = connection;
        _connectionString = connectionString;
        _maxAttempts = options.MaxBatchAttempts;

        _find = new MySqlCommand(FindSql);
        _find.Parameters.AddBinary("@conversation_id", _conversationId);
        _find.Parameters.AddBinary("@event_id", _eventId);

        _changes = new MySqlMessageChanges(() => _connection, () => _transaction);
    }

    /// <summary>Batch attempts rolled back for a deadlock or lock wait timeout and tried again.</summary>
    public long BatchesRetried => Interlocked.Read(ref _batchesRetried);

    /// <summary>
    /// Batches stored without looking their event ids up first that met a stored id in the INSERT and went again
    /// with the lookup (see <see cref="StoreBatch"/>).
    /// </summary>
    public long BatchesLookedUpAgain => Interlocked.Read(ref _batchesLookedUpAgain);

    /// <summary>Opens the writer's connection (the schema is migrated already) and starts the writer thread.</summary>
    public static async Task<MySqlAppendWriter> StartAsync(string connectionString, MySqlMessageStoreOptions options, CancellationToken cancellationToken)
    {
        var connection = new MySqlConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }

        var writer = new MySqlAppendWriter(connection, connectionString, options);
        writer.Start();
        return writer;
    }

    protected override async ValueTask CloseAsync()
    {
        await _find.DisposeAsync();
        await _connection.DisposeAsync();
        _digest.Dispose();
    }

    // Most batches are all new events, and the INSERT checks every row against the unique key (event_id,
    // conversation_id) anyway, so a batch normally skips the lookup of its ids: an id stored already makes the
    // INSERT fail with a duplicate key, and the batch goes again from the start, this time looking its ids up
    // first so that the resend is answered Duplicate (or Conflict). The head locks keep any other node from
    // storing one of the batch's ids in between, so the unique key misses nothing the lookup would have found.
    protected override void StoreBatch(List<PendingAppend> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            _lookUp = _lookUpBatches > 0;
            try
            {
                StoreOnce(batch);
                if (_lookUp)
                {
                    _lookUpBatches--;
                }

                return;
            }
            catch (MySqlException exception) when (exception.ErrorCode == MySqlErrorCode.DuplicateKeyEntry && !_lookUp)
            {
                Abandon();
                Interlocked.Increment(ref _batchesLookedUpAgain);
                _lookUpBatches = LookUpBatchesAfterDuplicate;
                attempt--;
            }
            catch (MySqlException exception) when (MySqlCommands.IsRetryable(exception) && attempt < _maxAttempts)
            {
                // Another node's transaction was in the way. The whole batch goes again, from reading the
                // heads: its seqs, duplicates and rule checks are decided afresh against what is committed now.
                Abandon();
                Interlocked.Increment(ref _batchesRetried);
                Thread.Sleep(Random.Shared.Next(1, 1 + (5 << Math.Min(attempt, 6))));
            }
            catch
            {
                // Rolling back returns every seq this batch allocated, so the sequence stays gap-free. When the
                // connection broke during COMMIT the batch may have committed after all: the waiters fail, and
                // a resend with the same event ids answers Duplicate.
                Abandon();
                throw;
            }
        }
    }

    private void StoreOnce(List<PendingAppend> batch)
    {
        if (_connection.State != ConnectionState.Open)
        {
            // The last batch broke the connection (a server restart, a network cut): a fresh one from the pool.
            _connection.Dispose();
            _connection = new MySqlConnection(_connectionString);
            _connection.Open();
        }

        // READ COMMITTED: once a head is locked, the plain reads that follow see everything the node that held
        // it before committed (under REPEATABLE READ they could read an older snapshot).
        _transaction = _connection.BeginTransaction(IsolationLevel.ReadCommitted);
        _find.Connection = _connection;
        _find.Transaction = _transaction;
        _rows.Clear();
        _rowBytes = 0;

        LockHeads(batch);
        _storedIds.Clear();
        if (_lookUp)
        {
            FindStoredIds(batch);
        }

        _storedAt = StoredValues.ToUnixMilliseconds(DateTimeOffset.UtcNow);
        var storedAt = StoredValues.FromUnixMilliseconds(_storedAt);
        _batchUsage.Clear();
        foreach (var pending in batch)
        {
            pending.Result = Append(pending.Event, storedAt);
            if (pending.Result.Outcome == AppendOutcome.Stored && pending.Event.Content.Length > 0)
            {
                CountUsage(pending.Event);
            }
        }

        InsertRows();
        WriteHeads();
        AddUsage();
        _transaction.Commit();
        _transaction.Dispose();
        _transaction = null;
    }

    // Locks the head of every conversation in the batch, in key order, creating missing ones; reads their
    // last seq. Every writer on every node locks in this order, so two batches that share conversations
    // wait for each other instead of deadlocking. The upsert takes the exclusive lock at once (a shared
    // lock first, as INSERT IGNORE takes on an existing row, would deadlock two writers upgrading it).
    private void LockHeads(List<PendingAppend> batch)
    {
        _heads.Clear();
        _advanced.Clear();
        foreach (var pending in batch)
        {
            _heads.TryAdd(pending.Event.ConversationId, 0);
        }

        var ids = _heads.Keys.ToList();
        using var command = new MySqlCommand(string.Empty, _connection, _transaction);
        var list = command.BindIds(ids, "h");
        var values = new StringBuilder();
        for (var i = 0; i < ids.Count; i++)
        {
            values.Append(i == 0 ? "(@h" : ", (@h").Append(i.ToString(CultureInfo.InvariantCulture)).Append(", 0)");
        }

        command.CommandText = $"""
            INSERT INTO conversation_heads (conversation_id, last_seq) VALUES {values}
            ON DUPLICATE KEY UPDATE last_seq = last_seq;
            SELECT conversation_id, last_seq FROM conversation_heads WHERE conversation_id IN ({list}) FOR UPDATE;
            """;
        using var reader = command.ExecuteReader();
        do
        {
            while (reader.FieldCount == 2 && reader.Read())
            {
                _heads[reader.ReadGuid(0)] = reader.GetInt64(1);
            }
        }
        while (reader.NextResult());
    }

    // Which of the batch's event ids are stored already, in one statement along the event id index: only
    // those need the full lookup. The others are new, and the head locks keep any node from storing them
    // before this batch commits. (The same id in another conversation adds a pair nobody asks about.)
    private void FindStoredIds(List<PendingAppend> batch)
    {
        using var command = new MySqlCommand(string.Empty, _connection, _transaction);
        var events = command.BindIds([.. batch.Select(p => p.Event.EventId).Distinct()], "e");
        command.CommandText = $"SELECT conversation_id, event_id FROM events WHERE event_id IN ({events});";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            _storedIds.Add((reader.ReadGuid(0), reader.ReadGuid(1)));
        }
    }

    private void InsertRows()
    {
        if (_rows.Count == 0)
        {
            return;
        }

        using var command = new MySqlCommand(string.Empty, _connection, _transaction);
        var sql = new StringBuilder("""
            INSERT INTO events (conversation_id, seq, kind, event_id, sender_user_id, sender_device_id, stored_at, content_type, content, subject_id,
                                thread_root_id, group_mentions, mentions, original_digest) VALUES
            """);
        command.Parameters.AddInteger("@t", _storedAt);
        for (var i = 0; i < _rows.Count; i++)
        {
            var (e, seq, digest) = _rows[i];
            var n = i.ToString(CultureInfo.InvariantCulture);
            sql.Append(i == 0 ? " " : ", ")
                .Append(CultureInfo.InvariantCulture, $"(@c{n}, @s{n}, @k{n}, @e{n}, @u{n}, @d{n}, @t, @ct{n}, @b{n}, @sj{n}, @r{n}, @g{n}, @m{n}, @o{n})");
            var p = command.Parameters;
            p.AddGuid("@c" + n, e.ConversationId);
            p.AddInteger("@s" + n, seq);
            p.AddInteger("@k" + n, (long)e.Kind);
            p.AddGuid("@e" + n, e.EventId);
            p.AddGuid("@u" + n, e.SenderUserId);
            p.AddGuid("@d" + n, e.SenderDeviceId);
            p.AddText("@ct" + n, e.ContentType);
            p.AddBinary("@b" + n, StoredValues.ArrayOf(e.Content));
            p.AddNullable("@sj" + n, e.SubjectId is { } subject ? StoredValues.ToBytes(subject) : null);
            p.AddNullable("@r" + n, e.ThreadRootId is { } root ? StoredValues.ToBytes(root) : null);
            p.AddInteger("@g" + n, (long)e.GroupMentions);
            p.AddNullable("@m" + n, e.Mentions.Count > 0 ? StoredValues.ToBytes(e.Mentions) : null);
            p.AddNullable("@o" + n, digest);
        }

        command.CommandText = sql.Append(';').ToString();
        command.ExecuteNonQuery();
        _rows.Clear();
        _rowBytes = 0;
    }

    private void WriteHeads()
    {
        if (_advanced.Count == 0)
        {
            return;
        }

        using var command = new MySqlCommand(string.Empty, _connection, _transaction);
        var values = new StringBuilder();
        var i = 0;
        foreach (var (conversation, last) in _heads)
        {
            if (!_advanced.Contains(conversation))
            {
                continue;
            }

            var n = i.ToString(CultureInfo.InvariantCulture);
            command.Parameters.AddGuid("@c" + n, conversation);
            command.Parameters.AddInteger("@s" + n, last);
            values.Append(i == 0 ? string.Empty : ", ").Append("(@c").Append(n).Append(", @s").Append(n).Append(')');
            i++;
        }

        command.CommandText = $"INSERT INTO conversation_heads (conversation_id, last_seq) VALUES {values} ON DUPLICATE KEY UPDATE last_seq = VALUES(last_seq);";
        command.ExecuteNonQuery();
    }

    // One upsert per batch, owners in key order and after every head: usage rows are the only rows that
    // batches of different conversations share, and a fixed order keeps two nodes from deadlocking on them.
    private void AddUsage()
    {
        if (_batchUsage.Count == 0)
        {
            return;
        }

        using var command = new MySqlCommand(string.Empty, _connection, _transaction);
        var values = new StringBuilder();
        var i = 0;
        foreach (var (owner, bytes) in _batchUsage)
        {
            var n = i.ToString(CultureInfo.InvariantCulture);
            command.Parameters.AddGuid("@o" + n, owner);
            command.Parameters.AddInteger("@b" + n, bytes);
            values.Append(i == 0 ? string.Empty : ", ").Append("(@o").Append(n).Append(", @b").Append(n).Append(')');
            i++;
        }

        command.CommandText = $"INSERT INTO storage_usage (owner_id, bytes) VALUES {values} ON DUPLICATE KEY UPDATE bytes = bytes + VALUES(bytes);";
        command.ExecuteNonQuery();
    }

    private AppendResult Append(NewEvent e, DateTimeOffset storedAt)
    {
        // Inside the batch's transaction and under the head's lock, so the same id stored by an earlier append
        // of this batch, or by any node before, is seen. A change (an edit, a reaction, a reply) is looked up
        // alone when the batch's ids were not: its rules could refuse a resend, or find it changes nothing,
        // before any INSERT met the stored id.
        if (_storedIds.Contains((e.ConversationId, e.EventId)) || (!_lookUp && MySqlMessageChanges.Touches(e)))
        {
            InsertRows();
            StoredValues.WriteGuid(e.ConversationId, _conversationId);
            StoredValues.WriteGuid(e.EventId, _eventId);
            using var existing = _find.ExecuteReader();
            if (existing.Read())
            {
                var original = MySqlMessageStore.ReadEvent(existing);
                return EventIdentity.AnswerTo(e, original, MySqlMessageStore.ReadOriginalDigest(existing), _digest);
            }
        }

        // What the event changes (a message edited, a reaction added, …) is checked and applied first, in the
        // same transaction: a refused or no-op change takes no seq.
        if (MySqlMessageChanges.Touches(e))
        {
            InsertRows();
        }

        var change = _changes.Apply(e, storedAt);
        if (change.Outcome != AppendOutcome.Stored)
        {
            return change;
        }

        var seq = _heads[e.ConversationId] + 1;
        _heads[e.ConversationId] = seq;
        _advanced.Add(e.ConversationId);
        _rows.Add((e, seq, EventIdentity.OriginalDigest(_digest, e)));
        _rowBytes += e.Content.Length;
        _storedIds.Add((e.ConversationId, e.EventId));
        if (MySqlMessageChanges.Records(e))
        {
            InsertRows();
            _changes.RecordMessage(e, seq, storedAt);
        }
        else if (_rowBytes >= MaxInsertBytes)
        {
            InsertRows();
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

    // Rolls the batch back. A connection that cannot even do that is closed; the next batch opens a new one.
    private void Abandon()
    {
        var transaction = _transaction;
        _transaction = null;
        if (transaction is null)
        {
            return;
        }

        try
        {
            // A deadlock has rolled the transaction back already; a lock wait timeout only the statement
            // (innodb_rollback_on_timeout is off by default), so the rest of the batch is undone here.
            transaction.Rollback();
        }
#pragma warning disable CA1031 // The server may have dropped the transaction with the connection; the batch's failure is what matters.
        catch (Exception)
#pragma warning restore CA1031
        {
            _connection.Close();
        }
        finally
        {
            transaction.Dispose();
        }
    }
}
