using System.Buffers;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// docs/protocol.md §4.10: the events of one conversation reach each connection in seq order. Regression
// for pushes published from each SEND's own continuation, which reordered them under pipelining.
public sealed class OrderingTests
{
    [Fact]
    public async Task Send_FourConnectionsPipelining_EveryRecipientGetsEachMessageOnceInSeqOrder()
    {
        const int Senders = 4;
        const int PerSender = 300;
        await using var server = await TestServer.StartAsync();
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        var senders = new List<RawClient>();
        var recipients = new List<RawClient>();
        try
        {
            for (var i = 0; i < Senders; i++)
            {
                senders.Add(await RawClient.ConnectAuthenticatedAsync(i == 0 ? alice : await server.LoginAsync(alice)));
            }

            for (var i = 0; i < 3; i++)
            {
                recipients.Add(await RawClient.ConnectAuthenticatedAsync(i == 0 ? bob : await server.LoginAsync(bob)));
            }

            var receiving = recipients.Select(r => ReadMessagesAsync(r, Senders * PerSender)).ToList();

            // Each sender writes all its SENDs at once, without waiting for a single ACK.
            var acks = await Task.WhenAll(senders.Select(async (sender, s) =>
            {
                var frames = new ArrayBufferWriter<byte>();
                for (var i = 0; i < PerSender; i++)
                {
                    FrameCodec.Write(frames, new Send((uint)(i + 1), dm, Guid.CreateVersion7(), "text/plain", BitConverter.GetBytes((s * PerSender) + i)));
                }

                await sender.SendRawAsync(frames.WrittenMemory);
                var acked = new List<SendAck>();
                while (acked.Count < PerSender)
                {
                    acked.Add(await sender.ExpectAsync<SendAck>());
                }

                // One connection's messages are stored in the order it sent them.
                Assert.Equal(Enumerable.Range(1, PerSender).Select(i => (uint)i), acked.OrderBy(a => a.Seq).Select(a => a.RequestId));
                return acked;
            }));

            var expected = acks.SelectMany(a => a).Select(a => (a.MessageId, a.Seq)).OrderBy(m => m.Seq).ToList();
            Assert.Equal(Senders * PerSender, expected.Select(m => m.Seq).Distinct().Count());
            foreach (var received in await Task.WhenAll(receiving))
            {
                Assert.Equal(expected, received.Select(e => (e.EventId, e.Seq)));
            }

            // The sending connections get the same stream, their own messages included.
            foreach (var sender in senders)
            {
                var own = new List<ConversationEvent>();
                while (own.Count < Senders * PerSender)
                {
                    own.Add(await sender.ExpectMessageAsync());
                }

                Assert.Equal(expected, own.Select(e => (e.EventId, e.Seq)));
            }
        }
        finally
        {
            foreach (var client in senders.Concat(recipients))
            {
                await client.DisposeAsync();
            }
        }
    }

    private static async Task<List<ConversationEvent>> ReadMessagesAsync(RawClient client, int count)
    {
        var received = new List<ConversationEvent>(count);
        while (received.Count < count)
        {
            received.Add(await client.ExpectMessageAsync(TimeSpan.FromSeconds(30)));
        }

        return received;
    }
}
