using ChatWire.Storage.Directory;
using ChatWire.Storage.MySql;
using ChatWire.Storage.Tests.Contracts;
using ChatWire.Tests.Shared;

namespace ChatWire.Storage.Tests.MySql;

/// <summary>The key directory contract on the real MariaDB primary, with its replica configured.</summary>
public sealed class MySqlKeyDirectoryStoreTests : KeyDirectoryStoreContract
{
    private readonly string _database = BackingServices.NewDatabaseName("keys");

    private MySqlDirectoryOptions Options => new(BackingServices.MySqlDatabase(_database))
    {
        ReplicaConnectionString = BackingServices.MySqlReplicaDatabase(_database),
    };

    protected override async Task<IDirectoryStore> CreateStoreAsync() => await MySqlDirectoryStore.OpenAsync(Options);

    protected override async Task DisposeStoreAsync(IDirectoryStore store)
    {
        await ((MySqlDirectoryStore)store).DisposeAsync();
        await MySqlTestDatabase.DropAsync(_database);
    }

    [Fact]
    public async Task ClaimOneTimePrekeyAsync_TwoStoresOnOneDatabase_EachKeyClaimedOnce()
    {
        // A second store, as another gateway node holds one: the claims race through both, each on its own connection.
        await using var other = await MySqlDirectoryStore.OpenAsync(Options);
        var alice = await AddUserAsync("alice");
        var phone = await AddDeviceAsync(alice, "phone");
        await Keys.AddOneTimePrekeysAsync(phone.DeviceId, Enumerable.Range(1, 10).Select(id => new Storage.Keys.OneTimePrekeyRecord(id, Bytes())).ToList());

        var claims = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() =>
            (i % 2 == 0 ? Keys : other).ClaimOneTimePrekeyAsync(phone.DeviceId))));

        Assert.Equal(Enumerable.Range(1, 10), claims.OfType<Storage.Keys.OneTimePrekeyRecord>().Select(k => k.PrekeyId).Order());
        Assert.Equal(10, claims.Count(k => k is null));
    }
}
