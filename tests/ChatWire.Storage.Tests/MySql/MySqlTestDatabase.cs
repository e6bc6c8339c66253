using ChatWire.Tests.Shared;
using MySqlConnector;

namespace ChatWire.Storage.Tests.MySql;

/// <summary>Looks into the test MariaDB servers through connections of its own (unpooled), outside any store.</summary>
internal static class MySqlTestDatabase
{
    public static async Task<object?> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = await OpenAsync(connectionString);
        await using var command = new MySqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    public static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = await OpenAsync(connectionString);
        await using var command = new MySqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public static async Task<IReadOnlyList<string>> ListAsync(string connectionString, string sql)
    {
        await using var connection = await OpenAsync(connectionString);
        await using var command = new MySqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    /// <summary>Drops a test's database on the primary (the replica follows).</summary>
    public static Task DropAsync(string database) =>
        ExecuteAsync(BackingServices.MySql, $"DROP DATABASE IF EXISTS `{database}`;");

    /// <summary>Waits until the replica has applied everything the primary has written so far.</summary>
    public static async Task WaitForReplicaAsync()
    {
        var position = (string)(await ScalarAsync(BackingServices.MySql, "SELECT @@gtid_binlog_pos;"))!;
        await using var connection = await OpenAsync(BackingServices.MySqlReplica);
        await using var command = new MySqlCommand("SELECT MASTER_GTID_WAIT(@position, 10);", connection);
        command.Parameters.AddWithValue("@position", position);
        Assert.Equal(0L, Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
    }

    private static async Task<MySqlConnection> OpenAsync(string connectionString)
    {
        var connection = new MySqlConnection(new MySqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }
}
