using System.Globalization;
using ChatWire.Storage.Schema;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

/// <summary>
/// Applies the embedded migrations of one scope ("directory" or "messages": each database file gets only
/// its own) in version order, each in its own transaction together with its schema_migrations row, so a
/// crash leaves every migration either fully applied and recorded or not at all.
/// </summary>
internal sealed class SqliteMigrator
{
    public const string DirectoryScope = "directory";
    public const string MessagesScope = "messages";

    // The storage project embeds Sqlite/Migrations/**/*.sql under this prefix, file name only.
    private const string ResourcePrefix = "ChatWire.Storage.Sqlite.Migrations.";

    private const string CreateHistoryTableSql = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    TEXT NOT NULL PRIMARY KEY,
            applied_at TEXT NOT NULL
        );
        """;

    private const string IsAppliedSql = "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $version);";

    private const string RecordSql = "INSERT INTO schema_migrations (version, applied_at) VALUES ($version, $applied_at);";

    public SqliteMigrator(string scope)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(scope);
        Scope = scope;
        Migrations = EmbeddedMigrations.Load(ResourcePrefix, scope);
        if (Migrations.Count == 0)
        {
            throw new InvalidOperationException($"No embedded migration has the scope '{scope}'.");
        }
    }

    public string Scope { get; }

    /// <summary>This scope's migrations, in the order they are applied.</summary>
    public IReadOnlyList<EmbeddedMigration> Migrations { get; }

    /// <summary>Applies the migrations not yet recorded; returns how many it applied.</summary>
    public async Task<int> MigrateAsync(SqliteConnection connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await SqliteConnections.ExecuteAsync(connection, CreateHistoryTableSql, cancellationToken);

        var applied = 0;
        foreach (var migration in Migrations)
        {
            // BEGIN IMMEDIATE takes the write lock before the check, so two processes starting on the same
            // file cannot both decide to apply the same version.
            using var transaction = connection.BeginTransaction(deferred: false);
            if (await IsAppliedAsync(connection, transaction, migration.Version, cancellationToken))
            {
                continue;
            }

            await using (var script = connection.CreateCommand())
            {
                script.Transaction = transaction;
                script.CommandText = migration.Sql;
                await script.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var record = connection.CreateCommand())
            {
                record.Transaction = transaction;
                record.CommandText = RecordSql;
                record.Parameters.AddText("$version", migration.Version);
                record.Parameters.AddText("$applied_at", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
                await record.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            applied++;
        }

        // A migration that rewrites a table (messages version 8 copies the events table) leaves a write-ahead log
        // as large as what it wrote, and SQLite reuses that file without shrinking it: copy it into the database
        // now and truncate it. Without a write-ahead log (an in-memory database) this does nothing.
        if (applied > 0)
        {
            await SqliteConnections.ExecuteAsync(connection, "PRAGMA wal_checkpoint(TRUNCATE);", cancellationToken);
        }

        return applied;
    }

    private static async Task<bool> IsAppliedAsync(SqliteConnection connection, SqliteTransaction transaction, string version, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = IsAppliedSql;
        command.Parameters.AddText("$version", version);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) != 0;
    }
}
