using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

/// <summary>Connection strings, per-connection settings and error classification shared by both stores.</summary>
internal static class SqliteConnections
{
    /// <summary>How long a statement waits for another connection's write lock before failing with SQLITE_BUSY.</summary>
    public const int BusyTimeoutMilliseconds = 5000;

    private const int SqliteConstraint = 19;
    private const int SqliteConstraintPrimaryKey = 1555;
    private const int SqliteConstraintUnique = 2067;

    // busy_timeout and foreign_keys are per connection, not stored in the file, so every new connection gets them.
    private const string ConnectionPragmas = "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

    // The native connections that have them already. A pooled SqliteConnection reuses its native connection, whose
    // settings stay as they were (no code here changes either one), so only a connection's first open runs the
    // PRAGMAs. An entry goes once the pool has closed its native connection and the handle object is collected.
    private static readonly ConditionalWeakTable<SQLitePCL.sqlite3, object> Configured = [];
    private static readonly object Marker = new();

    public static SqliteConnectionStringBuilder ForFile(string databasePath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        return new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
        };
    }

    public static string Pooled(SqliteConnectionStringBuilder connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        return new SqliteConnectionStringBuilder(connectionString.ConnectionString) { Pooling = true }.ConnectionString;
    }

    /// <summary>A connection string for a connection one owner keeps open for its whole life.</summary>
    public static string Dedicated(SqliteConnectionStringBuilder connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        return new SqliteConnectionStringBuilder(connectionString.ConnectionString) { Pooling = false }.ConnectionString;
    }

    public static async Task<SqliteConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            var handle = connection.Handle!;
            if (!Configured.TryGetValue(handle, out _))
            {
                await ExecuteAsync(connection, ConnectionPragmas, cancellationToken);
                Configured.AddOrUpdate(handle, Marker);
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Switches the file to write-ahead logging (persistent in the file): readers then run alongside the
    /// one writer. Returns the journal mode in force, which stays "memory" for an in-memory database.
    /// </summary>
    public static async Task<string> EnableWriteAheadLogAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode = WAL;";
        return Convert.ToString(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
    }

    public static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Clears the pooled connections of <paramref name="connectionString"/> so the files are released.</summary>
    public static void ClearPool(string connectionString)
    {
        using var connection = new SqliteConnection(connectionString);
        SqliteConnection.ClearPool(connection);
    }

    public static bool IsUniqueViolation(SqliteException exception) =>
        exception.SqliteErrorCode == SqliteConstraint
        && exception.SqliteExtendedErrorCode is SqliteConstraintUnique or SqliteConstraintPrimaryKey;
}
