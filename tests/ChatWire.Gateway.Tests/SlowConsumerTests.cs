using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Tests;

// A connection that stops reading is closed at its outbound bound (docs/protocol.md §3.2); the others keep
// receiving, and the slow device catches up from the store.
public sealed class SlowConsumerTests
{
    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Receiver_StopsReading_ClosedWhileOthersGetEverythingAndHistoryHasAll(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        var bobPhone = await server.LoginAsync(bob);
        await using var stalled = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var reading = await RawClient.ConnectAuthenticatedAsync(bobPhone);
        await using var sender = await RawClient.ConnectAuthenticatedAsync(alice);
        var content = new byte[200 * 1024];
        const int Count = 120;

        // 24 MB to a socket nobody reads: past the kernel's buffers and the gateway's 1 MiB bound.
        var received = Task.Run(async () =>
        {
            for (var i = 0; i < Count; i++)
            {
                await reading.ExpectAsync<EventFrame>();
            }
        });
        for (var i = 0; i < Count; i++)
        {
            await sender.SendAsync(new Send(sender.NextRequestId(), dm, Guid.CreateVersion7(), "application/octet-stream", content));
            await sender.ExpectAsync<SendAck>();
        }

        await received;
        var delivered = 0;
        while (await stalled.ReadFrameAsync() is { } frame)
        {
            delivered += frame.Header.OpcodeValue == (uint)Opcode.Event ? 1 : 0;
        }

        Assert.InRange(delivered, 0, Count - 1);
        await using var resumed = await RawClient.ConnectAuthenticatedAsync(bob);
        var seen = new List<ulong>();
        ulong from = 0;
        bool more;
        do
        {
            await resumed.SendAsync(new History(resumed.NextRequestId(), dm, from, HistoryDirection.After, 200));
            var page = await resumed.ExpectAsync<HistoryPage>();
            seen.AddRange(page.Events.Select(m => m.Seq));
            from = page.Events.Count > 0 ? page.Events[^1].Seq : from;
            more = page.HasMore;
        }
        while (more);

        // The DM's two MEMBER_JOINED events, then every message.
        Assert.Equal(Enumerable.Range(1, Count + 2).Select(i => (ulong)i), seen);
    }
}
