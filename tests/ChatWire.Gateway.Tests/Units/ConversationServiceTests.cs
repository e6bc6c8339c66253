using System.Text;
using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Hosting;
using ChatWire.Gateway.Observability;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StorageKind = ChatWire.Storage.Messages.EventKind;

namespace ChatWire.Gateway.Tests.Units;

// The conversation service on fakes: commands in, outcomes and appended events out, no connection.
public sealed class ConversationServiceTests : IDisposable
{
    private readonly FakeMessageStore _store = new();
    private readonly FakeDirectory _directory = new();
    private readonly MembershipCache _membership;
    private readonly SendRateLimiter _limiter = new(Options.Create(new LimitsOptions { SendMessageBurstPerDevice = 3, SendMessagesPerSecondPerDevice = 0.5 }));
    private readonly InProcessSlowModeGate _slowMode = new();
    private readonly ConversationService _service;
    private readonly Routing.InProcessMessageBus _bus = new();
    private readonly Delivery.DeliveryFanout _fanout;
    private readonly SessionIdentity _alice = new(Guid.CreateVersion7(), Guid.CreateVersion7());
    private readonly SessionIdentity _bob = new(Guid.CreateVersion7(), Guid.CreateVersion7());

    public ConversationServiceTests()
    {
        _membership = new MembershipCache(_directory, TimeProvider.System, new NoMembershipBackplane());
        _fanout = new Delivery.DeliveryFanout(_bus, _directory, _store, _membership, NullLogger<Delivery.DeliveryFanout>.Instance);
        _service = NewService(new LimitsOptions { StorageBytesPerUser = 0, StorageBytesPerTeam = 0 });
    }

    public void Dispose()
    {
        _limiter.Dispose();
        _slowMode.Dispose();
        _fanout.Dispose();
    }

    // No test here sends end-to-end content, the only thing that reads the key directory (E2eSendTests do, on the real server).
    private ConversationService NewService(LimitsOptions quotas) =>
        new(_store, _directory, _membership, new UserLocks(), _limiter, _slowMode, new StorageQuota(_store, Options.Create(quotas), TimeProvider.System), Options.Create(quotas), new Delivery.EventPublisher(_store, _bus, _fanout, NullLogger<Delivery.EventPublisher>.Instance), new TypingThrottle(), new E2eSendCheck(null!, Options.Create(quotas)), new GatewayMetrics(), new AuditLog(NullLoggerFactory.Instance, TimeProvider.System), TimeProvider.System, NullLogger<ConversationService>.Instance);

    [Fact]
    public void FitToFrame_ALargestMessageWithEveryListFull_ShortensItsListsUntilTheHistoryPageFitsOneFrame()
    {
        // The largest body, 50 thread participants and 50 reactions of the longest emoji allowed: over a frame.
        var limits = new ProtocolLimits();
        var emoji = Enumerable.Range(0, 50).Select(i => new string('\u2764', limits.MaxEmojiLength / 3 - 1) + (char)('a' + (i % 26)) + (char)('a' + (i / 26))).ToArray();
        var full = new ConversationEvent(
            Guid.CreateVersion7(), Guid.CreateVersion7(), 7, _alice.UserId, _alice.DeviceId, 1, new string('t', 128), new byte[limits.MaxContentLength], EventKind.Message, Guid.Empty)
        {
            Mentions = Enumerable.Range(0, limits.MaxMentions).Select(_ => Guid.CreateVersion7()).ToArray(),
            ReplyCount = 60,
            LastReplyUnixMs = 2,
            ThreadParticipants = Enumerable.Range(0, 50).Select(_ => Guid.CreateVersion7()).ToArray(),
            Reactions = emoji.Select(e => new Reaction(e, 1_000_000, true)).ToArray(),
        };
        var maxBytes = (int)limits.MaxFrameLength - 1024;
        Assert.True(full.EncodedLengthBound() > maxBytes, $"{full.EncodedLengthBound()} bytes fit already");

        var (fitted, bound) = ConversationService.FitToFrame(full, maxBytes);

        Assert.InRange(fitted.EncodedLengthBound(), 0, maxBytes);
        Assert.Equal(fitted.EncodedLengthBound(), bound);
        Assert.True(fitted.ThreadParticipants.Count < 50);
        Assert.Equal(full.ThreadParticipants.Take(fitted.ThreadParticipants.Count), fitted.ThreadParticipants);
        Assert.Equal(full.Reactions.Take(fitted.Reactions.Count), fitted.Reactions);
        var page = FrameCodec.ToArray(new HistoryPage(uint.MaxValue, full.ConversationId, [fitted], true));
        Assert.InRange(page.Length, 0, (int)limits.MaxFrameLength + 4);

        // An event that fits is left as it is.
        var small = full with { Content = new byte[100] };
        Assert.Equal(50, ConversationService.FitToFrame(small, maxBytes).Event.Reactions.Count);
    }

    [Fact]
    public async Task SubmitSend_FasterThanTheDevicesRate_RateLimitedWithRetryAfter_NothingStored()
    {
        var dm = _directory.AddConversation(null, _alice.UserId, _bob.UserId);
        for (var i = 0; i < 3; i++)
        {
            Assert.Null((await await _service.SubmitSendAsync(_alice, Send(dm, "burst"))).Error);
        }

        var refused = await await _service.SubmitSendAsync(_alice, Send(dm, "one too many"));

        Assert.Equal(ErrorCode.RateLimited, refused.Error);
        Assert.InRange(refused.RetryAfterMs!.Value, 1u, 2000u);
        Assert.Equal(3, _store.Events.Count);

        // Another user is not affected.
        Assert.Null((await await _service.SubmitSendAsync(_bob, Send(dm, "mine"))).Error);
    }

    [Theory]
    [InlineData("text/plain", "")]
    [InlineData("text/plain", "   \n\t ")]
    [InlineData("text/markdown; charset=utf-8", "\u00a0\u2003")]
    [InlineData("application/octet-stream", "")]
    public async Task SubmitSend_EmptyOrBlankText_InvalidField(string contentType, string content)
    {
        var dm = _directory.AddConversation(null, _alice.UserId, _bob.UserId);

        var outcome = await await _service.SubmitSendAsync(_alice, new Send(1, dm, Guid.CreateVersion7(), contentType, Encoding.UTF8.GetBytes(content)));

        Assert.Equal(ErrorCode.InvalidField, outcome.Error);
        Assert.Empty(_store.Events);
    }

    [Fact]
    public async Task SubmitSend_OverTheUsersOrTheTeamsStorageQuota_QuotaExceeded_NothingStored()
    {
        var service = NewService(new LimitsOptions { StorageBytesPerUser = 1000, StorageBytesPerTeam = 1500 });
        var team = Guid.CreateVersion7();
        var channel = _directory.AddConversation(team, _alice.UserId, _bob.UserId);
        Assert.Null((await await service.SubmitSendAsync(_alice, new Send(1, channel, Guid.CreateVersion7(), "application/octet-stream", new byte[900]))).Error);

        // 900 of alice's 1000 are used (counted on this node without another read).
        var overUser = await await service.SubmitSendAsync(_alice, new Send(2, channel, Guid.CreateVersion7(), "application/octet-stream", new byte[200]));

        // Bob has room of his own, but the team holds 900 of 1500.
        var overTeam = await await service.SubmitSendAsync(_bob, new Send(3, channel, Guid.CreateVersion7(), "application/octet-stream", new byte[700]));
        var fits = await await service.SubmitSendAsync(_bob, new Send(4, channel, Guid.CreateVersion7(), "application/octet-stream", new byte[500]));

        Assert.Equal(ErrorCode.QuotaExceeded, overUser.Error);
        Assert.Contains("Your storage quota", overUser.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.QuotaExceeded, overTeam.Error);
        Assert.Contains("This team's storage quota", overTeam.Message, StringComparison.Ordinal);
        Assert.Null(fits.Error);
        Assert.Equal(2, _store.Events.Count(e => e.Kind == StorageKind.Message));
    }

    [Fact]
    public async Task SubmitSend_OpaqueContentOfSpaces_IsStored()
    {
        var dm = _directory.AddConversation(null, _alice.UserId, _bob.UserId);

        var outcome = await await _service.SubmitSendAsync(_alice, new Send(1, dm, Guid.CreateVersion7(), "application/octet-stream", "  "u8.ToArray()));

        Assert.Null(outcome.Error);
    }

    [Fact]
    public async Task SubmitSend_Member_StoredWithTheNextSeqAsAMessage()
    {
        var dm = _directory.AddConversation(null, _alice.UserId, _bob.UserId);

        var outcome = await await _service.SubmitSendAsync(_alice, Send(dm, "hello"));

        Assert.Null(outcome.Error);
        Assert.Equal(1ul, outcome.Seq);
        var stored = Assert.Single(_store.Events);
        Assert.Equal((StorageKind.Message, _alice.UserId, _alice.DeviceId, "hello"), (stored.Kind, stored.SenderUserId, stored.SenderDeviceId, Encoding.UTF8.GetString(stored.Content.Span)));
    }

    [Theory]
    [InlineData("", ErrorCode.InvalidField)]
    [InlineData("text", ErrorCode.InvalidField)]
    [InlineData("text/plain\r\nX-Injected: 1", ErrorCode.InvalidField)]
    [InlineData("text/pla\0in", ErrorCode.InvalidField)]
    [InlineData("/plain", ErrorCode.InvalidField)]
    [InlineData("text/plain; charset", ErrorCode.InvalidField)]
    [InlineData("text/plain; charset=", ErrorCode.InvalidField)]
    [InlineData("text/plain; =utf-8", ErrorCode.InvalidField)]
    [InlineData("text/plain; name=\"unterminated", ErrorCode.InvalidField)]
    [InlineData("text/plain; a=b c=d", ErrorCode.InvalidField)]
    [InlineData("text/plain; charset=utf-8", null)]
    [InlineData("text/plain;charset=utf-8;format=flowed", null)]
    [InlineData("text/plain; name=\"a; b \\\" c\"; x=y", null)]
    [InlineData("text/plain;", null)]
    [InlineData("application/vnd.chatwire.e2e+cbor", null)]
    public async Task SubmitSend_ContentType_MustBeAMediaType(string contentType, ErrorCode? expected)
    {
        var dm = _directory.AddConversation(null, _alice.UserId);

        var outcome = await await _service.SubmitSendAsync(_alice, Send(dm, "x") with { ContentType = contentType });

        Assert.Equal(expected, outcome.Error);
    }

    [Fact]
    public async Task SubmitSend_MessageIdNotAUuidV7_InvalidFieldAndNothingStored()
    {
        var dm = _directory.AddConversation(null, _alice.UserId);

        var v4 = await await _service.SubmitSendAsync(_alice, Send(dm, "x") with { MessageId = Guid.NewGuid() });
        var nil = await await _service.SubmitSendAsync(_alice, Send(dm, "x") with { MessageId = Guid.Empty });

        Assert.Equal((ErrorCode.InvalidField, ErrorCode.InvalidField), (v4.Error, nil.Error));
        Assert.Empty(_store.Events);
    }

    [Fact]
    public async Task SubmitSend_NotAMemberOrNoSuchConversation_NotAMemberAndNothingStored()
    {
        var theirs = _directory.AddConversation(null, _bob.UserId);

        var notMine = await await _service.SubmitSendAsync(_alice, Send(theirs, "x"));
        var missing = await await _service.SubmitSendAsync(_alice, Send(Guid.CreateVersion7(), "x"));

        Assert.Equal((ErrorCode.NotAMember, ErrorCode.NotAMember), (notMine.Error, missing.Error));
        Assert.Empty(_store.Events);
    }

    [Fact]
    public async Task SubmitSend_SameIdAgainSameBody_OriginalSeq_OtherBodyOrDevice_Conflict()
    {
        var dm = _directory.AddConversation(null, _alice.UserId, _bob.UserId);
        var send = Send(dm, "once");

        var first = await await _service.SubmitSendAsync(_alice, send);
        var again = await await _service.SubmitSendAsync(_alice, send with { RequestId = 99 });
        var otherBody = await await _service.SubmitSendAsync(_alice, send with { Content = "twice"u8.ToArray() });
        var otherDevice = await await _service.SubmitSendAsync(_alice with { DeviceId = Guid.CreateVersion7() }, send);
        var otherUser = await await _service.SubmitSendAsync(_bob, send);

        Assert.Equal((first.Seq, first.ServerTimeUnixMs), (again.Seq, again.ServerTimeUnixMs));
        Assert.Null(again.Error);
        Assert.All(new[] { otherBody, otherDevice, otherUser }, o => Assert.Equal(ErrorCode.IdempotencyConflict, o.Error));
        Assert.Single(_store.Events);
    }

    [Fact]
    public async Task SubmitSend_StoreFails_StorageUnavailable()
    {
        var dm = _directory.AddConversation(null, _alice.UserId);
        _store.FailWith = new IOException("disk gone");

        var outcome = await await _service.SubmitSendAsync(_alice, Send(dm, "x"));

        Assert.Equal(ErrorCode.StorageUnavailable, outcome.Error);
    }

    [Fact]
    public async Task SubmitSend_FirstWaitsOnTheDirectory_TheSecondIsStillQueuedAfterIt()
    {
        // The first stage completes only once the message is queued, so a caller that awaits it before
        // submitting the next (as a connection does) keeps its order even when a lookup is slow.
        var dm = _directory.AddConversation(null, _alice.UserId);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _directory.MembershipGate = gate;

        var firstQueued = _service.SubmitSendAsync(_alice, Send(dm, "first"));
        Assert.False(firstQueued.IsCompleted);
        gate.SetResult();
        var first = await firstQueued;
        _directory.MembershipGate = null;
        var second = await _service.SubmitSendAsync(_alice, Send(dm, "second"));

        var seqs = new[] { (await first).Seq, (await second).Seq };
        Assert.Equal([1ul, 2ul], seqs);
        Assert.Equal(["first", "second"], _store.Events.Select(e => Encoding.UTF8.GetString(e.Content.Span)));
    }

    [Fact]
    public async Task SubmitSend_CommitPending_FirstStageDoneSecondStageWaitsForDurability()
    {
        var dm = _directory.AddConversation(null, _alice.UserId);
        _store.Hold();

        var commit = await _service.SubmitSendAsync(_alice, Send(dm, "pending"));

        Assert.False(commit.IsCompleted);
        Assert.Single(_store.Queued);
        _store.Release();
        Assert.Equal(1ul, (await commit).Seq);
    }

    [Fact]
    public async Task JoinChannel_AppendsMemberJoinedWithTheJoinerAsSubjectAndActor()
    {
        var team = Guid.CreateVersion7();
        _directory.AddTeamMember(team, _alice.UserId);
        _directory.AddTeamMember(team, _bob.UserId);
        var channel = _directory.AddConversation(team, _alice.UserId);

        await _service.JoinChannelAsync(_bob, channel, CancellationToken.None);
        await _service.JoinChannelAsync(_bob, channel, CancellationToken.None);

        var joined = Assert.Single(_store.Events);
        Assert.Equal((channel, StorageKind.MemberJoined, _bob.UserId, _bob.UserId, _bob.DeviceId), (joined.ConversationId, joined.Kind, joined.SubjectId, joined.SenderUserId, joined.SenderDeviceId));
        Assert.Equal(string.Empty, joined.ContentType);
    }

    [Fact]
    public async Task LeaveTeam_EachChannelGetsMemberLeft_AndSendsAreRefusedAtOnce()
    {
        var team = Guid.CreateVersion7();
        _directory.AddTeamMember(team, _alice.UserId);
        _directory.AddTeamMember(team, _bob.UserId);
        var general = _directory.AddConversation(team, _alice.UserId, _bob.UserId);
        var random = _directory.AddConversation(team, _alice.UserId, _bob.UserId);
        var dm = _directory.AddConversation(null, _alice.UserId, _bob.UserId);
        Assert.Null((await await _service.SubmitSendAsync(_bob, Send(general, "cached"))).Error);

        await _service.LeaveTeamAsync(_bob, team, CancellationToken.None);

        var left = _store.Events.Where(e => e.Kind == StorageKind.MemberLeft).ToList();
        Assert.Equal(new[] { general, random }.Order(), left.Select(e => e.ConversationId).Order());
        Assert.All(left, e => Assert.Equal(_bob.UserId, e.SubjectId));
        Assert.Equal(ErrorCode.NotAMember, (await await _service.SubmitSendAsync(_bob, Send(general, "still here?"))).Error);
        Assert.Null((await await _service.SubmitSendAsync(_bob, Send(dm, "the DM stays"))).Error);
    }

    [Fact]
    public async Task Membership_EventCannotBeStored_TheChangeStillStands()
    {
        var team = Guid.CreateVersion7();
        _directory.AddTeamMember(team, _bob.UserId);
        var channel = _directory.AddConversation(team);
        _store.FailWith = new IOException("disk gone");

        await _service.JoinChannelAsync(_bob, channel, CancellationToken.None);

        Assert.True(await _directory.IsConversationMemberAsync(channel, _bob.UserId));
    }

    [Fact]
    public async Task LeaveTeam_EventCannotBeStored_RefusedAndNothingChanged()
    {
        // A leave stores its MEMBER_LEFT before the directory changes: a former member is never left routed.
        var team = Guid.CreateVersion7();
        _directory.AddTeamMember(team, _bob.UserId);
        var channel = _directory.AddConversation(team, _bob.UserId);
        _store.FailWith = new IOException("disk gone");

        var ex = await Assert.ThrowsAsync<RequestRefusedException>(() => _service.LeaveTeamAsync(_bob, team, CancellationToken.None));

        Assert.Equal(ErrorCode.StorageUnavailable, ex.Code);
        Assert.True(await _directory.IsConversationMemberAsync(channel, _bob.UserId));
        Assert.NotNull(await _directory.GetTeamMembershipAsync(team, _bob.UserId));
    }

    [Fact]
    public async Task JoinAndLeaveOfOneUser_Concurrently_EventsEndAsTheDirectoryDoes()
    {
        // The join and the leave of one user are serialized: whichever runs second, the last event of the
        // channel says what the directory says.
        var team = Guid.CreateVersion7();
        _directory.AddTeamMember(team, _alice.UserId);
        _directory.AddTeamMember(team, _bob.UserId);
        var channel = _directory.AddConversation(team, _alice.UserId);
        _store.Hold();

        var join = _service.AddChannelMemberAsync(_alice, channel, _bob.UserId, CancellationToken.None);
        var leave = _service.LeaveTeamAsync(_bob, team, CancellationToken.None);
        await Task.Delay(50);
        Assert.Single(_store.Queued);
        _store.Release();
        await join;
        while (!leave.IsCompleted)
        {
            _store.Release();
            await Task.Delay(10);
        }

        await leave;
        var last = _store.Events.Last(e => e.ConversationId == channel);
        var member = await _directory.IsConversationMemberAsync(channel, _bob.UserId);
        Assert.Equal(member ? StorageKind.MemberJoined : StorageKind.MemberLeft, last.Kind);
        Assert.False(member);
    }

    [Fact]
    public async Task ReadHistory_LargeEvents_PageFitsTheBudgetAndSaysMore()
    {
        var dm = _directory.AddConversation(null, _alice.UserId);
        for (var i = 0; i < 5; i++)
        {
            await await _service.SubmitSendAsync(_alice, Send(dm, new string('x', 1000)));
        }

        var page = await _service.ReadHistoryAsync(_alice, new History(7, dm, 0, HistoryDirection.After, 200), maxPageBytes: 2500);

        Assert.Equal([1ul, 2ul], page.Events.Select(e => e.Seq));
        Assert.True(page.HasMore);
        Assert.Equal(7u, page.RequestId);
    }

    [Fact]
    public async Task ReadHistory_NotAMember_Refused()
    {
        var theirs = _directory.AddConversation(null, _bob.UserId);

        var ex = await Assert.ThrowsAsync<RequestRefusedException>(() => _service.ReadHistoryAsync(_alice, new History(1, theirs, 0, HistoryDirection.Before, 10), 10_000));

        Assert.Equal(ErrorCode.NotAMember, ex.Code);
    }

    [Fact]
    public async Task Sync_PagesTheUsersConversationsInIdOrderWithTheirLatestSeq()
    {
        var conversations = Enumerable.Range(0, 5).Select(_ => _directory.AddConversation(null, _alice.UserId)).Order().ToList();
        _directory.AddConversation(null, _bob.UserId);
        await await _service.SubmitSendAsync(_alice, Send(conversations[1], "x"));
        await await _service.SubmitSendAsync(_alice, Send(conversations[1], "y"));

        var first = await _service.SyncAsync(_alice, new Sync(1, Guid.Empty, 3));
        var second = await _service.SyncAsync(_alice, new Sync(2, first.Conversations[^1].ConversationId, 3));

        Assert.Equal(conversations, first.Conversations.Concat(second.Conversations).Select(c => c.ConversationId));
        Assert.Equal([0ul, 2ul, 0ul, 0ul, 0ul], first.Conversations.Concat(second.Conversations).Select(c => c.LastSeq));
        Assert.True(first.HasMore);
        Assert.False(second.HasMore);
    }

    private static Send Send(Guid conversationId, string text) =>
        new(1, conversationId, Guid.CreateVersion7(), "text/plain", Encoding.UTF8.GetBytes(text));
}
