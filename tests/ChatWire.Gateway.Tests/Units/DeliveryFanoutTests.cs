using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Delivery;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Routing;
using ChatWire.Storage.Messages;
using Microsoft.Extensions.Logging.Abstractions;
using StorageKind = ChatWire.Storage.Messages.EventKind;

namespace ChatWire.Gateway.Tests.Units;

// The fan-out on fakes: delivery targets that record, an in-memory directory, the in-process bus (or one
// that subscribes slowly), and events put on the bus as the publisher puts them.
public sealed partial class DeliveryFanoutTests
{
    private readonly FakeDirectory _directory = new();
    private readonly Guid _alice = Guid.CreateVersion7();
    private readonly Guid _bob = Guid.CreateVersion7();

    [Fact]
    public async Task Event_EveryTargetOfEveryMember_GetsTheSameBytesOnce()
    {
        var bus = new InProcessMessageBus();
        var fanout = Fanout(bus);
        var dm = _directory.AddConversation(null, _alice, _bob);
        var targets = new[] { new RecordingTarget(_alice, Guid.CreateVersion7()), new RecordingTarget(_alice, Guid.CreateVersion7()), new RecordingTarget(_bob, Guid.CreateVersion7()) };
        foreach (var target in targets)
        {
            await fanout.RegisterAsync(target);
        }

        await PublishAsync(bus, fanout, Message(dm, 1));

        var frames = targets.Select(t => Assert.Single(t.Frames)).ToList();
        Assert.All(frames, f => Assert.Equal(frames[0], f));
        Assert.Equal(1ul, RecordingTarget.Decode(frames[0]).Seq);
        Assert.Equal(3, fanout.Subscriptions);
    }

    [Fact]
    public async Task Unregister_LastTargets_DropsEverySubscription()
    {
        var bus = new InProcessMessageBus();
        var fanout = Fanout(bus);
        var dm = _directory.AddConversation(null, _alice, _bob);
        var alice = new RecordingTarget(_alice, Guid.CreateVersion7());
        var bob = new RecordingTarget(_bob, Guid.CreateVersion7());
        await fanout.RegisterAsync(alice);
        await fanout.RegisterAsync(bob);

        fanout.Unregister(alice);
        await PublishAsync(bus, fanout, Message(dm, 1));
        fanout.Unregister(bob);

        Assert.Empty(alice.Frames);
        Assert.Single(bob.Frames);
        Assert.Equal(0, fanout.Subscriptions);
    }

    [Fact]
    public async Task DevicesComeAndGo_EventsReachExactlyTheTargetsRegisteredAtTheTime()
    {
        // A route holds one target in a field and a list from the second on, and goes back to the field at one.
        var bus = new InProcessMessageBus();
        var fanout = Fanout(bus);
        var dm = _directory.AddConversation(null, _alice, _bob);
        var phone = new RecordingTarget(_alice, Guid.CreateVersion7());
        var laptop = new RecordingTarget(_alice, Guid.CreateVersion7());
        var tablet = new RecordingTarget(_alice, Guid.CreateVersion7());
        await fanout.RegisterAsync(phone);
        await PublishAsync(bus, fanout, Message(dm, 1));
        await fanout.RegisterAsync(laptop);
        await fanout.RegisterAsync(tablet);
        await PublishAsync(bus, fanout, Message(dm, 2));
        fanout.Unregister(phone);
        fanout.Unregister(phone);
        await PublishAsync(bus, fanout, Message(dm, 3));
        fanout.Unregister(tablet);
        await PublishAsync(bus, fanout, Message(dm, 4));
        await fanout.RegisterAsync(phone);
        await PublishAsync(bus, fanout, Message(dm, 5));
        fanout.Unregister(laptop);
        fanout.Unregister(phone);
        await PublishAsync(bus, fanout, Message(dm, 6));

        Assert.Equal([1ul, 2, 5], phone.Seqs);
        Assert.Equal([2ul, 3, 4, 5], laptop.Seqs);
        Assert.Equal([2ul, 3], tablet.Seqs);
        Assert.Equal(0, fanout.Subscriptions);
    }

    [Fact]
    public async Task MemberJoined_SubjectGetsItOnceOnItsTopic_AndTheConversationFromThenOn()
    {
        var bus = new InProcessMessageBus();
        var fanout = Fanout(bus);
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice);
        var alice = new RecordingTarget(_alice, Guid.CreateVersion7());
        var bob = new RecordingTarget(_bob, Guid.CreateVersion7());
        await fanout.RegisterAsync(alice);
        await fanout.RegisterAsync(bob);

        await PublishAsync(bus, fanout, Message(channel, 1));
        await PublishAsync(bus, fanout, Membership(channel, 2, StorageKind.MemberJoined, _bob));
        await PublishAsync(bus, fanout, Message(channel, 3));

        Assert.Equal([1ul, 2ul, 3ul], alice.Seqs);
        Assert.Equal([2ul, 3ul], bob.Seqs);
    }

    [Fact]
    public async Task MemberLeft_SubjectGetsItOnceThenNothing_AndItsMembershipIsForgotten()
    {
        var bus = new InProcessMessageBus();
        var membership = new MembershipCache(_directory, TimeProvider.System, new NoMembershipBackplane());
        var fanout = Fanout(bus, membership: membership);
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);
        var alice = new RecordingTarget(_alice, Guid.CreateVersion7());
        var bob = new RecordingTarget(_bob, Guid.CreateVersion7());
        await fanout.RegisterAsync(alice);
        await fanout.RegisterAsync(bob);
        Assert.True(await membership.IsMemberAsync(channel, _bob, CancellationToken.None));
        var lookups = _directory.MembershipLookups;

        _directory.RemoveMember(channel, _bob);
        await PublishAsync(bus, fanout, Membership(channel, 1, StorageKind.MemberLeft, _bob));
        await PublishAsync(bus, fanout, Message(channel, 2));

        Assert.Equal([1ul, 2ul], alice.Seqs);
        Assert.Equal([1ul], bob.Seqs);
        Assert.False(await membership.IsMemberAsync(channel, _bob, CancellationToken.None));
        Assert.Equal(lookups + 1, _directory.MembershipLookups);
    }

    [Fact]
    public async Task Revocation_ClosesThatDeviceOnly()
    {
        var bus = new InProcessMessageBus();
        var fanout = Fanout(bus);
        var phone = new RecordingTarget(_alice, Guid.CreateVersion7());
        var desk = new RecordingTarget(_alice, Guid.CreateVersion7());
        await fanout.RegisterAsync(phone);
        await fanout.RegisterAsync(desk);

        await bus.PublishAsync(BusTopic.User(_alice), BusEnvelope.ForRevocation(phone.DeviceId));

        Assert.True(phone.Revoked);
        Assert.False(desk.Revoked);
    }

    [Fact]
    public async Task Register_EventsOnTheUserTopicWhileTheListLoads_AreReplayedInOrderAfterIt()
    {
        var bus = new InProcessMessageBus();
        var fanout = Fanout(bus);
        var first = _directory.AddConversation(null, _bob);
        var second = Guid.CreateVersion7();
        var bob = new RecordingTarget(_bob, Guid.CreateVersion7());
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _directory.MembershipGate = gate;

        var registering = fanout.RegisterAsync(bob);
        await WaitUntilAsync(() => fanout.Subscriptions == 1);
        await PublishAsync(bus, fanout, Membership(second, 1, StorageKind.MemberJoined, _bob));
        await PublishAsync(bus, fanout, Membership(first, 5, StorageKind.MemberLeft, _bob));
        Assert.Empty(bob.Frames);
        gate.SetResult();
        await registering;

        // The replay is written by the delivery lanes, after the registration returns.
        await fanout.DeliveredAsync();

        // Joined second, left first (in the list, but the leave came after): routed to second only.
        Assert.Equal([1ul, 5ul], bob.Seqs);
        await PublishAsync(bus, fanout, Message(first, 6));
        await PublishAsync(bus, fanout, Message(second, 2));
        Assert.Equal([1ul, 5ul, 2ul], bob.Seqs);
    }

    [Fact]
    public async Task Register_BusSubscribesSlowly_CompletesOnlyOnceSubscribed_NeverUnderTheFanoutLock()
    {
        var bus = new SlowBus();
        var fanout = Fanout(bus);
        var dm = _directory.AddConversation(null, _alice, _bob);
        var other = new RecordingTarget(_bob, Guid.CreateVersion7());

        // While it subscribes, the bus calls into the fan-out from another thread and waits for it: that
        // would deadlock if the fan-out held its lock around SubscribeAsync.
        bus.DuringSubscribe = () => Task.Run(() => fanout.Unregister(other)).Wait(TimeSpan.FromSeconds(5));
        var registering = fanout.RegisterAsync(new RecordingTarget(_alice, Guid.CreateVersion7()));
        Assert.False(registering.IsCompleted);
        bus.Open();
        await registering.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(new[] { BusTopic.User(_alice), BusTopic.Conversation(dm) }.ToHashSet(), bus.Subscribed.ToHashSet());
        Assert.True(bus.UnregisterReturned);
    }

    [Fact]
    public async Task LargeAudience_WrittenOnEveryLane_EachTargetStillGetsEveryEventInSeqOrder()
    {
        var bus = new InProcessMessageBus();
        var fanout = Fanout(bus);
        var users = Enumerable.Range(0, 40).Select(_ => Guid.CreateVersion7()).ToArray();
        var channel = _directory.AddConversation(Guid.CreateVersion7(), users);
        var targets = users.SelectMany(u => Enumerable.Range(0, 30).Select(_ => new RecordingTarget(u, Guid.CreateVersion7()))).ToList();
        foreach (var target in targets)
        {
            await fanout.RegisterAsync(target);
        }

        for (ulong seq = 1; seq <= 100; seq++)
        {
            var e = Message(channel, seq);
            await bus.PublishAsync(BusTopic.Conversation(channel), BusEnvelope.ForEvent(e, FrameCodec.ToArray(new EventFrame(EventMapping.ToProtocol(e)))));
        }

        await fanout.DeliveredAsync();
        Assert.All(targets, t => Assert.Equal(Enumerable.Range(1, 100).Select(n => (ulong)n), t.Seqs));
    }

    [Fact]
    public async Task BigConversation_KeptRecipientList_FollowsEveryTargetAndMemberChange()
    {
        // Enough targets that the conversation keeps its recipient list between events.
        var bus = new InProcessMessageBus();
        var fanout = Fanout(bus);
        var users = Enumerable.Range(0, DeliveryFanout.SharedRecipientsFrom).Select(_ => Guid.CreateVersion7()).ToArray();
        var channel = _directory.AddConversation(Guid.CreateVersion7(), [.. users, _bob]);
        var targets = users.Select(u => new RecordingTarget(u, Guid.CreateVersion7())).ToList();
        foreach (var target in targets)
        {
            await fanout.RegisterAsync(target);
        }

        await PublishAsync(bus, fanout, Message(channel, 1));
        await PublishAsync(bus, fanout, Message(channel, 2));

        // A second device of a member, and a member's first one.
        var second = new RecordingTarget(users[0], Guid.CreateVersion7());
        await fanout.RegisterAsync(second);
        var bob = new RecordingTarget(_bob, Guid.CreateVersion7());
        await fanout.RegisterAsync(bob);
        await PublishAsync(bus, fanout, Message(channel, 3));

        // A device goes (its user keeps another), then a member leaves.
        fanout.Unregister(targets[0]);
        await PublishAsync(bus, fanout, Message(channel, 4));
        _directory.RemoveMember(channel, users[1]);
        await PublishAsync(bus, fanout, Membership(channel, 5, StorageKind.MemberLeft, users[1]));
        await PublishAsync(bus, fanout, Message(channel, 6));

        Assert.Equal([1ul, 2ul, 3ul], targets[0].Seqs);
        Assert.Equal([3ul, 4ul, 5ul, 6ul], second.Seqs);
        Assert.Equal([3ul, 4ul, 5ul, 6ul], bob.Seqs);
        Assert.Equal([1ul, 2ul, 3ul, 4ul, 5ul], targets[1].Seqs);
        Assert.All(targets.Skip(2), t => Assert.Equal([1ul, 2ul, 3ul, 4ul, 5ul, 6ul], t.Seqs));
    }

    private DeliveryFanout Fanout(IMessageBus bus, MembershipCache? membership = null, FakeMessageStore? store = null, int lingerMs = 0, TimeProvider? time = null) =>
        new(
            bus,
            _directory,
            store ?? new FakeMessageStore(),
            membership ?? new MembershipCache(_directory, TimeProvider.System, new NoMembershipBackplane()),
            NullLogger<DeliveryFanout>.Instance,
            options: Microsoft.Extensions.Options.Options.Create(new Hosting.GatewayOptions { TopicLingerMs = lingerMs }),
            time: time);

    private StoredEvent Message(Guid conversation, ulong seq) =>
        new(conversation, Guid.CreateVersion7(), seq, StorageKind.Message, _alice, Guid.CreateVersion7(), DateTimeOffset.UnixEpoch, "text/plain", "hi"u8.ToArray());

    private StoredEvent Membership(Guid conversation, ulong seq, StorageKind kind, Guid subject) =>
        new(conversation, Guid.CreateVersion7(), seq, kind, _alice, Guid.CreateVersion7(), DateTimeOffset.UnixEpoch, string.Empty, Array.Empty<byte>(), subject);

    // As EventPublisher does: the EVENT frame once, on the conversation's topic, and on the subject's for a
    // membership change. Then waits until the fan-out's lanes have written what it routed.
    // What a node does once the bus is back after its own link was down: the newest events it had not dispatched go
    // to its targets. In a conversation it has dispatched in, those above its last seq (the newest 10: a device
    // fetches what lies before them); in one it has dispatched nothing in since its route was made, those stored
    // since then, not the older history its devices' SYNC covered. A second catch-up pushes nothing again.
    [Fact]
    public async Task CatchUp_PushesTheNewestEventsThisNodeMissed_AndOnlyThose()
    {
        var bus = new InProcessMessageBus();
        var store = new FakeMessageStore();
        var fanout = Fanout(bus, store: store);
        var dm = _directory.AddConversation(null, _alice, _bob);
        var quiet = _directory.AddConversation(Guid.CreateVersion7(), _alice);
        store.Add(Message(quiet, 1) with { StoredAt = DateTimeOffset.UtcNow.AddMinutes(-5) });
        var alice = new RecordingTarget(_alice, Guid.CreateVersion7());
        await fanout.RegisterAsync(alice);
        store.Add(Message(dm, 1));
        await PublishAsync(bus, fanout, store.Events[^1]);
        for (var seq = 2ul; seq <= 14; seq++)
        {
            store.Add(Message(dm, seq));
        }

        store.Add(Message(quiet, 2) with { StoredAt = DateTimeOffset.UtcNow });

        await fanout.CatchUpAsync();
        await fanout.DeliveredAsync();
        await fanout.CatchUpAsync();
        await fanout.DeliveredAsync();

        var received = alice.Frames.Select(RecordingTarget.Decode).ToList();
        Assert.Equal([1ul, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14], received.Where(e => e.ConversationId == dm).Select(e => e.Seq));
        Assert.Equal([2ul], received.Where(e => e.ConversationId == quiet).Select(e => e.Seq));
    }

    // The catch-up applies the membership changes it pushes, as the bus's own would be: bob, removed while this node
    // could not hear of it, gets his member_left as his last event, and nothing after it; alice gets everything.
    [Fact]
    public async Task CatchUp_AMemberLeftAmongTheMissedEvents_IsTheLeaversLastEvent()
    {
        var (bus, store, fanout, channel, alice, bob) = await ChannelOfAliceAndBobAsync();
        store.Add(Message(channel, 2));
        store.Add(Membership(channel, 3, StorageKind.MemberLeft, _bob));
        store.Add(Message(channel, 4));

        await fanout.CatchUpAsync();
        await fanout.DeliveredAsync();
        await PublishAsync(bus, fanout, Message(channel, 5));

        Assert.Equal([1ul, 2, 3, 4, 5], alice.Seqs);
        Assert.Equal([1ul, 2, 3], bob.Seqs);
    }

    // A removal older than what the catch-up reads (its member_left is not among the newest events, and the node never
    // heard of it): the route's users are checked against the directory's members first, so the removed member gets
    // nothing that followed it (a re-test had bob receive ten messages sent after his removal), only their own
    // member_left, looked for further back.
    [Fact]
    public async Task CatchUp_ARemovalOlderThanWhatIsRead_TheRemovedMemberGetsNothingAfterIt()
    {
        var (bus, store, fanout, channel, alice, bob) = await ChannelOfAliceAndBobAsync();
        store.Add(Membership(channel, 2, StorageKind.MemberLeft, _bob));
        _directory.RemoveMember(channel, _bob);
        for (var seq = 3ul; seq <= 3 + DeliveryFanout.CatchUpEvents; seq++)
        {
            store.Add(Message(channel, seq));
        }

        await fanout.CatchUpAsync();
        await fanout.DeliveredAsync();

        Assert.Equal([1ul, 2], bob.Seqs);
        Assert.Equal(DeliveryFanout.CatchUpEvents + 1, alice.Seqs.Count);
    }

    // A removal only the outage's re-read finds, of a user who was the conversation's only member on this node (so the
    // route goes with them, and the catch-up has nothing to push it through): their own member_left still reaches
    // their devices here, and nothing after it.
    [Fact]
    public async Task Reconcile_AMemberRemovedWhileTheBusWasAway_GetsTheirOwnMemberLeft_AndNothingAfter()
    {
        var (_, store, fanout, channel, bob) = await OnlyLocalMemberAsync(_bob);
        store.Add(Membership(channel, 2, StorageKind.MemberLeft, _bob));
        _directory.RemoveMember(channel, _bob);
        store.Add(Message(channel, 3));
        await fanout.ReconcileAsync();
        await fanout.DeliveredAsync();

        Assert.Equal([1ul, 2], bob.Seqs);
        Assert.Equal(1, fanout.Subscriptions);
    }

    // A conversation the outage's re-read adds to a connected user's route (they joined it while the bus was away)
    // gets its newest events pushed however old they are: the user's devices here never had them from a SYNC.
    [Fact]
    public async Task Reconcile_AConversationJoinedWhileTheBusWasAway_ItsNewestEventsArePushed()
    {
        var bus = new InProcessMessageBus();
        var store = new FakeMessageStore();
        var fanout = Fanout(bus, store: store);
        var bob = new RecordingTarget(_bob, Guid.CreateVersion7());
        await fanout.RegisterAsync(bob);
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);
        store.Add(Membership(channel, 1, StorageKind.MemberJoined, _bob) with { StoredAt = DateTimeOffset.UtcNow.AddMinutes(-2) });
        store.Add(Message(channel, 2) with { StoredAt = DateTimeOffset.UtcNow.AddMinutes(-1) });

        await fanout.ReconcileAsync();
        await fanout.DeliveredAsync();

        Assert.Equal([1ul, 2], bob.Seqs);
    }

    // A join into a conversation this node has no subscription for yet: the bus's call does not wait for the
    // subscription (it waited up to 5 s, holding up every delivery of the node, since the bus subscribes under the
    // lock it delivers under), and what the conversation stored before the subscription was in place, which no
    // publish brought here, is pushed from the store once it is.
    [Fact]
    public async Task MemberJoined_BeforeItsSubscriptionIsInPlace_WhatWasStoredMeanwhileIsPushedOnceItIs()
    {
        var bus = new GatedBus();
        var store = new FakeMessageStore();
        var fanout = Fanout(bus, store: store);
        var bob = new RecordingTarget(_bob, Guid.CreateVersion7());
        await fanout.RegisterAsync(bob);
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);

        var joined = Membership(channel, 2, StorageKind.MemberJoined, _bob);
        store.Add(Message(channel, 1));
        store.Add(joined);
        var payload = BusEnvelope.ForEvent(joined, FrameCodec.ToArray(new EventFrame(EventMapping.ToProtocol(joined))));
        await bus.PublishAsync(BusTopic.Conversation(channel), payload);
        await bus.PublishAsync(BusTopic.User(_bob), payload);
        store.Add(Message(channel, 3));
        store.Add(Message(channel, 4));
        bus.Open();

        await WaitUntilAsync(() => bob.Seqs.Count == 3);
        await fanout.DeliveredAsync();
        Assert.Equal([2ul, 3ul, 4ul], bob.Seqs);
    }

    // A channel of Alice and Bob in which only the given one is connected here, message 1 dispatched to them.
    private async Task<(InProcessMessageBus Bus, FakeMessageStore Store, DeliveryFanout Fanout, Guid Channel, RecordingTarget Member)> OnlyLocalMemberAsync(Guid user)
    {
        var bus = new InProcessMessageBus();
        var store = new FakeMessageStore();
        var fanout = Fanout(bus, store: store);
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);
        var member = new RecordingTarget(user, Guid.CreateVersion7());
        await fanout.RegisterAsync(member);
        store.Add(Message(channel, 1));
        await PublishAsync(bus, fanout, store.Events[^1]);
        return (bus, store, fanout, channel, member);
    }

    // A channel of alice and bob, each with a connection here, and its first message stored and delivered.
    private async Task<(InProcessMessageBus Bus, FakeMessageStore Store, DeliveryFanout Fanout, Guid Channel, RecordingTarget Alice, RecordingTarget Bob)> ChannelOfAliceAndBobAsync()
    {
        var bus = new InProcessMessageBus();
        var store = new FakeMessageStore();
        var fanout = Fanout(bus, store: store);
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);
        var alice = new RecordingTarget(_alice, Guid.CreateVersion7());
        var bob = new RecordingTarget(_bob, Guid.CreateVersion7());
        await fanout.RegisterAsync(alice);
        await fanout.RegisterAsync(bob);
        store.Add(Message(channel, 1));
        await PublishAsync(bus, fanout, store.Events[^1]);
        return (bus, store, fanout, channel, alice, bob);
    }

    private static async Task PublishAsync(InProcessMessageBus bus, DeliveryFanout fanout, StoredEvent e)
    {
        var frame = FrameCodec.ToArray(new EventFrame(EventMapping.ToProtocol(e)));
        var payload = BusEnvelope.ForEvent(e, frame);
        await bus.PublishAsync(BusTopic.Conversation(e.ConversationId), payload);
        if (e.SubjectId is { } subject)
        {
            await bus.PublishAsync(BusTopic.User(subject), payload);
        }

        await fanout.DeliveredAsync();
    }

    // The in-process bus, whose conversation subscriptions are in place only once the test opens them.
    private sealed class GatedBus : IMessageBus
    {
        private readonly InProcessMessageBus _inner = new();
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public event Action? Reconnected
        {
            add { }
            remove { }
        }

        public void Open() => _open.TrySetResult();

        public ValueTask PublishAsync(BusTopic topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
            _inner.PublishAsync(topic, payload, cancellationToken);

        public async ValueTask<IAsyncDisposable> SubscribeAsync(BusTopic topic, IBusSubscriber subscriber, CancellationToken cancellationToken = default)
        {
            if (topic.Kind == BusTopicKind.Conversation)
            {
                await _open.Task.WaitAsync(cancellationToken);
            }

            return await _inner.SubscribeAsync(topic, subscriber, cancellationToken);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(5, timeout.Token);
        }
    }

    // An in-process bus whose subscriptions complete only when the test opens them, like a network round trip.
    private sealed class SlowBus : IMessageBus
    {
        private readonly InProcessMessageBus _inner = new();
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<BusTopic> Subscribed { get; } = [];

        public event Action? Reconnected
        {
            add { }
            remove { }
        }

        // True when what it waited for finished in time.
        public Func<bool>? DuringSubscribe { get; set; }

        public bool UnregisterReturned { get; private set; }

        public void Open() => _open.TrySetResult();

        public ValueTask PublishAsync(BusTopic topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
            _inner.PublishAsync(topic, payload, cancellationToken);

        public async ValueTask<IAsyncDisposable> SubscribeAsync(BusTopic topic, IBusSubscriber subscriber, CancellationToken cancellationToken = default)
        {
            if (DuringSubscribe is { } during)
            {
                DuringSubscribe = null;
                UnregisterReturned = during();
            }

            await _open.Task;
            lock (Subscribed)
            {
                Subscribed.Add(topic);
            }

            return await _inner.SubscribeAsync(topic, subscriber, cancellationToken);
        }
    }
}
