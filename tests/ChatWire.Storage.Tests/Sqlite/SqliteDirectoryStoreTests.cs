using ChatWire.Storage.Directory;
using ChatWire.Storage.Sqlite;
using ChatWire.Storage.Tests.Contracts;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Tests.Sqlite;

public sealed class SqliteDirectoryStoreTests : DirectoryStoreContract, IDisposable
{
    private readonly TempDirectory _directory = new();

    private string DatabasePath => _directory.File(SqliteStorage.DirectoryFileName);

    protected override async Task<IDirectoryStore> CreateStoreAsync() => await SqliteDirectoryStore.OpenAsync(DatabasePath);

    protected override Task DisposeStoreAsync(IDirectoryStore store)
    {
        ((SqliteDirectoryStore)store).Dispose();
        return Task.CompletedTask;
    }

    // xunit calls this after DisposeAsync, so the store has released the files.
    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task OpenAsync_SameFileAgain_KeepsDataAndAppliesNoMigrationTwice()
    {
        var user = await AddUserAsync("alice");

        using (var reopened = await SqliteDirectoryStore.OpenAsync(DatabasePath))
        {
            Assert.Equal(user, await reopened.GetUserAsync(user.Id));
        }

        Assert.Equal(
            new SqliteMigrator(SqliteMigrator.DirectoryScope).Migrations.Select(m => m.Version),
            await SqliteTestDatabase.AppliedVersionsAsync(DatabasePath));
    }

    [Fact]
    public async Task OpenAsync_NewFile_UsesWriteAheadLog()
    {
        Assert.Equal("wal", await SqliteTestDatabase.ScalarAsync(DatabasePath, "PRAGMA journal_mode;"));
    }

    [Fact]
    public async Task OpenAsync_NewFile_HoldsOnlyDirectoryTables()
    {
        var tables = await SqliteTestDatabase.TablesAsync(DatabasePath);

        Assert.Contains("users", tables);
        Assert.Contains("conversation_members", tables);
        Assert.DoesNotContain("messages", tables);
    }

    [Fact]
    public async Task CreateTeamAsync_UnknownCreator_ThrowsAndLeavesNoTeam()
    {
        // Foreign keys are on: the owner row would fail, and the team insert must roll back with it.
        var team = new TeamRecord(Guid.NewGuid(), "Acme", Guid.NewGuid(), T0);

        await Assert.ThrowsAsync<SqliteException>(() => Store.CreateTeamAsync(team));

        Assert.Null(await Store.GetTeamAsync(team.Id));
    }

    [Fact]
    public async Task GetUserAsync_StoredId_IsBigEndianSixteenBytes()
    {
        var user = await AddUserAsync("alice");

        var stored = (byte[])(await SqliteTestDatabase.ScalarAsync(DatabasePath, "SELECT id FROM users;"))!;

        var expected = new byte[16];
        Assert.True(user.Id.TryWriteBytes(expected, bigEndian: true, out _));
        Assert.Equal(expected, stored);
    }
}
