using System.Text;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ChatWire.Client.Tests;

// Threads, mentions, edits, deletions, reactions and read state, through the SDK against the real gateway:
// every device of every member sees each change, in order, once.
public sealed class MessagingFeatureTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private TestServer Server => fixture.Server;

    [Fact]
    public async Task ThreeDevicesAndTwo_EveryEventOnEveryDevice_InOrder_Once()
    {
        var crew = await Crew.CreateAsync(Server);
        var alice2 = await Server.LoginAsync(crew.Alice);
        var alice3 = await Server.LoginAsync(crew.Alice);
        var bob2 = await Server.LoginAsync(crew.Bob);
        var users = new[] { crew.Alice, alice2, alice3, crew.Bob, bob2 };
        var connections = new List<ChatWireConnection>();
        try
        {
            foreach (var user in users)
            {
                connections.Add(await Sdk.ConnectAsync(user));
            }

            var logs = connections.Select(c => new EventLog(c)).ToList();
            var (a1, a2, a3, b1, b2) = (connections[0], connections[1], connections[2], connections[3], connections[4]);
            var general = crew.GeneralId;

            // Each change from another device, each one stored before the next is made.
            var root = await a1.SendTextAsync(general, "ship it?");
            await b1.SendAsync(general, "@alice yes"u8.ToArray(), "text/plain", null, new MessageOptions(root.MessageId, [crew.Alice.UserId]));
            await a2.EditAsync(general, root.MessageId, "ship it today?"u8.ToArray());
            await b2.ReactAsync(general, root.MessageId, "🚀");
            var here = await a3.SendAsync(general, "standup in 5"u8.ToArray(), "text/plain", null, new MessageOptions(GroupMentions: GroupMentions.Here));
            await a3.DeleteAsync(general, here.MessageId);

            foreach (var log in logs)
            {
                var seen = new List<ChatWireEvent>();
                while (seen.Count < 6)
                {
                    var next = await log.NextAnyAsync();
                    if (next is not ConnectionStateChanged and not ReadStateChanged and not MembershipChanged)
                    {
                        seen.Add(next);
                    }
                }

                Assert.Collection(
                    seen,
                    e => Assert.Equal(root.MessageId, Assert.IsType<MessageReceived>(e).Message.EventId),
                    e => Assert.Equal(root.MessageId, Assert.IsType<MessageReceived>(e).Message.ThreadRootId),
                    e => Assert.Equal("ship it today?", Sdk.Text(Assert.IsType<MessageEdited>(e).Event)),
                    e => Assert.Equal(("🚀", true), (Assert.IsType<ReactionChanged>(e).Emoji, ((ReactionChanged)e).Added)),
                    e => Assert.Equal(GroupMentions.Here, Assert.IsType<MessageReceived>(e).Message.GroupMentions),
                    e => Assert.Equal(here.MessageId, Assert.IsType<MessageDeleted>(e).MessageId));
                var seqs = seen.Select(SeqOf).ToList();
                Assert.Equal(Enumerable.Range(0, 6).Select(i => root.Seq + (ulong)i), seqs);
            }

            // Nothing came twice: a moment later no device has anything more.
            await Task.Delay(200);
            foreach (var (connection, log) in connections.Zip(logs))
            {
                Assert.Equal(root.Seq + 5, connection.Watermarks[general]);
                Assert.DoesNotContain(log.Arrived(), e => e is MessageReceived or MessageEdited or MessageDeleted or ReactionChanged);
            }
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    // A change of a channel's settings arrives as ChannelUpdated, in seq order with the messages, on live devices and on
    // one that was away (through the reconnect's fill), with the settings after the change.
    [Fact]
    public async Task ChannelUpdated_ArrivesLiveAndAfterAReconnect_WithTheSettingsAfterTheChange()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var bob = await Sdk.ConnectAsync(crew.Bob);
        var bobLog = new EventLog(bob);
        var general = crew.GeneralId;
        var before = await bob.SendTextAsync(general, "before");
        await bobLog.NextOfAsync<MessageReceived>();

        using var api = new ChatWireApiClient(Server.ApiBaseAddress) { SessionToken = crew.Alice.Token };
        var summary = await api.UpdateChannelAsync(general, topic: "Standups at 9", slowModeSeconds: 10);
        var live = await bobLog.NextOfAsync<ChannelUpdated>();

        // A device that connects afterwards, resuming from before the change, gets it from the fill.
        var options = Sdk.Options(await Server.LoginAsync(crew.Bob)) with { ResumeWatermarks = new Dictionary<Guid, ulong> { [general] = before.Seq } };
        await using var later = await ChatWireConnection.ConnectAsync(options).WaitAsync(Patience.Default);
        var filled = await new EventLog(later).NextOfAsync<ChannelUpdated>();

        Assert.Equal(("Standups at 9", 10), (summary.Topic, summary.SlowModeSeconds));
        foreach (var update in new[] { live, filled })
        {
            Assert.Equal((general, before.Seq + 1, crew.Alice.UserId), (update.ConversationId, update.Event.Seq, update.Event.SenderUserId));
            Assert.Equal(new ChannelUpdate(ChannelChanges.Topic | ChannelChanges.SlowMode, "general", "Standups at 9", 10, 0), update.Update);
        }

        // The signatures from before slow mode, topics and the @channel setting still bind, the token by position.
        var renamed = await api.UpdateTeamAsync(crew.TeamId, "Renamed", null, CancellationToken.None);
        var archived = await api.UpdateChannelAsync(
            (await api.CreateChannelAsync(crew.TeamId, "old-api")).ConversationId, null, true, CancellationToken.None);
        Assert.Equal(("Renamed", true), (renamed.Name, archived.Archived));
    }

    [Fact]
    public async Task Thread_RepliesPageAsOneThread_AndTheRootCarriesItsSummary()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var alice = await Sdk.ConnectAsync(crew.Alice);
        await using var bob = await Sdk.ConnectAsync(crew.Bob);
        var general = crew.GeneralId;

        var root = await alice.SendTextAsync(general, "release notes?");
        await bob.SendTextAsync(general, "unrelated");
        var first = await bob.SendAsync(general, "drafting"u8.ToArray(), "text/plain", null, new MessageOptions(root.MessageId));
        var second = await alice.SendAsync(general, "thanks"u8.ToArray(), "text/plain", null, new MessageOptions(root.MessageId));
        var nested = await Assert.ThrowsAsync<ChatWireException>(() => bob.SendAsync(general, "nested"u8.ToArray(), "text/plain", null, new MessageOptions(first.MessageId)));
        var orphan = await Assert.ThrowsAsync<ChatWireException>(() => bob.SendAsync(general, "orphan"u8.ToArray(), "text/plain", null, new MessageOptions(Guid.CreateVersion7())));

        var thread = await alice.GetThreadAsync(general, root.MessageId);
        var page = await bob.GetHistoryAsync(general, 0, HistoryDirection.After);

        Assert.Equal([root.Seq, first.Seq, second.Seq], thread.Events.Select(e => e.Seq));
        Assert.Equal((ErrorCode.InvalidField, ErrorCode.NotFound), (nested.Code, orphan.Code));
        var rootAsRead = page.Events.Single(e => e.EventId == root.MessageId);
        Assert.Equal(2u, rootAsRead.ReplyCount);
        Assert.Equal(second.ServerTime.ToUnixTimeMilliseconds(), rootAsRead.LastReplyUnixMs);
        Assert.Equal([crew.Alice.UserId, crew.Bob.UserId], rootAsRead.ThreadParticipants);
        Assert.Equal(root.MessageId, page.Events.Single(e => e.EventId == first.MessageId).ThreadRootId);
    }

    [Fact]
    public async Task EditAndDelete_ByTheAuthor_OrDeleteByATeamAdmin_OthersForbidden()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var alice = await Sdk.ConnectAsync(crew.Alice);
        await using var bob = await Sdk.ConnectAsync(crew.Bob);
        var general = crew.GeneralId;
        var alices = await alice.SendTextAsync(general, "alice wrote this");
        var bobs = await bob.SendTextAsync(general, "bob wrote this");

        var bobEdits = await Assert.ThrowsAsync<ChatWireException>(() => bob.EditAsync(general, alices.MessageId, "bob was here"u8.ToArray()));
        var bobDeletes = await Assert.ThrowsAsync<ChatWireException>(() => bob.DeleteAsync(general, alices.MessageId));
        var missing = await Assert.ThrowsAsync<ChatWireException>(() => alice.EditAsync(general, Guid.CreateVersion7(), "x"u8.ToArray()));
        var edited = await alice.EditAsync(general, alices.MessageId, "alice rewrote this"u8.ToArray());

        // Alice owns the team: she may delete bob's message in its channel, once.
        var deleted = await alice.DeleteAsync(general, bobs.MessageId);
        var again = await alice.DeleteAsync(general, bobs.MessageId);
        var editDeleted = await Assert.ThrowsAsync<ChatWireException>(() => bob.EditAsync(general, bobs.MessageId, "back"u8.ToArray()));
        var page = await bob.GetHistoryAsync(general, 0, HistoryDirection.After);

        Assert.Equal((ErrorCode.Forbidden, ErrorCode.Forbidden, ErrorCode.NotFound), (bobEdits.Code, bobDeletes.Code, missing.Code));
        Assert.Equal(ErrorCode.NotFound, editDeleted.Code);
        Assert.Equal(bobs.Seq + 1, edited.Seq);
        Assert.Equal(edited.Seq + 1, deleted.Seq);
        Assert.Equal(0UL, again.Seq);
        var alicesNow = page.Events.Single(e => e.EventId == alices.MessageId);
        Assert.Equal("alice rewrote this", Sdk.Text(alicesNow));
        Assert.NotEqual(0, alicesNow.EditedAtUnixMs);
        var tombstone = page.Events.Single(e => e.EventId == bobs.MessageId);
        Assert.True(tombstone.Content.IsEmpty);
        Assert.NotEqual(0, tombstone.DeletedAtUnixMs);
        var deletion = page.Events.Single(e => e.Kind == EventKind.MessageDeleted);
        Assert.Equal((crew.Alice.UserId, bobs.MessageId), (deletion.SenderUserId, deletion.SubjectId));
    }

    [Fact]
    public async Task Reactions_AreIdempotent_CountedPerEmoji_WithTheReadersOwn()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var alice = await Sdk.ConnectAsync(crew.Alice);
        await using var bob = await Sdk.ConnectAsync(crew.Bob);
        var general = crew.GeneralId;
        var message = await alice.SendTextAsync(general, "lunch?");

        var first = await bob.ReactAsync(general, message.MessageId, "👍");
        var twice = await bob.ReactAsync(general, message.MessageId, "👍");
        await alice.ReactAsync(general, message.MessageId, "👍");
        await alice.ReactAsync(general, message.MessageId, ":taco:");
        var removedNothing = await bob.ReactAsync(general, message.MessageId, ":taco:", remove: true);
        var badEmoji = await Assert.ThrowsAsync<ChatWireException>(() => bob.ReactAsync(general, message.MessageId, "a b"));
        var removedFromNoMessage = await Assert.ThrowsAsync<ChatWireException>(() => bob.ReactAsync(general, Guid.CreateVersion7(), "👍", remove: true));

        // 64 bytes as sent, 128 once normalized (U+1D15E decomposes under NFC): refused, since it is stored normalized.
        var growsUnderNfc = await Assert.ThrowsAsync<ChatWireException>(() => bob.ReactAsync(general, message.MessageId, string.Concat(Enumerable.Repeat("\U0001D15E", 16))));
        Assert.Equal(ErrorCode.InvalidField, growsUnderNfc.Code);

        // A joiner only inside a sequence, and no combining mark first: lookalikes of 👍 must not count apart.
        foreach (var lookalike in new[] { "\u200D", "👍\u200D", "\u200D👍", "👍\u200D\u200D👍", "\u0301", "\u0301👍" })
        {
            Assert.Equal(ErrorCode.InvalidField, (await Assert.ThrowsAsync<ChatWireException>(() => bob.ReactAsync(general, message.MessageId, lookalike))).Code);
        }

        // Noncharacters are no emoji (and the platform's normalizer throws on U+FFFE, which must not become INTERNAL_ERROR).
        foreach (var noncharacter in new[] { "\uFFFE", "👍\uFFFE", "\uFDD0", "\U0010FFFF" })
        {
            Assert.Equal(ErrorCode.InvalidField, (await Assert.ThrowsAsync<ChatWireException>(() => bob.ReactAsync(general, message.MessageId, noncharacter))).Code);
        }

        Assert.NotEqual(0UL, (await bob.ReactAsync(general, message.MessageId, "👩\u200D💻")).Seq);
        await bob.ReactAsync(general, message.MessageId, "👩\u200D💻", remove: true);

        var forBob = (await bob.GetHistoryAsync(general, 0, HistoryDirection.After)).Events.Single(e => e.EventId == message.MessageId);

        Assert.NotEqual(0UL, first.Seq);
        Assert.Equal((0UL, 0UL), (twice.Seq, removedNothing.Seq));
        Assert.Equal(ErrorCode.InvalidField, badEmoji.Code);
        Assert.Equal(ErrorCode.NotFound, removedFromNoMessage.Code);
        Assert.Equal([new Reaction("👍", 2, true), new Reaction(":taco:", 1, false)], forBob.Reactions);
    }

    [Fact]
    public async Task ReadPosition_IsSharedByTheUsersDevices_AndSyncCarriesUnreadMentionsAndMute()
    {
        var crew = await Crew.CreateAsync(Server);
        var alicePhone = await Server.LoginAsync(crew.Alice);
        await using var laptop = await Sdk.ConnectAsync(crew.Alice);
        await using var phone = await Sdk.ConnectAsync(alicePhone);
        await using var bob = await Sdk.ConnectAsync(crew.Bob);
        var laptopLog = new EventLog(laptop);
        var phoneLog = new EventLog(phone);
        var general = crew.GeneralId;

        await bob.SendAsync(general, "@alice look"u8.ToArray(), "text/plain", null, new MessageOptions(Mentions: [crew.Alice.UserId]));
        var second = await bob.SendTextAsync(general, "second");
        await bob.SendTextAsync(general, "third");
        await laptop.SendTextAsync(general, "mine do not count");

        var before = (await phone.GetConversationStatesAsync()).Single(s => s.ConversationId == general);
        var read = await laptop.MarkReadAsync(general, second.Seq);
        var onLaptop = await laptopLog.NextOfAsync<ReadStateChanged>();
        var onPhone = await phoneLog.NextOfAsync<ReadStateChanged>();
        var backwards = await phone.MarkReadAsync(general, 1);
        await crew.Alice.CallAsync(HttpMethod.Put, $"v1/teams/{crew.TeamId}/mute");
        var after = (await phone.GetConversationStatesAsync()).Single(s => s.ConversationId == general);

        // Alice's read position starts at her own member_joined, the channel's first event.
        Assert.Equal((1UL, 3u, 1u, false), (before.ReadSeq, before.UnreadCount, before.MentionCount, before.Muted));
        Assert.Equal(second.Seq, read.Seq);
        Assert.Equal(new ReadStateChanged(general, second.Seq, 1, 0), onLaptop);
        Assert.Equal(onLaptop, onPhone);
        Assert.Equal(second.Seq, backwards.Seq);
        Assert.Equal((second.Seq, 1u, 0u, true), (after.ReadSeq, after.UnreadCount, after.MentionCount, after.Muted));
    }

    // A newcomer has read everything up to their own member_joined: the channel's past is history to them, not a
    // badge, and an @channel or a mention sent before they came counts for nobody who joins later.
    [Fact]
    public async Task ReadPosition_OfANewMember_StartsAtTheirJoin_SoEarlierMessagesAndMentionsDoNotCount()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var alice = await Sdk.ConnectAsync(crew.Alice);
        await alice.SendAsync(crew.GeneralId, "@channel meeting at 3"u8.ToArray(), "text/plain", null, new MessageOptions(GroupMentions: GroupMentions.Channel));
        await alice.SendTextAsync(crew.GeneralId, "old news");
        var carol = await Server.SignupAsync();
        await carol.JoinAsync(await crew.Alice.InviteAsync(crew.TeamId));
        await using var carols = await Sdk.ConnectAsync(carol);

        var joined = (await carols.GetConversationStatesAsync()).Single(s => s.ConversationId == crew.GeneralId);
        var history = (await carols.GetHistoryAsync(crew.GeneralId, 0, HistoryDirection.Before, 50)).Events;
        var after = await alice.SendTextAsync(crew.GeneralId, "welcome, carol");
        var later = (await carols.GetConversationStatesAsync()).Single(s => s.ConversationId == crew.GeneralId);

        Assert.Equal((joined.LastSeq, 0u, 0u), (joined.ReadSeq, joined.UnreadCount, joined.MentionCount));
        Assert.Equal(EventKind.MemberJoined, history[^1].Kind);
        Assert.Equal(carol.UserId, history[^1].SubjectId);
        Assert.Contains(history, e => e.Content.Span.SequenceEqual("old news"u8));
        Assert.Equal((joined.LastSeq, 1u, 0u, after.Seq), (later.ReadSeq, later.UnreadCount, later.MentionCount, later.LastSeq));
    }

    [Fact]
    public async Task DeviceCursor_IsAcknowledged_AndARestartedDeviceResumesFromIt()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var bob = await Sdk.ConnectAsync(crew.Bob);
        var options = Sdk.Options(crew.Alice) with { AcknowledgeInterval = TimeSpan.FromMilliseconds(50), ResumeFromDeviceCursor = true };
        ulong acked;
        await using (var alice = await ChatWireConnection.ConnectAsync(options).WaitAsync(Patience.Default))
        {
            var log = new EventLog(alice);
            var sent = await bob.SendTextAsync(crew.GeneralId, "seen before the restart");
            Assert.Equal(sent.Seq, (await log.NextOfAsync<MessageReceived>()).Message.Seq);
            acked = 0;
            for (var i = 0; i < 100 && acked < sent.Seq; i++)
            {
                await Task.Delay(50);
                acked = (await alice.GetConversationStatesAsync()).Single(s => s.ConversationId == crew.GeneralId).DeviceCursor;
            }

            Assert.Equal(sent.Seq, acked);
        }

        // While the app is closed, two more; the restarted app delivers exactly those, from its cursor.
        var missed1 = await bob.SendTextAsync(crew.GeneralId, "missed 1");
        var missed2 = await bob.SendTextAsync(crew.GeneralId, "missed 2");
        await using var restarted = await ChatWireConnection.ConnectAsync(options).WaitAsync(Patience.Default);
        var restartedLog = new EventLog(restarted);

        Assert.Equal(missed1.Seq, (await restartedLog.NextOfAsync<MessageReceived>()).Message.Seq);
        Assert.Equal(missed2.Seq, (await restartedLog.NextOfAsync<MessageReceived>()).Message.Seq);
        Assert.Equal(acked + 1, missed1.Seq);
    }

    // Regression (the race behind a flaky run of the test above, made certain): the server holds the restarted
    // device's SYNC answer while a message arrives live on the new connection. The SDK started the conversation
    // at that live event and never delivered the one between the device cursor and it.
    [Fact]
    public async Task DeviceCursor_ALiveEventBeforeTheSyncAnswer_DoesNotSkipWhatCameBetween()
    {
        var gate = new SyncGate();
        // GetStatsAsync (what SYNC reads) passes through the gate; every other call goes straight through.
        await using var server = await TestServer.StartAsync(replaceServices: services => MessageStoreProxy.Replace(services, (store, method, args) =>
            method.Name == nameof(ChatWire.Storage.Messages.IMessageStore.GetStatsAsync) && !gate.IsOpen ? gate.ThenAsync(() => store.GetStatsAsync(
                (Guid)args[0]!, (IReadOnlyCollection<Guid>)args[1]!, (Guid?)args[2], (CancellationToken)args[3]!)) : null));
        var crew = await Crew.CreateAsync(server);
        await using var bob = await Sdk.ConnectAsync(crew.Bob);
        var options = Sdk.Options(crew.Alice) with { AcknowledgeInterval = TimeSpan.FromMilliseconds(50), ResumeFromDeviceCursor = true };
        var seen = await bob.SendTextAsync(crew.GeneralId, "seen before the restart");
        SendResult marker;
        await using (var alice = await ChatWireConnection.ConnectAsync(options).WaitAsync(Patience.Default))
        {
            // A first connection starts at the newest event; its device cursor reaches the marker once read.
            var log = new EventLog(alice);
            marker = await bob.SendTextAsync(crew.GeneralId, "marker");
            Assert.Equal(marker.Seq, (await log.NextOfAsync<MessageReceived>()).Message.Seq);
            for (var i = 0; i < 100 && (await alice.GetConversationStatesAsync()).Single(s => s.ConversationId == crew.GeneralId).DeviceCursor < marker.Seq; i++)
            {
                await Task.Delay(50);
            }
        }

        var missed = await bob.SendTextAsync(crew.GeneralId, "missed while closed");
        gate.Close();
        var connecting = ChatWireConnection.ConnectAsync(options);
        await gate.Held.Task.WaitAsync(Patience.Default);
        var live = await bob.SendTextAsync(crew.GeneralId, "pushed before the SYNC answer");
        await Task.Delay(200);
        gate.Open();
        await using var restarted = await connecting.WaitAsync(Patience.Default);
        var restartedLog = new EventLog(restarted);

        Assert.True(seen.Seq < marker.Seq);
        Assert.Equal(missed.Seq, (await restartedLog.NextOfAsync<MessageReceived>()).Message.Seq);
        Assert.Equal(live.Seq, (await restartedLog.NextOfAsync<MessageReceived>()).Message.Seq);
    }

    [Fact]
    public async Task SameMessageId_Resent100TimesAtOnce_FromFourConnectionsOfOneDevice_StoredOnce()
    {
        // The sending rate is lifted so every resend reaches the store's idempotency check at once.
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:SendMessageBurstPerDevice"] = "1000",
            ["Limits:SendMessageBurstPerUser"] = "1000",
        });
        var crew = await Crew.CreateAsync(server);
        await using var bob = await Sdk.ConnectAsync(crew.Bob);
        var bobLog = new EventLog(bob);
        var connections = new List<ChatWireConnection>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                connections.Add(await Sdk.ConnectAsync(crew.Alice));
            }

            var id = Guid.CreateVersion7();
            var content = Encoding.UTF8.GetBytes("exactly once");
            var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => connections[i % 4].SendAsync(crew.GeneralId, content, "text/plain", id)));
            var page = await bob.GetHistoryAsync(crew.GeneralId, 0, HistoryDirection.After);

            Assert.Single(results.Select(r => (r.Seq, r.ServerTime)).Distinct());
            Assert.Single(Sdk.Messages(page));
            Assert.Equal(id, (await bobLog.NextOfAsync<MessageReceived>()).Message.EventId);
            await Task.Delay(200);
            Assert.DoesNotContain(bobLog.Arrived(), e => e is MessageReceived);
            Assert.Equal(results[0].Seq, bob.Watermarks[crew.GeneralId]);
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private static ulong SeqOf(ChatWireEvent e) => e switch
    {
        MessageReceived m => m.Message.Seq,
        MessageEdited m => m.Event.Seq,
        MessageDeleted m => m.Event.Seq,
        ReactionChanged m => m.Event.Seq,
        _ => throw new InvalidOperationException(e.GetType().Name),
    };

    // While closed, holds the store's conversation stats (what SYNC reads); Held tells that a read waits.
    private sealed class SyncGate
    {
        private TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public SyncGate() => _open.SetResult();

        public TaskCompletionSource Held { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool IsOpen => _open.Task.IsCompleted;

        public void Close()
        {
            _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        public void Open() => _open.TrySetResult();

        // Calls the store once the gate is open, telling Held that a call waits.
        public async Task<T> ThenAsync<T>(Func<Task<T>> call)
        {
            Held.TrySetResult();
            await _open.Task;
            return await call();
        }
    }
}
