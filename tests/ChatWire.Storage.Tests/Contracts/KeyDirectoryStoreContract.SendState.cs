using ChatWire.Storage.Directory;
using ChatWire.Storage.Keys;

namespace ChatWire.Storage.Tests.Contracts;

// GetSendStateAsync, which adapters answer with one read: always the same as the key state and the distribution's
// head read separately (the interface's default), and as the values the scenario must give.
public abstract partial class KeyDirectoryStoreContract
{
    [Fact]
    public async Task GetSendStateAsync_NoDistribution_StateAndNullHead()
    {
        var (_, _, _, group, _) = await AddGroupAsync();

        await AssertSendStateAsync(group.Id, Guid.NewGuid(), new ConversationKeyState(group.Id, 1, 1, E2eMode.History), null);
    }

    [Fact]
    public async Task GetSendStateAsync_Distribution_StateAndHeadWithoutRecipients()
    {
        var (alice, bob, carol, group, sender) = await AddGroupAsync();
        await Keys.SetConversationModeAsync(group.Id, E2eMode.Strict);
        var chain = Guid.NewGuid();
        await AppendAsync(group, chain, alice, sender, 2, HistoryEntry(bob, 1), HistoryEntry(carol, 3));

        await AssertSendStateAsync(group.Id, chain, new ConversationKeyState(group.Id, 2, 2, E2eMode.Strict), new DistributionHead(chain, alice.Id, sender, 2, 0));
    }

    [Fact]
    public async Task GetSendStateAsync_AfterMarkDistributionComplete_HeadCompleteForThatRoster()
    {
        var (alice, bob, _, group, sender) = await AddGroupAsync();
        var chain = Guid.NewGuid();
        await AppendAsync(group, chain, alice, sender, 1, HistoryEntry(bob, 1));

        await Keys.MarkDistributionCompleteAsync(group.Id, chain, 1);

        await AssertSendStateAsync(group.Id, chain, new ConversationKeyState(group.Id, 1, 1, E2eMode.History), new DistributionHead(chain, alice.Id, sender, 1, 1));
    }

    [Fact]
    public async Task GetSendStateAsync_MemberRemoved_NewEpochAndTheHeadOfTheOldOne()
    {
        var (alice, bob, carol, team) = await AddTeamOfThreeAsync();
        var general = await AddChannelAsync(team, alice, "general", alice, bob, carol);
        var sender = Guid.NewGuid();
        var chain = Guid.NewGuid();
        await AppendAsync(general, chain, alice, sender, 1, HistoryEntry(bob, 1), HistoryEntry(carol, 1));
        await Keys.MarkDistributionCompleteAsync(general.Id, chain, 1);

        Assert.True(await Directory.RemoveConversationMemberAsync(general.Id, carol.Id));

        await AssertSendStateAsync(general.Id, chain, new ConversationKeyState(general.Id, 2, 2, E2eMode.History), new DistributionHead(chain, alice.Id, sender, 1, 1));
    }

    [Fact]
    public async Task GetSendStateAsync_ChainOfAnotherConversation_ThisConversationsStateAndNullHead()
    {
        var (alice, bob, carol, group, sender) = await AddGroupAsync();
        var other = new ConversationRecord(Guid.NewGuid(), ConversationKind.GroupMessage, null, null, Guid.NewGuid().ToString("N"), alice.Id, T0);
        await Directory.CreateConversationAsync(other, [alice.Id, bob.Id, carol.Id]);
        await Keys.SetConversationModeAsync(other.Id, E2eMode.Strict);
        var chain = Guid.NewGuid();
        await AppendAsync(group, chain, alice, sender, 1, HistoryEntry(bob, 1));

        await AssertSendStateAsync(other.Id, chain, new ConversationKeyState(other.Id, 2, 2, E2eMode.Strict), null);
    }

    [Fact]
    public async Task GetSendStateAsync_UnknownConversation_InitialStateAndNullHead()
    {
        var (alice, bob, _, group, sender) = await AddGroupAsync();
        var chain = Guid.NewGuid();
        await AppendAsync(group, chain, alice, sender, 1, HistoryEntry(bob, 1));
        var unknown = Guid.NewGuid();

        await AssertSendStateAsync(unknown, chain, new ConversationKeyState(unknown, 1, 1, E2eMode.History), null);
        await AssertSendStateAsync(unknown, Guid.NewGuid(), new ConversationKeyState(unknown, 1, 1, E2eMode.History), null);
    }

    /// <summary>
    /// The send state equals the key state and the distribution's head read separately (what the interface's default
    /// answers), and the values the scenario gives (so that two equally wrong reads cannot pass).
    /// </summary>
    private async Task AssertSendStateAsync(Guid conversationId, Guid chainId, ConversationKeyState expectedState, DistributionHead? expectedHead)
    {
        var sendState = await Keys.GetSendStateAsync(conversationId, chainId);

        var state = await Keys.GetConversationKeyStateAsync(conversationId);
        var distribution = await Keys.GetDistributionAsync(conversationId, chainId);
        var head = distribution is null
            ? null
            : new DistributionHead(distribution.ChainId, distribution.SenderUserId, distribution.SenderDeviceId, distribution.Epoch, distribution.CompleteForRosterVersion);
        Assert.Equal((state, head), sendState);
        Assert.Equal((expectedState, expectedHead), sendState);
    }
}
