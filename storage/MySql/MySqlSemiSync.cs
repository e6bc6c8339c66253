using MySqlConnector;

namespace ChatWire.Storage.MySql;

/// <summary>What a MySQL or MariaDB primary does with each commit, as far as replicas go.</summary>
public enum SemiSyncState
{
    /// <summary>Semi-synchronous replication is not enabled on the server (no replica is waited for).</summary>
    NotEnabled = -1,

    /// <summary>
    /// Enabled, but the primary stopped waiting: no replica acknowledged within <c>rpl_semi_sync_master_timeout</c>
    /// and it went on asynchronously. A commit is then on the primary alone until a replica catches up.
    /// </summary>
    FellBack = 0,

    /// <summary>Every commit waits until a replica has it.</summary>
    Active = 1,
}

/// <summary>
/// Reads whether the primary a connection string reaches first replicates semi-synchronously now: the promise that
/// an acknowledged send survives losing the primary rests on it, and MariaDB and MySQL turn it off by themselves
/// (falling back to asynchronous replication) when replicas stop answering, saying so only in a status variable.
/// Both the MariaDB / older MySQL names (<c>rpl_semi_sync_master_*</c>) and MySQL 8.0.26's (<c>…_source_*</c>) are read.
/// </summary>
public static class MySqlSemiSync
{
    public static async Task<SemiSyncState> ReadAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        var enabled = await ReadOnOffAsync(
            connection, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('rpl_semi_sync_master_enabled', 'rpl_semi_sync_source_enabled')", cancellationToken).ConfigureAwait(false);
        if (!enabled)
        {
            return SemiSyncState.NotEnabled;
        }

        var waiting = await ReadOnOffAsync(
            connection, "SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_status', 'Rpl_semi_sync_source_status')", cancellationToken).ConfigureAwait(false);
        return waiting ? SemiSyncState.Active : SemiSyncState.FellBack;
    }

    // True when any row of the two-column answer says ON; no row (the feature is not compiled in) reads as off.
    private static async Task<bool> ReadOnOffAsync(MySqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var on = false;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            on |= string.Equals(reader.GetString(1), "ON", StringComparison.OrdinalIgnoreCase);
        }

        return on;
    }
}
