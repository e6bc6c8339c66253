namespace ChatWire.Storage.Sqlite;

/// <summary>The two database files of the embedded mode, inside one data directory.</summary>
public sealed record SqliteStoragePaths(string DirectoryDatabase, string MessagesDatabase);

/// <summary>
/// Where the embedded mode keeps its data. Directory and messages are separate files so a burst of
/// message writes never holds the lock a login or a team change needs.
/// </summary>
public static class SqliteStorage
{
    public const string DirectoryFileName = "directory.db";
    public const string MessagesFileName = "messages.db";

    /// <summary>The database paths under <paramref name="dataDirectory"/>, creating the directory when missing.</summary>
    public static SqliteStoragePaths PrepareDataDirectory(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        var fullPath = Path.GetFullPath(dataDirectory);
        System.IO.Directory.CreateDirectory(fullPath);
        return new SqliteStoragePaths(
            Path.Combine(fullPath, DirectoryFileName),
            Path.Combine(fullPath, MessagesFileName));
    }
}
