using ChatWire.Storage.Directory;
using ChatWire.Storage.Sqlite;
using ChatWire.Storage.Tests.Contracts;

namespace ChatWire.Storage.Tests.Sqlite;

public sealed class SqliteKeyDirectoryStoreTests : KeyDirectoryStoreContract, IDisposable
{
    private readonly TempDirectory _directory = new();

    protected override async Task<IDirectoryStore> CreateStoreAsync() =>
        await SqliteDirectoryStore.OpenAsync(_directory.File(SqliteStorage.DirectoryFileName));

    protected override Task DisposeStoreAsync(IDirectoryStore store)
    {
        ((SqliteDirectoryStore)store).Dispose();
        return Task.CompletedTask;
    }

    // xunit calls this after DisposeAsync, so the store has released the files.
    public void Dispose() => _directory.Dispose();
}
