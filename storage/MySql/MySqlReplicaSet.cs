using System.Globalization;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

/// <summary>
/// A primary, for writes and the reads that must be current, and an optional replica, for reads whose
/// staleness is harmless. Connections are pooled and opened per operation.
/// </summary>
/// <remarks>
/// Read-your-writes within this process: after each write on the primary the set records the session's
/// <c>@@last_gtid</c> (MariaDB global transaction ids, <c>domain-server-sequence</c>), keeping the highest
/// sequence per domain. A replica read first asks the replica to reach that position
/// (<c>MASTER_GTID_WAIT</c>, bounded by <see cref="CatchUpTimeoutSeconds"/>) and reads the primary instead
/// when it does not. Writes made by other processes may still be missing from a replica read: those reads
/// are the ones for which that is harmless. The wait runs on every replica read rather than being
/// remembered, since a replica connection string may name several servers behind one name.
/// <para>
/// A replica that refuses connections is left alone for <see cref="ReplicaRetryInterval"/>: its reads go to
/// the primary, and a replica that is down costs one connect timeout per interval rather than one per read.
/// A replica read that fails for another reason (a table not replicated yet) is read from the primary.
/// </para>
/// </remarks>
internal sealed class MySqlReplicaSet
{
    public const double CatchUpTimeoutSeconds = 0.5;

    public static readonly TimeSpan ReplicaRetryInterval = TimeSpan.FromSeconds(5);

    // A deadlock or lock wait timeout rolls the whole transaction back; the write runs again from the start.
    private const int WriteAttempts = 3;

    private readonly Lock _positionLock = new();
    private readonly Dictionary<uint, (ulong Sequence, string Gtid)> _written = [];
    private string _writtenPosition = string.Empty;
    private long _replicaRetryAt;

    public MySqlReplicaSet(string primaryConnectionString, string? replicaConnectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(primaryConnectionString);
        Primary = Normalize(primaryConnectionString);
        Replica = string.IsNullOrWhiteSpace(replicaConnectionString) ? null : Normalize(replicaConnectionString);
    }

    public string Primary { get; }

    public string? Replica { get; }

    /// <summary>The position this process's writes reached, as MASTER_GTID_WAIT takes it; empty before any.</summary>
    public string WrittenPosition
    {
        get
        {
            lock (_positionLock)
            {
                return _writtenPosition;
            }
        }
    }

    public Task<MySqlConnection> OpenPrimaryAsync(CancellationToken cancellationToken) => OpenAsync(Primary, cancellationToken);

    /// <summary>
    /// Runs <paramref name="write"/> on a primary connection, again from the start after a deadlock, and
    /// records the position it reached for the replica reads that follow.
    /// </summary>
    public async Task<T> WriteAsync<T>(Func<MySqlConnection, CancellationToken, Task<T>> write, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var connection = await OpenPrimaryAsync(cancellationToken);
            try
            {
                var result = await write(connection, cancellationToken);
                await NoteWriteAsync(connection, cancellationToken);
                return result;
            }
            catch (MySqlException exception) when (MySqlCommands.IsRetryable(exception) && attempt < WriteAttempts)
            {
                // Rolled back as a whole (the transaction is disposed): run it again on a fresh connection.
            }
        }
    }

    public async Task<T> ReadPrimaryAsync<T>(Func<MySqlConnection, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        await using var connection = await OpenPrimaryAsync(cancellationToken);
        return await read(connection, cancellationToken);
    }

    /// <summary>Runs <paramref name="read"/> on the replica once it holds this process's writes; else on the primary.</summary>
    public async Task<T> ReadReplicaAsync<T>(Func<MySqlConnection, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        if (Replica is null || Environment.TickCount64 < Volatile.Read(ref _replicaRetryAt))
        {
            return await ReadPrimaryAsync(read, cancellationToken);
        }

        MySqlConnection replica;
        try
        {
            replica = await OpenAsync(Replica, cancellationToken);
        }
        catch (MySqlException) when (!cancellationToken.IsCancellationRequested)
        {
            Volatile.Write(ref _replicaRetryAt, Environment.TickCount64 + (long)ReplicaRetryInterval.TotalMilliseconds);
            return await ReadPrimaryAsync(read, cancellationToken);
        }

        await using (replica)
        {
            try
            {
                if (await CaughtUpAsync(replica, cancellationToken))
                {
                    return await read(replica, cancellationToken);
                }
            }
            catch (MySqlException) when (!cancellationToken.IsCancellationRequested)
            {
                // Not replicated yet (an unknown table) or lost mid-read: the primary answers below.
            }
        }

        return await ReadPrimaryAsync(read, cancellationToken);
    }

    /// <summary>Records the position the session's last transaction reached (nothing when no replica reads it).</summary>
    public async Task NoteWriteAsync(MySqlConnection connection, CancellationToken cancellationToken)
    {
        if (Replica is null)
        {
            return;
        }

        await using var command = new MySqlCommand("SELECT @@last_gtid;", connection);
        var gtid = Convert.ToString(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        Record(gtid);
    }

    /// <summary>Closes the idle pooled connections of both servers.</summary>
    public async Task ClearPoolsAsync()
    {
        await using (var primary = new MySqlConnection(Primary))
        {
            await MySqlConnection.ClearPoolAsync(primary);
        }

        if (Replica is not null)
        {
            await using var replica = new MySqlConnection(Replica);
            await MySqlConnection.ClearPoolAsync(replica);
        }
    }

    private async Task<bool> CaughtUpAsync(MySqlConnection replica, CancellationToken cancellationToken)
    {
        var position = WrittenPosition;
        if (position.Length == 0)
        {
            return true;
        }

        // 0 once the replica has applied the position, -1 after the timeout.
        await using var command = new MySqlCommand("SELECT MASTER_GTID_WAIT(@position, @timeout);", replica);
        command.Parameters.AddWithValue("@position", position);
        command.Parameters.AddWithValue("@timeout", CatchUpTimeoutSeconds);
        var result = await command.ExecuteScalarAsync(cancellationToken);
        return result is not null and not DBNull && Convert.ToInt64(result, CultureInfo.InvariantCulture) == 0;
    }

    private void Record(string? gtid)
    {
        // Empty when the session wrote nothing to the binary log (binary logging off, or nothing changed).
        var parts = gtid?.Split('-');
        if (parts is not { Length: 3 }
            || !uint.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var domain)
            || !ulong.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
        {
            return;
        }

        lock (_positionLock)
        {
            if (_written.TryGetValue(domain, out var known) && known.Sequence >= sequence)
            {
                return;
            }

            _written[domain] = (sequence, gtid!);
            _writtenPosition = string.Join(',', _written.Values.Select(v => v.Gtid));
        }
    }

    private static async Task<MySqlConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new MySqlConnection(connectionString);
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

    private static string Normalize(string connectionString) => new MySqlConnectionStringBuilder(connectionString)
    {
        Pooling = true,

        // Counts the port returns are rows matched, as SQLite's changes() counts them: an UPDATE that sets
        // a value to what it already was still answers 1.
        UseAffectedRows = false,

        // MySqlValues binds and reads Guids as big-endian bytes; the driver converts no column to Guid.
        GuidFormat = MySqlGuidFormat.None,
        TreatTinyAsBoolean = true,
    }.ConnectionString;
}
