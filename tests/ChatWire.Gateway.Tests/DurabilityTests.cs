using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Tests;

// "Persist first, then acknowledge": a gateway stopped (SIGTERM) or killed (SIGKILL, as kill -9) while SENDs
// stream in, with some waiting in the group-commit queue, loses none it acknowledged, and a message stored but
// never acknowledged is there once, never twice.
[Collection(RunAlone.Name)]
public sealed class DurabilityTests(Xunit.Abstractions.ITestOutputHelper output)
{
    // Every sending rate off, so the stream keeps the writer's queue full rather than waiting on the limiter.
    private static readonly Dictionary<string, string> Unlimited = new()
    {
        ["Limits:SendMessagesPerSecondPerUser"] = "0",
        ["Limits:SendBytesPerSecondPerUser"] = "0",
        ["Limits:SendMessagesPerSecondPerDevice"] = "0",
        ["Limits:SendBytesPerSecondPerDevice"] = "0",
        ["Limits:SendMessagesPerSecondPerConversation"] = "0",
    };

    [Theory]
    [InlineData("SIGKILL")]
    [InlineData("SIGTERM")]
    public async Task Gateway_StoppedWhileSendsStream_EveryAcknowledgedMessageSurvives_NoneTwice(string how)
    {
        var data = Path.Combine(Path.GetTempPath(), "chatwire-durability-" + Guid.NewGuid().ToString("N"));
        try
        {
            string bobToken;
            Guid bobDevice;
            Guid general;
            var sent = new HashSet<Guid>();
            var acked = new Dictionary<Guid, ulong>();
            await using (var first = await GatewayChild.StartAsync(4096, Unlimited, data))
            {
                var (aliceToken, aliceDevice) = await first.SignupAsync("alice");
                (bobToken, bobDevice) = await first.SignupAsync("bob");
                var team = await first.CallAsync(aliceToken, HttpMethod.Post, "v1/teams", new { name = "Acme" });
                general = team.GetProperty("general_channel_id").GetGuid();
                var invite = await first.CallAsync(aliceToken, HttpMethod.Post, $"v1/teams/{team.GetProperty("team_id").GetGuid()}/invites", new { });
                await first.CallAsync(bobToken, HttpMethod.Post, $"v1/invites/{invite.GetProperty("invite_code").GetString()}/join");

                await using var alice = await RawClient.ConnectAsync(first.Tcp);
                await alice.HandshakeAsync(aliceToken, aliceDevice);
                using var stop = new CancellationTokenSource();
                var writing = WriteUntilStoppedAsync(alice, general, sent, stop.Token);

                // Stop the gateway once a few hundred SENDs are acknowledged and more are in flight.
                while (acked.Count < 300)
                {
                    var frame = await alice.ReadFrameAsync() ?? throw new Xunit.Sdk.XunitException("Closed before the stop.");
                    Collect(frame, acked);
                }

                if (how == "SIGKILL")
                {
                    await first.KillAsync();
                }
                else
                {
                    await first.StopAsync();
                }

                // Answers that were on their way before the stop count as acknowledged too.
                try
                {
                    while (await alice.ReadFrameAsync(TimeSpan.FromSeconds(5)) is { } frame)
                    {
                        Collect(frame, acked);
                    }
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException or System.Net.Sockets.SocketException)
                {
                }

                await stop.CancelAsync();
                await writing;
            }

            await using var second = await GatewayChild.StartAsync(4096, Unlimited, data);
            await using var bob = await RawClient.ConnectAsync(second.Tcp);
            await bob.HandshakeAsync(bobToken, bobDevice);
            var events = new List<ConversationEvent>();
            var hasMore = true;
            while (hasMore)
            {
                await bob.SendAsync(new History(bob.NextRequestId(), general, events.Count == 0 ? 0 : events[^1].Seq, HistoryDirection.After, 200));
                var page = await bob.ExpectAsync<HistoryPage>();
                events.AddRange(page.Events);
                hasMore = page.HasMore;
            }

            var stored = events.Where(e => e.Kind == EventKind.Message).ToList();
            output.WriteLine($"{how}: {sent.Count} sent, {acked.Count} acknowledged, {stored.Count} stored");
            Assert.Equal(Enumerable.Range(1, events.Count).Select(n => (ulong)n), events.Select(e => e.Seq));
            Assert.All(acked, a => Assert.Equal(a.Value, stored.Single(m => m.EventId == a.Key).Seq));
            Assert.Equal(stored.Count, stored.Select(m => m.EventId).Distinct().Count());
            Assert.All(stored, m => Assert.Contains(m.EventId, sent));
        }
        finally
        {
            if (Directory.Exists(data))
            {
                Directory.Delete(data, recursive: true);
            }
        }
    }

    // Pipelines SENDs as fast as the connection takes them until stopped or the link breaks.
    private static async Task WriteUntilStoppedAsync(RawClient client, Guid conversation, HashSet<Guid> sent, CancellationToken stop)
    {
        await Task.Yield();
        var body = new byte[200];
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var id = Guid.CreateVersion7();
                lock (sent)
                {
                    sent.Add(id);
                }

                await client.SendAsync(new Send(client.NextRequestId(), conversation, id, "application/octet-stream", body));
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
        }
    }

    private static void Collect((ChatWire.Protocol.FrameHeader Header, byte[] Body) frame, Dictionary<Guid, ulong> acked)
    {
        if (frame.Header.Opcode == ChatWire.Protocol.Opcode.SendAck)
        {
            var ack = ChatWire.Protocol.FrameCodec.Decode<SendAck>(new System.Buffers.ReadOnlySequence<byte>(frame.Body), ChatWire.Protocol.ProtocolLimits.Default);
            acked[ack.MessageId] = ack.Seq;
        }
    }
}
