using System.Buffers;
using System.Diagnostics;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.LoadHarness;

/// <summary>
/// Churn, the leak check: N seeded devices (each user in <c>--conversations</c> channels of about <c>--members</c>)
/// go through <c>--rounds</c> rounds of a short session each: connect and AUTH, SYNC, watch the presence of ten
/// team-mates, send <c>--messages</c> messages into one of their channels, read its newest page of history, mark it
/// read, and hang up. After every round, when the gateway holds no connection, it reads the gateway's managed heap
/// (after a forced full, compacting collection), what the GC still has committed, and RSS. Whatever the gateway keeps per session that should have
/// ended with it shows as a heap that grows round after round: the scenario reports the least-squares slope of the
/// heap and of RSS over the rounds after the first <c>--warm-rounds</c>, in bytes per round and per session.
/// </summary>
internal static class ChurnScenario
{
    public static async Task<object> RunAsync(HarnessOptions options)
    {
        var count = options.Connections;
        var (seeded, security, seed, users) = await StormClients.StartSeededGatewayAsync(options);
        await using var gateway = seeded;
        var devices = seed.Devices.Take(count).ToList();
        // The seed lists devices grouped by user, so device i is user i / per-user's.
        var team = seed.Devices.Select(d => d.UserId).Distinct().ToArray();
        var deadline = TimeSpan.FromSeconds(options.TimeoutSeconds);
        var content = new byte[options.ContentBytes];
        Random.Shared.NextBytes(content);
        Console.WriteLine($"gateway pid {gateway.ProcessId} ({security.Name}); {count} devices of {users} users, each user in {options.Conversations} channels; {options.Rounds} rounds of one session per device: SYNC, PRESENCE_WATCH, {options.Messages} SEND, HISTORY, READ; {options.InFlight} in flight");

        var before = await gateway.ReadMemoryAsync();
        var rounds = new List<object>();
        var heap = new List<double>();
        var committed = new List<double>();
        var rss = new List<double>();
        long sessions = 0;
        long sent = 0;
        var started = Stopwatch.GetTimestamp();
        for (var round = 1; round <= options.Rounds; round++)
        {
            var storm = new StormClients();
            var done = 0;
            var roundStarted = Stopwatch.GetTimestamp();
            await using (new ProgressLine(() => $"churn round {round}/{options.Rounds}: {storm.Describe(count)}, {Volatile.Read(ref done)} sessions done"))
            {
                await storm.RunAsync(devices, security, gateway, options.InFlight, options.SourceAddresses, deadline, async (i, connection, _) =>
                {
                    Interlocked.Add(ref sent, await SessionAsync(connection, i / options.ConnectionsPerUser, team, options.Messages, content));
                    Interlocked.Increment(ref done);
                    return false;
                });
            }

            if (storm.Failed > 0)
            {
                throw new InvalidOperationException($"Round {round}: {storm.Failed} sessions failed: {storm.Describe(count)}");
            }

            sessions += done;
            await gateway.WaitForConnectionsAsync(0, deadline);
            var memory = await gateway.ReadMemoryAsync();
            heap.Add(memory.ManagedBytes);
            committed.Add(memory.GcCommittedBytes);
            rss.Add(memory.RssBytes);
            var seconds = Stopwatch.GetElapsedTime(roundStarted).TotalSeconds;
            Console.WriteLine($"round {round}: {done} sessions in {seconds:F1} s; gateway managed heap {memory.ManagedBytes / 1024.0 / 1024:F2} MiB, GC committed {memory.GcCommittedBytes / 1024.0 / 1024:F1} MiB, RSS {memory.RssBytes / 1024.0 / 1024:F1} MiB");
            rounds.Add(new { round, sessions = done, seconds, managed_bytes = memory.ManagedBytes, gc_committed_bytes = memory.GcCommittedBytes, rss_bytes = memory.RssBytes });
        }

        if (options.HoldSeconds > 0)
        {
            Console.WriteLine($"holding the idle gateway for {options.HoldSeconds} s (e.g. dotnet-gcdump collect -p {gateway.ProcessId})");
            await Task.Delay(TimeSpan.FromSeconds(options.HoldSeconds));
        }

        var warm = Math.Min(options.WarmRounds, options.Rounds - 2);
        var heapSlope = Slope(heap.Skip(warm).ToList());
        var committedSlope = Slope(committed.Skip(warm).ToList());
        var rssSlope = Slope(rss.Skip(warm).ToList());
        Console.WriteLine($"{sessions} sessions, {sent} messages in {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s; over rounds {warm + 1}–{options.Rounds}: managed heap {heapSlope:F0} B per round ({heapSlope / count:F2} B per session), GC committed {committedSlope:F0} B per round, RSS {rssSlope:F0} B per round ({rssSlope / count:F2} B per session); before the first round: heap {before.ManagedBytes / 1024.0 / 1024:F2} MiB, RSS {before.RssBytes / 1024.0 / 1024:F1} MiB");
        return new
        {
            scenario = "churn",
            gc = options.Gc,
            transport = options.Transport.Length > 0 ? options.Transport : "default",
            listener = security.Name,
            devices = count,
            connections_per_user = options.ConnectionsPerUser,
            conversations_per_user = options.Conversations,
            messages_per_session = options.Messages,
            content_bytes = options.ContentBytes,
            in_flight = options.InFlight,
            sessions,
            messages = sent,
            warm_rounds = warm,
            managed_bytes_before = before.ManagedBytes,
            rss_bytes_before = before.RssBytes,
            managed_slope_bytes_per_round = heapSlope,
            managed_slope_bytes_per_session = heapSlope / count,
            gc_committed_slope_bytes_per_round = committedSlope,
            rss_slope_bytes_per_round = rssSlope,
            rss_slope_bytes_per_session = rssSlope / count,
            rounds,
        };
    }

    // One device's short session; returns the messages it sent.
    private static async Task<int> SessionAsync(LoadConnection connection, int user, Guid[] team, int messages, byte[] content)
    {
        var channels = new List<ConversationState>();
        await foreach (var state in connection.SyncAsync(null))
        {
            channels.Add(state);
        }

        var output = new ArrayBufferWriter<byte>(256);
        var watched = Enumerable.Range(1, Math.Min(10, team.Length - 1)).Select(k => team[(user + k) % team.Length]).ToArray();
        uint requestId = 1;
        await connection.RequestAsync(output, new PresenceWatch(requestId, watched), requestId++, Opcode.Presence);
        if (channels.Count == 0)
        {
            return 0;
        }

        var channel = channels[Random.Shared.Next(channels.Count)].ConversationId;
        ulong last = 0;
        for (var m = 0; m < messages; m++)
        {
            var ack = LoadConnection.Decode<SendAck>(await connection.RequestAsync(output, new Send(requestId, channel, Guid.CreateVersion7(), "application/octet-stream", content), requestId++, Opcode.SendAck));
            last = ack.Seq;
        }

        await connection.RequestAsync(output, new History(requestId, channel, 0, HistoryDirection.Before, 50), requestId++, Opcode.HistoryPage);
        if (last > 0)
        {
            await connection.RequestAsync(output, new MarkRead(requestId, channel, last), requestId++, Opcode.Ok);
        }

        return messages;
    }

    // The least-squares slope of the readings against their index (bytes per round).
    internal static double Slope(IReadOnlyList<double> values) =>
        Slope([.. Enumerable.Range(0, values.Count).Select(i => (double)i)], values);

    // The least-squares slope of y against x; 0 with fewer than two distinct x.
    internal static double Slope(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.Count < 2)
        {
            return 0;
        }

        var meanX = x.Average();
        var meanY = y.Average();
        double covariance = 0, variance = 0;
        for (var i = 0; i < x.Count; i++)
        {
            covariance += (x[i] - meanX) * (y[i] - meanY);
            variance += (x[i] - meanX) * (x[i] - meanX);
        }

        return variance == 0 ? 0 : covariance / variance;
    }
}
