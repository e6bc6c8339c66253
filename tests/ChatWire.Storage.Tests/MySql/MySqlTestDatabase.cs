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
    /// <remarks>
    /// The replica replicates every database on the primary, those of the other test assemblies running at the
    /// same time included, through one SQL thread: on a loaded machine it can be many seconds behind (each of
    /// their CREATE TABLEs is applied and synced in turn), so this waits for up to a minute and says how far
    /// behind the replica was when it gives up.
    /// </remarks>
    public static async Task WaitForReplicaAsync()
    {
        var position = (string)(await ScalarAsync(BackingServices.MySql, "SELECT @@gtid_binlog_pos;"))!;
        await using var connection = await OpenAsync(BackingServices.MySqlReplica);
        await using var command = new MySqlCommand("SELECT MASTER_GTID_WAIT(@position, 60);", connection) { CommandTimeout = 90 };
        command.Parameters.AddWithValue("@position", position);
        var result = Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
        if (result != 0)
        {
            var applied = await ScalarAsync(BackingServices.MySqlReplica, "SELECT @@gtid_slave_pos;");
            Assert.Fail($"The replica did not apply the primary's {position} within 60 s (it has applied {applied}).");
        }
    }

    private static async Task<MySqlConnection> OpenAsync(string connectionString)
    {
        var connection = new MySqlConnection(new MySqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }
}
