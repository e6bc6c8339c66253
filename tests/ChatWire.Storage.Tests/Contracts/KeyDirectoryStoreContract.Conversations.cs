using ChatWire.Storage.Directory;
using ChatWire.Storage.Keys;

namespace ChatWire.Storage.Tests.Contracts;

// Conversation key state as membership changes, rosters and sender-chain distributions.
public abstract partial class KeyDirectoryStoreContract
{
    [Fact]
    public async Task GetConversationKeyStateAsync_NeverChanged_EpochOneRosterOneHistory()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var direct = await AddDirectAsync(alice, bob);
        var unknown = Guid.NewGuid();

        Assert.Equal(new ConversationKeyState(direct.Id, 1, 1, E2eMode.History), await Keys.GetConversationKeyStateAsync(direct.Id));
        Assert.Equal(new ConversationKeyState(unknown, 1, 1, E2eMode.History), await Keys.GetConversationKeyStateAsync(unknown));
    }

    [Fact]
    public async Task SetConversationModeAsync_Change_BumpsEpochAndSameModeChangesNothing()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var direct = await AddDirectAsync(alice, bob);
        var strict = new ConversationKeyState(direct.Id, 2, 2, E2eMode.Strict);

        Assert.Equal(strict, await Keys.SetConversationModeAsync(direct.Id, E2eMode.Strict));
        Assert.Equal(strict, await Keys.SetConversationModeAsync(direct.Id, E2eMode.Strict));
        Assert.Equal(strict, await Keys.GetConversationKeyStateAsync(direct.Id));
        Assert.Equal(new ConversationKeyState(direct.Id, 3, 3, E2eMode.History), await Keys.SetConversationModeAsync(direct.Id, E2eMode.History));
    }

    [Fact]
    public async Task AddConversationMemberAsync_NewMember_BumpsRosterOnly()
    {
        var (alice, bob, _, team) = await AddTeamOfThreeAsync();
        var general = await AddChannelAsync(team, alice, "general", alice);

        Assert.True(await Directory.AddConversationMemberAsync(general.Id, bob.Id, T0));
        Assert.False(await Directory.AddConversationMemberAsync(general.Id, bob.Id, T0));

        Assert.Equal(new ConversationKeyState(general.Id, 1, 2, E2eMode.History), await Keys.GetConversationKeyStateAsync(general.Id));
    }

    [Fact]
    public async Task RemoveConversationMemberAsync_Member_BumpsEpochAndRoster()
    {
        var (alice, bob, _, team) = await AddTeamOfThreeAsync();
        var general = await AddChannelAsync(team, alice, "general", alice, bob);

        Assert.True(await Directory.RemoveConversationMemberAsync(general.Id, bob.Id));
        Assert.False(await Directory.RemoveConversationMemberAsync(general.Id, bob.Id));

        Assert.Equal(new ConversationKeyState(general.Id, 2, 2, E2eMode.History), await Keys.GetConversationKeyStateAsync(general.Id));
    }

    [Fact]
    public async Task RemoveTeamMemberAsync_Member_BumpsTheEpochOfTheTeamChannelsTheyLeaveOnly()
    {
        var (alice, bob, carol, team) = await AddTeamOfThreeAsync();
        var general = await AddChannelAsync(team, alice, "general", alice, bob, carol);
        var quiet = await AddChannelAsync(team, alice, "quiet", alice, carol);
        var direct = await AddDirectAsync(alice, bob);

        Assert.True(await Directory.RemoveTeamMemberAsync(team.Id, bob.Id));

        Assert.Equal(new ConversationKeyState(general.Id, 2, 2, E2eMode.History), await Keys.GetConversationKeyStateAsync(general.Id));
        Assert.Equal(new ConversationKeyState(quiet.Id, 1, 1, E2eMode.History), await Keys.GetConversationKeyStateAsync(quiet.Id));
        Assert.Equal(new ConversationKeyState(direct.Id, 1, 1, E2eMode.History), await Keys.GetConversationKeyStateAsync(direct.Id));
    }

    [Fact]
    public async Task DeleteTeamAsync_ChannelsWithDistributions_DeletesTheDistributionsWithTheChannels()
    {
        var (alice, bob, _, team) = await AddTeamOfThreeAsync();
        var general = await AddChannelAsync(team, alice, "general", alice, bob);
        var chain = Guid.NewGuid();
        await AppendAsync(general, chain, alice, Guid.NewGuid(), 1, HistoryEntry(bob, 1));

        Assert.True(await Directory.DeleteTeamAsync(team.Id));

        Assert.Null(await Keys.GetDistributionAsync(general.Id, chain));
        Assert.Empty(await Keys.ListKeyBundleEntriesAsync(general.Id, bob.Id, Guid.NewGuid(), 0, 10));
    }

    [Fact]
    public async Task GetDistributionRosterAsync_Members_CurrentHistoryGenerationsAndListedDevicesWithKeys()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var laptop = await AddDeviceAsync(alice, "laptop");
        var phone = await AddDeviceAsync(alice, "phone");
        await AddDeviceAsync(alice, "unlisted");
        await AddHistoryKeyAsync(alice, 1);
        await AddHistoryKeyAsync(alice, 2);
        Assert.True(await Keys.SetDeviceListAsync(DeviceList(alice, 1, phone, laptop)));
        var direct = await AddDirectAsync(alice, bob);
        await Keys.SetConversationModeAsync(direct.Id, E2eMode.Strict);

        var roster = await Keys.GetDistributionRosterAsync(direct.Id);

        Assert.Equal(await Keys.GetConversationKeyStateAsync(direct.Id), roster.State);
        var members = roster.Members.OrderBy(m => m.UserId == alice.Id ? 0 : 1).ToList();
        Assert.Equal([alice.Id, bob.Id], members.Select(m => m.UserId));
        Assert.Equal([2, null], members.Select(m => m.HistoryKeyGeneration));
        Assert.Equal([phone.DeviceId, laptop.DeviceId], members[0].ListedDevices);
        Assert.Empty(members[1].ListedDevices);
    }

    [Fact]
    public async Task AppendKeyBundleAsync_FirstUpload_CreatesTheDistribution()
    {
        var (alice, bob, carol, direct, sender) = await AddGroupAsync();
        var chain = Guid.NewGuid();

        Assert.Equal(KeyBundleAppendOutcome.Appended, await AppendAsync(direct, chain, alice, sender, 1, HistoryEntry(bob, 1), HistoryEntry(alice, 2)));
        Assert.Equal(KeyBundleAppendOutcome.Appended, await AppendAsync(direct, chain, alice, sender, 1, HistoryEntry(carol, 4)));

        var distribution = await Keys.GetDistributionAsync(direct.Id, chain);
        Assert.NotNull(distribution);
        Assert.Equal((direct.Id, chain, alice.Id, sender, 1L, E2eMode.History, 0L), (distribution.ConversationId, distribution.ChainId, distribution.SenderUserId, distribution.SenderDeviceId, distribution.Epoch, distribution.Mode, distribution.CompleteForRosterVersion));
        Assert.True(distribution.Recipients.SetEquals([new KeyRecipient(bob.Id, Guid.Empty, 1), new KeyRecipient(alice.Id, Guid.Empty, 2), new KeyRecipient(carol.Id, Guid.Empty, 4)]));
        Assert.Null(await Keys.GetDistributionAsync(direct.Id, Guid.NewGuid()));
    }

    [Fact]
    public async Task AppendKeyBundleAsync_ChainOfAnotherDeviceOrEpoch_ChainConflictAndNothingStored()
    {
        var (alice, bob, carol, direct, sender) = await AddGroupAsync();
        var chain = Guid.NewGuid();
        await AppendAsync(direct, chain, alice, sender, 1, HistoryEntry(bob, 1));

        Assert.Equal(KeyBundleAppendOutcome.ChainConflict, await AppendAsync(direct, chain, alice, Guid.NewGuid(), 1, HistoryEntry(carol, 1)));
        Assert.Equal(KeyBundleAppendOutcome.ChainConflict, await AppendAsync(direct, chain, alice, sender, 2, HistoryEntry(carol, 1)));
        Assert.Equal(KeyBundleAppendOutcome.ChainConflict, await AppendAsync(direct, chain, bob, sender, 1, HistoryEntry(carol, 1)));

        Assert.Equal([new KeyRecipient(bob.Id, Guid.Empty, 1)], (await Keys.GetDistributionAsync(direct.Id, chain))!.Recipients);
        Assert.Empty(await Keys.ListKeyBundleEntriesAsync(direct.Id, carol.Id, Guid.NewGuid(), 0, 10));
    }

    [Fact]
    public async Task AppendKeyBundleAsync_RecipientSealedToAgain_ReplacesTheEntryAtANewPosition()
    {
        var (alice, bob, carol, direct, sender) = await AddGroupAsync();
        var chain = Guid.NewGuid();
        await AppendAsync(direct, chain, alice, sender, 1, HistoryEntry(bob, 1), HistoryEntry(carol, 1));
        var first = Assert.Single(await Keys.ListKeyBundleEntriesAsync(direct.Id, bob.Id, Guid.NewGuid(), 0, 10));
        var again = HistoryEntry(bob, 1);

        await AppendAsync(direct, chain, alice, sender, 1, again);

        var replaced = Assert.Single(await Keys.ListKeyBundleEntriesAsync(direct.Id, bob.Id, Guid.NewGuid(), 0, 10));
        Assert.Equal(again.Sealed, replaced.Sealed);
        Assert.True(replaced.Position > first.Position);
        Assert.Equal(2, (await Keys.GetDistributionAsync(direct.Id, chain))!.Recipients.Count);
    }

    [Fact]
    public async Task MarkDistributionCompleteAsync_NewerThenOlderRoster_KeepsTheNewer()
    {
        var (alice, bob, _, direct, sender) = await AddGroupAsync();
        var chain = Guid.NewGuid();
        await AppendAsync(direct, chain, alice, sender, 1, HistoryEntry(bob, 1));

        await Keys.MarkDistributionCompleteAsync(direct.Id, chain, 5);
        await Keys.MarkDistributionCompleteAsync(direct.Id, chain, 4);

        Assert.Equal(5, (await Keys.GetDistributionAsync(direct.Id, chain))!.CompleteForRosterVersion);
    }

    [Fact]
    public async Task ListKeyBundleEntriesAsync_HistoryEntries_PagesTheUsersEntriesByPosition()
    {
        var (alice, bob, carol, direct, sender) = await AddGroupAsync();
        var sealedToBob = new List<byte[]>();
        for (var i = 0; i < 5; i++)
        {
            var entry = HistoryEntry(bob, 1);
            sealedToBob.Add(entry.Sealed);
            await AppendAsync(direct, Guid.NewGuid(), alice, sender, 1, entry, HistoryEntry(carol, 1));
        }

        var pages = new List<IReadOnlyList<StoredKeyBundleEntry>>();
        var after = 0L;
        for (var page = await Keys.ListKeyBundleEntriesAsync(direct.Id, bob.Id, Guid.NewGuid(), after, 2); page.Count > 0; page = await Keys.ListKeyBundleEntriesAsync(direct.Id, bob.Id, Guid.NewGuid(), after, 2))
        {
            pages.Add(page);
            after = page[^1].Position;
        }

        Assert.Equal([2, 2, 1], pages.Select(p => p.Count));
        var entries = pages.SelectMany(p => p).ToList();
        Assert.Equal(entries.Select(e => e.Position).Order(), entries.Select(e => e.Position));
        Assert.Equal(sealedToBob.Select(Convert.ToHexString), entries.Select(e => Convert.ToHexString(e.Sealed)));
        Assert.All(entries, e => Assert.Equal((direct.Id, alice.Id, sender, 1L, new KeyRecipient(bob.Id, Guid.Empty, 1), T0), (e.ConversationId, e.SenderUserId, e.SenderDeviceId, e.Epoch, e.Recipient, e.UploadedAt)));
    }

    [Fact]
    public async Task ListKeyBundleEntriesAsync_StrictEntries_OnlyTheRequestingDevices()
    {
        var (alice, bob, _, direct, sender) = await AddGroupAsync();
        var bobLaptop = Guid.NewGuid();
        var bobPhone = Guid.NewGuid();
        var chain = Guid.NewGuid();
        var toLaptop = new KeyBundleEntry(new KeyRecipient(bob.Id, bobLaptop, 0), Bytes(100));
        await Keys.SetConversationModeAsync(direct.Id, E2eMode.Strict);
        await Keys.AppendKeyBundleAsync(direct.Id, chain, alice.Id, sender, 2, E2eMode.Strict, [toLaptop, new KeyBundleEntry(new KeyRecipient(bob.Id, bobPhone, 0), Bytes(100))], T0);

        var laptopEntries = await Keys.ListKeyBundleEntriesAsync(direct.Id, bob.Id, bobLaptop, 0, 10);

        var entry = Assert.Single(laptopEntries);
        Assert.Equal((chain, 2L, toLaptop.Recipient), (entry.ChainId, entry.Epoch, entry.Recipient));
        Assert.Equal(toLaptop.Sealed, entry.Sealed);
        Assert.Single(await Keys.ListKeyBundleEntriesAsync(direct.Id, bob.Id, bobPhone, 0, 10));
        Assert.Empty(await Keys.ListKeyBundleEntriesAsync(direct.Id, bob.Id, Guid.NewGuid(), 0, 10));
        Assert.Empty(await Keys.ListKeyBundleEntriesAsync(direct.Id, alice.Id, bobLaptop, 0, 10));
        Assert.Empty(await Keys.ListKeyBundleEntriesAsync(direct.Id, bob.Id, bobLaptop, entry.Position, 10));
        Assert.Equal(E2eMode.Strict, (await Keys.GetDistributionAsync(direct.Id, chain))!.Mode);
    }

    private async Task<(UserRecord Alice, UserRecord Bob, UserRecord Carol, TeamRecord Team)> AddTeamOfThreeAsync()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var carol = await AddUserAsync("carol");
        var team = await AddTeamAsync(alice, "Acme");
        Assert.True(await Directory.AddTeamMemberAsync(team.Id, bob.Id, TeamRole.Member, T0));
        Assert.True(await Directory.AddTeamMemberAsync(team.Id, carol.Id, TeamRole.Member, T0));
        return (alice, bob, carol, team);
    }

    /// <summary>A group DM of alice, bob and carol, and a sender device id of alice's.</summary>
    private async Task<(UserRecord Alice, UserRecord Bob, UserRecord Carol, ConversationRecord Group, Guid Sender)> AddGroupAsync()
    {
        var alice = await AddUserAsync("alice");
        var bob = await AddUserAsync("bob");
        var carol = await AddUserAsync("carol");
        var group = new ConversationRecord(Guid.NewGuid(), ConversationKind.GroupMessage, null, null, Guid.NewGuid().ToString("N"), alice.Id, T0);
        await Directory.CreateConversationAsync(group, [alice.Id, bob.Id, carol.Id]);
        return (alice, bob, carol, group, Guid.NewGuid());
    }

    private Task<KeyBundleAppendOutcome> AppendAsync(ConversationRecord conversation, Guid chain, UserRecord sender, Guid senderDevice, long epoch, params KeyBundleEntry[] entries) =>
        Keys.AppendKeyBundleAsync(conversation.Id, chain, sender.Id, senderDevice, epoch, E2eMode.History, entries, T0);

    private static KeyBundleEntry HistoryEntry(UserRecord recipient, int generation) =>
        new(new KeyRecipient(recipient.Id, Guid.Empty, generation), Bytes(144));
}
