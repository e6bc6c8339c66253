using ChatWire.Storage.Attachments;
using ChatWire.Storage.Sqlite;
using ChatWire.Storage.Tests.Contracts;

namespace ChatWire.Storage.Tests.Sqlite;

public sealed class SqliteAttachmentStoreTests : AttachmentStoreContract, IDisposable
{
    private readonly TempDirectory _directory = new();

    protected override async Task<IAttachmentStore> CreateStoreAsync() => await SqliteDirectoryStore.OpenAsync(_directory.File(SqliteStorage.DirectoryFileName));

    protected override Task DisposeStoreAsync(IAttachmentStore store)
    {
        ((SqliteDirectoryStore)store).Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _directory.Dispose();
}
