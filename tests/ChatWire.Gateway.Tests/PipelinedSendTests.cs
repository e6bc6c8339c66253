using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// SENDs a client pipelines in one write reach the store in one group commit: the connection holds the
// writer's wake-up while it handles a run of SENDs that one read brought (AppendCork), rather than waking it
// at the first SEND, which would commit that one alone and the rest in a second batch. The cork is let go
// before any other frame and before the read loop waits for anything, which the other tests hold it to.
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

        // One SEND first, so the membership is cached and nothing in the burst's path waits on a lookup; then a
        // moment for the writer to go back to sleep after that commit (a burst that found it awake could be
        // taken in two batches whatever the cork does). A second, not less: the parallel test projects keep
        // both cores busy, and the writer thread hands the commit on before it waits again.
        await client.SendTextAsync(dm, "warm");
        await Task.Delay(1_000);
        var batchesBefore = await server.ReadMetricAsync(Batches);
        var appendsBefore = await server.ReadMetricAsync(Appends);

        var (requests, burst) = Burst(client, dm, 20);
        await client.SendRawAsync(burst);
        var acked = await ExpectAcksAsync(client, requests.Count);

        var appends = await server.ReadMetricAsync(Appends) - appendsBefore;
        var batches = await server.ReadMetricAsync(Batches) - batchesBefore;
        Assert.Equal(requests, acked.Order());
        Assert.Equal((20.0, 1.0), (appends, batches));
    }

    // Past MaxSendsInFlight the read loop waits for the oldest SEND's commit: the cork must be let go first, or
    // the writer would never be woken for the SENDs it waits on.
    [Fact]
    public async Task ABurstPastTheInFlightLimit_IsAllAcked()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:MaxSendsInFlight"] = "4" });
        var (alice, _, dm) = await DeliveryTests.DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        var (requests, burst) = Burst(client, dm, 40);
        await client.SendRawAsync(burst);

        Assert.Equal(requests, (await ExpectAcksAsync(client, requests.Count)).Order());
    }

    // A frame that is not a SEND lets the cork go before it is handled (a HISTORY may read the store while the
    // connection waits), and SENDs after it take a new one: every request of the write is answered.
    [Fact]
    public async Task SendsAroundOtherRequestsInOneWrite_AreAllAnswered()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, _, dm) = await DeliveryTests.DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        var (before, first) = Burst(client, dm, 5);
        var historyId = client.NextRequestId();
        var pingId = client.NextRequestId();
        var (after, second) = Burst(client, dm, 5);
        byte[] write = [.. first, .. FrameCodec.ToArray(new History(historyId, dm, 0, HistoryDirection.After, 50)), .. FrameCodec.ToArray(new Ping(pingId)), .. second];
        await client.SendRawAsync(write);

        var answered = new HashSet<uint>();
        var acks = 0;
        while (acks < 10 || !answered.Contains(historyId) || !answered.Contains(pingId))
        {
            var frame = await client.ReadFrameAsync() ?? throw new InvalidOperationException("closed before every answer came");
            Assert.NotEqual(Opcode.Error, frame.Header.Opcode);
            if (frame.Header.Opcode != Opcode.Event)
            {
                answered.Add(frame.Header.RequestId);
                acks += frame.Header.Opcode == Opcode.SendAck ? 1 : 0;
            }
        }

        Assert.Superset(before.Concat(after).ToHashSet(), answered);
    }

    // Past the sending rate, the connection is not read again until the refusal's delay has passed, and then the
    // bucket has refilled: the next frame is taken, never refused again for the last millisecond or two of the wait
    // (the pause's timer counts whole milliseconds and may fire early). One a second with a burst of five: nine SENDs
    // in one write are five acks, then refused (a second), acked, refused, acked.
    [Fact]
    public async Task PipelinedPastTheRate_AfterEachPause_TheNextIsTaken()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:SendMessagesPerSecondPerDevice"] = "1",
            ["Limits:SendMessageBurstPerDevice"] = "5",
        });
        var (alice, _, dm) = await DeliveryTests.DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        var (requests, burst) = Burst(client, dm, 9);
        await client.SendRawAsync(burst);
        var answers = new List<(uint Request, uint RetryAfterMs)>();
        while (answers.Count < requests.Count)
        {
            var frame = await client.ReadFrameAsync() ?? throw new InvalidOperationException("closed before every SEND was answered");
            if (frame.Header.Opcode == Opcode.SendAck)
            {
                answers.Add((frame.Header.RequestId, 0));
            }
            else if (frame.Header.Opcode == Opcode.Error)
            {
                var error = FrameCodec.Decode<ErrorFrame>(new System.Buffers.ReadOnlySequence<byte>(frame.Body), ProtocolLimits.Default);
                Assert.Equal(ErrorCode.RateLimited, error.Code);
                answers.Add((error.RequestId, error.RetryAfterMs));
            }
        }

        // A refusal is written at once, an ack once its commit is durable: matched by request id, not arrival.
        answers.Sort((a, b) => a.Request.CompareTo(b.Request));
        Assert.Equal(requests, answers.Select(a => a.Request));
        Assert.Equal([false, false, false, false, false, true, false, true, false], answers.Select(a => a.RetryAfterMs > 0));
        // The first refusal comes within the burst; the second's wait is shorter by however late the pause's timer woke.
        Assert.InRange(answers[5].RetryAfterMs, 900u, 1000u);
        Assert.InRange(answers[7].RetryAfterMs, 1u, 1000u);
    }

    // PRESENCE_WATCH counts against the same rate, and its refusal pauses reading the same way: nine watches in one
    // write are five answers, refused, answered, refused, answered. Without the pause, every watch after the burst was
    // refused at once (a hostile-traffic review read 9,000 refusals a second off one connection).
    [Fact]
    public async Task PresenceWatchesPipelinedPastTheRate_AfterEachPause_TheNextIsTaken()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:SendMessagesPerSecondPerDevice"] = "1",
            ["Limits:SendMessageBurstPerDevice"] = "5",
        });
        var (alice, bob, _) = await DeliveryTests.DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        var requests = new List<uint>();
        var frames = new List<byte>();
        for (var i = 0; i < 9; i++)
        {
            requests.Add(client.NextRequestId());
            frames.AddRange(FrameCodec.ToArray(new PresenceWatch(requests[^1], [bob.UserId])));
        }

        await client.SendRawAsync(frames.ToArray());
        var refused = new List<bool>();
        while (refused.Count < requests.Count)
        {
            var frame = await client.ReadFrameAsync() ?? throw new InvalidOperationException("closed before every watch was answered");
            if (frame.Header.Opcode is Opcode.Presence or Opcode.Error && requests.Contains(frame.Header.RequestId))
            {
                Assert.Equal(requests[refused.Count], frame.Header.RequestId);
                refused.Add(frame.Header.Opcode == Opcode.Error);
            }
        }

        Assert.Equal([false, false, false, false, false, true, false, true, false], refused);
    }

    private static (List<uint> Requests, byte[] Frames) Burst(RawClient client, Guid conversation, int count)
    {
        var frames = new List<byte>();
        var requests = new List<uint>();
        for (var i = 0; i < count; i++)
        {
            var requestId = client.NextRequestId();
            requests.Add(requestId);
            frames.AddRange(FrameCodec.ToArray(new Send(requestId, conversation, Guid.CreateVersion7(), "text/plain", "pipelined"u8.ToArray())));
        }

        return (requests, frames.ToArray());
    }

    // The SEND_ACKs' request ids; an ERROR fails at once (the sender's own EVENTs may come between).
    private static async Task<List<uint>> ExpectAcksAsync(RawClient client, int count)
    {
        var acked = new List<uint>();
        while (acked.Count < count)
        {
            var frame = await client.ReadFrameAsync() ?? throw new InvalidOperationException("closed before every SEND_ACK came");
            Assert.NotEqual(Opcode.Error, frame.Header.Opcode);
            if (frame.Header.Opcode == Opcode.SendAck)
            {
                acked.Add(frame.Header.RequestId);
            }
        }

        return acked;
    }
}
