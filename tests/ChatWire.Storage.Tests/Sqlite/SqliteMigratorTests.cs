using ChatWire.Storage.Sqlite;

namespace ChatWire.Storage.Tests.Sqlite;

public sealed class SqliteMigratorTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(SqliteMigrator.DirectoryScope)]
    [InlineData(SqliteMigrator.MessagesScope)]
    public async Task MigrateAsync_SecondRun_AppliesNothing(string scope)
    {
        var path = _directory.File(scope + ".db");
        var migrator = new SqliteMigrator(scope);

        await using (var connection = SqliteTestDatabase.Open(path))
        {
            Assert.Equal(migrator.Migrations.Count, await migrator.MigrateAsync(connection));
            Assert.Equal(0, await migrator.MigrateAsync(connection));
        }

        await using (var restarted = SqliteTestDatabase.Open(path))
        {
            Assert.Equal(0, await new SqliteMigrator(scope).MigrateAsync(restarted));
        }

        Assert.Equal(migrator.Migrations.Select(m => m.Version), await SqliteTestDatabase.AppliedVersionsAsync(path));
    }

    [Fact]
    public async Task MigrateAsync_MessagesScope_CreatesOnlyMessageTables()
    {
        var path = _directory.File("messages.db");
        await using (var connection = SqliteTestDatabase.Open(path))
        {
            await new SqliteMigrator(SqliteMigrator.MessagesScope).MigrateAsync(connection);
        }

        Assert.Equal(["conversation_heads", "device_cursors", "events", "mentions", "reactions", "read_positions", "schema_migrations", "storage_usage", "thread_participants", "threads"], await SqliteTestDatabase.TablesAsync(path));
    }

    [Theory]
    [InlineData(SqliteMigrator.DirectoryScope)]
    [InlineData(SqliteMigrator.MessagesScope)]
    public void Migrations_EmbeddedScripts_AreOrderedByVersionAndOfTheirScope(string scope)
    {
        var migrations = new SqliteMigrator(scope).Migrations;

        Assert.NotEmpty(migrations);
        Assert.Equal(migrations.Select(m => m.Version).Order(StringComparer.Ordinal), migrations.Select(m => m.Version));
        Assert.All(migrations, m => Assert.Equal(scope, m.Scope));
        Assert.All(migrations, m => Assert.Matches(@"\b(CREATE|ALTER|DROP) ", m.Sql));
    }

    [Fact]
    public async Task MigrateAsync_Version1Messages_BecomeEventsAndADuplicateIdGetsAFreshOne()
    {
        // Version 1 keyed messages on (conversation, device, message id): two devices could store one id twice.
        var path = _directory.File("v1.db");
        var migrator = new SqliteMigrator(SqliteMigrator.MessagesScope);
        var conversation = new byte[16];
        conversation[0] = 1;
        var sharedId = new byte[16];
        sharedId[0] = 2;
        await using (var connection = SqliteTestDatabase.Open(path))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = migrator.Migrations[0].Sql + """
                CREATE TABLE schema_migrations (version TEXT NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL);
                INSERT INTO schema_migrations VALUES ($version, '2026-11-25');
                INSERT INTO messages VALUES ($c, 1, $id, zeroblob(16), $d1, 1000, 'text/plain', x'6f6e65');
                INSERT INTO messages VALUES ($c, 2, $id, zeroblob(16), $d2, 2000, 'text/plain', x'74776f');
                INSERT INTO conversation_heads VALUES ($c, 2);
                """;
            command.Parameters.AddWithValue("$version", migrator.Migrations[0].Version);
            command.Parameters.AddWithValue("$c", conversation);
            command.Parameters.AddWithValue("$id", sharedId);
            command.Parameters.AddWithValue("$d1", new byte[16]);
            command.Parameters.AddWithValue("$d2", Enumerable.Repeat((byte)9, 16).ToArray());
            await command.ExecuteNonQueryAsync();

            Assert.Equal(migrator.Migrations.Count - 1, await migrator.MigrateAsync(connection));
        }

        await using var store = await SqliteMessageStore.OpenAsync(path);
        var conversationId = new Guid(conversation, bigEndian: true);
        var events = await store.ReadAsync(conversationId, 0, Messages.ReadDirection.After, 10);
        Assert.Equal([1UL, 2UL], events.Select(e => e.Seq));
        Assert.All(events, e => Assert.Equal(Messages.EventKind.Message, e.Kind));
        Assert.Equal(new Guid(sharedId, bigEndian: true), events[0].EventId);
        Assert.NotEqual(events[0].EventId, events[1].EventId);
        Assert.Equal(4, events[1].EventId.Version);
        Assert.Equal(["one", "two"], events.Select(e => System.Text.Encoding.UTF8.GetString(e.Content.Span)));
        Assert.Equal(2UL, (await store.GetLatestSeqsAsync([conversationId]))[conversationId]);

        // Version 3 counts the content stored before it for its sender (the zero user here): 6 bytes.
        Assert.Equal(6, (await store.GetUsageAsync([Guid.Empty]))[Guid.Empty]);
    }

    [Fact]
    public void Constructor_UnknownScope_Throws()
    {
        Assert.Throws<InvalidOperationException>(() => new SqliteMigrator("nothing"));
    }
}
