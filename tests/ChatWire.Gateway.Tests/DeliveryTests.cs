using System.Text;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// SEND → durable → SEND_ACK → MESSAGE on every other device (DESIGN §4), over real sockets.
public sealed class DeliveryTests
{
    [Fact]
    public async Task Send_DirectMessage_AckedWithGapFreeSeqAndDeliveredToEveryOtherDevice()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, dm) = await DmPairAsync(server);
        var alicePhone = await server.LoginAsync(alice);
        var bobPhone = await server.LoginAsync(bob);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);
        await using var aliceMobile = await RawClient.ConnectAuthenticatedAsync(alicePhone);
        await using var bobDesk = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var bobMobile = await RawClient.ConnectAuthenticatedAsync(bobPhone);

        var first = await aliceDesk.SendTextAsync(dm, "hello bob");
        var second = await aliceDesk.SendTextAsync(dm, "are you there?");

        Assert.Equal(1ul, first.Seq);
        Assert.Equal(2ul, second.Seq);
        foreach (var device in new[] { aliceMobile, bobDesk, bobMobile })
        {
            var m1 = await device.ExpectAsync<MessageEvent>();
            var m2 = await device.ExpectAsync<MessageEvent>();
            Assert.Equal((first.MessageId, 1ul, "hello bob"), (m1.Message.MessageId, m1.Message.Seq, Encoding.UTF8.GetString(m1.Message.Content.Span)));
            Assert.Equal((second.MessageId, 2ul), (m2.Message.MessageId, m2.Message.Seq));
            Assert.Equal(alice.UserId, m1.Message.SenderUserId);
            Assert.Equal(alice.DeviceId, m1.Message.SenderDeviceId);
        }

        // The sending connection has its ACKs and gets no copy of its own messages.
        await aliceDesk.ExpectSilenceAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task Send_SameMessageIdTwice_OriginalSeqAndNoSecondDelivery()
    {
        await using var server = await TestServer.StartAsync();
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
        Assert.Equal(id, (await receiver.ExpectAsync<MessageEvent>()).Message.MessageId);
        Assert.Equal(next.MessageId, (await receiver.ExpectAsync<MessageEvent>()).Message.MessageId);
    }

    [Fact]
    public async Task Send_SameMessageIdOtherBody_IdempotencyConflict()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, _, dm) = await DmPairAsync(server);
        await using var sender = await RawClient.ConnectAuthenticatedAsync(alice);
        var id = Guid.CreateVersion7();
        await sender.SendTextAsync(dm, "original", id);

        await sender.SendAsync(new Send(50, dm, id, "text/plain", "changed"u8.ToArray()));
        var error = await sender.ExpectErrorAsync();

        Assert.Equal(ErrorCode.IdempotencyConflict, error.Code);
        Assert.Equal(50u, error.RequestId);
    }

    [Fact]
    public async Task Send_ConversationNotMine_NotAMemberAndConnectionStays()
    {
        await using var server = await TestServer.StartAsync();
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

    [Fact]
    public async Task Send_EmptyContentType_InvalidField()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, _, dm) = await DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        await client.SendAsync(new Send(3, dm, Guid.CreateVersion7(), string.Empty, "x"u8.ToArray()));

        Assert.Equal(ErrorCode.InvalidField, (await client.ExpectErrorAsync()).Code);
    }

    [Fact]
    public async Task Send_ContentOverLimit_ContentTooLargeAndConnectionStays()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, _, dm) = await DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        await client.SendAsync(new Send(6, dm, Guid.CreateVersion7(), "application/octet-stream", new byte[ProtocolLimits.DefaultMaxContentLength + 1]));
        var error = await client.ExpectErrorAsync();
        var ack = await client.SendTextAsync(dm, "small");

        Assert.Equal((ErrorCode.ContentTooLarge, 6u), (error.Code, error.RequestId));
        Assert.Equal(1ul, ack.Seq);
    }

    [Fact]
    public async Task History_BeforeAndAfter_PagesAscendingWithHasMore()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, dm) = await DmPairAsync(server);
        await using var sender = await RawClient.ConnectAuthenticatedAsync(alice);
        for (var i = 1; i <= 7; i++)
        {
            await sender.SendTextAsync(dm, $"m{i}");
        }

        await using var reader = await RawClient.ConnectAuthenticatedAsync(bob);
        await reader.SendAsync(new History(20, dm, 0, HistoryDirection.Before, 3));
        var newest = await reader.ExpectAsync<HistoryPage>();
        await reader.SendAsync(new History(21, dm, 5, HistoryDirection.Before, 10));
        var older = await reader.ExpectAsync<HistoryPage>();
        await reader.SendAsync(new History(22, dm, 4, HistoryDirection.After, 2));
        var after = await reader.ExpectAsync<HistoryPage>();
        await reader.SendAsync(new History(23, dm, 7, HistoryDirection.After, 5));
        var none = await reader.ExpectAsync<HistoryPage>();

        Assert.Equal([5ul, 6ul, 7ul], newest.Messages.Select(m => m.Seq));
        Assert.True(newest.HasMore);
        Assert.Equal([1ul, 2ul, 3ul, 4ul], older.Messages.Select(m => m.Seq));
        Assert.False(older.HasMore);
        Assert.Equal([5ul, 6ul], after.Messages.Select(m => m.Seq));
        Assert.True(after.HasMore);
        Assert.Empty(none.Messages);
        Assert.False(none.HasMore);
        Assert.Equal("m6", Encoding.UTF8.GetString(newest.Messages[1].Content.Span));
    }

    [Fact]
    public async Task History_ConversationNotMine_NotAMember()
    {
        await using var server = await TestServer.StartAsync();
        var (_, _, dm) = await DmPairAsync(server);
        var mallory = await server.SignupAsync();
        await using var client = await RawClient.ConnectAuthenticatedAsync(mallory);

        await client.SendAsync(new History(4, dm, 0, HistoryDirection.Before, 10));

        Assert.Equal(ErrorCode.NotAMember, (await client.ExpectErrorAsync()).Code);
    }

    [Fact]
    public async Task Channel_JoinedWhileConnected_StartsReceivingWithoutReconnect()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        var channel = (await alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "random" })).GetProperty("conversation_id").GetGuid();
        await using var bobClient = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var aliceClient = await RawClient.ConnectAuthenticatedAsync(alice);

        await bob.CallAsync(HttpMethod.Post, $"v1/channels/{channel}/join");
        var ack = await aliceClient.SendTextAsync(channel, "welcome");

        Assert.Equal(ack.MessageId, (await bobClient.ExpectAsync<MessageEvent>()).Message.MessageId);
    }

    [Fact]
    public async Task Team_LeftWhileConnected_StopsReceivingAndCannotSend()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await using var bobClient = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var aliceClient = await RawClient.ConnectAuthenticatedAsync(alice);
        await aliceClient.SendTextAsync(general, "before");
        await bobClient.ExpectAsync<MessageEvent>();

        await bob.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/leave");
        await aliceClient.SendTextAsync(general, "after");
        await bobClient.SendAsync(new Send(30, general, Guid.CreateVersion7(), "text/plain", "still here?"u8.ToArray()));

        Assert.Equal(ErrorCode.NotAMember, (await bobClient.ExpectErrorAsync()).Code);
    }

    [Fact]
    public async Task Revoke_Device_ClosesItsConnectionWithSessionRevoked()
    {
        await using var server = await TestServer.StartAsync();
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

    [Fact]
    public async Task Restart_AcknowledgedMessages_AllThereAfterStart()
    {
        var data = Path.Combine(Path.GetTempPath(), "chatwire-restart-" + Guid.NewGuid().ToString("N"));
        try
        {
            TestUser bob;
            Guid dm;
            var acked = new List<SendAck>();
            await using (var first = await TestServer.StartAsync(dataDirectory: data))
            {
                TestUser alice;
                (alice, bob, dm) = await DmPairAsync(first);
                await using var sender = await RawClient.ConnectAuthenticatedAsync(alice);
                for (var i = 0; i < 50; i++)
                {
                    acked.Add(await sender.SendTextAsync(dm, $"durable {i}"));
                }
            }

            await using var second = await TestServer.StartAsync(dataDirectory: data);
            await using var reader = await RawClient.ConnectAuthenticatedAsync(bob with { Server = second });
            await reader.SendAsync(new History(1, dm, 0, HistoryDirection.After, 200));
            var page = await reader.ExpectAsync<HistoryPage>();

            Assert.Equal(acked.Select(a => (a.MessageId, a.Seq)), page.Messages.Select(m => (m.MessageId, m.Seq)));
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
