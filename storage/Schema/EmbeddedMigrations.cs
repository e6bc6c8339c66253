using System.Reflection;
using System.Text.RegularExpressions;

namespace ChatWire.Storage.Schema;

/// <summary>One embedded migration script: <c>&lt;version&gt;_&lt;scope&gt;_&lt;description&gt;.sql</c>.</summary>
internal sealed record EmbeddedMigration(string Version, string Scope, string Name, string Sql);

/// <summary>
/// The migration scripts the storage project embeds for one adapter (SQLite, MySQL), as each adapter's
/// migrator applies them: one scope's scripts, in version order.
/// </summary>
internal static partial class EmbeddedMigrations
{
    /// <summary>
    /// The scripts under <paramref name="resourcePrefix"/> whose scope is <paramref name="scope"/>, by version.
    /// Throws on a script that is misnamed or unreadable, or that shares its version with another.
    /// </summary>
    public static List<EmbeddedMigration> Load(string resourcePrefix, string scope)
    {
        var assembly = typeof(EmbeddedMigrations).Assembly;
        var migrations = new List<EmbeddedMigration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(resourcePrefix, StringComparison.Ordinal))
            {
                continue;
            }

            var name = resource[resourcePrefix.Length..];
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

            migrations.Add(new EmbeddedMigration(match.Groups["version"].Value, scope, name, Read(assembly, resource)));
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

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The migration resource '{resource}' cannot be read.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    [GeneratedRegex(@"^(?<version>[0-9]{14})_(?<scope>[a-z]+)_[a-z0-9_]+\.sql$", RegexOptions.CultureInvariant)]
    private static partial Regex MigrationName();
}
