using ChatWire.Storage.Directory;
using ChatWire.Storage.MySql;
using ChatWire.Storage.Tests.Contracts;
using ChatWire.Tests.Shared;

namespace ChatWire.Storage.Tests.MySql;

/// <summary>The push contract on the real MariaDB primary.</summary>
public sealed class MySqlPushStoreTests : PushStoreContract
{
    private readonly string _database = BackingServices.NewDatabaseName("push");

    protected override async Task<IDirectoryStore> CreateStoreAsync() =>
        await MySqlDirectoryStore.OpenAsync(new MySqlDirectoryOptions(BackingServices.MySqlDatabase(_database)));

    protected override async Task DisposeStoreAsync(IDirectoryStore store)
    {
        await ((MySqlDirectoryStore)store).DisposeAsync();
        await MySqlTestDatabase.DropAsync(_database);
    }
}
