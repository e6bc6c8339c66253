using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// SENDs a client pipelines in one write reach the store in one group commit: the connection holds the
// writer's wake-up while it handles the frames one read brought (AppendCork), rather than waking it at the
// first SEND, which would commit that one alone and the rest in a second batch.
public sealed class PipelinedSendTests
{
    private const string Batches = "chatwire_commit_batch_size_count";
    private const string Appends = "chatwire_commit_batch_size_sum";

    [Fact]
    public async Task SendsInOneWrite_AreCommittedTogether_AndEachIsAcked()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, _, dm) = await DeliveryTests.DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        // One SEND first, so the membership is cached and nothing in the burst's path waits on a lookup.
        await client.SendTextAsync(dm, "warm");
        var batchesBefore = await server.ReadMetricAsync(Batches);
        var appendsBefore = await server.ReadMetricAsync(Appends);

        const int Burst = 20;
        var burst = new List<byte>();
        var requests = new List<uint>();
        for (var i = 0; i < Burst; i++)
        {
            var requestId = client.NextRequestId();
            requests.Add(requestId);
            burst.AddRange(FrameCodec.ToArray(new Send(requestId, dm, Guid.CreateVersion7(), "text/plain", "pipelined"u8.ToArray())));
        }

        await client.SendRawAsync(burst.ToArray());
        var acked = new List<uint>();
        while (acked.Count < Burst)
        {
            var frame = await client.ReadFrameAsync() ?? throw new InvalidOperationException("closed before every SEND_ACK came");
            if (frame.Header.Opcode == Opcode.SendAck)
            {
                acked.Add(frame.Header.RequestId);
            }
        }

        var appends = await server.ReadMetricAsync(Appends) - appendsBefore;
        var batches = await server.ReadMetricAsync(Batches) - batchesBefore;
        Assert.Equal(requests, acked.Order());
        Assert.Equal((Burst, 1), (appends, batches));
    }
}
