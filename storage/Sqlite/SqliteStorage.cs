namespace ChatWire.Storage.Sqlite;

/// <summary>
/// The two database files of the embedded mode, inside one data directory, and what was found too open
/// there (modes that let other local users read password hashes and messages).
/// </summary>
public sealed record SqliteStoragePaths(string DirectoryDatabase, string MessagesDatabase, IReadOnlyList<string> TooOpen);

/// <summary>
/// Where the embedded mode keeps its data. Directory and messages are separate files so a burst of
/// message writes never holds the lock a login or a team change needs.
/// </summary>
public static class SqliteStorage
{
    public const string DirectoryFileName = "directory.db";
    public const string MessagesFileName = "messages.db";

    /// <summary>
    /// Bytes SQLite holds in its own heap in this process now: mostly each pooled connection's page cache, which
    /// fills as rows are read and is bounded by the connection's cache size. For load runs, which read memory per
    /// connection and must tell a cache filling from connections' own memory. On a node whose stores are MySQL or
    /// MongoDB, SQLite is loaded by the first call, and its heap is about nothing.
    /// </summary>
    public static long NativeMemoryBytes => SqliteLoaded.Value ? SQLitePCL.raw.sqlite3_memory_used() : 0;

    private static readonly Lazy<bool> SqliteLoaded = new(() =>
    {
        SQLitePCL.Batteries_V2.Init();
        return true;
    });

    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode GroupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// The database paths under <paramref name="dataDirectory"/>. A missing directory is created 0700 and
    /// missing database files 0600 (SQLite gives its -wal and -shm files the database's mode); existing ones
    /// are left as they are, and listed in <see cref="SqliteStoragePaths.TooOpen"/> when group or others
    /// have any access to them, so that the server can warn.
    /// </summary>
    public static SqliteStoragePaths PrepareDataDirectory(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        var fullPath = Path.GetFullPath(dataDirectory);
        var tooOpen = new List<string>();
        var unix = !OperatingSystem.IsWindows();
        if (!System.IO.Directory.Exists(fullPath))
        {
            if (unix)
            {
                System.IO.Directory.CreateDirectory(fullPath, OwnerOnlyDirectory);
            }
            else
            {
                System.IO.Directory.CreateDirectory(fullPath);
            }
        }
        else if (TooOpen(fullPath))
        {
            tooOpen.Add(fullPath);
        }

        var paths = new[] { Path.Combine(fullPath, DirectoryFileName), Path.Combine(fullPath, MessagesFileName) };
        foreach (var path in paths)
        {
            if (!File.Exists(path))
            {
                if (unix)
                {
                    // Created empty with the owner-only mode before SQLite opens it: SQLite would use the umask.
                    using var created = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnlyFile });
                }
            }
            else if (TooOpen(path))
            {
                tooOpen.Add(path);
            }
        }

        return new SqliteStoragePaths(paths[0], paths[1], tooOpen);

        bool TooOpen(string path) => unix && (File.GetUnixFileMode(path) & GroupOrOther) != 0;
    }
}
