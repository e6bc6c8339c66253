using ChatWire.Storage.Attachments;
using ChatWire.Storage.MySql;
using ChatWire.Storage.Tests.Contracts;
using ChatWire.Tests.Shared;

namespace ChatWire.Storage.Tests.MySql;

/// <summary>The attachment contract on the real MariaDB primary.</summary>
public sealed class MySqlAttachmentStoreTests : AttachmentStoreContract
{
    private readonly string _database = BackingServices.NewDatabaseName("att");

    protected override async Task<IAttachmentStore> CreateStoreAsync() =>
        await MySqlDirectoryStore.OpenAsync(new MySqlDirectoryOptions(BackingServices.MySqlDatabase(_database)));

    protected override async Task DisposeStoreAsync(IAttachmentStore store)
    {
        await ((MySqlDirectoryStore)store).DisposeAsync();
        await MySqlTestDatabase.DropAsync(_database);
    }
}
