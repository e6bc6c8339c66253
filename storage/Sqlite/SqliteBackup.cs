using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

/// <summary>
/// Online backup of an embedded database while the server keeps writing (docs/deploy.md, "Backup and restore").
/// </summary>
public static class SqliteBackup
{
    /// <summary>
    /// Copies the database at <paramref name="source"/> into a new file at <paramref name="target"/> (owner-only),
    /// as one consistent snapshot: SQLite's backup API run in a single step reads the whole database inside one
    /// read transaction, so the copy holds exactly what was committed when it began while writers (WAL mode) go on.
    /// Returns the copy's size in bytes.
    /// </summary>
    public static long Copy(string source, string target)
    {
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentException.ThrowIfNullOrEmpty(target);
        if (!OperatingSystem.IsWindows())
        {
            // Created empty with the owner-only mode before SQLite opens it: SQLite would use the umask.
            using var created = new FileStream(target, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite });
        }

        using (var from = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = source, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString()))
        using (var to = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = target, Pooling = false }.ToString()))
        {
            from.Open();
            to.Open();
            from.BackupDatabase(to);

            // A self-contained file: no -wal beside it to copy or lose.
            using var checkpoint = to.CreateCommand();
            checkpoint.CommandText = "PRAGMA journal_mode = DELETE;";
            checkpoint.ExecuteNonQuery();
        }

        return new FileInfo(target).Length;
    }
}
