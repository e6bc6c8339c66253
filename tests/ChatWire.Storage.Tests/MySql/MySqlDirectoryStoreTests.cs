using ChatWire.Storage.Directory;
using ChatWire.Storage.MySql;
using ChatWire.Storage.Tests.Contracts;
using ChatWire.Tests.Shared;
using MySqlConnector;

namespace ChatWire.Storage.Tests.MySql;

/// <summary>The directory contract on the real MariaDB primary, with its replica serving the replica reads.</summary>
public sealed class MySqlDirectoryStoreTests : DirectoryStoreContract
{
    private readonly string _database = BackingServices.NewDatabaseName("dir");

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
    public async Task OpenAsync_SameDatabaseAgain_KeepsDataAndAppliesNoMigrationTwice()
    {
        var user = await AddUserAsync("alice");

        await using (var reopened = await MySqlDirectoryStore.OpenAsync(Options))
        {
            Assert.Equal(user, await reopened.GetUserAsync(user.Id));
        }

        Assert.Equal(
            new MySqlMigrator(MySqlMigrator.DirectoryScope).Migrations.Select(m => m.Version),
            await MySqlTestDatabase.ListAsync(Options.ConnectionString, "SELECT version FROM schema_migrations WHERE scope = 'directory' ORDER BY version;"));
    }

    [Fact]
    public async Task OpenAsync_TwoStoresOnANewDatabaseAtOnce_BothSucceedAndShareOneSchema()
    {
        var database = BackingServices.NewDatabaseName("dir");
        var options = new MySqlDirectoryOptions(BackingServices.MySqlDatabase(database));
        try
        {
            var opening = new[] { MySqlDirectoryStore.OpenAsync(options), MySqlDirectoryStore.OpenAsync(options) };
            var stores = await Task.WhenAll(opening);
            try
            {
                var user = new UserRecord(Guid.NewGuid(), "alice", "Alice", "$argon2id$alice", T0);
                await stores[0].CreateUserAsync(user);
                Assert.Equal(user, await stores[1].GetUserAsync(user.Id));
                Assert.Equal(
                    new MySqlMigrator(MySqlMigrator.DirectoryScope).Migrations.Select(m => m.Version),
                    await MySqlTestDatabase.ListAsync(options.ConnectionString, "SELECT version FROM schema_migrations WHERE scope = 'directory' ORDER BY version;"));
            }
            finally
            {
                foreach (var store in stores)
                {
                    await store.DisposeAsync();
                }
            }
        }
        finally
        {
            await MySqlTestDatabase.DropAsync(database);
        }
    }

    [Fact]
    public async Task OpenAsync_NewDatabase_HoldsOnlyDirectoryTablesInUtf8mb4()
    {
        var tables = await MySqlTestDatabase.ListAsync(
            Options.ConnectionString,
            "SELECT CONCAT(table_name, ' ', table_collation) FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name;");

        Assert.Contains("users utf8mb4_nopad_bin", tables);
        Assert.Contains("member_names utf8mb4_nopad_bin", tables);
        Assert.DoesNotContain(tables, t => t.StartsWith("messages ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CreateTeamAsync_UnknownCreator_ThrowsAndLeavesNoTeam()
    {
        // The owner row fails its foreign key, and the team insert rolls back with it.
        var team = new TeamRecord(Guid.NewGuid(), "Acme", Guid.NewGuid(), T0);

        await Assert.ThrowsAsync<MySqlException>(() => Store.CreateTeamAsync(team));

        Assert.Null(await Store.GetTeamAsync(team.Id));
    }

    [Fact]
    public async Task CreateConversationAsync_UnknownMember_ThrowsAndLeavesNoConversation()
    {
        var alice = await AddUserAsync("alice");
        var team = await AddTeamAsync(alice, "Acme");
        var channel = new ConversationRecord(Guid.NewGuid(), ConversationKind.PublicChannel, team.Id, "general", null, alice.Id, T0);

        await Assert.ThrowsAsync<MySqlException>(() => Store.CreateConversationAsync(channel, [alice.Id, Guid.NewGuid()]));

        Assert.Null(await Store.GetConversationAsync(channel.Id));
    }

    [Fact]
    public async Task GetUserAsync_StoredId_IsBigEndianSixteenBytes()
    {
        var user = await AddUserAsync("alice");

        var stored = (byte[])(await MySqlTestDatabase.ScalarAsync(Options.ConnectionString, "SELECT id FROM users;"))!;

        var expected = new byte[16];
        Assert.True(user.Id.TryWriteBytes(expected, bigEndian: true, out _));
        Assert.Equal(expected, stored);
    }

    [Fact]
    public async Task CreateUserAsync_NamesDifferingOnlyInNonAsciiCase_AreTwoUsers_AsOnSqlite()
    {
        // Case folding is ASCII only, as SQLite's NOCASE: "É" and "é" are different letters.
        var upper = await AddUserAsync("Émile");
        var lower = await AddUserAsync("émile");

        Assert.Equal(upper, await Store.FindUserByNameAsync("ÉMILE"));
        Assert.Equal(lower, await Store.FindUserByNameAsync("éMILE"));
    }

    [Fact]
    public async Task ListTeamMembersAsync_ReplicaUnreachable_ReadsFromThePrimary()
    {
        var alice = await AddUserAsync("alice");
        var team = await AddTeamAsync(alice, "Acme");
        var closedPort = new MySqlConnectionStringBuilder(BackingServices.MySqlDatabase(_database)) { Port = 1, ConnectionTimeout = 2 };

        await using var store = await MySqlDirectoryStore.OpenAsync(Options with { ReplicaConnectionString = closedPort.ConnectionString });

        Assert.Equal([alice.Id], (await store.ListTeamMembersAsync(team.Id, "al", 10)).Select(m => m.UserId));
        Assert.Equal([alice.Id], (await store.ListTeamMembersByIdAsync(team.Id, null, 10)).Select(m => m.UserId));
    }
}
