using ChatWire.Storage.Directory;
using ChatWire.Storage.Keys;

namespace ChatWire.Storage.Tests.Contracts;

// The operator's view (IAccountAdminStore): every adapter's directory store implements it.
public abstract partial class DirectoryStoreContract
{
    private IAccountAdminStore Admin => (IAccountAdminStore)Store;

    [Fact]
    public async Task ListUsersAsync_Pages_ByUsernameWithStateAndSessionCount()
    {
        var carol = await AddUserAsync("carol");
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        await AddSessionAsync(alice, "phone");
        var laptop = await AddSessionAsync(alice, "laptop");
        await Store.RevokeDeviceSessionAsync(alice.Id, laptop.DeviceId, T0.AddMinutes(1));
        Assert.True(await Admin.SetUserDisabledAsync(bob.Id, T0.AddHours(1)));

        var first = await Admin.ListUsersAsync(null, 2);
        var second = await Admin.ListUsersAsync(first[^1].User.Username, 2);

        Assert.Equal(["alice", "bob"], first.Select(u => u.User.Username));
        Assert.Equal([carol.Id], second.Select(u => u.User.Id));
        Assert.Equal(new UserAdminRecord(alice, null, null, 1), first[0]);
        Assert.Equal(T0.AddHours(1), first[1].DisabledAt);
        Assert.Equal(0, first[1].ActiveSessions);
    }

    [Fact]
    public async Task SetUserDisabledAsync_ThenEnabled_StateFollows_UnknownUserFalse()
    {
        var alice = await AddUserAsync("alice");

        Assert.True(await Admin.SetUserDisabledAsync(alice.Id, T0));
        var disabledAgain = await Admin.SetUserDisabledAsync(alice.Id, T0.AddHours(1));
        var disabled = await Admin.GetUserAdminAsync(alice.Id);
        Assert.True(await Admin.SetUserDisabledAsync(alice.Id, null));

        // Disabled twice: the first time stands.
        Assert.True(disabledAgain);
        Assert.Equal(T0, disabled!.DisabledAt);
        Assert.Null((await Admin.GetUserAdminAsync(alice.Id))!.DisabledAt);
        Assert.False(await Admin.SetUserDisabledAsync(Guid.NewGuid(), T0));
        Assert.Null(await Admin.GetUserAdminAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task MarkUserDeletedAsync_RenamesToTombstone_FreesTheName_DropsKeyMaterial_Once()
    {
        var alice = await AddUserAsync("alice", "Alice Liddell");
        var keys = (IKeyDirectoryStore)Store;
        await keys.SetAccountKeyAsync(alice.Id, new byte[32], reset: false, T0);
        await keys.AddHistoryKeyAsync(new HistoryKeyRecord(alice.Id, 1, new byte[32], new byte[64], T0));
        await keys.SetRecoveryBackupAsync(alice.Id, [1, 2, 3], T0);

        Assert.True(await Admin.MarkUserDeletedAsync(alice.Id, T0.AddDays(1)));
        var deleted = await Admin.GetUserAdminAsync(alice.Id);
        var again = await Admin.MarkUserDeletedAsync(alice.Id, T0.AddDays(2));
        var newAlice = await AddUserAsync("alice");

        // A password change (or an operator's reset) that raced the deletion gives the tombstone no password.
        await Store.UpdatePasswordHashAsync(alice.Id, "a-late-hash");
        Assert.Equal(string.Empty, (await Admin.GetUserAdminAsync(alice.Id))!.User.PasswordHash);

        Assert.Equal(IAccountAdminStore.TombstoneName(alice.Id), deleted!.User.Username);
        Assert.Equal(IAccountAdminStore.DeletedDisplayName, deleted.User.DisplayName);
        Assert.Equal(string.Empty, deleted.User.PasswordHash);
        Assert.Equal((T0.AddDays(1), T0.AddDays(1)), (deleted.DeletedAt, deleted.DisabledAt));
        Assert.False(again);
        Assert.False(await Admin.SetUserDisabledAsync(alice.Id, null));
        Assert.Equal(newAlice, await Store.FindUserByNameAsync("alice"));
        Assert.Null(await keys.GetAccountKeyAsync(alice.Id));
        Assert.Null(await keys.GetHistoryKeyAsync(alice.Id));
        Assert.Null(await keys.GetRecoveryBackupAsync(alice.Id));
        Assert.Equal(1, await keys.GetHighestHistoryKeyGenerationAsync(alice.Id));
        Assert.False(await Admin.MarkUserDeletedAsync(Guid.NewGuid(), T0));
    }

    [Fact]
    public async Task ListTeamsAsync_Pages_ByIdWithMemberCounts()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var teams = new List<TeamRecord>();
        for (var i = 0; i < 3; i++)
        {
            var team = new TeamRecord(Guid.CreateVersion7(), "team " + i, alice.Id, T0);
            await Store.CreateTeamAsync(team);
            await Store.AddTeamMemberAsync(team.Id, alice.Id, TeamRole.Owner, T0);
            teams.Add(team);
        }

        await Store.AddTeamMemberAsync(teams[1].Id, bob.Id, TeamRole.Member, T0);

        var first = await Admin.ListTeamsAsync(null, 2);
        var second = await Admin.ListTeamsAsync(first[^1].Team.Id, 2);

        // Ids in their stored (RFC 9562 byte) order, which is their text's order: two UUIDv7 of the same millisecond
        // need not come out in the order they were made.
        var expected = teams.OrderBy(t => t.Id.ToString("N"), StringComparer.Ordinal).ToList();
        Assert.Equal(expected.Select(t => t.Id), first.Concat(second).Select(t => t.Team.Id));
        Assert.Equal(expected.Select(t => t.Id == teams[1].Id ? 2 : 1), first.Concat(second).Select(t => t.Members));
        Assert.Equal(expected[0], first[0].Team);
    }
}
