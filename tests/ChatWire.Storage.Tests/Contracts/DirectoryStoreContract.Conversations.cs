using ChatWire.Storage.Directory;

namespace ChatWire.Storage.Tests.Contracts;

public abstract partial class DirectoryStoreContract
{
    [Fact]
    public async Task CreateConversationAsync_ChannelWithMembers_StoresChannelAndMembers()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var team = await AddTeamAsync(alice, "Acme");

        var channel = await AddChannelAsync(team, alice, "general", ConversationKind.PublicChannel, alice.Id, bob.Id);

        Assert.Equal(channel, await Store.GetConversationAsync(channel.Id));
        Assert.Equal(new[] { alice.Id, bob.Id }.Order(), (await Store.ListConversationMembersAsync(channel.Id)).Order());
    }

    [Fact]
    public async Task GetConversationAsync_Unknown_ReturnsNull()
    {
        Assert.Null(await Store.GetConversationAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task CreateConversationAsync_PublicChannelNameTakenInTeam_ThrowsDuplicateKeyAndStoresNothing()
    {
        var alice = await AddUserAsync("alice");
        var team = await AddTeamAsync(alice, "Acme");
        await AddChannelAsync(team, alice, "general", ConversationKind.PublicChannel, alice.Id);
        var again = new ConversationRecord(Guid.NewGuid(), ConversationKind.PublicChannel, team.Id, "General", null, alice.Id, T0);

        await Assert.ThrowsAsync<DuplicateKeyException>(() => Store.CreateConversationAsync(again, [alice.Id]));

        Assert.Null(await Store.GetConversationAsync(again.Id));
        Assert.Empty(await Store.ListConversationMembersAsync(again.Id));
    }

    [Fact]
    public async Task CreateConversationAsync_PrivateChannelNames_AreNotUnique_SoTheyNeverLeak()
    {
        var alice = await AddUserAsync("alice");
        var team = await AddTeamAsync(alice, "Acme");
        await AddChannelAsync(team, alice, "plans", ConversationKind.PrivateChannel, alice.Id);

        // Another private channel and a public one may take the name: creating them reveals nothing.
        var secondPrivate = await AddChannelAsync(team, alice, "plans", ConversationKind.PrivateChannel, alice.Id);
        var publicOne = await AddChannelAsync(team, alice, "plans", ConversationKind.PublicChannel, alice.Id);

        Assert.Equal(secondPrivate, await Store.GetConversationAsync(secondPrivate.Id));
        Assert.Equal(publicOne, await Store.GetConversationAsync(publicOne.Id));
        Assert.Equal(3, await Store.CountChannelsAsync(team.Id));
    }

    [Fact]
    public async Task CreateConversationAsync_ChannelNameTakenInOtherTeam_Succeeds()
    {
        var alice = await AddUserAsync("alice");
        var acme = await AddTeamAsync(alice, "Acme");
        var blue = await AddTeamAsync(alice, "Blue");
        await AddChannelAsync(acme, alice, "general", ConversationKind.PublicChannel, alice.Id);

        var other = await AddChannelAsync(blue, alice, "general", ConversationKind.PublicChannel, alice.Id);

        Assert.Equal(other, await Store.GetConversationAsync(other.Id));
    }

    [Fact]
    public async Task CreateConversationAsync_DirectKeyTaken_ThrowsDuplicateKey()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var first = await AddDirectAsync(alice, bob);
        var second = first with { Id = Guid.NewGuid(), CreatedBy = bob.Id };

        await Assert.ThrowsAsync<DuplicateKeyException>(() => Store.CreateConversationAsync(second, [alice.Id, bob.Id]));
    }

    [Fact]
    public async Task FindDirectConversationAsync_ExistingKey_ReturnsConversation()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var carol = await AddUserAsync("carol");
        var direct = await AddDirectAsync(alice, bob);

        Assert.Equal(direct, await Store.FindDirectConversationAsync(DirectKey(bob, alice)));
        Assert.Null(await Store.FindDirectConversationAsync(DirectKey(alice, carol)));
    }

    [Fact]
    public async Task ListChannelsAsync_PrivateChannels_ListsOnlyThoseTheUserBelongsToByName()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var acme = await AddTeamAsync(alice, "Acme");
        var blue = await AddTeamAsync(alice, "Blue");
        await Store.AddTeamMemberAsync(acme.Id, bob.Id, TeamRole.Member, T0);
        var random = await AddChannelAsync(acme, alice, "random", ConversationKind.PublicChannel, alice.Id);
        var general = await AddChannelAsync(acme, alice, "general", ConversationKind.PublicChannel, alice.Id);
        var bobsSecret = await AddChannelAsync(acme, alice, "bobs-secret", ConversationKind.PrivateChannel, alice.Id, bob.Id);
        await AddChannelAsync(acme, alice, "admins", ConversationKind.PrivateChannel, alice.Id);
        await AddChannelAsync(blue, alice, "elsewhere", ConversationKind.PublicChannel, alice.Id);
        await AddDirectAsync(alice, bob);

        var channels = await Store.ListChannelsAsync(acme.Id, bob.Id);

        Assert.Equal([bobsSecret, general, random], channels);
    }

    [Fact]
    public async Task ListConversationsForUserAsync_ChannelsAndDirect_ReturnsEveryOneTheUserIsIn()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var carol = await AddUserAsync("carol");
        var team = await AddTeamAsync(alice, "Acme");
        var general = await AddChannelAsync(team, alice, "general", ConversationKind.PublicChannel, alice.Id, bob.Id);
        await AddChannelAsync(team, alice, "admins", ConversationKind.PrivateChannel, alice.Id);
        var direct = await AddDirectAsync(alice, bob);
        var group = new ConversationRecord(Guid.NewGuid(), ConversationKind.GroupMessage, null, null, "group-1", carol.Id, T0);
        await Store.CreateConversationAsync(group, [alice.Id, bob.Id, carol.Id]);
        await AddDirectAsync(alice, carol);

        var conversations = await Store.ListConversationsForUserAsync(bob.Id);

        Assert.Equal(3, conversations.Count);
        Assert.Contains(general, conversations);
        Assert.Contains(direct, conversations);
        Assert.Contains(group, conversations);
    }

    [Fact]
    public async Task IsConversationMemberAsync_MemberAndOutsider_TellsThemApart()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var team = await AddTeamAsync(alice, "Acme");
        var channel = await AddChannelAsync(team, alice, "general", ConversationKind.PublicChannel, alice.Id);

        Assert.True(await Store.IsConversationMemberAsync(channel.Id, alice.Id));
        Assert.False(await Store.IsConversationMemberAsync(channel.Id, bob.Id));
    }

    [Fact]
    public async Task AddConversationMemberAsync_Twice_SecondReturnsFalse()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var team = await AddTeamAsync(alice, "Acme");
        var channel = await AddChannelAsync(team, alice, "general", ConversationKind.PublicChannel, alice.Id);

        Assert.True(await Store.AddConversationMemberAsync(channel.Id, bob.Id, T0.AddMinutes(1)));
        Assert.False(await Store.AddConversationMemberAsync(channel.Id, bob.Id, T0.AddMinutes(2)));

        Assert.True(await Store.IsConversationMemberAsync(channel.Id, bob.Id));
    }

    [Fact]
    public async Task UpdateChannelAsync_RenamesArchivesAndUnarchives_ANameTakenIsADuplicate()
    {
        var alice = await AddUserAsync("alice");
        var team = await AddTeamAsync(alice, "Acme");
        var general = await AddChannelAsync(team, alice, "general", ConversationKind.PublicChannel, alice.Id);
        var channel = await AddChannelAsync(team, alice, "random", ConversationKind.PublicChannel, alice.Id);

        Assert.True(await Store.UpdateChannelAsync(channel.Id, "watercooler", null));
        Assert.True(await Store.UpdateChannelAsync(channel.Id, null, T0.AddDays(1)));
        var archived = await Store.GetConversationAsync(channel.Id);
        await Assert.ThrowsAsync<DuplicateKeyException>(() => Store.UpdateChannelAsync(channel.Id, "general", null));
        Assert.True(await Store.UpdateChannelAsync(channel.Id, null, DateTimeOffset.MinValue));
        var unarchived = await Store.GetConversationAsync(channel.Id);

        Assert.Equal(("watercooler", T0.AddDays(1)), (archived!.Name, archived.ArchivedAt));
        Assert.Null(unarchived!.ArchivedAt);
        Assert.Equal("watercooler", unarchived.Name);
        Assert.Null((await Store.GetConversationAsync(general.Id))!.ArchivedAt);
        Assert.False(await Store.UpdateChannelAsync(Guid.NewGuid(), "x", null));
    }

    [Fact]
    public async Task UpdateChannelAsync_SlowMode_IsSetAlone_KeptByOtherChanges_AndSeenByEveryRead()
    {
        var alice = await AddUserAsync("alice");
        var team = await AddTeamAsync(alice, "Acme");
        var channel = await AddChannelAsync(team, alice, "random", ConversationKind.PublicChannel, alice.Id);
        var other = await AddChannelAsync(team, alice, "quiet", ConversationKind.PublicChannel, alice.Id);

        Assert.Equal(0, (await Store.GetConversationAsync(channel.Id))!.SlowModeSeconds);
        Assert.True(await Store.UpdateChannelAsync(channel.Id, null, null, 30));
        Assert.True(await Store.UpdateChannelAsync(channel.Id, "watercooler", T0.AddDays(1)));
        var kept = await Store.GetConversationAsync(channel.Id);
        Assert.True(await Store.UpdateChannelAsync(channel.Id, null, DateTimeOffset.MinValue, ConversationRecord.MaxSlowModeSeconds));

        Assert.Equal((30, "watercooler"), (kept!.SlowModeSeconds, kept.Name));
        Assert.Equal(ConversationRecord.MaxSlowModeSeconds, (await Store.GetConversationAsync(channel.Id))!.SlowModeSeconds);
        Assert.Equal(ConversationRecord.MaxSlowModeSeconds, (await Store.ListChannelsAsync(team.Id, alice.Id)).Single(c => c.Id == channel.Id).SlowModeSeconds);
        Assert.Equal(ConversationRecord.MaxSlowModeSeconds, (await Store.ListConversationsForUserAsync(alice.Id)).Single(c => c.Id == channel.Id).SlowModeSeconds);
        Assert.Equal(0, (await Store.GetConversationAsync(other.Id))!.SlowModeSeconds);
        Assert.True(await Store.UpdateChannelAsync(channel.Id, null, null, 0));
        Assert.Equal(0, (await Store.GetConversationAsync(channel.Id))!.SlowModeSeconds);
    }

    [Fact]
    public async Task UpdateChannelAsync_Topic_IsSetAlone_KeptByOtherChanges_ClearedWhenEmpty()
    {
        var alice = await AddUserAsync("alice");
        var team = await AddTeamAsync(alice, "Acme");
        var channel = await AddChannelAsync(team, alice, "random", ConversationKind.PublicChannel, alice.Id);
        var topic = "Deploys 🚀 and ünïcode, " + new string('x', ConversationRecord.MaxTopicLength - 23);

        Assert.Equal(string.Empty, (await Store.GetConversationAsync(channel.Id))!.Topic);
        Assert.True(await Store.UpdateChannelAsync(channel.Id, null, null, null, topic));
        Assert.True(await Store.UpdateChannelAsync(channel.Id, "watercooler", null, 5));
        var kept = await Store.GetConversationAsync(channel.Id);
        var listed = (await Store.ListChannelsAsync(team.Id, alice.Id)).Single(c => c.Id == channel.Id);
        var mine = (await Store.ListConversationsForUserAsync(alice.Id)).Single(c => c.Id == channel.Id);
        Assert.True(await Store.UpdateChannelAsync(channel.Id, null, null, null, string.Empty));

        Assert.Equal((topic, "watercooler", 5), (kept!.Topic, kept.Name, kept.SlowModeSeconds));
        Assert.Equal((topic, topic), (listed.Topic, mine.Topic));
        Assert.Equal(string.Empty, (await Store.GetConversationAsync(channel.Id))!.Topic);
    }

    [Fact]
    public async Task RemoveConversationMemberAsync_RemovesOnce_AndTheConversationLeavesTheirList()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var team = await AddTeamAsync(alice, "Acme");
        var channel = await AddChannelAsync(team, alice, "random", ConversationKind.PublicChannel, alice.Id);
        await Store.AddConversationMemberAsync(channel.Id, bob.Id, T0);

        Assert.True(await Store.RemoveConversationMemberAsync(channel.Id, bob.Id));
        Assert.False(await Store.RemoveConversationMemberAsync(channel.Id, bob.Id));
        Assert.False(await Store.IsConversationMemberAsync(channel.Id, bob.Id));
        Assert.DoesNotContain(await Store.ListConversationsForUserAsync(bob.Id), c => c.Id == channel.Id);
        Assert.Equal([alice.Id], await Store.ListConversationMembersAsync(channel.Id));
    }

    [Fact]
    public async Task ListConversationMembersAsync_MembersAddedLater_ReturnsEveryMember()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var carol = await AddUserAsync("carol");
        var team = await AddTeamAsync(alice, "Acme");
        var channel = await AddChannelAsync(team, alice, "general", ConversationKind.PublicChannel, alice.Id);
        await AddChannelAsync(team, alice, "random", ConversationKind.PublicChannel, alice.Id, carol.Id);
        await Store.AddConversationMemberAsync(channel.Id, bob.Id, T0.AddMinutes(1));

        var members = await Store.ListConversationMembersAsync(channel.Id);

        Assert.Equal(new[] { alice.Id, bob.Id }.Order(), members.Order());
    }

    protected async Task<ConversationRecord> AddChannelAsync(TeamRecord team, UserRecord creator, string name, ConversationKind kind, params Guid[] memberIds)
    {
        var channel = new ConversationRecord(Guid.NewGuid(), kind, team.Id, name, null, creator.Id, T0);
        await Store.CreateConversationAsync(channel, memberIds);
        return channel;
    }

    protected async Task<ConversationRecord> AddDirectAsync(UserRecord creator, UserRecord other)
    {
        var direct = new ConversationRecord(Guid.NewGuid(), ConversationKind.DirectMessage, null, null, DirectKey(creator, other), creator.Id, T0);
        await Store.CreateConversationAsync(direct, [creator.Id, other.Id]);
        return direct;
    }

    private static string DirectKey(UserRecord a, UserRecord b) =>
        string.Join(':', new[] { a.Id, b.Id }.Order().Select(id => id.ToString("N")));
}
