using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// docs/protocol.md §4.10, "What a client does", followed to the letter by a device whose connection dies in the
// middle of a stream: after SYNC and HISTORY it holds every event once, in order.
public sealed class ReconnectTests
{
    [Fact]
    public async Task Device_ResetMidStream_ThenSyncAndHistory_NothingMissingNothingTwice()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:SendMessagesPerSecondPerDevice"] = "0",
            ["Limits:SendMessagesPerSecondPerUser"] = "0",
        });
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await using var sender = await RawClient.ConnectAuthenticatedAsync(alice);
        var watermark = await WatermarkAsync(bob, dm);
        var first = await RawClient.ConnectAuthenticatedAsync(bob);
        var held = new List<ulong>();

        // Alice streams 400 messages without waiting; bob's device dies after reading 100 of them.
        const int Count = 400;
        var streaming = Task.Run(async () =>
        {
            for (var i = 0; i < Count; i++)
            {
                await sender.SendAsync(new Send(sender.NextRequestId(), dm, Guid.CreateVersion7(), "text/plain", System.Text.Encoding.UTF8.GetBytes($"m{i}")));
            }
        });
        while (held.Count < 100)
        {
            // Only the DM's: the team's #general join may still reach a connection made right after it.
            var e = await first.ExpectEventInAsync(dm);
            Apply(e.Seq, ref watermark, held);
        }

        first.Reset();
        await first.DisposeAsync();
        await streaming;
        for (var i = 0; i < Count; i++)
        {
            await sender.ExpectAsync<SendAck>();
        }

        // The device comes back: SYNC says where the conversation stands, HISTORY fills from the watermark.
        await using var second = await RawClient.ConnectAuthenticatedAsync(bob);
        await second.SendAsync(new Sync(second.NextRequestId(), Guid.Empty, 500));
        var last = (await second.ExpectAsync<SyncPage>()).Conversations.Single(c => c.ConversationId == dm).LastSeq;
        while (watermark < last)
        {
            await second.SendAsync(new History(second.NextRequestId(), dm, watermark, HistoryDirection.After, 200));
            foreach (var e in (await second.ExpectAsync<HistoryPage>()).Events)
            {
                Apply(e.Seq, ref watermark, held);
            }
        }

        var firstMessage = last - Count + 1;
        Assert.Equal(Enumerable.Range(0, Count).Select(i => firstMessage + (ulong)i), held.Where(s => s >= firstMessage));
        Assert.Equal(held.Count, held.Distinct().Count());
    }

    // The protocol's client rule: drop what is at or below the watermark, take the next, and (in this test)
    // never see a gap on a live connection.
    private static void Apply(ulong seq, ref ulong watermark, List<ulong> held)
    {
        if (seq <= watermark)
        {
            return;
        }

        Assert.Equal(watermark + 1, seq);
        held.Add(seq);
        watermark = seq;
    }

    private static async Task<ulong> WatermarkAsync(TestUser user, Guid conversation)
    {
        await using var client = await RawClient.ConnectAuthenticatedAsync(user);
        await client.SendAsync(new Sync(client.NextRequestId(), Guid.Empty, 500));
        return (await client.ExpectAsync<SyncPage>()).Conversations.Single(c => c.ConversationId == conversation).LastSeq;
    }
}
