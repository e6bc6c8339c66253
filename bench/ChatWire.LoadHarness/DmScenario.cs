using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using ChatWire.Bench;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.LoadHarness;

/// <summary>
/// One-to-one chat: N users in pairs, each pair in its own direct-message conversation (POST /v1/dms), one
/// connection each. Every user keeps a window of SENDs in flight to its partner; measured are the durable
/// SEND → SEND_ACK rate and latency and the time from a SEND leaving the sender to its EVENT arriving at the
/// partner's connection (the send time travels in the content's first 8 bytes).
/// </summary>
internal static class DmScenario
{
    private const int WarmUpPerUser = 100;

    public static async Task<object> RunAsync(HarnessOptions options)
    {
        if (options.Connections % 2 != 0)
        {
            throw new ArgumentException("dm: --connections (users) must be even: they talk in pairs.");
        }

        await using var gateway = await GatewayProcess.StartAsync(options.GatewayDll, options.Gc, new Dictionary<string, string>());
        var pairs = options.Connections / 2;
        var perUser = options.Messages / options.Connections;
        var contentBytes = Math.Max(options.ContentBytes, sizeof(long));
        Console.WriteLine($"gateway pid {gateway.ProcessId}; {pairs} pairs in DMs × window {options.Window}; {perUser * options.Connections} messages of {contentBytes} bytes");

        // Users must share a team to open a DM: one team, everyone joins it.
        var (users, _, _) = await gateway.SignupTeamAsync("dm", options.Connections);

        var clients = new Client[options.Connections];
        var paired = 0;
        string Pairing() => $"dm: {Volatile.Read(ref paired)}/{pairs} pairs in their DMs and connected";
        await using (new ProgressLine(Pairing))
        {
            await Deadline.WithinAsync(Task.Run(async () =>
            {
                for (var p = 0; p < pairs; p++)
                {
                    var (a, b) = (users[2 * p], users[(2 * p) + 1]);
                    var dm = await gateway.CreateDmAsync(a.Token, b.UserId);
                    clients[2 * p] = new Client(await Connect(a), dm, b.UserId);
                    clients[(2 * p) + 1] = new Client(await Connect(b), dm, a.UserId);
                    Volatile.Write(ref paired, p + 1);
                }
            }), options.TimeoutSeconds, Pairing);
        }

        var content = new byte[contentBytes];
        Random.Shared.NextBytes(content);

        // Warm-up, not measured: the JIT's tiering, SQLite's caches.
        var warmUp = await JitWarmUp.RunAsync(
            () => Deadline.WithinAsync(Task.WhenAll(clients.Select(c => DriveAsync(c, Math.Min(WarmUpPerUser, perUser), options.Window, content, null, null, null))), options.TimeoutSeconds, () => "dm: a warm-up round"),
            gateway.ReadJitSecondsAsync);
        Console.WriteLine($"{warmUp}; measuring");

        var acks = new ConcurrentBag<double>();
        var deliveries = new ConcurrentBag<double>();
        var jitBefore = await gateway.ReadJitSecondsAsync();
        var cpuBefore = gateway.CpuTime;
        var ackCount = new Counter();
        string Measuring() => $"dm: {ackCount.Value}/{perUser * options.Connections} acked, {deliveries.Count} delivered";
        var started = Stopwatch.GetTimestamp();
        TimeSpan elapsed;
        await using (new ProgressLine(Measuring))
        {
            await Deadline.WithinAsync(Task.WhenAll(clients.Select(c => DriveAsync(c, perUser, options.Window, content, acks, deliveries, ackCount))), options.TimeoutSeconds, Measuring);
            elapsed = Stopwatch.GetElapsedTime(started);
        }

        var cpu = gateway.CpuTime - cpuBefore;
        var jitMs = (await gateway.ReadJitSecondsAsync() - jitBefore) * 1000;
        foreach (var client in clients)
        {
            client.Connection.Dispose();
        }

        var ackSorted = acks.Order().ToArray();
        var deliverySorted = deliveries.Order().ToArray();
        var total = perUser * options.Connections;
        var throughput = total / elapsed.TotalSeconds;
        var cpuMicros = cpu.TotalMicroseconds / total;
        Console.WriteLine($"{total} acked and delivered in {elapsed.TotalSeconds:F2} s: {throughput:F0} msg/s; ACK p50 {P(ackSorted, 0.50):F2} ms, p99 {P(ackSorted, 0.99):F2} ms; "
            + $"to the partner p50 {P(deliverySorted, 0.50):F2} ms, p99 {P(deliverySorted, 0.99):F2} ms; gateway CPU {cpuMicros:F1} µs per message, {jitMs:F0} ms of it in the JIT");
        return new
        {
            scenario = "dm",
            gc = options.Gc,
            pairs,
            window = options.Window,
            content_bytes = contentBytes,
            messages = total,
            seconds = elapsed.TotalSeconds,
            messages_per_second = throughput,
            ack_p50_ms = P(ackSorted, 0.50),
            ack_p99_ms = P(ackSorted, 0.99),
            delivery_p50_ms = P(deliverySorted, 0.50),
            delivery_p99_ms = P(deliverySorted, 0.99),
            delivery_max_ms = deliverySorted.Length > 0 ? deliverySorted[^1] : 0,
            gateway_cpu_seconds = cpu.TotalSeconds,
            gateway_cpu_microseconds_per_message = cpuMicros,
            gateway_jit_ms_while_measured = jitMs,
            warm_up = warmUp.ToJson(),
        };

        Task<LoadConnection> Connect((Guid UserId, Guid DeviceId, string Token) user) =>
            LoadConnection.ConnectAsync(IPAddress.Loopback, gateway.TcpEndPoint, user.Token, user.DeviceId, CancellationToken.None);
    }

    // Sends `count` messages with at most `window` unacknowledged, and returns once it has every ACK and the
    // partner's `count` messages (the partner sends as many). Its own messages come back as EVENTs too and are
    // skipped, as are events of other kinds.
    private static async Task DriveAsync(Client client, int count, int window, byte[] content, ConcurrentBag<double>? acks, ConcurrentBag<double>? deliveries, Counter? ackCount)
    {
        using var sends = new SendWindow(window);
        var reader = Task.Run(async () =>
        {
            var acked = 0;
            var fromPartner = 0;
            while (acked < count || fromPartner < count)
            {
                var (header, body) = await client.Connection.ReadFrameInPlaceAsync(CancellationToken.None);
                if (header.OpcodeValue == (uint)Opcode.SendAck)
                {
                    sends.Acked(header.RequestId, acks);
                    ackCount?.Add(1);
                    acked++;
                }
                else if (header.OpcodeValue == (uint)Opcode.Event)
                {
                    var e = LoadConnection.Decode<EventFrame>(body).Event;
                    if (e.Kind == EventKind.Message && e.SenderUserId == client.Partner && e.Content.Length >= sizeof(long))
                    {
                        deliveries?.Add(Stopwatch.GetElapsedTime(BinaryPrimitives.ReadInt64LittleEndian(e.Content.Span)).TotalMilliseconds);
                        fromPartner++;
                    }
                }
                else if (header.OpcodeValue == (uint)Opcode.Error)
                {
                    var error = LoadConnection.Decode<ErrorFrame>(body);
                    throw new InvalidOperationException($"SEND failed: {error.Name} {error.Message}");
                }
            }
        });

        var own = (byte[])content.Clone();
        for (var i = 0; i < count; i++)
        {
            await sends.WaitForRoomAsync(reader);
            BinaryPrimitives.WriteInt64LittleEndian(own, Stopwatch.GetTimestamp());
            await sends.SendAsync(client.Connection, new Send(client.NextRequestId++, client.Conversation, Guid.CreateVersion7(), "application/octet-stream", own));
        }

        await reader;
    }

    private static double P(double[] sorted, double p) => SendScenario.Percentile(sorted, p);

    private sealed class Client(LoadConnection connection, Guid conversation, Guid partner)
    {
        public LoadConnection Connection { get; } = connection;

        public Guid Conversation { get; } = conversation;

        public Guid Partner { get; } = partner;

        public uint NextRequestId { get; set; } = 1;
    }
}
