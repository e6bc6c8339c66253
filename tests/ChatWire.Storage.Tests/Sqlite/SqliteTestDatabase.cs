using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Tests.Sqlite;

/// <summary>Looks into a database file through a connection of its own, outside any store.</summary>
internal static class SqliteTestDatabase
{
    public static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ConnectionString);
        connection.Open();
        return connection;
    }

    public static async Task<object?> ScalarAsync(string path, string sql)
    {
        await using var connection = Open(path);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }

    public static async Task<IReadOnlyList<string>> AppliedVersionsAsync(string path) =>
        await ListAsync(path, "SELECT version FROM schema_migrations ORDER BY version;");

    public static async Task<IReadOnlyList<string>> TablesAsync(string path) =>
        await ListAsync(path, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name;");

    public static async Task<IReadOnlyList<string>> ListAsync(string path, string sql)
    {
        await using var connection = Open(path);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }
}
