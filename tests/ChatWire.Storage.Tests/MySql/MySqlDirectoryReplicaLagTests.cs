using ChatWire.Storage.Directory;
using ChatWire.Storage.MySql;
using ChatWire.Tests.Shared;

namespace ChatWire.Storage.Tests.MySql;

/// <summary>Tests that stop the replica's SQL thread, which every other test using the replica would feel.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ReplicaSqlThreadStopped
{
    public const string Name = "MariaDB replica SQL thread stopped";
}

[Collection(ReplicaSqlThreadStopped.Name)]
public sealed class MySqlDirectoryReplicaLagTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_795_000_000_123);

    private readonly string _database = BackingServices.NewDatabaseName("dir");

    private MySqlDirectoryOptions Options => new(BackingServices.MySqlDatabase(_database))
    {
        ReplicaConnectionString = BackingServices.MySqlReplicaDatabase(_database),
    };

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => MySqlTestDatabase.DropAsync(_database);

    [Fact]
    public async Task RemoveTeamMemberAsync_ReplicaStopped_AuthorizationReadsRefuseAtOnce_OtherNodesReplicaReadsMayBeStale()
    {
        await using var node = await MySqlDirectoryStore.OpenAsync(Options);
        await using var otherNode = await MySqlDirectoryStore.OpenAsync(Options);
        var alice = await AddUserAsync(node, "alice");
        var bob = await AddUserAsync(node, "bob");
        var team = new TeamRecord(Guid.NewGuid(), "Acme", alice.Id, T0);
        await node.CreateTeamAsync(team);
        Assert.True(await node.AddTeamMemberAsync(team.Id, bob.Id, TeamRole.Member, T0));
        var channel = new ConversationRecord(Guid.NewGuid(), ConversationKind.PublicChannel, team.Id, "general", null, alice.Id, T0);
        await node.CreateConversationAsync(channel, [alice.Id, bob.Id]);
        await MySqlTestDatabase.WaitForReplicaAsync();

        await MySqlTestDatabase.ExecuteAsync(BackingServices.MySqlReplica, "STOP SLAVE SQL_THREAD;");
        try
        {
            Assert.True(await node.RemoveTeamMemberAsync(team.Id, bob.Id));

            // Who may do what is read from the primary, on either node.
            foreach (var store in new[] { node, otherNode })
            {
                Assert.False(await store.IsConversationMemberAsync(channel.Id, bob.Id));
                Assert.Null(await store.GetTeamMembershipAsync(team.Id, bob.Id));
                Assert.DoesNotContain(bob.Id, await store.ListConversationMembersAsync(channel.Id));
            }

            // The node that wrote reads its own write: the replica has not applied it, so the primary answers.
            Assert.Equal([alice.Id], (await node.ListTeamMembersByIdAsync(team.Id, null, 10)).Select(m => m.UserId));

            // Another node's mention candidates come from the replica, which has not applied the removal yet.
            Assert.Contains(bob.Id, (await otherNode.ListTeamMembersAsync(team.Id, "bo", 10)).Select(m => m.UserId));
        }
        finally
        {
            await MySqlTestDatabase.ExecuteAsync(BackingServices.MySqlReplica, "START SLAVE SQL_THREAD;");
        }

        await MySqlTestDatabase.WaitForReplicaAsync();
        Assert.Empty(await otherNode.ListTeamMembersAsync(team.Id, "bo", 10));
    }

    private static async Task<UserRecord> AddUserAsync(MySqlDirectoryStore store, string username)
    {
        var user = new UserRecord(Guid.NewGuid(), username, username, "$argon2id$" + username, T0);
        await store.CreateUserAsync(user);
        return user;
    }
}
