using ChatWire.Gateway.Delivery;
using ChatWire.Routing;
using StorageKind = ChatWire.Storage.Messages.EventKind;

namespace ChatWire.Gateway.Tests.Units;

// Joins and leaves whose events reach the node out of order or not at all, on a bus that, like Redis, keeps each topic's
// order but not one publisher's across a conversation's topic and a user's.
public sealed partial class DeliveryFanoutTests
{
    // A re-join while the conversation's topic lingers (its subscription is in place, so nothing waits for it): a message
    // sent just after the join reaches the node on the conversation's topic before the join reaches it on the user's,
    // finds no route, and is dropped; the joiner's devices get it from the store once the join is applied.
    [Fact]
    public async Task JoinWhileTheTopicLingers_AMessageThatOvertookTheJoin_ReachesTheJoiner()
    {
        var bus = new CountingBus();
        var store = new FakeMessageStore();
        var fanout = Fanout(bus, store: store, lingerMs: 60_000, time: new ManualClock());
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);
        var alice = new RecordingTarget(_alice, Guid.CreateVersion7());
        await fanout.RegisterAsync(alice);
        store.Add(Membership(channel, 1, StorageKind.MemberLeft, _alice));
        _directory.RemoveMember(channel, _alice);
        await PublishAsync(bus.Inner, fanout, store.Events[^1]);
        Assert.Equal(1, fanout.LingeringSubscriptions);

        await JoinOvertakenByAMessageAsync(bus.Inner, fanout, store, channel, _alice, joinSeq: 2);
        await WaitUntilAsync(() => alice.Seqs.Contains(3ul));
        await PublishAsync(bus.Inner, fanout, Message(channel, 4));

        Assert.Equal([1ul, 2, 3, 4], alice.Seqs);
        Assert.Equal(2, bus.Subscribes);
    }

    // The same overtaking with another local member keeping the route: the message went to them, not to the joiner.
    [Fact]
    public async Task JoinIntoARouteOfAnotherLocalMember_AMessageThatOvertookTheJoin_ReachesTheJoiner()
    {
        var bus = new CountingBus();
        var store = new FakeMessageStore();
        var fanout = Fanout(bus, store: store);
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _bob);
        var alice = new RecordingTarget(_alice, Guid.CreateVersion7());
        var bob = new RecordingTarget(_bob, Guid.CreateVersion7());
        await fanout.RegisterAsync(alice);
        await fanout.RegisterAsync(bob);

        await JoinOvertakenByAMessageAsync(bus.Inner, fanout, store, channel, _alice, joinSeq: 1);
        await WaitUntilAsync(() => alice.Seqs.Contains(2ul));
        await fanout.DeliveredAsync();

        Assert.Equal([1ul, 2], alice.Seqs);
        Assert.Equal([2ul, 1], bob.Seqs);
    }

    // After an outage in which the node's only member of a conversation left it and joined it again: the leave among
    // the events the catch-up pushes takes the route, and the join after it brings it back, so the member gets their
    // leave, their join and what followed, and the conversation's live events after that.
    [Fact]
    public async Task CatchUp_TheOnlyLocalMemberLeftAndJoinedAgain_KeepsTheConversation()
    {
        var (bus, store, fanout, channel, alice) = await OnlyLocalMemberAsync(_alice);
        store.Add(Membership(channel, 2, StorageKind.MemberLeft, _alice));
        store.Add(Membership(channel, 3, StorageKind.MemberJoined, _alice));
        store.Add(Message(channel, 4));
        await fanout.CatchUpAsync();
        await fanout.DeliveredAsync();
        await PublishAsync(bus, fanout, Message(channel, 5));

        Assert.Equal([1ul, 2, 3, 4, 5], alice.Seqs);
    }

    // A removal only the outage's re-read finds, with another local member keeping the route: the removed member gets
    // their member_left once (from the re-read), not again from the catch-up that pushes it to the other member.
    [Fact]
    public async Task Reconcile_ARemovalTheReReadFinds_TheLeaveReachesTheRemovedMemberOnce()
    {
        var (_, store, fanout, channel, alice, bob) = await ChannelOfAliceAndBobAsync();
        store.Add(Membership(channel, 2, StorageKind.MemberLeft, _bob));
        _directory.RemoveMember(channel, _bob);
        store.Add(Message(channel, 3));

        await fanout.ReconcileAsync();
        await fanout.DeliveredAsync();

        Assert.Equal([1ul, 2], bob.Seqs);
        Assert.Equal([1ul, 2, 3], alice.Seqs);
    }

    // The user's join and a message right after it, stored in that order and published the other way round, as Redis may
    // hand them over: the message on the conversation's topic before the join on the user's.
    private async Task JoinOvertakenByAMessageAsync(InProcessMessageBus bus, DeliveryFanout fanout, FakeMessageStore store, Guid channel, Guid user, ulong joinSeq)
    {
        store.Add(Membership(channel, joinSeq, StorageKind.MemberJoined, user));
        _directory.AddMember(channel, user);
        store.Add(Message(channel, joinSeq + 1));
        await PublishAsync(bus, fanout, store.Events[^1]);
        await PublishAsync(bus, fanout, store.Events[^2]);
    }
}
