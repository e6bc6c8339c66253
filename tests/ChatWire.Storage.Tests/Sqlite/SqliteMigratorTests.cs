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

        Assert.Equal(["conversation_heads", "messages", "schema_migrations"], await SqliteTestDatabase.TablesAsync(path));
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
        Assert.All(migrations, m => Assert.Contains("CREATE TABLE", m.Sql, StringComparison.Ordinal));
    }

    [Fact]
    public void Constructor_UnknownScope_Throws()
    {
        Assert.Throws<InvalidOperationException>(() => new SqliteMigrator("nothing"));
    }
}
