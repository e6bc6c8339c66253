using ChatWire.Gateway.Conversations;

namespace ChatWire.Gateway.Tests.Units;

// The rosters the membership cache keeps for the push planner: read once, dropped by any change forgotten in
// their conversation, never kept from a read that a change overtook, and read again after their lifetime.
// Both kinds of answer are bounded by what is held, not by how often it was read.
public sealed class MembershipCacheTests
{
    private readonly FakeDirectory _directory = new();
    private readonly SteppingClock _clock = new();
    private readonly MembershipCache _cache;
    private readonly Guid _alice = Guid.CreateVersion7();
    private readonly Guid _bob = Guid.CreateVersion7();
    private readonly Guid _carol = Guid.CreateVersion7();

    public MembershipCacheTests() => _cache = new MembershipCache(_directory, _clock, new NoMembershipBackplane());

    [Fact]
    public async Task GetRosterAsync_Again_ReadsTheDirectoryOnce_UntilTheLifetimeEnds()
    {
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);

        var first = await _cache.GetRosterAsync(channel, CancellationToken.None);
        _clock.Advance(MembershipCache.RosterLifetime - TimeSpan.FromSeconds(1));
        var second = await _cache.GetRosterAsync(channel, CancellationToken.None);

        Assert.Equal(channel, first!.Conversation.Id);
        Assert.Equal(new[] { _alice, _bob }.Order(), first.Members.Order());
        Assert.Same(first, second);
        Assert.Equal(1, _directory.MemberListings);

        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.NotSame(first, await _cache.GetRosterAsync(channel, CancellationToken.None));
        Assert.Equal(2, _directory.MemberListings);
    }

    [Fact]
    public async Task GetRosterAsync_AfterAJoinOrALeaveIsForgotten_ReadsTheMembersAsTheyAreNow()
    {
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);
        var other = _directory.AddConversation(Guid.CreateVersion7(), _alice);
        await _cache.GetRosterAsync(channel, CancellationToken.None);
        var otherRoster = await _cache.GetRosterAsync(other, CancellationToken.None);

        _directory.RemoveMember(channel, _bob);
        _cache.ForgetLocal(channel, _bob);
        var afterLeave = await _cache.GetRosterAsync(channel, CancellationToken.None);
        await _directory.AddConversationMemberAsync(channel, _carol, DateTimeOffset.UnixEpoch);
        _cache.Forget(channel, _carol);
        var afterJoin = await _cache.GetRosterAsync(channel, CancellationToken.None);

        Assert.Equal([_alice], afterLeave!.Members);
        Assert.Equal(new[] { _alice, _carol }.Order(), afterJoin!.Members.Order());
        Assert.Same(otherRoster, await _cache.GetRosterAsync(other, CancellationToken.None));

        _cache.ForgetAll();
        Assert.NotSame(otherRoster, await _cache.GetRosterAsync(other, CancellationToken.None));
    }

    [Fact]
    public async Task GetRosterAsync_ALeaveForgottenWhileItReads_ItsAnswerIsNotKept()
    {
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);
        _directory.MemberListGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = _cache.GetRosterAsync(channel, CancellationToken.None).AsTask();
        await WaitUntilAsync(() => _directory.MemberListings == 1);

        _directory.RemoveMember(channel, _bob);
        _cache.ForgetLocal(channel, _bob);
        _directory.MemberListGate.SetResult();
        _directory.MemberListGate = null;
        Assert.Contains(_bob, (await reading)!.Members);

        Assert.Equal([_alice], (await _cache.GetRosterAsync(channel, CancellationToken.None))!.Members);
        Assert.Equal(2, _directory.MemberListings);
    }

    [Fact]
    public async Task GetRosterAsync_AChangeForgottenInAnotherConversationWhileItReads_ItsAnswerIsStillKept()
    {
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);
        var other = _directory.AddConversation(Guid.CreateVersion7(), _carol);
        while (MembershipCache.StripeOf(other) == MembershipCache.StripeOf(channel))
        {
            other = _directory.AddConversation(Guid.CreateVersion7(), _carol);
        }

        _directory.MemberListGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = _cache.GetRosterAsync(channel, CancellationToken.None).AsTask();
        await WaitUntilAsync(() => _directory.MemberListings == 1);

        _cache.Forget(other, _carol);
        _directory.MemberListGate.SetResult();
        _directory.MemberListGate = null;

        Assert.Same(await reading, await _cache.GetRosterAsync(channel, CancellationToken.None));
        Assert.Equal(1, _directory.MemberListings);
    }

    [Fact]
    public async Task Rosters_ReadAgainAndAgain_DoNotPushOutTheOthersHeld()
    {
        var cache = new MembershipCache(_directory, _clock, new NoMembershipBackplane(), maxEntries: 1_000, maxRosterMembers: 10);
        var quiet = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);
        var busy = _directory.AddConversation(Guid.CreateVersion7(), _alice, _carol);
        var quietRoster = await cache.GetRosterAsync(quiet, CancellationToken.None);

        // Each join forgets the busy roster and the next round reads it again: 3 ids each time, 30 read in all.
        for (var round = 0; round < 10; round++)
        {
            cache.Forget(busy, _carol);
            await cache.GetRosterAsync(busy, CancellationToken.None);
        }

        Assert.Same(quietRoster, await cache.GetRosterAsync(quiet, CancellationToken.None));
    }

    [Fact]
    public async Task Rosters_PastTheBound_TheExpiredGoFirst_TheLiveOnesStay()
    {
        var cache = new MembershipCache(_directory, _clock, new NoMembershipBackplane(), maxEntries: 1_000, maxRosterMembers: 8);
        var old = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);
        var kept = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);
        var added = _directory.AddConversation(Guid.CreateVersion7(), _alice, _carol);
        await cache.GetRosterAsync(old, CancellationToken.None);
        _clock.Advance(MembershipCache.RosterLifetime + TimeSpan.FromSeconds(1));
        var keptRoster = await cache.GetRosterAsync(kept, CancellationToken.None);

        await cache.GetRosterAsync(added, CancellationToken.None);

        Assert.Same(keptRoster, await cache.GetRosterAsync(kept, CancellationToken.None));
        Assert.Equal(3, _directory.MemberListings);
    }

    [Fact]
    public async Task Rosters_WhenTheLiveOnesFillTheBound_ItStartsOver()
    {
        var cache = new MembershipCache(_directory, _clock, new NoMembershipBackplane(), maxEntries: 1_000, maxRosterMembers: 10);
        var first = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob, _carol);
        var second = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob, _carol);
        var third = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob, _carol);
        var firstRoster = await cache.GetRosterAsync(first, CancellationToken.None);
        await cache.GetRosterAsync(second, CancellationToken.None);

        var thirdRoster = await cache.GetRosterAsync(third, CancellationToken.None);

        Assert.NotSame(firstRoster, await cache.GetRosterAsync(first, CancellationToken.None));
        Assert.Same(thirdRoster, await cache.GetRosterAsync(third, CancellationToken.None));
    }

    [Fact]
    public async Task Answers_ReadAgainAndAgain_DoNotPushOutTheOthersHeld()
    {
        var cache = new MembershipCache(_directory, _clock, new NoMembershipBackplane(), maxEntries: 3, maxRosterMembers: 1_000);
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob, _carol);
        await cache.GetAccessAsync(channel, _alice, CancellationToken.None);
        await cache.GetAccessAsync(channel, _bob, CancellationToken.None);
        var lookups = _directory.MembershipLookups;

        for (var round = 0; round < 10; round++)
        {
            cache.Forget(channel, _carol);
            Assert.Equal(ConversationAccess.Send, (await cache.GetAccessAsync(channel, _carol, CancellationToken.None)).Access);
        }

        Assert.Equal(ConversationAccess.Send, (await cache.GetAccessAsync(channel, _alice, CancellationToken.None)).Access);
        Assert.Equal(ConversationAccess.Send, (await cache.GetAccessAsync(channel, _bob, CancellationToken.None)).Access);
        Assert.Equal(lookups + 10, _directory.MembershipLookups);
    }

    // An archive or a slow mode changes every member's answer: one call forgets them all, with one broadcast however
    // many members, and answers in other conversations stay.
    [Fact]
    public async Task ForgetConversation_EveryMembersAnswerIsAskedAgain_OneBroadcast_OtherConversationsKept()
    {
        var backplane = new RecordingBackplane();
        var cache = new MembershipCache(_directory, _clock, backplane);
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);
        var other = _directory.AddConversation(Guid.CreateVersion7(), _alice);
        foreach (var (conversation, user) in new[] { (channel, _alice), (channel, _bob), (other, _alice) })
        {
            await cache.GetAccessAsync(conversation, user, CancellationToken.None);
        }

        var lookups = _directory.MembershipLookups;
        _clock.Advance(TimeSpan.FromSeconds(1));
        cache.ForgetConversation(channel, [_alice, _bob]);
        _clock.Advance(TimeSpan.FromSeconds(1));
        await cache.GetAccessAsync(channel, _alice, CancellationToken.None);
        await cache.GetAccessAsync(channel, _bob, CancellationToken.None);
        await cache.GetAccessAsync(other, _alice, CancellationToken.None);
        var askedAgain = _directory.MembershipLookups - lookups;

        // Asked again once each, then cached as before.
        await cache.GetAccessAsync(channel, _alice, CancellationToken.None);
        await cache.GetAccessAsync(channel, _bob, CancellationToken.None);

        Assert.Equal(2, askedAgain);
        Assert.Equal(lookups + 2, _directory.MembershipLookups);
        Assert.Equal(new[] { (channel, 2) }, backplane.ConversationInvalidations);
        Assert.Empty(backplane.MemberInvalidations);
    }

    // Another node's conversation-wide change arrives as one message naming no user.
    [Fact]
    public async Task ConversationInvalidated_ByAnotherNode_ForgetsEveryAnswerOfIt_AndALookupUnderWayIsNotKept()
    {
        var backplane = new RecordingBackplane();
        var cache = new MembershipCache(_directory, _clock, backplane);
        var channel = _directory.AddConversation(Guid.CreateVersion7(), _alice, _bob);
        await cache.GetAccessAsync(channel, _alice, CancellationToken.None);
        _directory.MembershipGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var underWay = cache.GetAccessAsync(channel, _bob, CancellationToken.None).AsTask();
        await WaitUntilAsync(() => _directory.MembershipLookups == 2);

        // The lookup under way finishes after the mark: only the generation keeps its (stale) answer out.
        _clock.Advance(TimeSpan.FromSeconds(1));
        backplane.RaiseInvalidated(channel, MembershipCache.AllMembers);
        _clock.Advance(TimeSpan.FromSeconds(1));
        _directory.MembershipGate.SetResult();
        _directory.MembershipGate = null;
        await underWay;
        _clock.Advance(TimeSpan.FromSeconds(1));
        await cache.GetAccessAsync(channel, _alice, CancellationToken.None);
        await cache.GetAccessAsync(channel, _bob, CancellationToken.None);

        Assert.Equal(4, _directory.MembershipLookups);
        Assert.Equal(1, cache.ForgottenConversationMarks);

        // Past an answer's lifetime the mark is let go, at the next lookup: the hot path skips the marks again.
        _clock.Advance(MembershipCache.Lifetime + TimeSpan.FromSeconds(1));
        await cache.GetAccessAsync(channel, _carol, CancellationToken.None);
        Assert.Equal(0, cache.ForgottenConversationMarks);
    }

    [Fact]
    public async Task GetRosterAsync_NoSuchConversation_NullAndNothingKept()
    {
        var missing = Guid.CreateVersion7();

        Assert.Null(await _cache.GetRosterAsync(missing, CancellationToken.None));
        Assert.Equal(0, _directory.MemberListings);
    }

    private sealed class RecordingBackplane : IMembershipBackplane
    {
        public event Action<Guid, Guid>? Invalidated;

        public event Action? Reconnected
        {
            add { }
            remove { }
        }

        public List<(Guid Conversation, Guid User)> MemberInvalidations { get; } = [];

        public List<(Guid Conversation, int Members)> ConversationInvalidations { get; } = [];

        public ValueTask<MemberAccess?> GetAsync(Guid conversationId, Guid userId) => ValueTask.FromResult<MemberAccess?>(null);

        public void Offer(Guid conversationId, Guid userId, MemberAccess access)
        {
        }

        public void Invalidate(Guid conversationId, Guid userId) => MemberInvalidations.Add((conversationId, userId));

        public void InvalidateConversation(Guid conversationId, IReadOnlyCollection<Guid> members) => ConversationInvalidations.Add((conversationId, members.Count));

        public void RaiseInvalidated(Guid conversationId, Guid userId) => Invalidated?.Invoke(conversationId, userId);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the condition");
            await Task.Delay(5);
        }
    }
}
