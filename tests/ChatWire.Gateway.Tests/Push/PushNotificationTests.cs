using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests.Push;

// The rules end to end, over the webhook provider and a local HTTPS receiver: who gets a notification for a
// stored message, and who does not. A control message that must notify is sent after the one that must not:
// its notification arriving alone shows the first one was never sent (both were due in order).
public sealed class PushNotificationTests
{
    private const string Metric = "chatwire_push_notifications_total";

    [Fact]
    public async Task Send_MemberOffline_OneSignedNotificationWithoutContent()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        var secret = await PushFixture.RegisterWebhookAsync(bob, receiver);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        var ack = await aliceDesk.SendTextAsync(dm, "the secret plan");

        var push = await receiver.NextAsync();
        Assert.Equal(("POST", "/hook/" + bob.Username), (push.Method, push.Path));
        Assert.Equal("application/json", push.Header("Content-Type"));
        PushFixture.AssertSigned(push, secret);
        var body = PushFixture.AssertPayload(push, dm, alice.UserId, "direct");
        Assert.Equal(ack.MessageId, body.GetProperty("message_id").GetGuid());
        Assert.Equal(ack.Seq, body.GetProperty("seq").GetUInt64());
        Assert.Equal(bob.DeviceId, body.GetProperty("device_id").GetGuid());
        Assert.Equal((1, 1, 1), (body.GetProperty("count").GetInt32(), body.GetProperty("unread").GetInt32(), body.GetProperty("badge").GetInt32()));
        Assert.DoesNotContain("secret plan", System.Text.Encoding.UTF8.GetString(push.Body), StringComparison.Ordinal);
        await server.WaitForMetricAsync(Metric, "provider=\"webhook\",outcome=\"delivered\"", v => v == 1);

        // Never twice: a later message's notification is the next request.
        await aliceDesk.SendTextAsync(dm, "later");
        var next = await receiver.NextAsync();
        Assert.NotEqual(ack.MessageId, next.Json.GetProperty("message_id").GetGuid());
        Assert.Empty(receiver.Faults);
    }

    [Fact]
    public async Task Send_BurstWhileOffline_OneNotificationWithTheCount()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver, delayMs: 3000);
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await PushFixture.RegisterWebhookAsync(bob, receiver);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        // The burst's notification is held unanswered until the control message is queued: it folds into
        // the pending entry while that is being sent, the race a live sender meets.
        var controlQueued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Hold = push => push.Json.GetProperty("count").GetInt32() == 5 ? controlQueued.Task : Task.CompletedTask;
        for (var i = 0; i < 4; i++)
        {
            await aliceDesk.SendTextAsync(dm, "message " + i);
        }

        var last = await aliceDesk.SendTextAsync(dm, "last");

        var body = (await receiver.NextAsync()).Json;
        Assert.Equal(last.MessageId, body.GetProperty("message_id").GetGuid());
        Assert.Equal((5, 5, 5), (body.GetProperty("count").GetInt32(), body.GetProperty("unread").GetInt32(), body.GetProperty("badge").GetInt32()));
        var control = await aliceDesk.SendTextAsync(dm, "control");
        await server.WaitForMetricAsync("chatwire_push_queued_total", null, v => v == 6);
        controlQueued.SetResult();

        // The next notification counts the one message after those announced; the unread count stays whole.
        var next = (await receiver.NextAsync()).Json;
        Assert.Equal(control.MessageId, next.GetProperty("message_id").GetGuid());
        Assert.Equal((1, 6), (next.GetProperty("count").GetInt32(), next.GetProperty("unread").GetInt32()));
        Assert.Empty(receiver.Drain());
        Assert.Empty(receiver.Faults);
    }

    [Fact]
    public async Task Send_MemberDeviceReceivedIt_NoNotification()
    {
        // The RECEIVED must come before the push falls due: a delay that a busy machine does not outrun.
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver, delayMs: 6000);
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await PushFixture.RegisterWebhookAsync(bob, receiver);
        var bobDesk = await server.LoginAsync(bob);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);
        await using var online = await RawClient.ConnectAuthenticatedAsync(bobDesk);

        var ack = await aliceDesk.SendTextAsync(dm, "are you there?");
        Assert.Equal(ack.MessageId, (await online.ExpectMessageAsync()).EventId);
        await online.SendAsync(new Received(7, [(dm, ack.Seq)]));

        await server.WaitForMetricAsync("chatwire_push_skipped_total", "reason=\"received\"", v => v == 1, TimeSpan.FromSeconds(30));
        Assert.Empty(receiver.Drain());
    }

    [Fact]
    public async Task Send_ReadOnAnotherDevice_PendingNotificationCancelled()
    {
        // The desk connects and reads before the push falls due: a delay that a busy machine does not outrun.
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver, delayMs: 6000);
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await PushFixture.RegisterWebhookAsync(bob, receiver);
        var bobDesk = await server.LoginAsync(bob);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        var ack = await aliceDesk.SendTextAsync(dm, "read me elsewhere");
        await using (var desk = await RawClient.ConnectAuthenticatedAsync(bobDesk))
        {
            // Read, not received: the desk reads the conversation without acknowledging delivery.
            await desk.SendAsync(new MarkRead(3, dm, ack.Seq));
            await desk.ExpectAsync<Ok>();
        }

        await server.WaitForMetricAsync("chatwire_push_skipped_total", "reason=\"read\"", v => v == 1, TimeSpan.FromSeconds(30));
        Assert.Empty(receiver.Drain());
    }

    [Fact]
    public async Task Send_TeamMuted_NoNotificationEvenForAMention()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        var (team, general) = await alice.CreateTeamAsync("Muted");
        await bob.JoinAsync(await alice.InviteAsync(team));
        await bob.CallAsync(HttpMethod.Put, $"v1/teams/{team}/mute");
        await PushFixture.RegisterWebhookAsync(bob, receiver);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await SendAsync(aliceDesk, new Send(1, general, Guid.CreateVersion7(), "text/plain", "@bob"u8.ToArray()) { Mentions = [bob.UserId] });
        await aliceDesk.SendTextAsync(dm, "control");

        var push = await receiver.NextAsync();
        Assert.Equal(dm, push.Json.GetProperty("conversation_id").GetGuid());
        Assert.Empty(receiver.Drain());
    }

    [Fact]
    public async Task Send_MentionInABigChannel_OnlyTheMentionedWhoDidNotMuteNotified()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var alice = await server.SignupAsync();
        var (team, general) = await alice.CreateTeamAsync("Big");
        var members = new List<TestUser>();
        for (var i = 0; i < 20; i++)
        {
            var member = await server.SignupAsync();
            await member.JoinAsync(await alice.InviteAsync(team));
            await PushFixture.RegisterWebhookAsync(member, receiver);
            members.Add(member);
        }

        var mentioned = members[5];
        var muting = members[11];
        await muting.CallAsync(HttpMethod.Put, $"v1/teams/{team}/mute");
        var dm = await alice.OpenDmAsync(members[0].Username);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await SendAsync(aliceDesk, new Send(1, general, Guid.CreateVersion7(), "text/plain", "hey"u8.ToArray()) { Mentions = [mentioned.UserId, muting.UserId] });
        await aliceDesk.SendTextAsync(general, "no mention: nobody is notified at the default level");

        var push = await receiver.NextAsync();
        Assert.Equal("/hook/" + mentioned.Username, push.Path);
        PushFixture.AssertPayload(push, general, alice.UserId, "mention");
        await aliceDesk.SendTextAsync(dm, "control");
        Assert.Equal("/hook/" + members[0].Username, (await receiver.NextAsync()).Path);
        Assert.Empty(receiver.Drain());
    }

    [Fact]
    public async Task Send_LevelAllAndConversationNone_EachApplies()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        var (team, general) = await alice.CreateTeamAsync("Levels");
        await bob.JoinAsync(await alice.InviteAsync(team));
        await PushFixture.RegisterWebhookAsync(bob, receiver);
        await bob.CallAsync(HttpMethod.Put, "v1/push/preferences", new { level = "all" });
        await bob.CallAsync(HttpMethod.Put, $"v1/conversations/{dm}/push", new { level = "none" });
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await aliceDesk.SendTextAsync(dm, "silenced here");
        await aliceDesk.SendTextAsync(general, "plain channel message");

        var push = await receiver.NextAsync();
        PushFixture.AssertPayload(push, general, alice.UserId, "message");
        Assert.Empty(receiver.Drain());
    }

    private static async Task SendAsync(RawClient client, Send send)
    {
        await client.SendAsync(send);
        await client.ExpectAsync<SendAck>();
    }
}
