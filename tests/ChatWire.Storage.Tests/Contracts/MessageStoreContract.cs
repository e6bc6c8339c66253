using System.Text;
using ChatWire.Storage.Messages;

namespace ChatWire.Storage.Tests.Contracts;

/// <summary>
/// Every IMessageStore adapter's behaviour (docs/architecture.md, "The message store"), written once. An adapter's test class derives
/// from this and supplies a fresh, empty store; nothing here may depend on one adapter.
/// </summary>
public abstract partial class MessageStoreContract : IAsyncLifetime
{
    private readonly Guid _senderUserId = Guid.NewGuid();
    private readonly Guid _senderDeviceId = Guid.NewGuid();
    private IMessageStore? _store;

    protected IMessageStore Store => _store ?? throw new InvalidOperationException("The store is not created yet.");

    /// <summary>A new, empty store for one test.</summary>
    protected abstract Task<IMessageStore> CreateStoreAsync();

    /// <summary>Releases what <see cref="CreateStoreAsync"/> created.</summary>
    protected abstract Task DisposeStoreAsync(IMessageStore store);

    public async Task InitializeAsync() => _store = await CreateStoreAsync();

    public async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await DisposeStoreAsync(_store);
        }
    }

    [Fact]
    public async Task AppendAsync_FirstMessage_StoredWithSeqOne()
    {
        var message = NewMessage(Guid.NewGuid(), "hello");

        var result = await Store.AppendAsync(message);

        Assert.Equal(AppendOutcome.Stored, result.Outcome);
        Assert.NotNull(result.Event);
        Assert.Equal(1UL, result.Event.Seq);
        AssertMatches(message, result.Event);
    }

    [Fact]
    public async Task AppendAsync_SuccessiveMessages_GetSeqsOneTwoThree()
    {
        var conversation = Guid.NewGuid();

        var seqs = new List<ulong>();
        foreach (var text in new[] { "one", "two", "three" })
        {
            seqs.Add((await Store.AppendAsync(NewMessage(conversation, text))).Event!.Seq);
        }

        Assert.Equal([1UL, 2UL, 3UL], seqs);
    }

    [Fact]
    public async Task AppendAsync_TwoConversations_SequencesAreIndependent()
    {
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();

        await Store.AppendAsync(NewMessage(first, "a1"));
        await Store.AppendAsync(NewMessage(first, "a2"));
        var b1 = await Store.AppendAsync(NewMessage(second, "b1"));
        var a3 = await Store.AppendAsync(NewMessage(first, "a3"));

        Assert.Equal(1UL, b1.Event!.Seq);
        Assert.Equal(3UL, a3.Event!.Seq);
    }

    [Fact]
    public async Task AppendAsync_SameIdSameBody_ReturnsDuplicateWithOriginalSeqAndTime()
    {
        var conversation = Guid.NewGuid();
        var message = NewMessage(conversation, "hello");
        var original = await Store.AppendAsync(message);
        await Store.AppendAsync(NewMessage(conversation, "after"));

        var resent = await Store.AppendAsync(message with { Content = Encoding.UTF8.GetBytes("hello") });

        Assert.Equal(AppendOutcome.Duplicate, resent.Outcome);
        Assert.NotNull(resent.Event);
        Assert.Equal(1UL, resent.Event.Seq);
        Assert.Equal(original.Event!.StoredAt, resent.Event.StoredAt);
        AssertMatches(message, resent.Event);
        Assert.Equal(2UL, await LatestSeqAsync(conversation));
    }

    [Fact]
    public async Task AppendAsync_SameIdDifferentBody_ReturnsConflictAndStoresNothing()
    {
        var conversation = Guid.NewGuid();
        var message = NewMessage(conversation, "hello");
        await Store.AppendAsync(message);

        var otherBody = await Store.AppendAsync(message with { Content = Encoding.UTF8.GetBytes("changed") });
        var otherType = await Store.AppendAsync(message with { ContentType = "application/octet-stream" });

        Assert.Equal(new AppendResult(AppendOutcome.Conflict, null), otherBody);
        Assert.Equal(new AppendResult(AppendOutcome.Conflict, null), otherType);
        Assert.Equal(1UL, await LatestSeqAsync(conversation));
        var stored = Assert.Single(await Store.ReadAsync(conversation, 0, ReadDirection.After, 10));
        AssertMatches(message, stored);
    }

    [Fact]
    public async Task AppendAsync_SameIdFromOtherDevice_ConflictAndStoresNothing()
    {
        // An event id names one event in its conversation, whoever sends it.
        var conversation = Guid.NewGuid();
        var message = NewMessage(conversation, "hello");
        await Store.AppendAsync(message);

        var fromOtherDevice = await Store.AppendAsync(message with { SenderDeviceId = Guid.NewGuid() });

        Assert.Equal(new AppendResult(AppendOutcome.Conflict, null), fromOtherDevice);
        Assert.Equal(1UL, await LatestSeqAsync(conversation));
    }

    [Fact]
    public async Task AppendAsync_SameIdInAnotherConversation_StoredInEach()
    {
        var message = NewMessage(Guid.NewGuid(), "hello");
        await Store.AppendAsync(message);

        var elsewhere = await Store.AppendAsync(message with { ConversationId = Guid.NewGuid() });

        Assert.Equal(AppendOutcome.Stored, elsewhere.Outcome);
        Assert.Equal(1UL, elsewhere.Event!.Seq);
    }

    [Fact]
    public async Task AppendAsync_MembershipEvents_ShareTheSeqSpaceWithMessages()
    {
        var conversation = Guid.NewGuid();
        var member = Guid.NewGuid();

        var joined = await Store.AppendAsync(NewEvent.Membership(conversation, EventKind.MemberJoined, member, _senderUserId, _senderDeviceId));
        var message = await Store.AppendAsync(NewMessage(conversation, "hello"));
        var left = await Store.AppendAsync(NewEvent.Membership(conversation, EventKind.MemberLeft, member, member, Guid.NewGuid()));

        Assert.Equal([1UL, 2UL, 3UL], new[] { joined, message, left }.Select(r => r.Event!.Seq));
        var stored = await Store.ReadAsync(conversation, 0, ReadDirection.After, 10);
        Assert.Equal([EventKind.MemberJoined, EventKind.Message, EventKind.MemberLeft], stored.Select(e => e.Kind));
        Assert.Equal([member, null, member], stored.Select(e => e.SubjectId));
        Assert.Equal(string.Empty, stored[0].ContentType);
        Assert.True(stored[0].Content.IsEmpty);
        Assert.Equal((member, _senderUserId), (stored[2].SenderUserId == member ? member : Guid.Empty, stored[0].SenderUserId));
    }

    [Fact]
    public async Task AppendAsync_SameIdOtherKind_Conflict()
    {
        var conversation = Guid.NewGuid();
        var joined = NewEvent.Membership(conversation, EventKind.MemberJoined, Guid.NewGuid(), _senderUserId, _senderDeviceId);
        await Store.AppendAsync(joined);

        var asMessage = await Store.AppendAsync(NewMessage(conversation, string.Empty) with { EventId = joined.EventId, ContentType = string.Empty });
        var otherSubject = await Store.AppendAsync(joined with { SubjectId = Guid.NewGuid() });

        Assert.Equal(AppendOutcome.Conflict, asMessage.Outcome);
        Assert.Equal(AppendOutcome.Conflict, otherSubject.Outcome);
        Assert.Equal(AppendOutcome.Duplicate, (await Store.AppendAsync(joined)).Outcome);
    }

    [Fact]
    public async Task AppendAsync_ConcurrentSendersAcrossConversations_EveryConversationGapFree()
    {
        const int Conversations = 5;
        const int Senders = 20;
        const int PerSender = 10;
        var conversations = Enumerable.Range(0, Conversations).Select(_ => Guid.NewGuid()).ToArray();

        var senders = Enumerable.Range(0, Senders).Select(sender => Task.Run(async () =>
        {
            var results = new List<AppendResult>();
            for (var i = 0; i < PerSender; i++)
            {
                var conversation = conversations[(sender + i) % Conversations];
                results.Add(await Store.AppendAsync(NewMessage(conversation, $"{sender}-{i}")));
            }

            return results;
        }));
        var all = (await Task.WhenAll(senders)).SelectMany(r => r).ToList();

        Assert.Equal(Senders * PerSender, all.Count);
        Assert.All(all, r => Assert.Equal(AppendOutcome.Stored, r.Outcome));
        foreach (var conversation in conversations)
        {
            var acknowledged = all.Select(r => r.Event!).Where(m => m.ConversationId == conversation).Select(m => m.Seq).Order().ToList();
            var expected = Enumerable.Range(1, acknowledged.Count).Select(n => (ulong)n).ToList();
            Assert.Equal(expected, acknowledged);

            var stored = await Store.ReadAsync(conversation, 0, ReadDirection.After, 1000);
            Assert.Equal(expected, stored.Select(m => m.Seq));
            Assert.Equal((ulong)expected.Count, await LatestSeqAsync(conversation));
        }
    }

    [Fact]
    public async Task AppendAsync_ConcurrentResendsOfOneMessage_StoresItOnce()
    {
        var conversation = Guid.NewGuid();
        var message = NewMessage(conversation, "hello");

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(() => Store.AppendAsync(message))));

        Assert.Single(results, r => r.Outcome == AppendOutcome.Stored);
        Assert.Equal(9, results.Count(r => r.Outcome == AppendOutcome.Duplicate));
        Assert.All(results, r => Assert.Equal(1UL, r.Event!.Seq));
        Assert.Equal(1UL, await LatestSeqAsync(conversation));
    }

    [Fact]
    public async Task GetLatestSeqsAsync_SomeConversations_ReturnsEachHighestAndLeavesOutEmptyOnes()
    {
        var four = await AppendManyAsync(4);
        var one = await AppendManyAsync(1);
        var empty = Guid.NewGuid();

        var latest = await Store.GetLatestSeqsAsync([four, one, empty]);

        Assert.Equal(2, latest.Count);
        Assert.Equal(4UL, latest[four]);
        Assert.Equal(1UL, latest[one]);
        Assert.False(latest.ContainsKey(empty));
        Assert.Empty(await Store.GetLatestSeqsAsync([]));
    }

    [Fact]
    public async Task GetUsageAsync_CountsStoredContent_ForSenderAndTeam_NotDuplicatesOrConflicts()
    {
        var channel = Guid.NewGuid();
        var team = Guid.NewGuid();
        var sender = Guid.NewGuid();
        var device = Guid.NewGuid();
        var first = NewEvent.Message(channel, Guid.CreateVersion7(), sender, device, "text/plain", new byte[100]) with { UsageTeamId = team };
        await Store.AppendAsync(first);
        await Store.AppendAsync(first);
        await Store.AppendAsync(first with { Content = new byte[7] });
        await Store.AppendAsync(NewEvent.Message(Guid.NewGuid(), Guid.CreateVersion7(), sender, device, "text/plain", new byte[50]));
        await Store.AppendAsync(NewEvent.Membership(channel, EventKind.MemberJoined, Guid.NewGuid(), sender, device));
        var nobody = Guid.NewGuid();

        var usage = await Store.GetUsageAsync([sender, team, nobody]);

        Assert.Equal(150, usage[sender]);
        Assert.Equal(100, usage[team]);
        Assert.False(usage.ContainsKey(nobody));
        Assert.Empty(await Store.GetUsageAsync([]));
    }

    [Fact]
    public async Task GetUsageAsync_ManyOwnersAppendingAtOnce_CountsEveryOwnersBytes()
    {
        // 45 senders, each in a team of their own, append at once, so a batch of the group commit may count the
        // bytes of up to 90 owners; a resend of every message must still count nothing.
        var senders = Enumerable.Range(0, 45).Select(_ => (User: Guid.NewGuid(), Team: Guid.NewGuid(), Channel: Guid.NewGuid())).ToArray();
        var events = senders.SelectMany((s, i) => new[]
        {
            NewEvent.Message(s.Channel, Guid.CreateVersion7(), s.User, Guid.NewGuid(), "text/plain", new byte[10 + i]) with { UsageTeamId = s.Team },
            NewEvent.Message(s.Channel, Guid.CreateVersion7(), s.User, Guid.NewGuid(), "text/plain", new byte[1000]) with { UsageTeamId = s.Team },
        }).ToArray();

        await Task.WhenAll(events.Select(e => Store.AppendAsync(e)));
        await Task.WhenAll(events.Select(e => Store.AppendAsync(e)));

        var usage = await Store.GetUsageAsync([.. senders.Select(s => s.User), .. senders.Select(s => s.Team)]);
        Assert.Equal(90, usage.Count);
        for (var i = 0; i < senders.Length; i++)
        {
            Assert.Equal(1010 + i, usage[senders[i].User]);
            Assert.Equal(1010 + i, usage[senders[i].Team]);
        }
    }

    [Fact]
    public async Task GetLatestSeqsAsync_ManyConversations_AnswersForAll()
    {
        // More than any one statement of an adapter should take at once.
        var conversations = Enumerable.Range(0, 1_200).Select(_ => Guid.NewGuid()).ToList();
        foreach (var conversation in conversations.Where((_, i) => i % 100 == 0))
        {
            await Store.AppendAsync(NewMessage(conversation, "x"));
        }

        var latest = await Store.GetLatestSeqsAsync(conversations);

        Assert.Equal(12, latest.Count);
        Assert.All(latest.Values, seq => Assert.Equal(1UL, seq));
    }

    [Fact]
    public async Task EnqueueAsync_OneCallerWithoutWaitingForCommits_StoresInTheOrderQueued()
    {
        var conversation = Guid.NewGuid();
        var commits = new List<Task<AppendResult>>();
        var messages = Enumerable.Range(1, 200).Select(i => NewMessage(conversation, $"m{i}")).ToList();

        foreach (var message in messages)
        {
            commits.Add(await Store.EnqueueAsync(message));
        }

        var results = await Task.WhenAll(commits);
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (ulong)i), results.Select(r => r.Event!.Seq));
        Assert.Equal(messages.Select(m => m.EventId), results.Select(r => r.Event!.EventId));
    }

    [Fact]
    public async Task FindStoredAsync_AnswersAsAnAppendWould_EvenAfterTheMessageWasEditedAndDeleted()
    {
        var conversation = Guid.NewGuid();
        var message = NewMessage(conversation, "as first sent");
        Assert.Null(await Store.FindStoredAsync(message));
        var stored = (await Store.AppendAsync(message)).Event!;

        var same = await Store.FindStoredAsync(message with { Content = message.Content.ToArray() });
        var otherBody = await Store.FindStoredAsync(NewMessage(conversation, "another body") with { EventId = message.EventId });
        var otherDevice = await Store.FindStoredAsync(message with { SenderDeviceId = Guid.NewGuid() });
        var otherConversation = await Store.FindStoredAsync(message with { ConversationId = Guid.NewGuid() });
        await Store.AppendAsync(NewEvent.Change(conversation, EventKind.MessageEdited, message.EventId, message.SenderUserId, message.SenderDeviceId, "text/plain", "edited"u8.ToArray()));
        var afterEdit = await Store.FindStoredAsync(message);
        await Store.AppendAsync(NewEvent.Change(conversation, EventKind.MessageDeleted, message.EventId, message.SenderUserId, message.SenderDeviceId, string.Empty, Array.Empty<byte>()));
        var afterDeletion = await Store.FindStoredAsync(message);

        Assert.Equal((AppendOutcome.Duplicate, stored.Seq, stored.StoredAt), (same!.Outcome, same.Event!.Seq, same.Event.StoredAt));
        Assert.Equal(AppendOutcome.Conflict, otherBody!.Outcome);
        Assert.Equal(AppendOutcome.Conflict, otherDevice!.Outcome);
        Assert.Null(otherConversation);
        Assert.Equal((AppendOutcome.Duplicate, stored.Seq), (afterEdit!.Outcome, afterEdit.Event!.Seq));
        Assert.Equal((AppendOutcome.Duplicate, stored.Seq), (afterDeletion!.Outcome, afterDeletion.Event!.Seq));
    }

    [Fact]
    public async Task ObserveCommits_ConcurrentAppends_SeesEveryStoredEventOnceInSeqOrderPerConversation()
    {
        var observer = new RecordingObserver();
        using var observation = Store.ObserveCommits(observer);
        var conversations = Enumerable.Range(0, 4).Select(_ => Guid.NewGuid()).ToArray();

        var stored = await Task.WhenAll(Enumerable.Range(0, 8).Select(sender => Task.Run(async () =>
        {
            var results = new List<AppendResult>();
            for (var i = 0; i < 25; i++)
            {
                var message = NewMessage(conversations[(sender + i) % conversations.Length], $"{sender}-{i}");
                results.Add(await Store.AppendAsync(message));
                results.Add(await Store.AppendAsync(message));
            }

            return results;
        })));

        // Seen before the appends completed: the observer is told before the waiters.
        var seen = observer.Events;
        Assert.Equal(200, seen.Count);
        Assert.Equal(200, stored.SelectMany(r => r).Count(r => r.Outcome == AppendOutcome.Stored));
        foreach (var conversation in conversations)
        {
            var seqs = seen.Where(e => e.ConversationId == conversation).Select(e => e.Seq).ToList();
            Assert.Equal(Enumerable.Range(1, seqs.Count).Select(n => (ulong)n), seqs);
        }
    }

    [Fact]
    public async Task ObserveCommits_AfterDispose_SeesNothing()
    {
        var observer = new RecordingObserver();
        var observation = Store.ObserveCommits(observer);
        await Store.AppendAsync(NewMessage(Guid.NewGuid(), "seen"));

        observation.Dispose();
        await Store.AppendAsync(NewMessage(Guid.NewGuid(), "not seen"));

        Assert.Single(observer.Events);
    }

    [Fact]
    public async Task ObserveCommits_ObserverFallenBehind_AcknowledgesTheCommittedBatchAndHoldsTheNext()
    {
        using var observer = new HoldingObserver();
        using var observation = Store.ObserveCommits(observer);
        var conversation = Guid.NewGuid();
        try
        {
            // The observer blocks the writer after the first batch: that batch is acknowledged all the same.
            var first = await Store.AppendAsync(NewMessage(conversation, "first")).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(AppendOutcome.Stored, first.Outcome);
            Assert.True(observer.Waiting.Wait(TimeSpan.FromSeconds(30)));

            // The next append is not committed while the observer holds the writer.
            var second = Store.AppendAsync(NewMessage(conversation, "second"));
            await Task.Delay(200);
            Assert.False(second.IsCompleted);
            Assert.Single(observer.Events);

            observer.Release.Set();
            Assert.Equal(2UL, (await second.WaitAsync(TimeSpan.FromSeconds(30))).Event!.Seq);
            Assert.Equal(2, observer.Events.Count);

            // The writer reports the wait (for metrics). It was held for the 200 ms above and more, but Task.Delay
            // may end a timer tick early against the writer's Stopwatch (199.8 ms was seen), so half of it.
            Assert.True(observer.LongestWait >= TimeSpan.FromMilliseconds(100), $"reported {observer.LongestWait}");
        }
        finally
        {
            observer.Release.Set();
        }
    }

    protected async Task<ulong> LatestSeqAsync(Guid conversationId) =>
        (await Store.GetLatestSeqsAsync([conversationId])).TryGetValue(conversationId, out var seq) ? seq : 0;

    protected NewEvent NewMessage(Guid conversationId, string text) =>
        NewEvent.Message(conversationId, Guid.CreateVersion7(), _senderUserId, _senderDeviceId, "text/plain", Encoding.UTF8.GetBytes(text));

    /// <summary>Appends <paramref name="count"/> messages "m1".."mN" to a new conversation, one after another.</summary>
    protected async Task<Guid> AppendManyAsync(int count)
    {
        var conversation = Guid.NewGuid();
        for (var i = 1; i <= count; i++)
        {
            var result = await Store.AppendAsync(NewMessage(conversation, $"m{i}"));
            Assert.Equal((ulong)i, result.Event!.Seq);
        }

        return conversation;
    }

    protected static void AssertMatches(NewEvent expected, StoredEvent actual)
    {
        Assert.Equal(expected.ConversationId, actual.ConversationId);
        Assert.Equal(expected.EventId, actual.EventId);
        Assert.Equal(expected.Kind, actual.Kind);
        Assert.Equal(expected.SubjectId, actual.SubjectId);
        Assert.Equal(expected.SenderUserId, actual.SenderUserId);
        Assert.Equal(expected.SenderDeviceId, actual.SenderDeviceId);
        Assert.Equal(expected.ContentType, actual.ContentType);
        Assert.Equal(expected.Content.ToArray(), actual.Content.ToArray());
    }

    // Records events and, from the first batch on, holds the writer in WaitForRoom until released.
    private sealed class HoldingObserver : ICommitObserver, IDisposable
    {
        private readonly RecordingObserver _recording = new();

        public ManualResetEventSlim Waiting { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public List<StoredEvent> Events => _recording.Events;

        public TimeSpan LongestWait { get; private set; }

        public void OnCommitted(IReadOnlyList<StoredEvent> events) => _recording.OnCommitted(events);

        public void OnWaitedForRoom(TimeSpan waited) => LongestWait = waited > LongestWait ? waited : LongestWait;

        public void WaitForRoom()
        {
            Waiting.Set();
            Release.Wait(TimeSpan.FromSeconds(60));
        }

        public void Dispose()
        {
            Waiting.Dispose();
            Release.Dispose();
        }
    }

    private sealed class RecordingObserver : ICommitObserver
    {
        private readonly List<StoredEvent> _events = [];

        public List<StoredEvent> Events
        {
            get
            {
                lock (_events)
                {
                    return [.. _events];
                }
            }
        }

        public void OnCommitted(IReadOnlyList<StoredEvent> events)
        {
            lock (_events)
            {
                _events.AddRange(events);
            }
        }
    }
}
