using ChatWire.Storage.Attachments;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Push;

namespace ChatWire.Storage.Tests.Contracts;

public abstract partial class DirectoryStoreContract
{
    [Fact]
    public async Task CreateTeamAsync_NewTeam_CreatorIsOwner()
    {
        var alice = await AddUserAsync("alice");

        var team = await AddTeamAsync(alice, "Acme");

        Assert.Equal(team, await Store.GetTeamAsync(team.Id));
        var membership = await Store.GetTeamMembershipAsync(team.Id, alice.Id);
        Assert.Equal(new TeamMembershipRecord(team, TeamRole.Owner, false, team.CreatedAt), membership);
    }

    [Fact]
    public async Task UpdateTeamAsync_EachSettingAlone_OthersUnchanged_SeenByEveryRead()
    {
        var alice = await AddUserAsync("alice");
        var team = await AddTeamAsync(alice, "Acme");
        Assert.True(team.MembersCanMentionChannel);
        Assert.False(team.MembersCanInvite);

        Assert.True(await Store.UpdateTeamAsync(team.Id, name: null, membersCanInvite: null, membersCanMentionChannel: false));
        var quiet = team with { MembersCanMentionChannel = false };
        Assert.Equal(quiet, await Store.GetTeamAsync(team.Id));
        Assert.Equal(quiet, (await Store.GetTeamMembershipAsync(team.Id, alice.Id))!.Team);
        Assert.Equal(quiet, Assert.Single(await Store.ListTeamsForUserAsync(alice.Id)).Team);
        Assert.Equal(quiet, Assert.Single(await ((IAccountAdminStore)Store).ListTeamsAsync(null, 10), t => t.Team.Id == team.Id).Team);

        Assert.True(await Store.UpdateTeamAsync(team.Id, name: "Acme Inc", membersCanInvite: true));
        Assert.Equal(quiet with { Name = "Acme Inc", MembersCanInvite = true }, await Store.GetTeamAsync(team.Id));
        Assert.True(await Store.UpdateTeamAsync(team.Id, name: null, membersCanInvite: null, membersCanMentionChannel: true));
        Assert.True((await Store.GetTeamAsync(team.Id))!.MembersCanMentionChannel);
        Assert.False(await Store.UpdateTeamAsync(Guid.NewGuid(), name: "Nobody", membersCanInvite: null));
    }

    [Fact]
    public async Task SetTeamRoleAsync_EachRefusal_ChangesNothing_AndAChangeStands()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var carol = await AddUserAsync("carol");
        var team = await AddTeamAsync(alice, "Acme");
        Assert.True(await Store.AddTeamMemberAsync(team.Id, bob.Id, TeamRole.Member, T0));

        var lastOwner = await Store.SetTeamRoleAsync(team.Id, alice.Id, TeamRole.Admin, requiredOwner: alice.Id);
        var notAnOwner = await Store.SetTeamRoleAsync(team.Id, bob.Id, TeamRole.Owner, requiredOwner: bob.Id);
        var notAMember = await Store.SetTeamRoleAsync(team.Id, carol.Id, TeamRole.Admin, requiredOwner: alice.Id);
        var promoted = await Store.SetTeamRoleAsync(team.Id, bob.Id, TeamRole.Owner, requiredOwner: alice.Id);
        var unchanged = await Store.SetTeamRoleAsync(team.Id, bob.Id, TeamRole.Owner, requiredOwner: null);
        var steppedDown = await Store.SetTeamRoleAsync(team.Id, alice.Id, TeamRole.Member, requiredOwner: alice.Id);

        Assert.Equal(
            [TeamRoleChange.LastOwner, TeamRoleChange.NotAnOwner, TeamRoleChange.NotAMember, TeamRoleChange.Changed, TeamRoleChange.Changed, TeamRoleChange.Changed],
            new[] { lastOwner, notAnOwner, notAMember, promoted, unchanged, steppedDown });
        Assert.Equal(TeamRole.Member, (await Store.GetTeamMembershipAsync(team.Id, alice.Id))!.Role);
        Assert.Equal(TeamRole.Owner, (await Store.GetTeamMembershipAsync(team.Id, bob.Id))!.Role);
        Assert.Null(await Store.GetTeamMembershipAsync(team.Id, carol.Id));
    }

    // Two owners step down, or demote each other, at the same moment, through separate connections: the check and
    // the change are one step, so exactly one of the two goes through and the team keeps an owner.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SetTeamRoleAsync_TwoOwnersAtOnce_ExactlyOneGoesThrough_TheTeamKeepsAnOwner(bool eachOther)
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        for (var round = 0; round < 10; round++)
        {
            var team = await AddTeamAsync(alice, $"Acme {round}");
            Assert.True(await Store.AddTeamMemberAsync(team.Id, bob.Id, TeamRole.Owner, T0));

            var results = await Task.WhenAll(
                Task.Run(() => Store.SetTeamRoleAsync(team.Id, eachOther ? bob.Id : alice.Id, TeamRole.Member, requiredOwner: alice.Id)),
                Task.Run(() => Store.SetTeamRoleAsync(team.Id, eachOther ? alice.Id : bob.Id, TeamRole.Member, requiredOwner: bob.Id)));

            Assert.Single(results, r => r == TeamRoleChange.Changed);
            Assert.Equal((2, 1), await Store.CountTeamMembersAsync(team.Id));
        }
    }

    // A team a race left without an owner is given one: its longest-standing admin, else its longest-standing member.
    [Fact]
    public async Task FindTeamHeirAsync_TheFirstAdmin_ElseTheFirstMember_NullWhenEmpty()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var carol = await AddUserAsync("carol");
        var dave = await AddUserAsync("dave");
        var team = await AddTeamAsync(alice, "Acme");
        Assert.True(await Store.AddTeamMemberAsync(team.Id, bob.Id, TeamRole.Member, T0.AddMinutes(1)));
        Assert.True(await Store.AddTeamMemberAsync(team.Id, dave.Id, TeamRole.Admin, T0.AddMinutes(3)));
        Assert.True(await Store.AddTeamMemberAsync(team.Id, carol.Id, TeamRole.Admin, T0.AddMinutes(2)));
        var empty = await AddTeamAsync(alice, "Empty");
        await Store.RemoveTeamMemberAsync(empty.Id, alice.Id);

        Assert.Equal(alice.Id, await Store.FindTeamHeirAsync(team.Id));
        await Store.RemoveTeamMemberAsync(team.Id, alice.Id);
        Assert.Equal(carol.Id, await Store.FindTeamHeirAsync(team.Id));
        await Store.RemoveTeamMemberAsync(team.Id, carol.Id);
        Assert.Equal(dave.Id, await Store.FindTeamHeirAsync(team.Id));
        await Store.RemoveTeamMemberAsync(team.Id, dave.Id);
        Assert.Equal(bob.Id, await Store.FindTeamHeirAsync(team.Id));
        Assert.Null(await Store.FindTeamHeirAsync(empty.Id));
        Assert.Null(await Store.FindTeamHeirAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task TeamRemoval_RecordedThenReplaced_OnlyForThatTeamAndUser()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var acme = await AddTeamAsync(alice, "Acme");
        var blue = await AddTeamAsync(alice, "Blue");

        var never = await Store.GetTeamRemovalAsync(acme.Id, bob.Id);
        await Store.RecordTeamRemovalAsync(acme.Id, bob.Id, T0.AddHours(1));
        var first = await Store.GetTeamRemovalAsync(acme.Id, bob.Id);
        await Store.RecordTeamRemovalAsync(acme.Id, bob.Id, T0.AddHours(2));

        Assert.Null(never);
        Assert.Equal(T0.AddHours(1), first);
        Assert.Equal(T0.AddHours(2), await Store.GetTeamRemovalAsync(acme.Id, bob.Id));
        Assert.Null(await Store.GetTeamRemovalAsync(blue.Id, bob.Id));
        Assert.Null(await Store.GetTeamRemovalAsync(acme.Id, alice.Id));
    }

    [Fact]
    public async Task GetTeamAsync_Unknown_ReturnsNull()
    {
        Assert.Null(await Store.GetTeamAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task GetTeamMembershipAsync_NotMember_ReturnsNull()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var team = await AddTeamAsync(alice, "Acme");

        Assert.Null(await Store.GetTeamMembershipAsync(team.Id, bob.Id));
    }

    [Fact]
    public async Task ListTeamsForUserAsync_MemberOfTwoTeams_ReturnsBothWithRoleAndMuted()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var acme = await AddTeamAsync(alice, "Acme");
        var blue = await AddTeamAsync(bob, "Blue");
        await AddTeamAsync(bob, "Hidden");
        Assert.True(await Store.AddTeamMemberAsync(blue.Id, alice.Id, TeamRole.Admin, T0.AddDays(1)));
        Assert.True(await Store.SetTeamMutedAsync(blue.Id, alice.Id, true));

        var teams = await Store.ListTeamsForUserAsync(alice.Id);

        Assert.Equal(2, teams.Count);
        Assert.Contains(new TeamMembershipRecord(acme, TeamRole.Owner, false, acme.CreatedAt), teams);
        Assert.Contains(new TeamMembershipRecord(blue, TeamRole.Admin, true, T0.AddDays(1)), teams);
    }

    [Fact]
    public async Task AddTeamMemberAsync_AlreadyMember_ReturnsFalseAndKeepsRole()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var team = await AddTeamAsync(alice, "Acme");

        Assert.True(await Store.AddTeamMemberAsync(team.Id, bob.Id, TeamRole.Member, T0));
        Assert.False(await Store.AddTeamMemberAsync(team.Id, bob.Id, TeamRole.Admin, T0.AddDays(1)));

        Assert.Equal(TeamRole.Member, (await Store.GetTeamMembershipAsync(team.Id, bob.Id))!.Role);
    }

    [Fact]
    public async Task RemoveTeamMemberAsync_Member_LeavesTeamAndItsChannelsOnly()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var acme = await AddTeamAsync(alice, "Acme");
        var blue = await AddTeamAsync(alice, "Blue");
        await Store.AddTeamMemberAsync(acme.Id, bob.Id, TeamRole.Member, T0);
        await Store.AddTeamMemberAsync(blue.Id, bob.Id, TeamRole.Member, T0);
        var general = await AddChannelAsync(acme, alice, "general", ConversationKind.PublicChannel, alice.Id, bob.Id);
        var secret = await AddChannelAsync(acme, alice, "secret", ConversationKind.PrivateChannel, alice.Id, bob.Id);
        var blueGeneral = await AddChannelAsync(blue, alice, "general", ConversationKind.PublicChannel, alice.Id, bob.Id);
        var direct = await AddDirectAsync(alice, bob);

        Assert.True(await Store.RemoveTeamMemberAsync(acme.Id, bob.Id));

        Assert.Null(await Store.GetTeamMembershipAsync(acme.Id, bob.Id));
        Assert.False(await Store.IsConversationMemberAsync(general.Id, bob.Id));
        Assert.False(await Store.IsConversationMemberAsync(secret.Id, bob.Id));
        Assert.True(await Store.IsConversationMemberAsync(general.Id, alice.Id));
        Assert.True(await Store.IsConversationMemberAsync(blueGeneral.Id, bob.Id));
        Assert.True(await Store.IsConversationMemberAsync(direct.Id, bob.Id));
        Assert.NotNull(await Store.GetTeamMembershipAsync(blue.Id, bob.Id));
    }

    [Fact]
    public async Task RemoveTeamMemberAsync_NotMember_ReturnsFalse()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var team = await AddTeamAsync(alice, "Acme");

        Assert.False(await Store.RemoveTeamMemberAsync(team.Id, bob.Id));
    }

    [Fact]
    public async Task SetTeamMutedAsync_MuteThenUnmute_FlagFollows()
    {
        var alice = await AddUserAsync("alice");
        var team = await AddTeamAsync(alice, "Acme");

        Assert.True(await Store.SetTeamMutedAsync(team.Id, alice.Id, true));
        Assert.True((await Store.GetTeamMembershipAsync(team.Id, alice.Id))!.Muted);
        Assert.True(await Store.SetTeamMutedAsync(team.Id, alice.Id, false));
        Assert.False((await Store.GetTeamMembershipAsync(team.Id, alice.Id))!.Muted);
    }

    [Fact]
    public async Task SetTeamMutedAsync_NotMember_ReturnsFalse()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var team = await AddTeamAsync(alice, "Acme");

        Assert.False(await Store.SetTeamMutedAsync(team.Id, bob.Id, true));
    }

    [Fact]
    public async Task ListTeamMembersAsync_NoPrefix_ReturnsEveryMemberByUsername()
    {
        var carol = await AddUserAsync("carol", "Carol C");
        var alice = await AddUserAsync("alice", "Alice A");
        var bob = await AddUserAsync("bob", "Bob B");
        var outsider = await AddUserAsync("aaron", "Aaron Outsider");
        var team = await AddTeamAsync(carol, "Acme");
        await AddTeamAsync(outsider, "Other");
        await Store.AddTeamMemberAsync(team.Id, alice.Id, TeamRole.Admin, T0);
        await Store.AddTeamMemberAsync(team.Id, bob.Id, TeamRole.Member, T0);
        await Store.SetTeamMutedAsync(team.Id, bob.Id, true);

        var members = await Store.ListTeamMembersAsync(team.Id, null, 10);

        Assert.Equal(
            [
                new TeamMemberRecord(alice.Id, "alice", "Alice A", TeamRole.Admin, false),
                new TeamMemberRecord(bob.Id, "bob", "Bob B", TeamRole.Member, true),
                new TeamMemberRecord(carol.Id, "carol", "Carol C", TeamRole.Owner, false),
            ],
            members);
    }

    [Fact]
    public async Task ListTeamMembersAsync_Prefix_MatchesUsernameOrDisplayNameIgnoringCase()
    {
        var owner = await AddUserAsync("owner", "Team Owner");
        var team = await AddTeamAsync(owner, "Acme");
        var maria = await AddMemberAsync(team, "maria", "Maria Lopez");
        var bob = await AddMemberAsync(team, "bob", "Mark Robert");
        await AddMemberAsync(team, "carol", "Carol Amar");

        var members = await Store.ListTeamMembersAsync(team.Id, "MA", 10);

        Assert.Equal([bob.Id, maria.Id], members.Select(m => m.UserId));
    }

    [Fact]
    public async Task ListTeamMembersAsync_PrefixWithLikeWildcards_MatchesThemLiterally()
    {
        var owner = await AddUserAsync("owner", "Team Owner");
        var team = await AddTeamAsync(owner, "Acme");
        var percent = await AddMemberAsync(team, "a%b", "Percent");
        var underscore = await AddMemberAsync(team, "a_b", "Underscore");
        await AddMemberAsync(team, "axb", "Plain");
        await AddMemberAsync(team, "abc", "Other");
        var backslash = await AddMemberAsync(team, @"a\b", "Backslash");

        Assert.Equal([percent.Id], (await Store.ListTeamMembersAsync(team.Id, "a%", 10)).Select(m => m.UserId));
        Assert.Equal([underscore.Id], (await Store.ListTeamMembersAsync(team.Id, "a_", 10)).Select(m => m.UserId));
        Assert.Equal([backslash.Id], (await Store.ListTeamMembersAsync(team.Id, @"a\", 10)).Select(m => m.UserId));
        Assert.Empty(await Store.ListTeamMembersAsync(team.Id, "%", 10));
    }

    [Fact]
    public async Task ListTeamMembersAsync_PrefixOfALaterWordOfTheDisplayName_Matches_AndALeaverIsGone()
    {
        var owner = await AddUserAsync("owner");
        var alice = await AddUserAsync("asmith", "Alice Smith");
        var sam = await AddUserAsync("sam", "Sam Smithers");
        var team = await AddTeamAsync(owner, "Acme");
        await Store.AddTeamMemberAsync(team.Id, alice.Id, TeamRole.Member, T0);
        await Store.AddTeamMemberAsync(team.Id, sam.Id, TeamRole.Member, T0);

        var smith = await Store.ListTeamMembersAsync(team.Id, "smi", 10);
        await Store.RemoveTeamMemberAsync(team.Id, sam.Id);
        var afterLeave = await Store.ListTeamMembersAsync(team.Id, "s", 10);

        Assert.Equal([alice.Id, sam.Id], smith.Select(m => m.UserId));
        Assert.Equal([alice.Id], afterLeave.Select(m => m.UserId));
    }

    [Fact]
    public async Task ListTeamMembersAsync_Limit_ReturnsTheFirstByUsername()
    {
        var owner = await AddUserAsync("zed", "Zed");
        var team = await AddTeamAsync(owner, "Acme");
        var anna = await AddMemberAsync(team, "anna", "Anna");
        var anne = await AddMemberAsync(team, "anne", "Anne");
        await AddMemberAsync(team, "anton", "Anton");

        var members = await Store.ListTeamMembersAsync(team.Id, "an", 2);

        Assert.Equal([anna.Id, anne.Id], members.Select(m => m.UserId));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task ListTeamMembersAsync_LimitNotPositive_ThrowsArgumentOutOfRange(int limit)
    {
        var owner = await AddUserAsync("owner");
        var team = await AddTeamAsync(owner, "Acme");

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ListTeamMembersAsync(team.Id, null, limit));
    }

    [Fact]
    public async Task ShareTeamAsync_CommonTeam_ReturnsTrue()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var team = await AddTeamAsync(alice, "Acme");
        await Store.AddTeamMemberAsync(team.Id, bob.Id, TeamRole.Member, T0);

        Assert.True(await Store.ShareTeamAsync(alice.Id, bob.Id));
        Assert.True(await Store.ShareTeamAsync(bob.Id, alice.Id));
    }

    [Fact]
    public async Task ShareTeamAsync_NoCommonTeam_ReturnsFalse()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        await AddTeamAsync(alice, "Acme");
        await AddTeamAsync(bob, "Blue");

        Assert.False(await Store.ShareTeamAsync(alice.Id, bob.Id));
    }

    [Fact]
    public async Task DeleteTeamAsync_RemovesItsChannelsMembersAndInvites_NotOtherTeams()
    {
        var alice = await AddUserAsync("alice");
        var doomed = await AddTeamAsync(alice, "Doomed");
        var kept = await AddTeamAsync(alice, "Kept");
        var channel = await AddChannelAsync(doomed, alice, "general", ConversationKind.PublicChannel, alice.Id);
        var keptChannel = await AddChannelAsync(kept, alice, "general", ConversationKind.PublicChannel, alice.Id);

        Assert.True(await Store.DeleteTeamAsync(doomed.Id));
        Assert.False(await Store.DeleteTeamAsync(doomed.Id));

        Assert.Null(await Store.GetTeamAsync(doomed.Id));
        Assert.Null(await Store.GetConversationAsync(channel.Id));
        Assert.Equal([kept.Id], (await Store.ListTeamsForUserAsync(alice.Id)).Select(t => t.Team.Id));
        Assert.Equal([keptChannel.Id], (await Store.ListConversationsForUserAsync(alice.Id)).Select(c => c.Id));
        Assert.Empty(await Store.ListTeamMembersAsync(doomed.Id, null, 10));
    }

    // Attachments of the team's channels become orphaned (the sweep deletes them with their blobs), and the members'
    // notification levels for those channels go; a direct conversation's are untouched.
    [Fact]
    public async Task DeleteTeamAsync_ChannelsWithAttachmentsAndPushLevels_OrphansTheAttachmentsAndDropsTheLevels()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var doomed = await AddTeamAsync(alice, "Doomed");
        var channel = await AddChannelAsync(doomed, alice, "general", ConversationKind.PublicChannel, alice.Id);
        var direct = await AddDirectAsync(alice, bob);
        var attachments = (IAttachmentStore)Store;
        var pushes = (IPushStore)Store;
        var pending = Attachment(channel, alice);
        var ready = Attachment(channel, alice);
        var kept = Attachment(direct, alice);
        foreach (var attachment in new[] { pending, ready, kept })
        {
            Assert.True(await attachments.CreateAttachmentAsync(attachment, quotaBytes: 0));
        }

        Assert.True(await attachments.MarkAttachmentReadyAsync(ready.Id));
        await pushes.SetConversationPushLevelAsync(alice.Id, channel.Id, PushLevel.None);
        await pushes.SetConversationPushLevelAsync(alice.Id, direct.Id, PushLevel.All);

        Assert.True(await Store.DeleteTeamAsync(doomed.Id));

        Assert.Equal(AttachmentState.Orphaned, (await attachments.GetAttachmentAsync(pending.Id))!.State);
        Assert.Equal(AttachmentState.Orphaned, (await attachments.GetAttachmentAsync(ready.Id))!.State);
        Assert.Equal(AttachmentState.Pending, (await attachments.GetAttachmentAsync(kept.Id))!.State);
        Assert.Equal(new[] { pending.Id, ready.Id }.Order(), (await attachments.ListOrphanedAttachmentsAsync(pending.CreatedAt.AddMilliseconds(1), 10)).Select(a => a.Id).Order());
        Assert.False(await attachments.MarkAttachmentReadyAsync(pending.Id));
        var levels = (await pushes.GetPushPreferencesAsync(alice.Id)).Conversations;
        Assert.Equal([direct.Id], levels.Keys);
        Assert.Equal(PushLevel.All, levels[direct.Id]);
    }

    private static AttachmentRecord Attachment(ConversationRecord conversation, UserRecord owner) =>
        new(Guid.CreateVersion7(), conversation.Id, owner.Id, 10, new byte[32], AttachmentState.Pending, DateTimeOffset.FromUnixTimeMilliseconds(1_795_000_000_000));

    [Fact]
    public async Task ListTeamMembersByIdAsync_PagesInIdOrder()
    {
        var owner = await AddUserAsync("owner");
        var team = await AddTeamAsync(owner, "Acme");
        var ids = new List<Guid> { owner.Id };
        for (var i = 0; i < 4; i++)
        {
            var user = await AddUserAsync($"user{i}");
            await Store.AddTeamMemberAsync(team.Id, user.Id, TeamRole.Member, T0);
            ids.Add(user.Id);
        }

        var first = await Store.ListTeamMembersByIdAsync(team.Id, null, 3);
        var second = await Store.ListTeamMembersByIdAsync(team.Id, first[^1].UserId, 3);

        Assert.Equal(ids.Order().ToList(), first.Concat(second).Select(m => m.UserId));
        Assert.Equal(2, second.Count);
    }

    [Fact]
    public async Task FilterTeammatesAsync_KeepsThoseSharingATeam_ItselfIncluded()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var carol = await AddUserAsync("carol");
        var team = await AddTeamAsync(alice, "Acme");
        await AddTeamAsync(carol, "Blue");
        await Store.AddTeamMemberAsync(team.Id, bob.Id, TeamRole.Member, T0);

        var mates = await Store.FilterTeammatesAsync(alice.Id, [bob.Id, carol.Id, alice.Id, Guid.NewGuid()]);

        Assert.Equal(new HashSet<Guid> { alice.Id, bob.Id }, mates);
        Assert.Empty(await Store.FilterTeammatesAsync(alice.Id, []));
    }

    [Fact]
    public async Task LastSeen_IsKept_AndNeverMovesBack()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");

        await Store.SetLastSeenAsync(alice.Id, T0.AddHours(2));
        await Store.SetLastSeenAsync(alice.Id, T0.AddHours(1));
        var seen = await Store.GetLastSeenAsync([alice.Id, bob.Id]);

        Assert.Equal(T0.AddHours(2), Assert.Single(seen, s => s.Key == alice.Id).Value);
        Assert.False(seen.ContainsKey(bob.Id));
    }

    // Invites

    [Fact]
    public async Task CreateInviteAsync_NewInvite_FoundByCodeHash()
    {
        var alice = await AddUserAsync("alice");
        var team = await AddTeamAsync(alice, "Acme");
        var invite = await AddInviteAsync(team, alice, "code-1");

        AssertInvite(invite, await Store.FindInviteByCodeHashAsync(Hash("code-1")));
    }

    [Fact]
    public async Task FindInviteByCodeHashAsync_Unknown_ReturnsNull()
    {
        var alice = await AddUserAsync("alice");
        var team = await AddTeamAsync(alice, "Acme");
        await AddInviteAsync(team, alice, "code-1");

        Assert.Null(await Store.FindInviteByCodeHashAsync(Hash("code-2")));
    }

    [Fact]
    public async Task CreateInviteAsync_CodeHashTaken_ThrowsDuplicateKey()
    {
        var alice = await AddUserAsync("alice");
        var team = await AddTeamAsync(alice, "Acme");
        await AddInviteAsync(team, alice, "code-1");

        await Assert.ThrowsAsync<DuplicateKeyException>(() => AddInviteAsync(team, alice, "code-1"));
    }

    [Fact]
    public async Task ListInvitesAsync_TwoTeams_ReturnsOnlyThatTeamsInvitesInIdOrder()
    {
        var alice = await AddUserAsync("alice");
        var acme = await AddTeamAsync(alice, "Acme");
        var blue = await AddTeamAsync(alice, "Blue");
        var second = await AddInviteAsync(acme, alice, "code-2", T0.AddMinutes(2), Guid.Parse("01900000-0000-7000-8000-000000000002"));
        var first = await AddInviteAsync(acme, alice, "code-1", T0.AddMinutes(1), Guid.Parse("01900000-0000-7000-8000-000000000001"));
        await AddInviteAsync(blue, alice, "code-3");

        var invites = await Store.ListInvitesAsync(acme.Id, null, 10);

        Assert.Equal(2, invites.Count);
        AssertInvite(first, invites[0]);
        AssertInvite(second, invites[1]);
    }

    // Pages by id, the limit applied in the store; ids are compared in their text order (the byte order they are kept in).
    [Fact]
    public async Task ListInvitesAsync_AfterAnId_TheNextPageOnly()
    {
        var alice = await AddUserAsync("alice");
        var acme = await AddTeamAsync(alice, "Acme");
        var made = new List<InviteRecord>();
        foreach (var id in new[] { "01900000-0000-7000-8000-0000000000ff", "01900000-0000-7000-8000-000000000100", "01900000-0000-7001-8000-000000000000", "02000000-0000-7000-8000-000000000000" })
        {
            made.Add(await AddInviteAsync(acme, alice, "code-" + id, T0, Guid.Parse(id)));
        }

        var firstPage = await Store.ListInvitesAsync(acme.Id, null, 2);
        var secondPage = await Store.ListInvitesAsync(acme.Id, firstPage[^1].Id, 2);
        var past = await Store.ListInvitesAsync(acme.Id, made[^1].Id, 2);

        Assert.Equal(made.Take(2).Select(i => i.Id), firstPage.Select(i => i.Id));
        Assert.Equal(made.Skip(2).Select(i => i.Id), secondPage.Select(i => i.Id));
        Assert.Empty(past);
    }

    // Dead before the cut: revoked before it, or expired before it. Live invites, the recently dead and other teams' stay.
    [Fact]
    public async Task DeleteDeadInvitesAsync_RevokedOrExpiredBeforeTheCut_OnlyThose()
    {
        var alice = await AddUserAsync("alice");
        var acme = await AddTeamAsync(alice, "Acme");
        var blue = await AddTeamAsync(alice, "Blue");
        var live = await AddInviteAsync(acme, alice, "live", T0);
        var revokedLongAgo = await AddInviteAsync(acme, alice, "revoked-long-ago", T0);
        var revokedLately = await AddInviteAsync(acme, alice, "revoked-lately", T0);
        var expiredLongAgo = await AddInviteAsync(acme, alice, "expired-long-ago", T0.AddDays(-30));
        var otherTeams = await AddInviteAsync(blue, alice, "other-team", T0.AddDays(-30));
        await Store.RevokeInviteAsync(acme.Id, revokedLongAgo.Id, T0.AddHours(1));
        await Store.RevokeInviteAsync(acme.Id, revokedLately.Id, T0.AddDays(3));

        var deleted = await Store.DeleteDeadInvitesAsync(acme.Id, T0.AddDays(2));
        var left = await Store.ListInvitesAsync(acme.Id, null, 10);

        Assert.Equal(2, deleted);
        Assert.Equal(new[] { live.Id, revokedLately.Id }.Order(), left.Select(i => i.Id).Order());
        Assert.Null(await Store.FindInviteByCodeHashAsync(expiredLongAgo.CodeHash));
        Assert.NotNull(await Store.FindInviteByCodeHashAsync(otherTeams.CodeHash));
    }

    [Fact]
    public async Task RevokeInviteAsync_LiveInvite_RevokesOnce()
    {
        var alice = await AddUserAsync("alice");
        var team = await AddTeamAsync(alice, "Acme");
        var invite = await AddInviteAsync(team, alice, "code-1");

        Assert.True(await Store.RevokeInviteAsync(team.Id, invite.Id, T0.AddHours(1)));
        Assert.False(await Store.RevokeInviteAsync(team.Id, invite.Id, T0.AddHours(2)));

        Assert.Equal(T0.AddHours(1), (await Store.FindInviteByCodeHashAsync(Hash("code-1")))!.RevokedAt);
    }

    [Fact]
    public async Task RevokeInviteAsync_OtherTeamsInvite_ReturnsFalse()
    {
        var alice = await AddUserAsync("alice");
        var acme = await AddTeamAsync(alice, "Acme");
        var blue = await AddTeamAsync(alice, "Blue");
        var invite = await AddInviteAsync(acme, alice, "code-1");

        Assert.False(await Store.RevokeInviteAsync(blue.Id, invite.Id, T0.AddHours(1)));

        Assert.Null((await Store.FindInviteByCodeHashAsync(Hash("code-1")))!.RevokedAt);
    }

    protected async Task<TeamRecord> AddTeamAsync(UserRecord owner, string name)
    {
        var team = new TeamRecord(Guid.NewGuid(), name, owner.Id, T0);
        await Store.CreateTeamAsync(team);
        return team;
    }

    private async Task<UserRecord> AddMemberAsync(TeamRecord team, string username, string displayName)
    {
        var user = await AddUserAsync(username, displayName);
        Assert.True(await Store.AddTeamMemberAsync(team.Id, user.Id, TeamRole.Member, T0));
        return user;
    }

    private async Task<InviteRecord> AddInviteAsync(TeamRecord team, UserRecord creator, string code, DateTimeOffset? createdAt = null, Guid? id = null)
    {
        var time = createdAt ?? T0;
        var invite = new InviteRecord(id ?? Guid.NewGuid(), team.Id, Hash(code), creator.Id, time, time.AddDays(7), null);
        await Store.CreateInviteAsync(invite);
        return invite;
    }

    private static void AssertInvite(InviteRecord expected, InviteRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.CodeHash, actual.CodeHash);
        Assert.Equal(expected with { CodeHash = Array.Empty<byte>() }, actual with { CodeHash = Array.Empty<byte>() });
    }
}
