using ChatWire.Storage.Directory;
using ChatWire.Storage.Sqlite;
using ChatWire.Storage.Tests.Contracts;

namespace ChatWire.Storage.Tests.Sqlite;

public sealed class SqlitePushStoreTests : PushStoreContract, IDisposable
{
    private readonly TempDirectory _directory = new();

    protected override async Task<IDirectoryStore> CreateStoreAsync() => await SqliteDirectoryStore.OpenAsync(_directory.File(SqliteStorage.DirectoryFileName));

    protected override Task DisposeStoreAsync(IDirectoryStore store)
    {
        ((SqliteDirectoryStore)store).Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _directory.Dispose();
}
