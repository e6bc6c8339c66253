using System.Text;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// SEND → durable → SEND_ACK → EVENT on every connection of every member (docs/protocol.md §4.8, §4.10),
// over real sockets. A DM from DmPairAsync starts with its two MEMBER_JOINED events (seqs 1 and 2).
public sealed class DeliveryTests
{
    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Send_DirectMessage_AckedWithGapFreeSeqAndDeliveredToEveryOtherDevice(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var (alice, bob, dm) = await DmPairAsync(server);
        var alicePhone = await server.LoginAsync(alice);
        var bobPhone = await server.LoginAsync(bob);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);
        await using var aliceMobile = await RawClient.ConnectAuthenticatedAsync(alicePhone);
        await using var bobDesk = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var bobMobile = await RawClient.ConnectAuthenticatedAsync(bobPhone);

        var first = await aliceDesk.SendTextAsync(dm, "hello bob");
        var second = await aliceDesk.SendTextAsync(dm, "are you there?");

        Assert.Equal(3ul, first.Seq);
        Assert.Equal(4ul, second.Seq);

        // Every connection of both members, the sending one included, gets both, in seq order.
        foreach (var device in new[] { aliceDesk, aliceMobile, bobDesk, bobMobile })
        {
            var m1 = await device.ExpectMessageAsync();
            var m2 = await device.ExpectMessageAsync();
            Assert.Equal((first.MessageId, 3ul, "hello bob"), (m1.EventId, m1.Seq, Encoding.UTF8.GetString(m1.Content.Span)));
            Assert.Equal((second.MessageId, 4ul), (m2.EventId, m2.Seq));
            Assert.Equal((EventKind.Message, Guid.Empty), (m1.Kind, m1.SubjectId));
            Assert.Equal(alice.UserId, m1.SenderUserId);
            Assert.Equal(alice.DeviceId, m1.SenderDeviceId);
        }
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Send_SameMessageIdTwice_OriginalSeqAndNoSecondDelivery(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var (alice, bob, dm) = await DmPairAsync(server);
        await using var sender = await RawClient.ConnectAuthenticatedAsync(alice);
        await using var receiver = await RawClient.ConnectAuthenticatedAsync(bob);
        var id = Guid.CreateVersion7();

        var original = await sender.SendTextAsync(dm, "once", id);
        var retry = await sender.SendTextAsync(dm, "once", id);
        var next = await sender.SendTextAsync(dm, "twice");

        Assert.Equal(original.Seq, retry.Seq);
        Assert.Equal(original.ServerTimeUnixMs, retry.ServerTimeUnixMs);
        Assert.Equal(original.Seq + 1, next.Seq);
        // ExpectMessageAsync: the DM's and the team's MEMBER_JOINED may still reach a connection made right after.
        Assert.Equal(id, (await receiver.ExpectMessageAsync()).EventId);
        Assert.Equal(next.MessageId, (await receiver.ExpectMessageAsync()).EventId);
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Send_SameMessageIdOtherBody_IdempotencyConflict(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var (alice, _, dm) = await DmPairAsync(server);
        await using var sender = await RawClient.ConnectAuthenticatedAsync(alice);
        var id = Guid.CreateVersion7();
        await sender.SendTextAsync(dm, "original", id);

        await sender.SendAsync(new Send(50, dm, id, "text/plain", "changed"u8.ToArray()));
        var error = await sender.ExpectErrorAsync();

        Assert.Equal(ErrorCode.IdempotencyConflict, error.Code);
        Assert.Equal(50u, error.RequestId);
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Send_ConversationNotMine_NotAMemberAndConnectionStays(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var (_, _, dm) = await DmPairAsync(server);
        var mallory = await server.SignupAsync();
        await using var client = await RawClient.ConnectAuthenticatedAsync(mallory);

        await client.SendAsync(new Send(8, dm, Guid.CreateVersion7(), "text/plain", "hi"u8.ToArray()));
        var error = await client.ExpectErrorAsync();
        await client.SendAsync(new Send(9, Guid.CreateVersion7(), Guid.CreateVersion7(), "text/plain", "hi"u8.ToArray()));
        var missing = await client.ExpectErrorAsync();

        Assert.Equal((ErrorCode.NotAMember, 8u), (error.Code, error.RequestId));
        Assert.Equal((ErrorCode.NotAMember, 9u), (missing.Code, missing.RequestId));
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Send_EmptyContentType_InvalidField(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var (alice, _, dm) = await DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        await client.SendAsync(new Send(3, dm, Guid.CreateVersion7(), string.Empty, "x"u8.ToArray()));

        Assert.Equal(ErrorCode.InvalidField, (await client.ExpectErrorAsync()).Code);
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Send_ContentOverLimit_ContentTooLargeAndConnectionStays(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var (alice, _, dm) = await DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        await client.SendAsync(new Send(6, dm, Guid.CreateVersion7(), "application/octet-stream", new byte[ProtocolLimits.DefaultMaxContentLength + 1]));
        var error = await client.ExpectErrorAsync();
        var ack = await client.SendTextAsync(dm, "small");

        Assert.Equal((ErrorCode.ContentTooLarge, 6u), (error.Code, error.RequestId));
        Assert.Equal(3ul, ack.Seq);
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task History_BeforeAndAfter_PagesAscendingWithHasMore(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var (alice, bob, dm) = await DmPairAsync(server);
        await using var sender = await RawClient.ConnectAuthenticatedAsync(alice);
        for (var i = 1; i <= 7; i++)
        {
            await sender.SendTextAsync(dm, $"m{i}");
        }

        // Seqs 1 and 2 are the DM's MEMBER_JOINED events, m1..m7 seqs 3..9.
        await using var reader = await RawClient.ConnectAuthenticatedAsync(bob);
        await reader.SendAsync(new History(20, dm, 0, HistoryDirection.Before, 3));
        var newest = await reader.ExpectAsync<HistoryPage>();
        await reader.SendAsync(new History(21, dm, 7, HistoryDirection.Before, 10));
        var older = await reader.ExpectAsync<HistoryPage>();
        await reader.SendAsync(new History(22, dm, 6, HistoryDirection.After, 2));
        var after = await reader.ExpectAsync<HistoryPage>();
        await reader.SendAsync(new History(23, dm, 9, HistoryDirection.After, 5));
        var none = await reader.ExpectAsync<HistoryPage>();

        Assert.Equal([7ul, 8ul, 9ul], newest.Events.Select(m => m.Seq));
        Assert.True(newest.HasMore);
        Assert.Equal([1ul, 2ul, 3ul, 4ul, 5ul, 6ul], older.Events.Select(m => m.Seq));
        Assert.Equal([EventKind.MemberJoined, EventKind.MemberJoined], older.Events.Take(2).Select(e => e.Kind));
        Assert.Equal(new[] { alice.UserId, bob.UserId }.Order(), older.Events.Take(2).Select(e => e.SubjectId).Order());
        Assert.False(older.HasMore);
        Assert.Equal([7ul, 8ul], after.Events.Select(m => m.Seq));
        Assert.True(after.HasMore);
        Assert.Empty(none.Events);
        Assert.False(none.HasMore);
        Assert.Equal("m6", Encoding.UTF8.GetString(newest.Events[1].Content.Span));
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task History_ConversationNotMine_NotAMember(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var (_, _, dm) = await DmPairAsync(server);
        var mallory = await server.SignupAsync();
        await using var client = await RawClient.ConnectAuthenticatedAsync(mallory);

        await client.SendAsync(new History(4, dm, 0, HistoryDirection.Before, 10));

        Assert.Equal(ErrorCode.NotAMember, (await client.ExpectErrorAsync()).Code);
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Channel_JoinedWhileConnected_StartsReceivingWithoutReconnect(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        var channel = (await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "random" })).GetProperty("conversation_id").GetGuid();
        await using var bobClient = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var aliceClient = await RawClient.ConnectAuthenticatedAsync(alice);

        await bob.CallAsync(HttpMethod.Post, $"v1/channels/{channel}/join");
        var ack = await aliceClient.SendTextAsync(channel, "welcome");

        // Bob's connection learns of the channel from his own MEMBER_JOINED (seq 2 after alice's), then
        // gets what follows; alice, already in it, sees bob join. (Joins committed before a connection
        // authenticated, bob's in #general and alice's in the channel, may still reach it live: passed over.)
        var joined = await bobClient.ExpectEventInAsync(channel);
        Assert.Equal((channel, 2ul, EventKind.MemberJoined, bob.UserId, bob.UserId), (joined.ConversationId, joined.Seq, joined.Kind, joined.SubjectId, joined.SenderUserId));
        var message = await bobClient.ExpectEventInAsync(channel);
        Assert.Equal((ack.MessageId, 3ul), (message.EventId, message.Seq));
        var seenByAlice = await aliceClient.ExpectEventInAsync(channel, afterSeq: 1);
        Assert.Equal((EventKind.MemberJoined, bob.UserId), (seenByAlice.Kind, seenByAlice.SubjectId));
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Dm_OpenedWhileConnected_EveryMemberDeviceLearnsOfItInRealTime(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var carol = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await carol.JoinAsync(await alice.InviteAsync(teamId));
        await using var bobClient = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var carolClient = await RawClient.ConnectAuthenticatedAsync(carol);

        var group = await alice.OpenDmAsync(bob.Username, carol.Username);

        // Each member's device learns of the conversation from its own MEMBER_JOINED and gets every event
        // after it. alice (the creator) joins first (seq 1), then bob and carol in id order.
        var bobFirst = bob.UserId.CompareTo(carol.UserId) < 0;
        var (first, second) = bobFirst ? (bobClient, carolClient) : (carolClient, bobClient);
        var (firstUser, secondUser) = bobFirst ? (bob, carol) : (carol, bob);
        var own = await first.ExpectEventInAsync(group);
        var other = await first.ExpectEventInAsync(group);
        Assert.Equal((group, 2ul, EventKind.MemberJoined, firstUser.UserId, alice.UserId), (own.ConversationId, own.Seq, own.Kind, own.SubjectId, own.SenderUserId));
        Assert.Equal((group, 3ul, EventKind.MemberJoined, secondUser.UserId), (other.ConversationId, other.Seq, other.Kind, other.SubjectId));
        var last = await second.ExpectEventInAsync(group);
        Assert.Equal((group, 3ul, EventKind.MemberJoined, secondUser.UserId), (last.ConversationId, last.Seq, last.Kind, last.SubjectId));

        // And it is routed: a message into it reaches them without a reconnect.
        await using var aliceClient = await RawClient.ConnectAuthenticatedAsync(alice);
        var ack = await aliceClient.SendTextAsync(group, "hi both");
        Assert.Equal(ack.MessageId, (await bobClient.ExpectMessageAsync()).EventId);
        Assert.Equal(ack.MessageId, (await carolClient.ExpectMessageAsync()).EventId);
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Team_LeftWhileConnected_StopsReceivingAndCannotSend(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await using var bobClient = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var aliceClient = await RawClient.ConnectAuthenticatedAsync(alice);
        await aliceClient.SendTextAsync(general, "before");

        // Past bob's own MEMBER_JOINED, which may still reach his connection made right after the join.
        await bobClient.ExpectMessageAsync();

        await bob.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/leave");
        await aliceClient.SendTextAsync(general, "after");
        await bobClient.SendAsync(new Send(30, general, Guid.CreateVersion7(), "text/plain", "still here?"u8.ToArray()));

        // Bob's connection gets his MEMBER_LEFT and the refusal (in either order: the refusal does not wait
        // for the event), and nothing more from the channel: "after" never arrives.
        ConversationEvent? left = null;
        ErrorFrame? error = null;
        while (left is null || error is null)
        {
            var frame = await bobClient.ReadFrameAsync() ?? throw new Xunit.Sdk.XunitException("Bob's connection closed.");
            var body = new System.Buffers.ReadOnlySequence<byte>(frame.Body);
            if (frame.Header.OpcodeValue == (uint)Opcode.Error)
            {
                error = FrameCodec.Decode<ErrorFrame>(body, ProtocolLimits.Default);
            }
            else if (frame.Header.OpcodeValue == (uint)Opcode.Event)
            {
                var e = FrameCodec.Decode<EventFrame>(body, ProtocolLimits.Default).Event;
                Assert.NotEqual(EventKind.Message, e.Kind);
                left = e.Kind == EventKind.MemberLeft ? e : left;
            }
        }

        Assert.Equal((general, EventKind.MemberLeft, bob.UserId), (left.Value.ConversationId, left.Value.Kind, left.Value.SubjectId));
        Assert.Equal((ErrorCode.NotAMember, 30u), (error.Value.Code, error.Value.RequestId));
        await bobClient.ExpectSilenceAsync(TimeSpan.FromMilliseconds(300));

        // Alice sees bob leave, between her own two messages (past bob's join, which may still reach her
        // connection made right after it).
        var seen = new List<ConversationEvent>();
        while (seen.Count < 3)
        {
            var e = await aliceClient.ExpectEventAsync();
            if (e.Kind != EventKind.MemberJoined)
            {
                seen.Add(e);
            }
        }

        Assert.Equal([EventKind.Message, EventKind.MemberLeft, EventKind.Message], seen.Select(e => e.Kind));
        Assert.Equal(bob.UserId, seen[1].SubjectId);
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Revoke_Device_ClosesItsConnectionWithSessionRevoked(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var alice = await server.SignupAsync();
        var phone = await server.LoginAsync(alice);
        await using var phoneClient = await RawClient.ConnectAuthenticatedAsync(phone);
        await using var deskClient = await RawClient.ConnectAuthenticatedAsync(alice);

        var response = await alice.SendAsync(HttpMethod.Delete, $"v1/sessions/{phone.DeviceId}");
        var error = await phoneClient.ExpectErrorAsync();

        Assert.Equal(System.Net.HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(ErrorCode.SessionRevoked, error.Code);
        await phoneClient.ExpectClosedAsync();
        await deskClient.SendAsync(new Ping(5));
        Assert.Equal(5u, (await deskClient.ExpectAsync<Pong>()).RequestId);
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Restart_AcknowledgedMessages_AllThereAfterStart(string transport)
    {
        var data = Path.Combine(Path.GetTempPath(), "chatwire-restart-" + Guid.NewGuid().ToString("N"));
        try
        {
            TestUser bob;
            Guid dm;
            var acked = new List<SendAck>();
            await using (var first = await TransportCases.StartAsync(transport, dataDirectory: data))
            {
                TestUser alice;
                (alice, bob, dm) = await DmPairAsync(first);
                await using var sender = await RawClient.ConnectAuthenticatedAsync(alice);
                for (var i = 0; i < 50; i++)
                {
                    acked.Add(await sender.SendTextAsync(dm, $"durable {i}"));
                }
            }

            await using var second = await TransportCases.StartAsync(transport, dataDirectory: data);
            await using var reader = await RawClient.ConnectAuthenticatedAsync(bob with { Server = second });
            await reader.SendAsync(new History(1, dm, 0, HistoryDirection.After, 200));
            var page = await reader.ExpectAsync<HistoryPage>();

            Assert.Equal(acked.Select(a => (a.MessageId, a.Seq)), page.Events.Where(e => e.Kind == EventKind.Message).Select(m => (m.EventId, m.Seq)));
            Assert.Equal(Enumerable.Range(1, 52).Select(n => (ulong)n), page.Events.Select(e => e.Seq));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    internal static async Task<(TestUser Alice, TestUser Bob, Guid Dm)> DmPairAsync(TestServer server)
    {
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        var dm = await alice.OpenDmAsync(bob.Username);
        return (alice, bob, dm);
    }
}
