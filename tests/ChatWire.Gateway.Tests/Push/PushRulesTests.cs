using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests.Push;

// The rest of the rules end to end: thread participants, @channel, group DMs and do-not-disturb. As in
// PushNotificationTests, a control notification arriving alone after the one that must not shows it was
// never sent.
public sealed class PushRulesTests
{
    [Fact]
    public async Task Reply_InAThread_RootAuthorAndRepliersNotifiedOthersNot()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var (alice, bob, carol, dave, team, general) = await TeamOfFourAsync(server, receiver);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);
        await using var bobDesk = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var carolDesk = await RawClient.ConnectAuthenticatedAsync(carol);
        var root = await aliceDesk.SendTextAsync(general, "root");
        await SendAsync(bobDesk, new Send(bobDesk.NextRequestId(), general, Guid.CreateVersion7(), "text/plain", "first reply"u8.ToArray()) { ThreadRootId = root.MessageId });

        // Bob's reply notifies Alice (the root's author); wait it out so that Carol's reply is on its own.
        Assert.Equal("/hook/" + alice.Username, (await receiver.NextAsync()).Path);
        await SendAsync(carolDesk, new Send(carolDesk.NextRequestId(), general, Guid.CreateVersion7(), "text/plain", "second reply"u8.ToArray()) { ThreadRootId = root.MessageId });

        var notified = new[] { await receiver.NextAsync(), await receiver.NextAsync() };
        Assert.Equal(new[] { alice, bob }.Select(u => "/hook/" + u.Username).Order(StringComparer.Ordinal), notified.Select(p => p.Path).Order(StringComparer.Ordinal));
        Assert.All(notified, p => PushFixture.AssertPayload(p, general, carol.UserId, "thread_reply"));
        var dm = await carol.OpenDmAsync(dave.Username);
        await carolDesk.SendTextAsync(dm, "control");
        Assert.Equal("/hook/" + dave.Username, (await receiver.NextAsync()).Path);
        Assert.Empty(receiver.Drain());
    }

    [Fact]
    public async Task Send_AtChannel_EveryMemberButTheSender()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var (alice, bob, carol, dave, _, general) = await TeamOfFourAsync(server, receiver);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await SendAsync(aliceDesk, new Send(aliceDesk.NextRequestId(), general, Guid.CreateVersion7(), "text/plain", "@channel"u8.ToArray()) { GroupMentions = GroupMentions.Channel });

        var notified = new[] { await receiver.NextAsync(), await receiver.NextAsync(), await receiver.NextAsync() };
        Assert.Equal(new[] { bob, carol, dave }.Select(u => "/hook/" + u.Username).Order(StringComparer.Ordinal), notified.Select(p => p.Path).Order(StringComparer.Ordinal));
        Assert.All(notified, p => PushFixture.AssertPayload(p, general, alice.UserId, "group_mention"));
    }

    [Fact]
    public async Task Send_GroupDm_EveryOtherMemberAsDirect()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var (alice, bob, carol, _, _, _) = await TeamOfFourAsync(server, receiver);
        var group = await alice.OpenDmAsync(bob.Username, carol.Username);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await aliceDesk.SendTextAsync(group, "lunch?");

        var notified = new[] { await receiver.NextAsync(), await receiver.NextAsync() };
        Assert.Equal(new[] { bob, carol }.Select(u => "/hook/" + u.Username).Order(StringComparer.Ordinal), notified.Select(p => p.Path).Order(StringComparer.Ordinal));
        Assert.All(notified, p => PushFixture.AssertPayload(p, group, alice.UserId, "direct"));
    }

    [Fact]
    public async Task Send_DoNotDisturbByPreferenceOrStatus_Silenced()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver);
        var (alice, bob, carol, dave, _, _) = await TeamOfFourAsync(server, receiver);
        var until = DateTimeOffset.UtcNow.AddHours(1).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        await bob.CallAsync(HttpMethod.Put, "v1/push/preferences", new { level = "mentions", do_not_disturb_until = until });
        var carolPhone = await server.LoginAsync(carol);
        await using var carolDesk = await RawClient.ConnectAuthenticatedAsync(carolPhone);
        await carolDesk.SendAsync(new SetStatus(carolDesk.NextRequestId(), PresenceStatus.DoNotDisturb));
        await carolDesk.ExpectAsync<Ok>();
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await aliceDesk.SendTextAsync(await alice.OpenDmAsync(bob.Username), "shh");
        await aliceDesk.SendTextAsync(await alice.OpenDmAsync(carol.Username), "shh");

        await server.WaitForMetricAsync("chatwire_push_skipped_total", "reason=\"do_not_disturb\"", v => v == 1, TimeSpan.FromSeconds(30));
        await aliceDesk.SendTextAsync(await alice.OpenDmAsync(dave.Username), "control");
        Assert.Equal("/hook/" + dave.Username, (await receiver.NextAsync()).Path);
        Assert.Equal(1, await server.ReadMetricAsync("chatwire_push_skipped_total", "reason=\"do_not_disturb\""));
        Assert.Empty(receiver.Drain());
    }

    [Fact]
    public async Task Send_AtChannel_RightAfterAJoinAndALeave_PlansForTheChannelAsItIsNow()
    {
        // The planner keeps a conversation's members between rounds; a leave and a join must reach it at once.
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver, delayMs: 200);
        var (alice, bob, carol, dave, team, _) = await TeamOfFourAsync(server, receiver);
        var ops = (await alice.CallAsync(HttpMethod.Post, $"v1/teams/{team}/channels", new { name = "ops" })).GetProperty("conversation_id").GetGuid();
        await alice.CallAsync(HttpMethod.Post, $"v1/channels/{ops}/members", new { user_id = bob.UserId });
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);
        await SendAsync(aliceDesk, new Send(aliceDesk.NextRequestId(), ops, Guid.CreateVersion7(), "text/plain", "@channel one"u8.ToArray()) { GroupMentions = GroupMentions.Channel });
        Assert.Equal("/hook/" + bob.Username, (await receiver.NextAsync()).Path);

        await carol.CallAsync(HttpMethod.Post, $"v1/channels/{ops}/join");
        await SendAsync(aliceDesk, new Send(aliceDesk.NextRequestId(), ops, Guid.CreateVersion7(), "text/plain", "@channel two"u8.ToArray()) { GroupMentions = GroupMentions.Channel });
        var notified = new[] { await receiver.NextAsync(), await receiver.NextAsync() };
        Assert.Equal(new[] { bob, carol }.Select(u => "/hook/" + u.Username).Order(StringComparer.Ordinal), notified.Select(p => p.Path).Order(StringComparer.Ordinal));

        await bob.CallAsync(HttpMethod.Post, $"v1/channels/{ops}/leave");
        await SendAsync(aliceDesk, new Send(aliceDesk.NextRequestId(), ops, Guid.CreateVersion7(), "text/plain", "@channel three"u8.ToArray()) { GroupMentions = GroupMentions.Channel });

        Assert.Equal("/hook/" + carol.Username, (await receiver.NextAsync()).Path);
        await aliceDesk.SendTextAsync(await alice.OpenDmAsync(dave.Username), "control");
        Assert.Equal("/hook/" + dave.Username, (await receiver.NextAsync()).Path);
        Assert.Empty(receiver.Drain());
    }

    // A notification waits for its due time; a member who is no longer in the conversation by then is not told of it.
    // Here the whole team goes: nobody could open the channel the notification would lead to. Each of the three due
    // notifications is counted as skipped for that reason, so none of them can still be sent.
    [Fact]
    public async Task Send_AtChannel_TeamDeletedBeforeItIsDue_NobodyIsNotified()
    {
        await using var receiver = await PushReceiver.StartAsync();
        await using var server = await PushFixture.StartServerAsync(receiver, delayMs: 8000);
        var (alice, _, _, _, team, general) = await TeamOfFourAsync(server, receiver);
        await using var aliceDesk = await RawClient.ConnectAuthenticatedAsync(alice);

        await SendAsync(aliceDesk, new Send(aliceDesk.NextRequestId(), general, Guid.CreateVersion7(), "text/plain", "@channel bye"u8.ToArray()) { GroupMentions = GroupMentions.Channel });
        await server.WaitForMetricAsync("chatwire_push_queued_total", null, v => v == 3);
        await alice.CallAsync(HttpMethod.Delete, $"v1/teams/{team}");

        await server.WaitForMetricAsync("chatwire_push_skipped_total", "reason=\"not_member\"", v => v == 3, TimeSpan.FromSeconds(30));
        Assert.Empty(receiver.Drain());
    }

    // Alice's team with Bob, Carol and Dave, each with a webhook registration.
    private static async Task<(TestUser Alice, TestUser Bob, TestUser Carol, TestUser Dave, Guid Team, Guid General)> TeamOfFourAsync(TestServer server, PushReceiver receiver)
    {
        var alice = await server.SignupAsync();
        var (team, general) = await alice.CreateTeamAsync("Four");
        var others = new List<TestUser>();
        foreach (var user in new[] { alice, await server.SignupAsync(), await server.SignupAsync(), await server.SignupAsync() })
        {
            if (user != alice)
            {
                await user.JoinAsync(await alice.InviteAsync(team));
                others.Add(user);
            }

            await PushFixture.RegisterWebhookAsync(user, receiver);
        }

        return (alice, others[0], others[1], others[2], team, general);
    }

    private static async Task SendAsync(RawClient client, Send send)
    {
        await client.SendAsync(send);
        await client.ExpectAsync<SendAck>();
    }
}
