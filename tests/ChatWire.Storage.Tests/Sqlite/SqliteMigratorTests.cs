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
    public async Task MigrateAsync_Version7Events_KeepEveryColumnUnderOneUniqueIndexOnEventIdAndConversation()
    {
        // Version 8 copies the table to replace the (conversation_id, event_id) constraint and the event_id
        // index of versions 2 and 5 with one unique index on (event_id, conversation_id).
        var path = _directory.File("v7.db");
        var migrator = new SqliteMigrator(SqliteMigrator.MessagesScope);
        var upgrade = migrator.Migrations.ToList().FindIndex(m => m.Version == "20261204090000");
        Assert.True(upgrade > 0);
        var a = Guid.CreateVersion7().ToByteArray(bigEndian: true);
        var b = Guid.CreateVersion7().ToByteArray(bigEndian: true);
        var root = Guid.CreateVersion7().ToByteArray(bigEndian: true);
        await using (var connection = SqliteTestDatabase.Open(path))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = string.Concat(migrator.Migrations.Take(upgrade).Select(m => m.Sql)) + """
                CREATE TABLE schema_migrations (version TEXT NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL);
                INSERT INTO events (conversation_id, seq, kind, event_id, sender_user_id, sender_device_id, stored_at, content_type, content,
                                    subject_id, thread_root_id, group_mentions, mentions, edited_at, deleted_at, original_digest)
                VALUES ($a, 1, 0, $root, x'01', x'02', 1000, 'text/plain', x'6f6e65', NULL, NULL, 1, zeroblob(32), 1500, NULL, randomblob(32)),
                       ($a, 2, 0, randomblob(16), x'03', x'04', 2000, 'text/plain', x'74776f', NULL, $root, 0, NULL, NULL, 2500, NULL),
                       ($a, 3, 3, randomblob(16), x'01', x'02', 3000, 'text/plain', x'6f6e6521', $root, NULL, 0, NULL, NULL, NULL, NULL),
                       ($b, 1, 0, $root, x'05', x'06', 4000, 'text/plain', x'', NULL, NULL, 0, NULL, NULL, NULL, NULL);
                """;
            command.Parameters.AddWithValue("$a", a);
            command.Parameters.AddWithValue("$b", b);
            command.Parameters.AddWithValue("$root", root);
            await command.ExecuteNonQueryAsync();
            foreach (var migration in migrator.Migrations.Take(upgrade))
            {
                await using var record = connection.CreateCommand();
                record.CommandText = "INSERT INTO schema_migrations VALUES ($version, '2026-12-03');";
                record.Parameters.AddWithValue("$version", migration.Version);
                await record.ExecuteNonQueryAsync();
            }
        }

        const string Rows = """
            SELECT quote(conversation_id) || quote(seq) || quote(kind) || quote(event_id) || quote(sender_user_id) || quote(sender_device_id)
                || quote(stored_at) || quote(content_type) || quote(content) || quote(subject_id) || quote(thread_root_id)
                || quote(group_mentions) || quote(mentions) || quote(edited_at) || quote(deleted_at) || quote(original_digest)
            FROM events ORDER BY conversation_id, seq;
            """;
        var before = await SqliteTestDatabase.ListAsync(path, Rows);
        await using (var connection = SqliteTestDatabase.Open(path))
        {
            await using (var wal = connection.CreateCommand())
            {
                wal.CommandText = "PRAGMA journal_mode = WAL;";
                await wal.ExecuteNonQueryAsync();
            }

            Assert.Equal(migrator.Migrations.Count - upgrade, await migrator.MigrateAsync(connection));

            // The copy went through the write-ahead log, which the migrator then truncated.
            Assert.Equal(0, new FileInfo(path + "-wal").Length);
        }

        Assert.Equal(4, before.Count);
        Assert.Equal(before, await SqliteTestDatabase.ListAsync(path, Rows));
        Assert.Equal(
            ["c:conversation_id,subject_id", "c:conversation_id,thread_root_id,seq", "pk:conversation_id,seq", "u:event_id,conversation_id"],
            await SqliteTestDatabase.ListAsync(path, """
                SELECT l.origin || ':' || (SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno))
                FROM pragma_index_list('events') l ORDER BY 1;
                """));

        // Still unique per conversation, and only there; a resend's lookup goes through the index.
        await using (var connection = SqliteTestDatabase.Open(path))
        {
            await using var plan = connection.CreateCommand();
            plan.CommandText = "EXPLAIN QUERY PLAN SELECT seq FROM events WHERE conversation_id = x'01' AND event_id = x'02';";
            await using (var steps = await plan.ExecuteReaderAsync())
            {
                Assert.True(await steps.ReadAsync());
                Assert.Contains("(event_id=? AND conversation_id=?)", steps.GetString(3), StringComparison.Ordinal);
            }

            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO events (conversation_id, seq, kind, event_id, sender_user_id, sender_device_id, stored_at, content_type, content) VALUES ($c, 9, 0, $root, x'01', x'02', 5000, '', x'');";
            insert.Parameters.AddWithValue("$c", a);
            insert.Parameters.AddWithValue("$root", root);
            var refused = await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => insert.ExecuteNonQueryAsync());
            Assert.Equal(19, refused.SqliteErrorCode);
            insert.Parameters["$c"].Value = Guid.CreateVersion7().ToByteArray(bigEndian: true);
            Assert.Equal(1, await insert.ExecuteNonQueryAsync());
        }
    }

    [Fact]
    public void Constructor_UnknownScope_Throws()
    {
        Assert.Throws<InvalidOperationException>(() => new SqliteMigrator("nothing"));
    }
}
