using ChatWire.Gateway.Tests.Infrastructure;

namespace ChatWire.Gateway.Tests.Push;

// The embedded queue is rows in the directory database: a gateway stopped with notifications pending sends
// them once it is back (the gateway runs as a child process, stopped with SIGTERM).
public sealed class PushRestartTests
{
    [Fact]
    public async Task Gateway_RestartedWithPendingNotification_SentAfterTheRestart()
    {
        await using var receiver = await PushReceiver.StartAsync();

        // Due long after the stop, so it can only be the second process that sends it.
        var settings = PushFixture.Settings(receiver, delayMs: 15_000).ToDictionary(s => s.Key, s => s.Value!);
        var data = Path.Combine(Path.GetTempPath(), "chatwire-push-restart-" + Guid.NewGuid().ToString("N"));
        try
        {
            Guid dm, messageId, bobDevice;
            await using (var first = await GatewayChild.StartAsync(4096, settings, data))
            {
                var (aliceToken, aliceDevice) = await first.SignupAsync("alice");
                (var bobToken, bobDevice) = await first.SignupAsync("bob");
                var team = await first.CallAsync(aliceToken, HttpMethod.Post, "v1/teams", new { name = "Acme" });
                var invite = await first.CallAsync(aliceToken, HttpMethod.Post, $"v1/teams/{team.GetProperty("team_id").GetGuid()}/invites", new { });
                await first.CallAsync(bobToken, HttpMethod.Post, $"v1/invites/{invite.GetProperty("invite_code").GetString()}/join");
                dm = (await first.CallAsync(aliceToken, HttpMethod.Post, "v1/dms", new { users = new[] { "bob" } })).GetProperty("conversation_id").GetGuid();
                await first.CallAsync(bobToken, HttpMethod.Put, "v1/push/registration", new { provider = "webhook", token = PushFixture.HookUrl(receiver, "bob") });

                await using var alice = await RawClient.ConnectAsync(first.Tcp);
                await alice.HandshakeAsync(aliceToken, aliceDevice);
                messageId = (await alice.SendTextAsync(dm, "while you were away")).MessageId;
                await first.StopAsync();
            }

            Assert.Empty(receiver.Drain());
            await using var second = await GatewayChild.StartAsync(4096, settings, data);

            ReceivedPush push;
            try
            {
                push = await receiver.NextAsync(TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException ex)
            {
                throw new TimeoutException(ex.Message + " The restarted gateway printed:\n" + second.Output, ex);
            }

            var body = push.Json;
            Assert.Equal((dm, messageId, bobDevice), (body.GetProperty("conversation_id").GetGuid(), body.GetProperty("message_id").GetGuid(), body.GetProperty("device_id").GetGuid()));
        }
        finally
        {
            if (Directory.Exists(data))
            {
                Directory.Delete(data, recursive: true);
            }
        }
    }
}
