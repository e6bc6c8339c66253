using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

/// <summary>One embedded migration script: <c>&lt;version&gt;_&lt;scope&gt;_&lt;description&gt;.sql</c>.</summary>
internal sealed record SqliteMigration(string Version, string Scope, string Name, string Sql);

/// <summary>
/// Applies the embedded migrations of one scope ("directory" or "messages": each database file gets only
/// its own) in version order, each in its own transaction together with its schema_migrations row, so a
/// crash leaves every migration either fully applied and recorded or not at all.
/// </summary>
internal sealed partial class SqliteMigrator
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
        Migrations = LoadEmbedded(scope);
        if (Migrations.Count == 0)
        {
            throw new InvalidOperationException($"No embedded migration has the scope '{scope}'.");
        }
    }

    public string Scope { get; }

    /// <summary>This scope's migrations, in the order they are applied.</summary>
    public IReadOnlyList<SqliteMigration> Migrations { get; }

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

    private static List<SqliteMigration> LoadEmbedded(string scope)
    {
        var assembly = typeof(SqliteMigrator).Assembly;
        var migrations = new List<SqliteMigration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            {
                continue;
            }

            var name = resource[ResourcePrefix.Length..];
            var match = MigrationName().Match(name);
            if (!match.Success)
            {
                // A misnamed file would otherwise be skipped silently and its schema never applied.
                throw new InvalidOperationException($"The migration '{name}' is not named <14-digit version>_<scope>_<description>.sql.");
            }

            if (!string.Equals(match.Groups["scope"].Value, scope, StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"The migration resource '{resource}' cannot be read.");
            using var reader = new StreamReader(stream);
            migrations.Add(new SqliteMigration(match.Groups["version"].Value, scope, name, reader.ReadToEnd()));
        }

        migrations.Sort((a, b) => string.CompareOrdinal(a.Version, b.Version));
        for (var i = 1; i < migrations.Count; i++)
        {
            if (migrations[i].Version == migrations[i - 1].Version)
            {
                throw new InvalidOperationException($"The migrations '{migrations[i - 1].Name}' and '{migrations[i].Name}' share a version.");
            }
        }

        return migrations;
    }

    [GeneratedRegex(@"^(?<version>[0-9]{14})_(?<scope>[a-z]+)_[a-z0-9_]+\.sql$", RegexOptions.CultureInvariant)]
    private static partial Regex MigrationName();
}
