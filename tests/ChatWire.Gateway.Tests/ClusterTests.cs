using System.Text.Json;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Tests.Shared;

namespace ChatWire.Gateway.Tests;

/// <summary>
/// The distributed mode end to end: three gateway processes on the real MariaDB (directory and messages) and
/// Redis (bus, membership invalidations), with clients spread across them. Every message semantic must hold
/// whichever node a device is connected to.
/// </summary>
[Collection(RunAlone.Name)]
public sealed class ClusterTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Send_OnOneNode_ReachesEveryDeviceOnEveryNode_InSeqOrder()
    {
        await using var cluster = await Cluster.StartAsync(3);
        var team = await TeamAsync(cluster[0], "alice", "bob");
        var alicePhone = await LoginAsync(cluster[1], "alice");

        await using var alice = await team.ConnectAsync(cluster[0], "alice");
        await using var bob = await team.ConnectAsync(cluster[1], "bob");
        await using var phone = await ConnectAsync(cluster[2], alicePhone.Token, alicePhone.DeviceId);

        var acks = new List<SendAck>();
        for (var i = 0; i < 30; i++)
        {
            acks.Add(await alice.SendTextAsync(team.General, $"hello {i}"));
        }

        foreach (var receiver in new[] { bob, phone })
        {
            var seen = new List<ulong>();
            while (seen.Count < acks.Count)
            {
                seen.Add((await receiver.ExpectMessageAsync(Patience)).Seq);
            }

            Assert.Equal(acks.Select(a => a.Seq), seen);
        }
    }

    [Fact]
    public async Task EditsReactionsReadStateTypingAndPresence_CrossNodes()
    {
        await using var cluster = await Cluster.StartAsync(3);
        var team = await TeamAsync(cluster[0], "alice", "bob");
        var alicePhone = await LoginAsync(cluster[2], "alice");
        await using var laptop = await team.ConnectAsync(cluster[0], "alice");
        await using var bob = await team.ConnectAsync(cluster[1], "bob");
        await using var phone = await ConnectAsync(cluster[2], alicePhone.Token, alicePhone.DeviceId);

        // Presence: bob, on another node than both of alice's devices, sees the status she sets on one.
        await bob.SendAsync(new PresenceWatch(bob.NextRequestId(), [team.UserIds["alice"]]));
        Assert.Equal(PresenceStatus.Online, (await bob.ExpectAsync<PresenceFrame>(Patience)).Entries.Single().Status);
        await laptop.SendAsync(new SetStatus(laptop.NextRequestId(), PresenceStatus.Away));
        await ExpectPresenceAsync(bob, team.UserIds["alice"], PresenceStatus.Away);

        var message = await laptop.SendTextAsync(team.General, "first draft");
        Assert.Equal(message.Seq, (await bob.ExpectMessageAsync(Patience)).Seq);
        Assert.Equal(message.Seq, (await phone.ExpectMessageAsync(Patience)).Seq);

        // An edit from the phone reaches bob and the laptop, each on its own node.
        await phone.SendAsync(new Edit(phone.NextRequestId(), team.General, message.MessageId, "text/plain", "final"u8.ToArray()));
        await phone.ExpectAsync<Ok>(Patience);
        foreach (var device in new[] { bob, laptop })
        {
            var edited = await ExpectKindAsync(device, EventKind.MessageEdited);
            Assert.Equal(message.MessageId, edited.SubjectId);
            Assert.Equal("final", System.Text.Encoding.UTF8.GetString(edited.Content.Span));
        }

        // Bob's reaction reaches both of alice's devices.
        await bob.SendAsync(new React(bob.NextRequestId(), team.General, message.MessageId, "👍", Remove: false));
        var last = (await bob.ExpectAsync<Ok>(Patience)).Seq;
        foreach (var device in new[] { laptop, phone })
        {
            var reacted = await ExpectKindAsync(device, EventKind.ReactionAdded);
            Assert.Equal(message.MessageId, reacted.SubjectId);
        }

        // Read state set on the laptop reaches the phone (the user's topic, across nodes).
        await laptop.SendAsync(new MarkRead(laptop.NextRequestId(), team.General, last));
        var state = await phone.ExpectAsync<ReadState>(Patience);
        Assert.Equal(team.General, state.ConversationId);
        Assert.Equal(last, state.ReadSeq);

        // Typing on bob's node shows on alice's phone.
        await bob.SendAsync(new Typing(bob.NextRequestId(), team.General));
        var typing = await phone.ExpectAsync<UserTyping>(Patience);
        Assert.Equal(team.UserIds["bob"], typing.UserId);

        // A change to alice's keys made through the phone's node reaches her laptop on another (the user's topic).
        await cluster[2].CallAsync(alicePhone.Token, HttpMethod.Put, "v1/keys/devices/me", new
        {
            signing_key = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            dh_key = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            created_at_ms = 1_764_000_000_000,
            certificate_version = 1,
            self_signature = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(64)),
        });
        foreach (var device in new[] { laptop, phone })
        {
            Assert.Equal(new KeysChanged(KeyChange.DeviceRegistered, alicePhone.DeviceId), await device.ExpectAsync<KeysChanged>(Patience));
        }
    }

    // The next event of this kind (others, and other frames, are kept or skipped).
    private static async Task<ConversationEvent> ExpectKindAsync(RawClient client, EventKind kind)
    {
        while (true)
        {
            var e = await client.ExpectEventAsync(Patience);
            if (e.Kind == kind)
            {
                return e;
            }
        }
    }

    [Fact]
    public async Task ConcurrentSenders_ThroughAllThreeNodes_GetUniqueGapFreeSeqs()
    {
        await using var cluster = await Cluster.StartAsync(3);
        var team = await TeamAsync(cluster[0], "alice", "bob", "carol");
        var names = new[] { "alice", "bob", "carol" };
        var clients = new List<RawClient>();
        for (var i = 0; i < 3; i++)
        {
            var (token, device) = team.Users[names[i]];
            clients.Add(await ConnectAsync(cluster[i], token, device));
        }

        try
        {
            // Each pipelines 200 SENDs without waiting, all at once, into one conversation.
            var results = await Task.WhenAll(clients.Select(client => Task.Run(async () =>
            {
                var ids = Enumerable.Range(0, 200).Select(_ => Guid.CreateVersion7()).ToList();
                foreach (var id in ids)
                {
                    await client.SendAsync(new Send(client.NextRequestId(), team.General, id, "text/plain", "x"u8.ToArray()));
                }

                var acks = new List<SendAck>();
                while (acks.Count < ids.Count)
                {
                    acks.Add(await client.ExpectAsync<SendAck>(Patience));
                }

                return acks;
            })));

            var seqs = results.SelectMany(a => a).Select(a => a.Seq).OrderBy(s => s).ToList();
            Assert.Equal(600, seqs.Distinct().Count());

            // Gap-free: with the member_joined events before them, the conversation holds 1..N and nothing else.
            var history = await HistoryAsync(clients[0], team.General);
            Assert.Equal(Enumerable.Range(1, history.Count).Select(n => (ulong)n), history.Select(e => e.Seq));
            Assert.Superset(seqs.ToHashSet(), history.Where(e => e.Kind == EventKind.Message).Select(e => e.Seq).ToHashSet());
            Assert.Equal(600, history.Count(e => e.Kind == EventKind.Message));
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Resend_ThroughAnotherNode_IsAcknowledgedWithTheOriginalSeq()
    {
        await using var cluster = await Cluster.StartAsync(2);
        var team = await TeamAsync(cluster[0], "alice", "bob");
        var (token, device) = team.Users["alice"];
        var id = Guid.CreateVersion7();

        SendAck first;
        await using (var onFirst = await ConnectAsync(cluster[0], token, device))
        {
            first = await onFirst.SendTextAsync(team.General, "once", id);
        }

        await using var onSecond = await ConnectAsync(cluster[1], token, device);
        var again = await onSecond.SendTextAsync(team.General, "once", id);

        Assert.Equal(first.Seq, again.Seq);
        Assert.Single(await HistoryAsync(onSecond, team.General), e => e.EventId == id);
    }

    [Fact]
    public async Task Sync_AfterReconnectingToAnotherNode_FindsWhatWasMissed()
    {
        await using var cluster = await Cluster.StartAsync(3);
        var team = await TeamAsync(cluster[0], "alice", "bob");
        await using var alice = await team.ConnectAsync(cluster[0], "alice");

        ulong last = 0;
        await using (var bob = await team.ConnectAsync(cluster[1], "bob"))
        {
            last = (await alice.SendTextAsync(team.General, "before")).Seq;
            Assert.Equal(last, (await bob.ExpectMessageAsync(Patience)).Seq);
        }

        var missed = new List<ulong>();
        for (var i = 0; i < 5; i++)
        {
            missed.Add((await alice.SendTextAsync(team.General, $"missed {i}")).Seq);
        }

        await using var again = await team.ConnectAsync(cluster[2], "bob");
        await again.SendAsync(new Sync(again.NextRequestId(), Guid.Empty, 100));
        var state = (await again.ExpectAsync<SyncPage>()).Conversations.Single(c => c.ConversationId == team.General);
        Assert.Equal(missed[^1], state.LastSeq);

        await again.SendAsync(new History(again.NextRequestId(), team.General, last, HistoryDirection.After, 100));
        var page = await again.ExpectAsync<HistoryPage>();
        Assert.Equal(missed, page.Events.Select(e => e.Seq));
    }

    [Fact]
    public async Task SlowMode_SetOnOneNode_HoldsAMembersDevicesOnEveryNodeToOneTurn()
    {
        await using var cluster = await Cluster.StartAsync(2);
        var team = await TeamAsync(cluster[0], "alice", "bob");
        var aliceToken = team.Users["alice"].Token;
        var bobPhone = await LoginAsync(cluster[1], "bob");
        await using var laptop = await team.ConnectAsync(cluster[0], "bob");
        await using var phone = await ConnectAsync(cluster[1], bobPhone.Token, bobPhone.DeviceId);

        // The phone's node has cached that bob may send in #general, with no slow mode.
        var before = await phone.SendTextAsync(team.General, "before");
        await cluster[0].CallAsync(aliceToken, HttpMethod.Patch, $"v1/channels/{team.General}", new { slow_mode_seconds = 600 });
        var announced = await phone.ExpectEventInAsync(team.General, before.Seq);
        var fromLaptop = await laptop.SendTextAsync(team.General, "one message");

        // The phone's node forgets its cached answer when the change reaches it over Redis, a moment after the PATCH:
        // until then its SENDs pass. From then on they meet the laptop's turn.
        var refused = await UntilAsync(async () => (await phone.TrySendTextAsync(team.General, "and another", Patience)).Error);

        await cluster[0].CallAsync(aliceToken, HttpMethod.Patch, $"v1/channels/{team.General}", new { slow_mode_seconds = 0 });
        var afterOff = await UntilAsync(async () => (await phone.TrySendTextAsync(team.General, "free again", Patience)).Ack);

        // Between them, the channel_updated event of the PATCH, which reached the phone on the other node.
        Assert.Equal((EventKind.ChannelUpdated, before.Seq + 1), (announced.Kind, announced.Seq));
        Assert.True(ChannelUpdate.TryDecode(announced.Content, out var update));
        Assert.Equal((ChannelChanges.SlowMode, 600u), (update.Changed, update.SlowModeSeconds));
        Assert.Equal(before.Seq + 2, fromLaptop.Seq);
        Assert.Equal(ErrorCode.RateLimited, (ErrorCode)refused.Code);
        Assert.InRange(refused.RetryAfterMs, 500_000u, 600_000u);
        Assert.True(afterOff.Seq > fromLaptop.Seq);
    }

    // Tries until the attempt answers something, within Patience.
    private static async Task<T> UntilAsync<T>(Func<Task<T?>> attempt)
        where T : struct
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            if (await attempt() is { } answer)
            {
                return answer;
            }

            Assert.True(DateTime.UtcNow < deadline, "the change did not reach the other node in time");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task RemovedMember_StopsReceivingAndSendingOnEveryNode()
    {
        await using var cluster = await Cluster.StartAsync(3);
        var team = await TeamAsync(cluster[0], "alice", "bob");
        var aliceToken = team.Users["alice"].Token;
        var bobPhone = await LoginAsync(cluster[2], "bob");
        await using var alice = await team.ConnectAsync(cluster[0], "alice");
        await using var bob = await team.ConnectAsync(cluster[1], "bob");
        await using var phone = await ConnectAsync(cluster[2], bobPhone.Token, bobPhone.DeviceId);

        // Both of bob's nodes have routed #general and cached that bob may send there.
        await bob.SendTextAsync(team.General, "hi from the laptop");
        await phone.SendTextAsync(team.General, "hi from the phone");
        await alice.SendTextAsync(team.General, "welcome");
        foreach (var device in new[] { bob, phone })
        {
            while ((await device.ExpectMessageAsync(Patience)).SenderUserId != team.UserIds["alice"])
            {
            }
        }

        await cluster[0].CallAsync(aliceToken, HttpMethod.Delete, $"v1/teams/{team.TeamId}/members/{team.UserIds["bob"]}");
        var after = await alice.SendTextAsync(team.General, "after the removal");

        foreach (var device in new[] { bob, phone })
        {
            // The removal itself may arrive, and so may the other device's greeting, which came through
            // another node and may be behind alice's (order is per node, §4.10); no message after the removal does.
            await DrainUntilSilentAsync(device, e => Assert.True(e.Kind != EventKind.Message || e.Seq < after.Seq, $"message #{e.Seq} delivered after the removal"));
            await device.SendAsync(new Send(device.NextRequestId(), team.General, Guid.CreateVersion7(), "text/plain", "still here?"u8.ToArray()));
            Assert.Equal(ErrorCode.NotAMember, (ErrorCode)(await device.ExpectErrorAsync(Patience)).Code);
        }
    }

    [Fact]
    public async Task NodeKilledMidLoad_ClientsMoveAndSync_NothingLostNothingTwice_UsersGoOfflineAfterTheLease()
    {
        await using var cluster = await Cluster.StartAsync(3, extra: new Dictionary<string, string>
        {
            ["Routing:Redis:PresenceLeaseMs"] = "3000",
            ["Routing:Redis:PresenceRefreshMs"] = "500",
        });
        var team = await TeamAsync(cluster[0], "alice", "bob", "carol");
        await using var alice = await team.ConnectAsync(cluster[0], "alice");
        var bob = await team.ConnectAsync(cluster[1], "bob");
        await using var carol = await team.ConnectAsync(cluster[2], "carol");

        await carol.SendAsync(new PresenceWatch(carol.NextRequestId(), [team.UserIds["bob"]]));
        Assert.Equal(PresenceStatus.Online, (await carol.ExpectAsync<PresenceFrame>(Patience)).Entries.Single().Status);

        // Bob's laptop displays what reaches it, by seq; a second copy of a seq would be a message shown twice.
        // A seq pushed twice with the same message is shown once (at-least-once delivery); a seq carrying two
        // different messages would be a message shown wrongly, and is collected to fail the test below.
        var displayed = new Dictionary<ulong, Guid>();
        var contradictions = new List<ulong>();
        var receiving = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var e = await bob.ExpectMessageAsync(Patience);
                    if (!displayed.TryAdd(e.Seq, e.EventId) && displayed[e.Seq] != e.EventId)
                    {
                        contradictions.Add(e.Seq);
                    }
                }
            }
            catch (Xunit.Sdk.XunitException)
            {
                // The node died under the connection.
            }
        });

        var acknowledged = new Dictionary<Guid, ulong>();
        for (var i = 0; i < 300; i++)
        {
            var ack = await alice.SendTextAsync(team.General, $"load {i}");
            acknowledged[ack.MessageId] = ack.Seq;
            if (i == 100)
            {
                await cluster[1].KillAsync();
            }
        }

        await receiving;
        await bob.DisposeAsync();
        Assert.Empty(contradictions);

        // Nobody told anyone bob's node died: its lease ran out, and a surviving node's reaper said so.
        var offline = await ExpectPresenceAsync(carol, team.UserIds["bob"], PresenceStatus.Offline);
        Assert.NotEqual(0, offline.LastSeenUnixMs);

        await using var moved = await team.ConnectAsync(cluster[2], "bob");
        await moved.SendAsync(new Sync(moved.NextRequestId(), Guid.Empty, 100));
        var state = (await moved.ExpectAsync<SyncPage>(Patience)).Conversations.Single(c => c.ConversationId == team.General);
        var from = displayed.Count == 0 ? 0 : displayed.Keys.Max();
        foreach (var e in (await HistoryAsync(moved, team.General)).Where(e => e.Kind == EventKind.Message && e.Seq > from))
        {
            Assert.True(displayed.TryAdd(e.Seq, e.EventId));
        }

        output.WriteLine($"{acknowledged.Count} acknowledged; bob displayed {displayed.Count} (last seq {state.LastSeq})");
        Assert.All(acknowledged, a => Assert.Equal(a.Key, displayed[a.Value]));
        Assert.Equal(acknowledged.Count, displayed.Count);
        Assert.Equal(PresenceStatus.Online, (await ExpectPresenceAsync(carol, team.UserIds["bob"], PresenceStatus.Online)).Status);
    }

    [Fact]
    public async Task RedisRestartedEmptyMidLoad_NoAcknowledgedMessageLost_NoSeqTwice_DeliveryResumes()
    {
        await using var redis = await PrivateRedis.StartAsync();
        await using var cluster = await Cluster.StartAsync(2, redis.Configuration);
        var team = await TeamAsync(cluster[0], "alice", "bob");
        await using var alice = await team.ConnectAsync(cluster[0], "alice");
        await using var bob = await team.ConnectAsync(cluster[1], "bob");

        var acknowledged = new Dictionary<Guid, ulong>();
        for (var i = 0; i < 100; i++)
        {
            var ack = await alice.SendTextAsync(team.General, $"before {i}");
            acknowledged[ack.MessageId] = ack.Seq;
        }

        // Redis goes away and comes back empty (no persistence): every subscription, presence lease and
        // cached membership answer is gone. SENDs go on meanwhile: the store, not Redis, hands out seqs.
        await redis.StopAsync();
        for (var i = 0; i < 100; i++)
        {
            var ack = await alice.SendTextAsync(team.General, $"during {i}");
            acknowledged[ack.MessageId] = ack.Seq;
        }

        await redis.StartAgainAsync();

        // Delivery across nodes resumes once both nodes have re-subscribed.
        Guid? arrived = null;
        var seen = new HashSet<Guid>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (arrived is null)
        {
            var ack = await alice.SendTextAsync(team.General, "after");
            acknowledged[ack.MessageId] = ack.Seq;
            try
            {
                while (true)
                {
                    var e = await bob.ExpectMessageAsync(TimeSpan.FromMilliseconds(500));
                    seen.Add(e.EventId);
                    if (e.EventId == ack.MessageId)
                    {
                        arrived = e.EventId;
                        break;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                timeout.Token.ThrowIfCancellationRequested();
            }
        }

        // What was sent while Redis was down reaches bob too, without his asking: the sending node publishes
        // it again once Redis is back.
        using (var replay = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (!acknowledged.Keys.All(seen.Contains))
            {
                try
                {
                    seen.Add((await bob.ExpectMessageAsync(TimeSpan.FromMilliseconds(500))).EventId);
                }
                catch (OperationCanceledException)
                {
                    replay.Token.ThrowIfCancellationRequested();
                }
            }
        }

        var history = await HistoryAsync(bob, team.General);
        Assert.Equal(Enumerable.Range(1, history.Count).Select(n => (ulong)n), history.Select(e => e.Seq));
        Assert.All(acknowledged, a => Assert.Equal(a.Key, history.Single(e => e.Seq == a.Value).EventId));
        output.WriteLine($"{acknowledged.Count} acknowledged, {seen.Count} delivered live to the other node, {history.Count} events stored");
    }

    [Fact]
    public async Task MemberRemovedWhileRedisIsDown_StopsReceivingAndSendingOnOtherNodesOnceItIsBack()
    {
        await using var redis = await PrivateRedis.StartAsync();
        await using var cluster = await Cluster.StartAsync(2, redis.Configuration);
        var team = await TeamAsync(cluster[0], "alice", "bob");
        var aliceToken = team.Users["alice"].Token;
        await using var alice = await team.ConnectAsync(cluster[0], "alice");
        await using var bob = await team.ConnectAsync(cluster[1], "bob");
        await bob.SendTextAsync(team.General, "hello");
        await alice.SendTextAsync(team.General, "hi bob");
        while ((await bob.ExpectMessageAsync(Patience)).SenderUserId != team.UserIds["alice"])
        {
        }

        // The removal's MEMBER_LEFT and the cache invalidation are published while Redis is down: bob's node
        // never hears of them.
        await redis.StopAsync();
        await cluster[0].CallAsync(aliceToken, HttpMethod.Delete, $"v1/teams/{team.TeamId}/members/{team.UserIds["bob"]}");
        await redis.StartAgainAsync();

        // Once the bus is back, bob's node re-reads its users' conversations: a message sent after that
        // does not reach him, and his SEND is refused.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            await bob.SendAsync(new Send(bob.NextRequestId(), team.General, Guid.CreateVersion7(), "text/plain", "still here?"u8.ToArray()));
            var frame = await bob.ReadFrameAsync(Patience) ?? throw new Xunit.Sdk.XunitException("closed");
            if (frame.Header.Opcode == Opcode.Error)
            {
                var error = FrameCodec.Decode<ErrorFrame>(new System.Buffers.ReadOnlySequence<byte>(frame.Body), ProtocolLimits.Default);
                Assert.Equal(ErrorCode.NotAMember, (ErrorCode)error.Code);
                break;
            }

            await Task.Delay(250, timeout.Token);
        }

        await alice.SendTextAsync(team.General, "after the removal");

        // Whatever bob's device still gets (answers to the SENDs above, events from before), it is not that.
        try
        {
            while (await bob.ReadFrameAsync(TimeSpan.FromSeconds(2)) is { } frame)
            {
                if (frame.Header.Opcode == Opcode.Event)
                {
                    var e = FrameCodec.Decode<EventFrame>(new System.Buffers.ReadOnlySequence<byte>(frame.Body), ProtocolLimits.Default).Event;
                    Assert.NotEqual("after the removal", System.Text.Encoding.UTF8.GetString(e.Content.Span));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    // Node 0 alone loses Redis (its link refused, as by a firewall, while node 1 keeps it): bob's message, sent
    // through node 1 meanwhile, never reaches node 0 over the bus, and node 1, which had no outage, replays
    // nothing. Once node 0 is back on the bus it pushes the newest events it had not heard of, so alice's device
    // learns of the message without waiting for the conversation's next event or its own next SYNC.
    [Fact]
    public async Task OneNodeCutOffFromRedis_AMessageSentMeanwhileThroughAnother_ReachesItsDevicesOnceItIsBack()
    {
        await using var redis = await PrivateRedis.StartAsync();
        await using var cluster = await Cluster.StartAsync(2, redis.Configuration, relayRedis: true);
        var team = await TeamAsync(cluster[0], "alice", "bob");
        await using var alice = await team.ConnectAsync(cluster[0], "alice");
        await using var bob = await team.ConnectAsync(cluster[1], "bob");
        var before = await bob.SendTextAsync(team.General, "before");
        while ((await alice.ExpectMessageAsync(Patience)).Seq != before.Seq)
        {
        }

        var link = cluster.RedisLink(cluster[0]);
        link.Refuse();
        using (var noticed = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (!(await cluster[0].ManagementClient.GetStringAsync("metrics", noticed.Token)).Contains("\nchatwire_redis_connected 0", StringComparison.Ordinal))
            {
                await Task.Delay(100, noticed.Token);
            }
        }

        var meanwhile = await bob.SendTextAsync(team.General, "while node 0 was cut off");
        link.Heal();

        var e = await alice.ExpectMessageAsync(TimeSpan.FromSeconds(30));
        while (e.Seq == before.Seq)
        {
            e = await alice.ExpectMessageAsync(TimeSpan.FromSeconds(30));
        }

        Assert.Equal((meanwhile.Seq, "while node 0 was cut off"), (e.Seq, System.Text.Encoding.UTF8.GetString(e.Content.Span)));
    }

    // A logout on node 0 while Redis is down, and node 0 killed before Redis is back: its replay buffer, which would
    // have carried the revocation, dies with it. Bob's connection on node 1 is still closed, once the bus is back,
    // by node 1's own look at the sessions of the devices it holds.
    [Fact]
    public async Task DeviceRevokedWhileRedisIsDown_ItsPublisherDies_TheConnectionOnAnotherNodeIsClosedOnceRedisIsBack()
    {
        await using var redis = await PrivateRedis.StartAsync();
        await using var cluster = await Cluster.StartAsync(2, redis.Configuration);
        var team = await TeamAsync(cluster[0], "alice", "bob");
        await using var bob = await team.ConnectAsync(cluster[1], "bob");

        await redis.StopAsync();
        using (var logout = new HttpRequestMessage(HttpMethod.Post, "v1/accounts/logout"))
        {
            logout.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", team.Users["bob"].Token);
            Assert.Equal(System.Net.HttpStatusCode.NoContent, (await cluster[0].Api.SendAsync(logout)).StatusCode);
        }

        await cluster[0].KillAsync();
        await redis.StartAgainAsync();

        Assert.Equal(ErrorCode.SessionRevoked, (ErrorCode)(await bob.ExpectErrorAsync(TimeSpan.FromSeconds(60))).Code);
    }

    private static async Task<PresenceEntry> ExpectPresenceAsync(RawClient client, Guid userId, PresenceStatus status)
    {
        using var timeout = new CancellationTokenSource(Patience);
        while (true)
        {
            timeout.Token.ThrowIfCancellationRequested();
            foreach (var entry in (await client.ExpectAsync<PresenceFrame>(Patience)).Entries)
            {
                if (entry.UserId == userId && entry.Status == status)
                {
                    return entry;
                }
            }
        }
    }

    private static async Task DrainUntilSilentAsync(RawClient client, Action<ConversationEvent> check)
    {
        try
        {
            while (true)
            {
                check(await client.ExpectEventAsync(TimeSpan.FromSeconds(2)));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task<List<ConversationEvent>> HistoryAsync(RawClient client, Guid conversation)
    {
        var events = new List<ConversationEvent>();
        var more = true;
        while (more)
        {
            await client.SendAsync(new History(client.NextRequestId(), conversation, events.Count == 0 ? 0 : events[^1].Seq, HistoryDirection.After, 200));
            var page = await client.ExpectAsync<HistoryPage>(Patience);
            events.AddRange(page.Events);
            more = page.HasMore;
        }

        return events;
    }

    private static async Task<RawClient> ConnectAsync(GatewayChild node, string token, Guid device)
    {
        var client = await RawClient.ConnectAsync(node.Tcp);
        await client.HandshakeAsync(token, device);
        return client;
    }

    // A second device of the user, signed in on another node.
    private static async Task<(string Token, Guid DeviceId)> LoginAsync(GatewayChild node, string username)
    {
        var response = await node.Api.PostAsJsonAsyncCompat("v1/accounts/login", new { username, password = "correct horse battery", device_name = "phone" });
        var body = JsonDocument.Parse(response).RootElement;
        return (body.GetProperty("session_token").GetString()!, body.GetProperty("device_id").GetGuid());
    }

    private async Task<TeamSetup> TeamAsync(GatewayChild node, params string[] usernames)
    {
        var users = new Dictionary<string, (string Token, Guid DeviceId)>();
        var ids = new Dictionary<string, Guid>();
        foreach (var name in usernames)
        {
            users[name] = await node.SignupAsync(name);
            ids[name] = (await node.CallAsync(users[name].Token, HttpMethod.Get, "v1/me")).GetProperty("user_id").GetGuid();
        }

        var owner = users[usernames[0]].Token;
        var team = await node.CallAsync(owner, HttpMethod.Post, "v1/teams", new { name = "Acme" });
        var teamId = team.GetProperty("team_id").GetGuid();
        foreach (var name in usernames.Skip(1))
        {
            var invite = await node.CallAsync(owner, HttpMethod.Post, $"v1/teams/{teamId}/invites", new { });
            await node.CallAsync(users[name].Token, HttpMethod.Post, $"v1/invites/{invite.GetProperty("invite_code").GetString()}/join");
        }

        output.WriteLine($"team {teamId} on {node.Http}");
        return new TeamSetup(teamId, team.GetProperty("general_channel_id").GetGuid(), users, ids);
    }

    private sealed record TeamSetup(
        Guid TeamId,
        Guid General,
        Dictionary<string, (string Token, Guid DeviceId)> Users,
        Dictionary<string, Guid> UserIds)
    {
        /// <summary>The user's first device (the one they signed up with), connected and authenticated on <paramref name="node"/>.</summary>
        public Task<RawClient> ConnectAsync(GatewayChild node, string username) =>
            ClusterTests.ConnectAsync(node, Users[username].Token, Users[username].DeviceId);
    }
}

internal static class HttpCompat
{
    public static async Task<string> PostAsJsonAsyncCompat(this HttpClient client, string path, object body)
    {
        var response = await System.Net.Http.Json.HttpClientJsonExtensions.PostAsJsonAsync(client, path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {text}");
        return text;
    }
}
