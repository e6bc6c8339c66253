using System.Globalization;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

/// <summary>Small helpers over MySqlConnector shared by the MySQL stores, and error classification.</summary>
internal static class MySqlCommands
{
    public static async Task<int> ExecuteAsync(MySqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = new MySqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<long> ScalarInt64Async(MySqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = new MySqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        var result = await command.ExecuteScalarAsync(cancellationToken);
        return result is null or DBNull ? 0 : Convert.ToInt64(result, CultureInfo.InvariantCulture);
    }

    /// <summary>A unique or primary key was violated (ER_DUP_ENTRY).</summary>
    public static bool IsDuplicateKey(MySqlException exception) => exception.ErrorCode == MySqlErrorCode.DuplicateKeyEntry;

    /// <summary>A deadlock or lock wait timeout: the transaction was rolled back and may be retried as a whole.</summary>
    public static bool IsRetryable(MySqlException exception) =>
        exception.ErrorCode is MySqlErrorCode.LockDeadlock or MySqlErrorCode.LockWaitTimeout;

    /// <summary>
    /// Creates the database named in <paramref name="connectionString"/> when it does not exist (connecting
    /// without a database first). The account needs the CREATE privilege for this; an operator who creates
    /// the database beforehand can grant less.
    /// </summary>
    public static async Task EnsureDatabaseAsync(string connectionString, CancellationToken cancellationToken)
    {
        var builder = new MySqlConnectionStringBuilder(connectionString);
        var database = builder.Database;
        if (string.IsNullOrEmpty(database))
        {
            throw new ArgumentException("The MySQL connection string names no database (Database=…).", nameof(connectionString));
        }

        builder.Database = string.Empty;
        await using var connection = new MySqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var quoted = "`" + database.Replace("`", "``", StringComparison.Ordinal) + "`";
        await ExecuteAsync(connection, $"CREATE DATABASE IF NOT EXISTS {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;", cancellationToken);
    }
}
