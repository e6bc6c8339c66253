using System.Threading.Channels;
using ChatWire.Client.Internal;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client.Tests;

// The SDK's per-conversation watermark (docs/protocol.md §4.10, "What a client does"), without a server.
public sealed class ConversationStreamsTests
{
    private static readonly Guid Conversation = Guid.CreateVersion7();
    private static readonly Guid Other = Guid.CreateVersion7();
    private static readonly Guid Me = Guid.Parse("0190a0b2-0000-7000-8000-0000000000e1");

    private readonly Channel<ChatWireEvent> _events = Channel.CreateUnbounded<ChatWireEvent>();

    [Fact]
    public void OnLive_NextSeq_EmittedAndDuplicatesDropped()
    {
        var streams = Streams();
        streams.Start(Conversation, 4);

        Assert.False(streams.OnLive(Messages.Text(Conversation, 5)));
        Assert.False(streams.OnLive(Messages.Text(Conversation, 5)));
        streams.OnFetched(Messages.Text(Conversation, 4));

        Assert.Equal([5UL], Seqs());
        Assert.Equal(5UL, streams.Watermark(Conversation));
    }

    // Regression: the SDK's cursor was the highest seq seen, so N+1 arriving before N and a drop lost N.
    [Fact]
    public void OnLive_NPlusOneBeforeN_ThenTheLinkDrops_NIsFetchedOnReconnectAndBothComeOutInOrder()
    {
        var streams = Streams();
        streams.Start(Conversation, 9);

        // 11 arrives first: held, and a fill is wanted.
        Assert.True(streams.OnLive(Messages.Text(Conversation, 11)));
        Assert.True(streams.TryBeginFill(Conversation, target: 0, out var from));
        Assert.Equal(9UL, from);
        Assert.Empty(Seqs());

        // The link drops before the fill's page arrives; what is held stays held.
        streams.AbandonFill(Conversation, notAMember: false);
        Assert.Equal(9UL, streams.Watermark(Conversation));
        Assert.Equal(1, streams.HeldCount);

        // The next link's catch-up (SYNC says the conversation is at 12) fetches from the watermark.
        Assert.True(streams.TryBeginFill(Conversation, target: 12, out from));
        Assert.Equal(9UL, from);
        foreach (var seq in new ulong[] { 10, 11, 12 })
        {
            streams.OnFetched(Messages.Text(Conversation, seq));
        }

        Assert.False(streams.ContinueFill(Conversation, pageWasEmpty: false, out _));
        Assert.Equal([10UL, 11UL, 12UL], Seqs());
        Assert.Equal(0, streams.HeldCount);
    }

    [Fact]
    public void OnLive_GapWhileAFillRuns_HeldWithoutASecondFill()
    {
        var streams = Streams();
        streams.Start(Conversation, 0);
        Assert.True(streams.OnLive(Messages.Text(Conversation, 3)));
        Assert.True(streams.TryBeginFill(Conversation, 0, out _));

        Assert.False(streams.OnLive(Messages.Text(Conversation, 5)));
        Assert.False(streams.TryBeginFill(Conversation, 0, out _));
        streams.OnFetched(Messages.Text(Conversation, 1));
        streams.OnFetched(Messages.Text(Conversation, 2));
        Assert.True(streams.ContinueFill(Conversation, pageWasEmpty: false, out var from));
        streams.OnFetched(Messages.Text(Conversation, 4));

        Assert.False(streams.ContinueFill(Conversation, pageWasEmpty: false, out _));

        // After 1 and 2 the held 3 came out too: the next page starts after it.
        Assert.Equal(3UL, from);
        Assert.Equal([1UL, 2UL, 3UL, 4UL, 5UL], Seqs());
    }

    [Fact]
    public void ContinueFill_ServerHasNothingInTheGap_HeldEventsComeOutRatherThanWaitForever()
    {
        var streams = Streams();
        streams.Start(Conversation, 0);
        streams.OnLive(Messages.Text(Conversation, 3));
        streams.TryBeginFill(Conversation, 0, out _);

        Assert.False(streams.ContinueFill(Conversation, pageWasEmpty: true, out _));

        Assert.Equal([3UL], Seqs());
    }

    [Fact]
    public void AbandonFill_NotAMember_HeldComeOutThenConversationLeft()
    {
        var streams = StartedAt(0);
        streams.OnLive(Messages.Text(Conversation, 2));
        streams.TryBeginFill(Conversation, 0, out _);

        streams.AbandonFill(Conversation, notAMember: true);

        var events = Drain();
        Assert.Equal(2, events.Count);
        Assert.Equal(2UL, Assert.IsType<MessageReceived>(events[0]).Message.Seq);
        Assert.Equal(Conversation, Assert.IsType<ConversationLeft>(events[1]).ConversationId);
        Assert.Empty(streams.Snapshot());
    }

    // With several nodes, my MEMBER_JOINED may be pushed before a fill asked while I was out is refused: as a
    // member again I may read the gap, so it is asked for once more, and what it holds comes out in order.
    [Fact]
    public void AbandonFill_NotAMember_MyJoinHeldBehindTheGap_TheGapIsFilledAgain()
    {
        var streams = StartedAt(4);
        Assert.True(streams.OnLive(Membership(Conversation, 7, EventKind.MemberJoined, Me)));
        Assert.True(streams.TryBeginFill(Conversation, 0, out _, out var generation));

        Assert.True(streams.AbandonFill(Conversation, notAMember: true, generation));
        Assert.Empty(Drain());
        Assert.True(streams.TryBeginFill(Conversation, 0, out var from));
        Assert.Equal(4UL, from);
        streams.OnFetched(Messages.Text(Conversation, 5));
        streams.OnFetched(Membership(Conversation, 6, EventKind.MemberLeft, Me));
        Assert.False(streams.ContinueFill(Conversation, pageWasEmpty: false, out _));
        Assert.False(streams.OnLive(Messages.Text(Conversation, 8)));

        var events = Drain();
        Assert.Equal([5UL, 6UL, 7UL, 8UL], events.Select(e => e.Stored!.Value.Seq));
        Assert.True(Assert.IsType<MembershipChanged>(events[2]).Joined);
        Assert.Equal(8UL, streams.Snapshot()[Conversation]);
    }

    // Refused a second time: what is held comes out as it is, and with my join last the stream goes on.
    [Fact]
    public void AbandonFill_NotAMember_Twice_WithMyJoinHeld_HeldComeOutAndTheStreamGoesOn()
    {
        var streams = StartedAt(4);
        Assert.True(streams.OnLive(Membership(Conversation, 7, EventKind.MemberJoined, Me)));
        Assert.True(streams.TryBeginFill(Conversation, 0, out _, out var generation));
        Assert.True(streams.AbandonFill(Conversation, notAMember: true, generation));
        Assert.True(streams.TryBeginFill(Conversation, 0, out _, out generation));

        Assert.False(streams.AbandonFill(Conversation, notAMember: true, generation));

        Assert.True(Assert.IsType<MembershipChanged>(Assert.Single(Drain())).Joined);
        Assert.Equal(7UL, streams.Snapshot()[Conversation]);
    }

    // A fill asked before my own leave came out is refused after I joined again (the stream started afresh):
    // that refusal is about the old stream, so the new one goes on and its gap is filled.
    [Fact]
    public void AbandonFill_NotAMember_ForTheStreamBeforeARejoin_NoConversationLeft()
    {
        var streams = StartedAt(4);
        Assert.True(streams.OnLive(Messages.Text(Conversation, 6)));
        Assert.True(streams.TryBeginFill(Conversation, 0, out _, out var generation));
        streams.OnLive(Membership(Conversation, 7, EventKind.MemberLeft, Me));
        streams.OnLive(Messages.Text(Conversation, 5));
        Assert.Equal(3, Drain().Count);
        Assert.False(streams.OnLive(Membership(Conversation, 9, EventKind.MemberJoined, Me)));
        Drain();

        Assert.True(streams.AbandonFill(Conversation, notAMember: true, generation));

        Assert.Empty(Drain());
        Assert.Equal(9UL, streams.Snapshot()[Conversation]);
    }

    [Fact]
    public void OnLive_ConversationNeverSeen_StartsAtThatEvent()
    {
        var streams = Streams();
        var joined = Messages.Text(Other, 7) with { Kind = EventKind.MemberJoined, SubjectId = Messages.SenderId, ContentType = string.Empty, Content = Array.Empty<byte>() };

        Assert.False(streams.OnLive(joined));
        Assert.False(streams.OnLive(Messages.Text(Other, 8)));

        var events = Drain();
        var membership = Assert.IsType<MembershipChanged>(events[0]);
        Assert.Equal((Other, Messages.SenderId, true), (membership.ConversationId, membership.UserId, membership.Joined));
        Assert.Equal(8UL, Assert.IsType<MessageReceived>(events[1]).Message.Seq);
    }

    // Regression: a device resuming from its cursor (3) got event 5 pushed live before its SYNC answer; the
    // stream started at 5 and 4 was never delivered.
    [Fact]
    public void OnLive_BeforeTheSyncAnswer_HeldUntilStart_ThenTheGapIsFilledFromTheStart()
    {
        var streams = Streams();
        streams.BeginCatchUp(Me);

        Assert.False(streams.OnLive(Messages.Text(Conversation, 5)));
        Assert.False(streams.OnLive(Messages.Text(Conversation, 3)));
        Assert.Empty(Seqs());
        Assert.Null(streams.Watermark(Conversation));
        Assert.Empty(streams.Snapshot());

        Assert.True(streams.Start(Conversation, 3));
        Assert.Empty(streams.EndCatchUp());
        Assert.True(streams.TryBeginFill(Conversation, target: 5, out var from));
        Assert.Equal(3UL, from);
        streams.OnFetched(Messages.Text(Conversation, 4));
        streams.OnFetched(Messages.Text(Conversation, 5));

        Assert.False(streams.ContinueFill(Conversation, pageWasEmpty: false, out _));
        Assert.Equal([4UL, 5UL], Seqs());
        Assert.Equal(0, streams.HeldCount);
    }

    [Fact]
    public void OnLive_BeforeTheSyncAnswer_NextAfterTheStart_ComesOutAtStart()
    {
        var streams = Streams();
        streams.BeginCatchUp(Me);

        streams.OnLive(Messages.Text(Conversation, 8));
        streams.Start(Conversation, 7);

        Assert.Equal([8UL], Seqs());
        Assert.Equal(8UL, streams.Watermark(Conversation));
    }

    [Fact]
    public void EndCatchUp_ConversationSyncDidNotList_StartsAtItsFirstLiveEvent()
    {
        var streams = Streams();
        streams.BeginCatchUp(Me);
        var joined = Messages.Text(Other, 7) with { Kind = EventKind.MemberJoined, SubjectId = Messages.SenderId, ContentType = string.Empty, Content = Array.Empty<byte>() };

        streams.OnLive(joined);
        streams.OnLive(Messages.Text(Other, 9));
        Assert.Empty(Drain());

        Assert.Equal([Other], streams.EndCatchUp());
        Assert.IsType<MembershipChanged>(Assert.Single(Drain()));
        Assert.True(streams.TryBeginFill(Other, target: 0, out var from));
        Assert.Equal(7UL, from);

        // After the catch-up, a conversation never seen starts at its event at once.
        Assert.False(streams.OnLive(Messages.Text(Conversation, 30)));
        Assert.Equal([30UL], Seqs());
    }

    [Fact]
    public void Emit_UnknownKind_MovesTheWatermarkButIsNotSurfaced()
    {
        var streams = Streams();
        streams.Start(Conversation, 0);

        streams.OnLive(Messages.Text(Conversation, 1) with { Kind = (EventKind)77 });
        streams.OnLive(Messages.Text(Conversation, 2));

        Assert.Equal([2UL], Seqs());
        Assert.Equal(2UL, streams.Watermark(Conversation));
    }

    [Fact]
    public void TryBeginFill_NothingMissing_NoFill()
    {
        var streams = Streams();
        streams.Start(Conversation, 5);

        Assert.False(streams.TryBeginFill(Conversation, target: 5, out _));
        Assert.True(streams.TryBeginFill(Conversation, target: 6, out var from));
        Assert.Equal(5UL, from);
    }

    [Fact]
    public void Resume_WatermarksGiven_StartThere()
    {
        var streams = new ConversationStreams(_events.Writer, new Dictionary<Guid, ulong> { [Conversation] = 41 });

        Assert.False(streams.Start(Conversation, 99));
        Assert.Equal(41UL, streams.Watermark(Conversation));
        Assert.Equal(41UL, streams.Snapshot()[Conversation]);
    }

    [Fact]
    public void EndMembership_AConversationSyncNoLongerLists_HeldEventsThenOneConversationLeft_AndOutOfTheSnapshot()
    {
        var streams = Streams();
        streams.BeginCatchUp(Me);
        streams.Start(Conversation, 4);
        streams.Start(Other, 9);
        streams.EndCatchUp();

        // 11 came before its link dropped, held behind a gap; the next link's SYNC no longer lists Other.
        Assert.True(streams.OnLive(Messages.Text(Other, 11)));
        streams.BeginCatchUp(Me);
        streams.EndMembership(new HashSet<Guid> { Conversation });
        streams.EndCatchUp();

        var events = Drain();
        Assert.Equal(2, events.Count);
        Assert.Equal(11UL, Assert.IsType<MessageReceived>(events[0]).Message.Seq);
        Assert.Equal(Other, Assert.IsType<ConversationLeft>(events[1]).ConversationId);
        Assert.Equal([Conversation], streams.Snapshot().Keys);

        // The next reconnect's SYNC does not list it either: said once.
        streams.BeginCatchUp(Me);
        streams.EndMembership(new HashSet<Guid> { Conversation });
        Assert.Empty(Drain());
    }

    [Fact]
    public void MyOwnLeave_ComesAsMembershipChangedOnly_ItsDuplicateIsDropped_AndAJoinLaterStartsAfresh()
    {
        var streams = StartedAt(4);

        Assert.False(streams.OnLive(Membership(Conversation, 5, EventKind.MemberLeft, Me)));
        Assert.False(streams.OnLive(Membership(Conversation, 5, EventKind.MemberLeft, Me)));
        Assert.False(Assert.IsType<MembershipChanged>(Assert.Single(Drain())).Joined);
        Assert.Empty(streams.Snapshot());

        streams.BeginCatchUp(Me);
        streams.EndMembership(new HashSet<Guid>());
        streams.EndCatchUp();
        Assert.Empty(Drain());

        // Added again while connected: the conversation starts at my join, not after a fill from seq 5.
        Assert.False(streams.OnLive(Membership(Conversation, 9, EventKind.MemberJoined, Me)));
        var joined = Assert.IsType<MembershipChanged>(Assert.Single(Drain()));
        Assert.Equal((9UL, true), (joined.Event.Seq, joined.Joined));
        Assert.Equal(9UL, streams.Watermark(Conversation));
    }

    [Fact]
    public void EndMembership_MyOwnLeaveHeldBehindAGap_ComesOutAsMembershipChanged_WithoutAConversationLeft()
    {
        var streams = StartedAt(4);

        // Held behind a gap when its link dropped; the next link's SYNC no longer lists the conversation.
        Assert.True(streams.OnLive(Membership(Conversation, 6, EventKind.MemberLeft, Me)));
        streams.BeginCatchUp(Me);
        streams.EndMembership(new HashSet<Guid>());

        Assert.False(Assert.IsType<MembershipChanged>(Assert.Single(Drain())).Joined);
        Assert.Empty(streams.Snapshot());
    }

    // Removed while away and added again after the SYNC was read: the SYNC does not list it, but my join
    // arrives live during the catch-up, and the conversation goes on.
    [Fact]
    public void EndMembership_AnEventArrivedDuringTheCatchUp_NoConversationLeft()
    {
        var streams = StartedAt(4);

        streams.BeginCatchUp(Me);
        Assert.True(streams.OnLive(Membership(Conversation, 7, EventKind.MemberJoined, Me)));
        streams.EndMembership(new HashSet<Guid>());
        streams.EndCatchUp();
        Assert.Empty(Drain());

        // The fill reads what was missed (5, my leave at 6), then my join comes out.
        Assert.True(streams.TryBeginFill(Conversation, 0, out var from));
        Assert.Equal(4UL, from);
        streams.OnFetched(Messages.Text(Conversation, 5));
        streams.OnFetched(Membership(Conversation, 6, EventKind.MemberLeft, Me));
        Assert.False(streams.ContinueFill(Conversation, pageWasEmpty: false, out _));

        var events = Drain();
        Assert.Equal(3, events.Count);
        Assert.IsType<MessageReceived>(events[0]);
        Assert.False(Assert.IsType<MembershipChanged>(events[1]).Joined);
        Assert.True(Assert.IsType<MembershipChanged>(events[2]).Joined);
        Assert.Equal(7UL, streams.Snapshot()[Conversation]);
    }

    // I left at 10 and was added again while away; the reconnect's SYNC starts the conversation at its
    // newest events less the backlog, below 10: what came out before the leave does not come out again.
    [Fact]
    public void LeftThenJoinedAgainWhileAway_TheSyncStartsBelowTheOldWatermark_NothingComesOutTwice()
    {
        var streams = StartedAt(8);
        streams.OnLive(Messages.Text(Conversation, 9));
        streams.OnLive(Membership(Conversation, 10, EventKind.MemberLeft, Me));
        Assert.Equal(2, Drain().Count);

        streams.BeginCatchUp(Me);
        Assert.True(streams.Start(Conversation, 5));
        streams.EndMembership(new HashSet<Guid> { Conversation });
        streams.EndCatchUp();

        Assert.Equal(10UL, streams.Watermark(Conversation));
        Assert.True(streams.TryBeginFill(Conversation, 12, out var from));
        Assert.Equal(10UL, from);
        foreach (var seq in new ulong[] { 9, 10, 11, 12 })
        {
            streams.OnFetched(seq == 11 ? Membership(Conversation, seq, EventKind.MemberJoined, Me) : Messages.Text(Conversation, seq));
        }

        Assert.False(streams.ContinueFill(Conversation, pageWasEmpty: false, out _));
        var events = Drain();
        Assert.Equal(2, events.Count);
        Assert.True(Assert.IsType<MembershipChanged>(events[0]).Joined);
        Assert.Equal(12UL, Assert.IsType<MessageReceived>(events[1]).Message.Seq);
    }

    // The same, with my join pushed during the catch-up, before the SYNC answer starts the conversation.
    [Fact]
    public void LeftThenJoinedAgain_JoinArrivesDuringTheCatchUp_StartsNoLowerThanTheOldWatermark()
    {
        var streams = StartedAt(9);
        streams.OnLive(Membership(Conversation, 10, EventKind.MemberLeft, Me));
        Drain();

        streams.BeginCatchUp(Me);
        Assert.False(streams.OnLive(Membership(Conversation, 12, EventKind.MemberJoined, Me)));
        Assert.True(streams.Start(Conversation, 3));
        streams.EndMembership(new HashSet<Guid> { Conversation });
        streams.EndCatchUp();

        Assert.Equal(10UL, streams.Watermark(Conversation));
        Assert.True(streams.TryBeginFill(Conversation, 12, out var from));
        Assert.Equal(10UL, from);
    }

    // A fill asked before my own leave came out answers after it: what it fetched is not put through.
    [Fact]
    public void OnFetched_AfterMyOwnLeaveCameOut_DroppedAndTheFillStops()
    {
        var streams = StartedAt(4);
        Assert.True(streams.OnLive(Messages.Text(Conversation, 6)));
        Assert.True(streams.TryBeginFill(Conversation, 0, out _));

        // Out of order across nodes: my leave at 7 is held, then 5 arrives live and everything comes out.
        streams.OnLive(Membership(Conversation, 7, EventKind.MemberLeft, Me));
        streams.OnLive(Messages.Text(Conversation, 5));
        Assert.Equal(3, Drain().Count);

        streams.OnFetched(Messages.Text(Conversation, 8));
        Assert.False(streams.ContinueFill(Conversation, pageWasEmpty: false, out _));
        Assert.Empty(Drain());
        Assert.Empty(streams.Snapshot());
    }

    [Fact]
    public void SomeoneElsesLeave_KeepsTheConversation()
    {
        var streams = StartedAt(4);

        streams.OnLive(Membership(Conversation, 5, EventKind.MemberLeft, Messages.SenderId));
        streams.BeginCatchUp(Me);
        streams.EndMembership(new HashSet<Guid> { Conversation });

        Assert.IsType<MembershipChanged>(Assert.Single(Drain()));
        Assert.Equal(5UL, streams.Snapshot()[Conversation]);
    }

    [Fact]
    public void LeftWhileAway_ThenListedAgainOnALaterSync_StartsLikeAConversationNeverSeen()
    {
        var streams = Streams();
        streams.BeginCatchUp(Me);
        streams.Start(Other, 9);
        streams.EndMembership(new HashSet<Guid>());
        streams.EndCatchUp();
        Assert.IsType<ConversationLeft>(Assert.Single(Drain()));

        streams.BeginCatchUp(Me);
        Assert.True(streams.Start(Other, 20));
        streams.EndMembership(new HashSet<Guid> { Other });

        Assert.Equal(20UL, streams.Watermark(Other));
        Assert.Empty(Drain());
    }

    [Fact]
    public void Resume_AConversationLeftBeforeThisRun_IsAnnouncedAfterTheFirstSync()
    {
        var streams = new ConversationStreams(_events.Writer, new Dictionary<Guid, ulong> { [Conversation] = 41, [Other] = 7 });
        streams.BeginCatchUp(Me);
        streams.Start(Conversation, 99);

        streams.EndMembership(new HashSet<Guid> { Conversation });

        Assert.Equal(Other, Assert.IsType<ConversationLeft>(Assert.Single(Drain())).ConversationId);
        Assert.Equal([Conversation], streams.Snapshot().Keys);
    }

    // The app is behind (its event buffer full): live events are left to a fill, which fetches them in order once
    // there is room; until that fill ends, later live events go the same way even if there is room again, so
    // nothing is held meanwhile.
    [Fact]
    public void OnLive_AppBehind_EventsAreLeftToAFill_NotHeld_AndComeOutInOrderFromIt()
    {
        var behind = false;
        var streams = new ConversationStreams(_events.Writer, appBehind: () => behind);
        streams.Start(Conversation, 2);
        Assert.False(streams.OnLive(Messages.Text(Conversation, 3)));

        behind = true;
        Assert.True(streams.OnLive(Messages.Text(Conversation, 4)));
        Assert.True(streams.TryBeginFill(Conversation, target: 0, out var from));
        Assert.Equal(3UL, from);
        Assert.False(streams.OnLive(Messages.Text(Conversation, 5)));
        Assert.False(streams.OnLive(Messages.Text(Conversation, 3)));
        Assert.Equal(0, streams.HeldCount);
        Assert.Equal([3UL], Seqs());

        behind = false;
        Assert.False(streams.OnLive(Messages.Text(Conversation, 6)));
        Assert.Equal(0, streams.HeldCount);
        Assert.Empty(Seqs());

        streams.OnFetched(Messages.Text(Conversation, 4));
        streams.OnFetched(Messages.Text(Conversation, 5));
        Assert.True(streams.ContinueFill(Conversation, pageWasEmpty: false, out from));
        Assert.Equal(5UL, from);
        streams.OnFetched(Messages.Text(Conversation, 6));
        Assert.False(streams.ContinueFill(Conversation, pageWasEmpty: false, out _));
        Assert.Equal([4UL, 5UL, 6UL], Seqs());

        // The fill is over: live events come out directly again.
        Assert.False(streams.OnLive(Messages.Text(Conversation, 7)));
        Assert.Equal([7UL], Seqs());
    }

    // A conversation still waiting for its catch-up's SYNC keeps what arrives (SYNC says where it starts), full or not.
    [Fact]
    public void OnLive_AppBehindDuringACatchUp_AnUnstartedConversationStillHoldsItsEvents()
    {
        var streams = new ConversationStreams(_events.Writer, appBehind: () => true);
        streams.BeginCatchUp(Me);
        Assert.False(streams.OnLive(Messages.Text(Conversation, 8)));
        Assert.Equal(1, streams.HeldCount);

        streams.Start(Conversation, 7);
        streams.EndCatchUp();

        Assert.Equal([8UL], Seqs());
    }

    // Regression: while the app was behind, my own leave and my join again were left to a fill. The fill's page ended
    // at my leave and the fill stopped there (the conversation looked left), what it fetched after my leave was
    // dropped, and a live event between pages started the conversation afresh past them: my join and what followed
    // were lost.
    [Fact]
    public void OnLive_AppBehind_MyLeaveAndJoinAgainLeftToAFill_EverythingComesOutInOrder()
    {
        var streams = StartedAt(2, appBehind: () => true);
        Assert.True(streams.OnLive(Membership(Conversation, 3, EventKind.MemberLeft, Me)));
        Assert.True(streams.TryBeginFill(Conversation, target: 0, out var from));
        Assert.Equal(2UL, from);
        Assert.False(streams.OnLive(Membership(Conversation, 5, EventKind.MemberJoined, Me)));
        Assert.False(streams.OnLive(Messages.Text(Conversation, 6)));

        // The first page ends at my leave; the fill goes on.
        streams.OnFetched(Membership(Conversation, 3, EventKind.MemberLeft, Me));
        Assert.True(streams.ContinueFill(Conversation, pageWasEmpty: false, out from));
        Assert.Equal(3UL, from);

        // Another live event between pages, then the rest (4 was sent while I was out).
        Assert.False(streams.OnLive(Messages.Text(Conversation, 7)));
        streams.OnFetched(Messages.Text(Conversation, 4));
        streams.OnFetched(Membership(Conversation, 5, EventKind.MemberJoined, Me));
        streams.OnFetched(Messages.Text(Conversation, 6));
        streams.OnFetched(Messages.Text(Conversation, 7));
        Assert.False(streams.ContinueFill(Conversation, pageWasEmpty: false, out _));

        var events = Drain();
        Assert.Equal([3UL, 4UL, 5UL, 6UL, 7UL], events.Select(e => e.Stored!.Value.Seq));
        Assert.True(Assert.IsType<MembershipChanged>(events[2]).Joined);
        Assert.Equal(7UL, streams.Snapshot()[Conversation]);
    }

    // The same fill refused with NOT_A_MEMBER after my leave came out: I am out after all, and a later event (my
    // join again) starts the conversation afresh, as without the app behind.
    [Fact]
    public void OnLive_AppBehind_FillPastMyLeaveRefused_ALaterJoinStartsAfresh()
    {
        var streams = StartedAt(2, appBehind: () => true);
        Assert.True(streams.OnLive(Membership(Conversation, 3, EventKind.MemberLeft, Me)));
        Assert.True(streams.TryBeginFill(Conversation, target: 0, out _, out var generation));
        Assert.False(streams.OnLive(Membership(Conversation, 5, EventKind.MemberJoined, Me)));
        streams.OnFetched(Membership(Conversation, 3, EventKind.MemberLeft, Me));
        Assert.True(streams.ContinueFill(Conversation, pageWasEmpty: false, out _));
        Assert.False(streams.AbandonFill(Conversation, notAMember: true, generation));
        Assert.False(Assert.IsType<MembershipChanged>(Assert.Single(Drain())).Joined);
        Assert.Empty(streams.Snapshot());

        Assert.True(streams.OnLive(Membership(Conversation, 9, EventKind.MemberJoined, Me)));
        Assert.True(streams.TryBeginFill(Conversation, target: 0, out var from));
        Assert.Equal(8UL, from);
    }

    // Regression: a conversation with a gap whose fill waits for room (the buffer nearly full, the app not reading)
    // held every later live event of it, outside the buffer and its bound, for as long as the app did not read.
    [Fact]
    public async Task OnLive_GapFillWaitingForRoom_LaterLiveEventsAreLeftToTheFill_NotHeldWithoutABound()
    {
        var buffer = new EventBuffer(300);
        for (var i = 0; i < 150; i++)
        {
            buffer.Write(new ConnectionStateChanged(ConnectionState.Connected, null));
        }

        var streams = new ConversationStreams(buffer.Writer, appBehind: () => buffer.IsBehind);
        streams.BeginCatchUp(Me);
        streams.Start(Conversation, 2);
        streams.EndCatchUp();
        Assert.True(streams.OnLive(Messages.Text(Conversation, 4)));
        Assert.True(streams.TryBeginFill(Conversation, target: 0, out var from));
        using var cancel = new CancellationTokenSource();
        var room = buffer.ReserveAsync(200, cancel.Token);
        Assert.False(room.IsCompleted);

        for (ulong seq = 5; seq < 5_005; seq++)
        {
            streams.OnLive(Messages.Text(Conversation, seq));
        }

        Assert.InRange(streams.HeldCount, 0, 300);
        Assert.Equal(150, buffer.Count);

        // Once the app reads, the fill gets its room and fetches everything in order.
        while (buffer.Reader.TryRead(out _))
        {
            buffer.OnRead();
        }

        await room.WaitAsync(TimeSpan.FromSeconds(10));
        for (var next = from + 1; ;)
        {
            for (var k = 0; k < 200 && next < 5_005; k++, next++)
            {
                streams.OnFetched(Messages.Text(Conversation, next));
            }

            if (!streams.ContinueFill(Conversation, pageWasEmpty: false, out from))
            {
                break;
            }

            Assert.Equal(next - 1, from);
        }

        buffer.Release(200);
        var seqs = new List<ulong>();
        while (buffer.Reader.TryRead(out var item))
        {
            seqs.Add(item.Stored!.Value.Seq);
        }

        Assert.Equal(Enumerable.Range(3, 5_002).Select(seq => (ulong)seq), seqs);
        Assert.Equal(0, streams.HeldCount);
    }

    private static ConversationEvent Membership(Guid conversationId, ulong seq, EventKind kind, Guid subject) =>
        Messages.Text(conversationId, seq) with { Kind = kind, SubjectId = subject, ContentType = string.Empty, Content = Array.Empty<byte>() };

    private ConversationStreams Streams(Func<bool>? appBehind = null) => new(_events.Writer, appBehind: appBehind);

    // After a first catch-up whose SYNC started Conversation at watermark.
    private ConversationStreams StartedAt(ulong watermark, Func<bool>? appBehind = null)
    {
        var streams = Streams(appBehind);
        streams.BeginCatchUp(Me);
        streams.Start(Conversation, watermark);
        streams.EndCatchUp();
        return streams;
    }

    private List<ChatWireEvent> Drain()
    {
        var events = new List<ChatWireEvent>();
        while (_events.Reader.TryRead(out var item))
        {
            events.Add(item);
        }

        return events;
    }

    private List<ulong> Seqs() => Drain().OfType<MessageReceived>().Select(m => m.Message.Seq).ToList();
}
