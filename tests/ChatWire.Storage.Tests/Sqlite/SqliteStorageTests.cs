using ChatWire.Storage.Sqlite;

namespace ChatWire.Storage.Tests.Sqlite;

public sealed class SqliteStorageTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void PrepareDataDirectory_MissingDirectory_CreatesItAndNamesBothFiles()
    {
        var dataDirectory = _directory.File("data/nested");

        var paths = SqliteStorage.PrepareDataDirectory(dataDirectory);

        Assert.True(System.IO.Directory.Exists(dataDirectory));
        Assert.Equal(Path.Combine(Path.GetFullPath(dataDirectory), "directory.db"), paths.DirectoryDatabase);
        Assert.Equal(Path.Combine(Path.GetFullPath(dataDirectory), "messages.db"), paths.MessagesDatabase);
    }

    [Fact]
    public async Task PrepareDataDirectory_BothStoresOpened_KeepTheirTablesApart()
    {
        var paths = SqliteStorage.PrepareDataDirectory(_directory.File("data"));

        using (await SqliteDirectoryStore.OpenAsync(paths.DirectoryDatabase))
        {
            await using (await SqliteMessageStore.OpenAsync(paths.MessagesDatabase))
            {
            }
        }

        Assert.DoesNotContain("messages", await SqliteTestDatabase.TablesAsync(paths.DirectoryDatabase));
        Assert.DoesNotContain("users", await SqliteTestDatabase.TablesAsync(paths.MessagesDatabase));
    }
}
