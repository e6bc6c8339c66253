using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.LoadHarness;

/// <summary>
/// A resume storm, what a node's clients do when their network comes back: N seeded devices, each user in
/// <c>--conversations</c> channels of about <c>--members</c> members, connect and SYNC once (their watermarks:
/// every conversation's last seq); all drop; a writer then stores <c>--messages</c> messages in every channel;
/// then all N reconnect at once, SYNC, and fetch what they missed with HISTORY (After, 200 per page) until
/// every watermark reaches the conversation's last seq. Reports the time from the first reconnect until the
/// last device has caught up, SYNC and HISTORY round trips, events replayed per second and refusals.
/// </summary>
internal static class ResumeStormScenario
{
    private const uint HistoryLimit = 200;

    public static async Task<object> RunAsync(HarnessOptions options)
    {
        var count = options.Connections;
        var (seeded, security, seed, users) = await StormClients.StartSeededGatewayAsync(options);
        await using var gateway = seeded;
        var devices = seed.Devices.Take(count).ToList();
        var deadline = TimeSpan.FromSeconds(options.TimeoutSeconds);
        Console.WriteLine($"gateway pid {gateway.ProcessId} ({security.Name}); {count} devices of {users} users, each user in {options.Conversations} of {seed.Channels.Count} channels; {options.Messages} messages per channel missed; {options.InFlight} in flight, deadline {options.TimeoutSeconds} s");

        // 1. Everyone connects and learns where each conversation stands.
        var watermarks = new Dictionary<Guid, ulong>[count];
        var first = new StormClients();
        await using (new ProgressLine(() => $"resume-storm, first connect: {first.Describe(count)}"))
        {
            var held = await first.RunAsync(devices, security, gateway, options.InFlight, options.SourceAddresses, deadline, async (i, connection, _) =>
            {
                watermarks[i] = [];
                await foreach (var entry in connection.SyncAsync(null))
                {
                    watermarks[i][entry.ConversationId] = entry.LastSeq;
                }

                return true;
            });

            // 2. All drop.
            foreach (var connection in held)
            {
                connection.Dispose();
            }
        }

        if (first.Failed > 0)
        {
            throw new InvalidOperationException($"The first connect failed for {first.Failed} devices: {first.Describe(count)}");
        }

        await gateway.WaitForConnectionsAsync(0, deadline);

        // 3. The writer fills every channel while they are away.
        var content = new byte[options.ContentBytes];
        Random.Shared.NextBytes(content);
        var writeStarted = Stopwatch.GetTimestamp();
        var written = 0;
        using (var writer = await LoadConnection.ConnectAsync(IPAddress.Loopback, gateway.TcpEndPoint, seed.Writer!.Token, seed.Writer.DeviceId, CancellationToken.None))
        await using (new ProgressLine(() => $"resume-storm, writing: {Volatile.Read(ref written)}/{seed.Channels.Count} channels"))
        {
            foreach (var (channel, _) in seed.Channels)
            {
                await SendScenario.DriveAsync(writer, channel, options.Messages, Math.Min(options.Messages, 64), content, null);
                Interlocked.Increment(ref written);
            }
        }

        var stored = seed.Channels.Count * options.Messages;
        Console.WriteLine($"stored {stored} messages in {Stopwatch.GetElapsedTime(writeStarted).TotalSeconds:F1} s");
        await gateway.WaitForConnectionsAsync(0, deadline);

        // 4. All reconnect at once and catch up.
        var storm = new StormClients();
        var setups = new ConcurrentBag<double>();
        var syncs = new ConcurrentBag<double>();
        var histories = new ConcurrentBag<double>();
        var caughtUp = new ConcurrentBag<double>();
        long replayed = 0;
        var done = 0;
        var cpuBefore = gateway.CpuTime;
        var started = Stopwatch.GetTimestamp();
        await using (new ProgressLine(() => $"resume-storm: {storm.Describe(count)}, {Volatile.Read(ref done)} caught up, {Interlocked.Read(ref replayed)} events replayed"))
        {
            await storm.RunAsync(devices, security, gateway, options.InFlight, options.SourceAddresses, deadline, async (i, connection, timing) =>
            {
                setups.Add(StormClients.Ms(timing.Started, timing.Authenticated));
                var behind = new List<(Guid Conversation, ulong From, ulong To)>();
                await foreach (var entry in connection.SyncAsync(syncs))
                {
                    var known = watermarks[i].GetValueOrDefault(entry.ConversationId);
                    if (entry.LastSeq > known)
                    {
                        behind.Add((entry.ConversationId, known, entry.LastSeq));
                    }
                }

                foreach (var (conversation, from, to) in behind)
                {
                    Interlocked.Add(ref replayed, await FillAsync(connection, conversation, from, to, histories));
                }

                caughtUp.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                Interlocked.Increment(ref done);
                return false;
            });
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var cpu = gateway.CpuTime - cpuBefore;
        var allCaughtUp = caughtUp.IsEmpty ? 0 : caughtUp.Max() / 1000;
        var eventsPerSecond = replayed / Math.Max(allCaughtUp, 1e-9);
        Console.WriteLine($"{done} of {count} devices caught up in {allCaughtUp:F2} s ({storm.Failed} failed); {replayed} events replayed, {eventsPerSecond:F0}/s; set-up {StormClients.Describe(setups)}; SYNC {StormClients.Describe(syncs)}; HISTORY {StormClients.Describe(histories)}; gateway CPU {cpu.TotalSeconds:F2} s");
        return new
        {
            scenario = "resume-storm",
            gc = options.Gc,
            transport = options.Transport.Length > 0 ? options.Transport : "default",
            listener = security.Name,
            devices = count,
            connections_per_user = options.ConnectionsPerUser,
            conversations_per_user = options.Conversations,
            channels = seed.Channels.Count,
            messages_per_channel = options.Messages,
            content_bytes = options.ContentBytes,
            in_flight = options.InFlight,
            seed_seconds = seed.Seconds,
            caught_up = done,
            failed = storm.Failed,
            refusals = storm.Refusals,
            seconds_until_all_caught_up = allCaughtUp,
            seconds = elapsed.TotalSeconds,
            events_replayed = replayed,
            events_replayed_per_second = eventsPerSecond,
            setup = StormClients.Summary(setups),
            sync = StormClients.Summary(syncs),
            history = StormClients.Summary(histories),
            gateway_cpu_seconds = cpu.TotalSeconds,
            gateway_cpu_microseconds_per_event = cpu.TotalMicroseconds / Math.Max(1, replayed),
        };
    }

    // HISTORY After from the watermark until it reaches `to`; returns the events received, which must be exactly
    // the missing seqs (a conversation's seqs have no gaps).
    private static async Task<long> FillAsync(LoadConnection connection, Guid conversation, ulong from, ulong to, ConcurrentBag<double> latencies)
    {
        var output = new ArrayBufferWriter<byte>(64);
        var watermark = from;
        long received = 0;
        for (uint requestId = 10_000; watermark < to; requestId++)
        {
            var sent = Stopwatch.GetTimestamp();
            var request = new History(requestId, conversation, watermark, HistoryDirection.After, HistoryLimit);
            var page = LoadConnection.Decode<HistoryPage>(await connection.RequestAsync(output, request, requestId, Opcode.HistoryPage));
            latencies.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
            foreach (var e in page.Events)
            {
                if (e.Seq != watermark + 1)
                {
                    throw new InvalidOperationException($"HISTORY of {conversation} gave seq {e.Seq} after {watermark}.");
                }

                watermark = e.Seq;
                received++;
            }

            if (!page.HasMore && watermark < to)
            {
                throw new InvalidOperationException($"HISTORY of {conversation} ended at {watermark}; SYNC said {to}.");
            }
        }

        return received;
    }
}
