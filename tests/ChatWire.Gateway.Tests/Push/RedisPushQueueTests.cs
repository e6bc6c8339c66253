using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Tests.Shared;
using StackExchange.Redis;

namespace ChatWire.Gateway.Tests.Push;

// Distributed mode: pending notifications in a Redis stream read through one consumer group. A node killed
// (SIGKILL) while it holds a batch of entries waiting for their due time loses none: another node claims
// them (XAUTOCLAIM) once they have been idle for Push:Redis:ClaimIdleMs, and sends each once.
[Collection(RunAlone.Name)]
public sealed class RedisPushQueueTests
{
    [Fact]
    public async Task Node_KilledHoldingABatch_AnotherNodeDeliversEveryEntryOnce()
    {
        await using var receiver = await PushReceiver.StartAsync();
        var stream = NewStream();
        await using var cluster = await Cluster.StartAsync(1, extra: Settings(receiver, stream, delayMs: 8000, claimIdleMs: 2000));
        var first = cluster[0];

        var (aliceToken, aliceDevice) = await first.SignupAsync("alice");
        var team = await first.CallAsync(aliceToken, HttpMethod.Post, "v1/teams", new { name = "Acme" });
        var dms = new Dictionary<Guid, string>();
        foreach (var name in new[] { "bob", "carol", "dave" })
        {
            var (token, _) = await first.SignupAsync(name);
            var invite = await first.CallAsync(aliceToken, HttpMethod.Post, $"v1/teams/{team.GetProperty("team_id").GetGuid()}/invites", new { });
            await first.CallAsync(token, HttpMethod.Post, $"v1/invites/{invite.GetProperty("invite_code").GetString()}/join");
            await first.CallAsync(token, HttpMethod.Put, "v1/push/registration", new { provider = "webhook", token = PushFixture.HookUrl(receiver, name) });
            dms[(await first.CallAsync(aliceToken, HttpMethod.Post, "v1/dms", new { users = new[] { name } })).GetProperty("conversation_id").GetGuid()] = name;
        }

        var sent = new Dictionary<Guid, string>();
        await using (var alice = await RawClient.ConnectAsync(first.Tcp))
        {
            await alice.HandshakeAsync(aliceToken, aliceDevice);
            foreach (var (dm, name) in dms)
            {
                sent[(await alice.SendTextAsync(dm, "for " + name)).MessageId] = name;
            }
        }

        // The first node has taken all three (they wait in its pending list for their due time): kill it.
        await using var redis = await ConnectionMultiplexer.ConnectAsync(BackingServices.Redis);
        var db = redis.GetDatabase();
        await WaitAsync(async () => (await db.StreamPendingAsync(stream, "senders")).PendingMessageCount == 3, "the first node to take the batch");
        await first.KillAsync();
        Assert.Empty(receiver.Drain());

        var second = await cluster.AddNodeAsync();

        var delivered = new Dictionary<Guid, string>();
        for (var i = 0; i < 3; i++)
        {
            var push = await receiver.NextAsync(TimeSpan.FromSeconds(60));
            delivered.Add(push.Json.GetProperty("message_id").GetGuid(), push.Path["/hook/".Length..]);
        }

        Assert.Equal(sent.OrderBy(p => p.Key), delivered.OrderBy(p => p.Key));
        await WaitAsync(async () => (await db.StreamPendingAsync(stream, "senders")).PendingMessageCount == 0, "the entries to be acknowledged");
        Assert.Empty(receiver.Drain());
        Assert.Empty(receiver.Faults);

        // Each entry was handled once on the second node: never a second send caught by the sent record.
        var metrics = await second.ManagementClient.GetStringAsync("metrics");
        Assert.Contains("chatwire_push_notifications_total{provider=\"webhook\",outcome=\"delivered\"} 3", metrics, StringComparison.Ordinal);
        Assert.Contains("chatwire_push_notifications_total{provider=\"webhook\",outcome=\"duplicate\"} 0", metrics, StringComparison.Ordinal);
        await db.KeyDeleteAsync(stream);
    }

    [Fact]
    public async Task Fold_NewMessageWhileItsNotificationIsBeingSent_NextNotificationCountsOnlyTheNewMessage()
    {
        await using var receiver = await PushReceiver.StartAsync();
        var stream = NewStream();
        await using var cluster = await Cluster.StartAsync(1, extra: Settings(receiver, stream, delayMs: 3000));
        var node = cluster[0];
        var (aliceToken, aliceDevice) = await node.SignupAsync("alice");
        var (bobToken, _) = await node.SignupAsync("bob");
        var team = await node.CallAsync(aliceToken, HttpMethod.Post, "v1/teams", new { name = "Acme" });
        var invite = await node.CallAsync(aliceToken, HttpMethod.Post, $"v1/teams/{team.GetProperty("team_id").GetGuid()}/invites", new { });
        await node.CallAsync(bobToken, HttpMethod.Post, $"v1/invites/{invite.GetProperty("invite_code").GetString()}/join");
        await node.CallAsync(bobToken, HttpMethod.Put, "v1/push/registration", new { provider = "webhook", token = PushFixture.HookUrl(receiver, "bob") });
        var dm = (await node.CallAsync(aliceToken, HttpMethod.Post, "v1/dms", new { users = new[] { "bob" } })).GetProperty("conversation_id").GetGuid();

        // The fold's notification is held unanswered until one more message is queued: it folds into the
        // entry while that is being sent.
        var controlQueued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Hold = push => push.Json.GetProperty("count").GetInt32() == 3 ? controlQueued.Task : Task.CompletedTask;
        await using var alice = await RawClient.ConnectAsync(node.Tcp);
        await alice.HandshakeAsync(aliceToken, aliceDevice);
        for (var i = 0; i < 3; i++)
        {
            await alice.SendTextAsync(dm, "message " + i);
        }

        Assert.Equal(3, (await receiver.NextAsync()).Json.GetProperty("count").GetInt32());
        var control = await alice.SendTextAsync(dm, "control");
        await WaitAsync(async () => (await node.ManagementClient.GetStringAsync("metrics")).Contains("\nchatwire_push_queued_total 4", StringComparison.Ordinal), "the control message to be queued");
        controlQueued.SetResult();

        var next = (await receiver.NextAsync()).Json;
        Assert.Equal((control.MessageId, 1, 4), (next.GetProperty("message_id").GetGuid(), next.GetProperty("count").GetInt32(), next.GetProperty("unread").GetInt32()));
        Assert.Empty(receiver.Drain());
        Assert.Empty(receiver.Faults);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(BackingServices.Redis);
        await redis.GetDatabase().KeyDeleteAsync(stream);
    }

    // A node sends one notification per user at a time: bob's second waits while his receiver holds the first, and
    // carol's, due after both, goes out meanwhile.
    [Fact]
    public async Task Node_ReceiverHoldsAUsersNotification_TheirNextWaits_AnotherUsersGoesOut()
    {
        await using var receiver = await PushReceiver.StartAsync();
        var stream = NewStream();
        var settings = Settings(receiver, stream, delayMs: 1500);
        settings["Push:DispatchTimeoutMs"] = "120000";
        settings["Push:RequestTimeoutMs"] = "120000";
        await using var cluster = await Cluster.StartAsync(1, extra: settings);
        var node = cluster[0];
        var (aliceToken, aliceDevice) = await node.SignupAsync("alice");
        var team = await node.CallAsync(aliceToken, HttpMethod.Post, "v1/teams", new { name = "Acme" });
        var tokens = new Dictionary<string, (string Token, Guid Device)>();
        foreach (var name in new[] { "bob", "carol" })
        {
            tokens[name] = await node.SignupAsync(name);
            var invite = await node.CallAsync(aliceToken, HttpMethod.Post, $"v1/teams/{team.GetProperty("team_id").GetGuid()}/invites", new { });
            await node.CallAsync(tokens[name].Token, HttpMethod.Post, $"v1/invites/{invite.GetProperty("invite_code").GetString()}/join");
            await node.CallAsync(tokens[name].Token, HttpMethod.Put, "v1/push/registration", new { provider = "webhook", token = PushFixture.HookUrl(receiver, name) });
        }

        async Task<Guid> DmAsync(string token, string with) =>
            (await node.CallAsync(token, HttpMethod.Post, "v1/dms", new { users = new[] { with } })).GetProperty("conversation_id").GetGuid();
        var aliceBob = await DmAsync(aliceToken, "bob");
        var aliceCarol = await DmAsync(aliceToken, "carol");
        var carolBob = await DmAsync(tokens["carol"].Token, "bob");
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Hold = push => push.Path.EndsWith("/bob", StringComparison.Ordinal) ? never.Task : Task.CompletedTask;

        // Two notifications for bob, in two conversations, due together.
        await using (var carol = await RawClient.ConnectAsync(node.Tcp))
        {
            await carol.HandshakeAsync(tokens["carol"].Token, tokens["carol"].Device);
            await carol.SendTextAsync(carolBob, "from carol");
        }

        await using var alice = await RawClient.ConnectAsync(node.Tcp);
        await alice.HandshakeAsync(aliceToken, aliceDevice);
        await alice.SendTextAsync(aliceBob, "from alice");
        Assert.Equal("/hook/bob", (await receiver.NextAsync()).Path);

        var toCarol = await alice.SendTextAsync(aliceCarol, "to carol");
        var carolsPush = await receiver.NextAsync();
        Assert.Equal(("/hook/carol", toCarol.MessageId), (carolsPush.Path, carolsPush.Json.GetProperty("message_id").GetGuid()));
        Assert.Empty(receiver.Drain());

        never.SetResult();
        Assert.Equal("/hook/bob", (await receiver.NextAsync()).Path);
        Assert.Empty(receiver.Faults);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(BackingServices.Redis);
        await redis.GetDatabase().KeyDeleteAsync(stream);
    }

    private static string NewStream() => "chatwire:push:test-" + Guid.NewGuid().ToString("N");

    // The push settings of every test node, with the Redis queue on a stream of the test's own.
    private static Dictionary<string, string> Settings(PushReceiver receiver, string stream, int delayMs, int? claimIdleMs = null)
    {
        var extra = PushFixture.Settings(receiver, delayMs).ToDictionary(s => s.Key, s => s.Value!);
        extra["Push:Queue"] = "redis";
        extra["Push:Redis:Stream"] = stream;
        if (claimIdleMs is { } idle)
        {
            extra["Push:Redis:ClaimIdleMs"] = idle.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return extra;
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            if (timeout.IsCancellationRequested)
            {
                throw new TimeoutException("Waited in vain for " + what + ".");
            }

            await Task.Delay(100, CancellationToken.None);
        }
    }
}
