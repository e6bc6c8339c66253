using ChatWire.Storage.Schema;
using MySqlConnector;

namespace ChatWire.Storage.MySql;

/// <summary>
/// Applies the embedded MySQL migrations of one scope ("directory" or "messages") in version order. The
/// versions match the SQLite ones where a migration exists on both, so one number names one schema change.
/// </summary>
/// <remarks>
/// MySQL commits DDL implicitly, so a migration cannot share a transaction with its history row as it does on
/// SQLite. Instead every node takes the named lock <c>chatwire_migrations_{scope}</c> for the whole run (two
/// nodes starting at once apply each version once), and scripts are written to be re-runnable
/// (<c>IF NOT EXISTS</c>): a crash between a script and its history row is repaired by the next start.
/// </remarks>
internal sealed class MySqlMigrator
{
    public const string DirectoryScope = "directory";
    public const string MessagesScope = "messages";

    // The storage project embeds MySql/Migrations/**/*.sql under this prefix, file name only.
    private const string ResourcePrefix = "ChatWire.Storage.MySql.Migrations.";

    private const string CreateHistoryTableSql = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            scope      VARCHAR(32) NOT NULL,
            version    CHAR(14) NOT NULL,
            applied_at DATETIME(6) NOT NULL,
            PRIMARY KEY (scope, version)
        ) ENGINE=InnoDB;
        """;

    public MySqlMigrator(string scope)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(scope);
        Scope = scope;
        Migrations = EmbeddedMigrations.Load(ResourcePrefix, scope);
        if (Migrations.Count == 0)
        {
            throw new InvalidOperationException($"No embedded MySQL migration has the scope '{scope}'.");
        }
    }

    public string Scope { get; }

    /// <summary>This scope's migrations, in the order they are applied.</summary>
    public IReadOnlyList<EmbeddedMigration> Migrations { get; }

    /// <summary>Applies the migrations not yet recorded; returns how many it applied.</summary>
    public async Task<int> MigrateAsync(MySqlConnection connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var lockName = $"chatwire_migrations_{Scope}";
        if (await MySqlCommands.ScalarInt64Async(connection, "SELECT GET_LOCK(@name, 60);", cancellationToken, ("@name", lockName)) != 1)
        {
            throw new InvalidOperationException($"Another node held the migration lock '{lockName}' for 60 s.");
        }

        try
        {
            await MySqlCommands.ExecuteAsync(connection, CreateHistoryTableSql, cancellationToken);
            var applied = new HashSet<string>(StringComparer.Ordinal);
            await using (var command = new MySqlCommand("SELECT version FROM schema_migrations WHERE scope = @scope;", connection))
            {
                command.Parameters.AddWithValue("@scope", Scope);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    applied.Add(reader.GetString(0));
                }
            }

            var count = 0;
            foreach (var migration in Migrations)
            {
                if (applied.Contains(migration.Version))
                {
                    continue;
                }

                await MySqlCommands.ExecuteAsync(connection, migration.Sql, cancellationToken);
                await MySqlCommands.ExecuteAsync(
                    connection,
                    "INSERT INTO schema_migrations (scope, version, applied_at) VALUES (@scope, @version, UTC_TIMESTAMP(6));",
                    cancellationToken,
                    ("@scope", Scope),
                    ("@version", migration.Version));
                count++;
            }

            return count;
        }
        finally
        {
            await MySqlCommands.ExecuteAsync(connection, "DO RELEASE_LOCK(@name);", CancellationToken.None, ("@name", lockName));
        }
    }

}
