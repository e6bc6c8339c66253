using ChatWire.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Tests.Sqlite;

public sealed class SqliteConnectionsTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task OpenAsync_PooledConnectionOpenedAgain_ReusesItWithBusyTimeoutAndForeignKeysStillSet()
    {
        var connectionString = SqliteConnections.Pooled(SqliteConnections.ForFile(_directory.File("pooled.db")));
        try
        {
            SQLitePCL.sqlite3 first;
            await using (var connection = await SqliteConnections.OpenAsync(connectionString, CancellationToken.None))
            {
                first = connection.Handle!;
                await AssertSettingsAsync(connection);
            }

            // The second open takes the same native connection from the pool and does not set them again.
            await using (var connection = await SqliteConnections.OpenAsync(connectionString, CancellationToken.None))
            {
                Assert.Same(first, connection.Handle);
                await AssertSettingsAsync(connection);
            }

            // Once the pool has let it go, a new native connection gets them on its first open.
            SqliteConnections.ClearPool(connectionString);
            await using (var connection = await SqliteConnections.OpenAsync(connectionString, CancellationToken.None))
            {
                Assert.NotSame(first, connection.Handle);
                await AssertSettingsAsync(connection);
            }
        }
        finally
        {
            SqliteConnections.ClearPool(connectionString);
        }
    }

    [Fact]
    public async Task OpenAsync_DedicatedConnections_EachGetBusyTimeoutAndForeignKeys()
    {
        var connectionString = SqliteConnections.Dedicated(SqliteConnections.ForFile(_directory.File("dedicated.db")));

        for (var i = 0; i < 2; i++)
        {
            await using var connection = await SqliteConnections.OpenAsync(connectionString, CancellationToken.None);
            await AssertSettingsAsync(connection);
        }
    }

    private static async Task AssertSettingsAsync(SqliteConnection connection)
    {
        Assert.Equal((long)SqliteConnections.BusyTimeoutMilliseconds, await ScalarAsync(connection, "PRAGMA busy_timeout;"));
        Assert.Equal(1L, await ScalarAsync(connection, "PRAGMA foreign_keys;"));
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }
}
