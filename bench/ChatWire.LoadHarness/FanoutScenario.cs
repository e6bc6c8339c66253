using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using ChatWire.Bench;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.LoadHarness;

/// <summary>
/// Fan-out: one sender keeps a window of SENDs in flight into a channel whose other members hold N
/// connections; every stored message is pushed to all N. Reports deliveries per second (messages × N over
/// the time from the first SEND to the last delivery) and the SEND → delivery latency of every delivery.
/// The send time travels in the first 8 bytes of each message's content (a Stopwatch timestamp of this
/// process), so receivers measure latency without any shared state.
/// </summary>
internal static class FanoutScenario
{
    /// <summary>Messages of each warm-up round (at most as many as measured); rounds go on until the gateway's JIT is quiet.</summary>
    public const int WarmUpMessages = 2000;

    public static async Task<object> RunAsync(HarnessOptions options)
    {
        var settings = new Dictionary<string, string>
        {
            ["Gateway:HeartbeatIntervalMs"] = "3600000",
            ["Gateway:MaxConnectionsPerIp"] = "1000000",
            ["Gateway:MaxConnectionsPerUser"] = "0",
        };
        if (options.Transport.Length > 0)
        {
            settings["Gateway:ProtocolTransport"] = options.Transport;
        }

        // Recipients and sender use the listener --tls or --noise asks for (plain TCP otherwise).
        var security = HarnessSecurity.Configure(options, settings);
        await using var gateway = await GatewayProcess.StartAsync(options.GatewayDll, options.Gc, settings);
        await security.ReadTrustAsync(gateway);
        var recipients = options.Recipients;
        var contentBytes = Math.Max(options.ContentBytes, sizeof(long));
        Console.WriteLine($"gateway pid {gateway.ProcessId} ({security.Name}); 1 sender → {recipients} connections; {options.Messages} messages of {contentBytes} bytes, window {options.Window}");

        var (_, senderDevice, senderToken) = await gateway.SignupAsync("fanout-sender");
        var (teamId, channel) = await gateway.CreateTeamAsync(senderToken, "fanout");
        var invite = await gateway.CreateInviteAsync(senderToken, teamId);
        var users = new List<(Guid DeviceId, string Token)>();
        for (var i = 0; i < (recipients + options.ConnectionsPerUser - 1) / options.ConnectionsPerUser; i++)
        {
            var (_, device, token) = await gateway.SignupAsync($"fanout{i:D5}");
            await gateway.JoinAsync(token, invite);
            users.Add((device, token));
        }

        var connections = new LoadConnection[recipients];
        var connected = 0;
        string Connecting() => $"fanout: {Volatile.Read(ref connected)}/{recipients} recipients connected";
        await using (new ProgressLine(Connecting))
        {
            await Deadline.WithinAsync(Task.Run(async () =>
            {
                for (var i = 0; i < recipients; i++)
                {
                    var user = users[i / options.ConnectionsPerUser];
                    var source = IPAddress.Parse($"127.0.0.{1 + (i % options.SourceAddresses)}");
                    connections[i] = await security.ConnectAsync(gateway, source, user.Token, user.DeviceId, CancellationToken.None);
                    Volatile.Write(ref connected, i + 1);
                }
            }), options.TimeoutSeconds, Connecting);
        }

        using var sender = await security.ConnectAsync(gateway, IPAddress.Loopback, senderToken, senderDevice, CancellationToken.None);
        Console.WriteLine($"{recipients} recipients connected");

        // Warm-up, not measured: rounds until the gateway's JIT is quiet (JitWarmUp; a profile of a 200-message
        // warm-up showed a fifth of the gateway's CPU in the JIT for the first seconds), which also tiers up this
        // process's receive loops and warms the SQLite caches and the recipients' buffers.
        var perRound = Math.Min(WarmUpMessages, options.Messages);
        var warmUp = await JitWarmUp.RunAsync(async () =>
        {
            var warmReceivers = connections.Select(c => ReceiveAsync(c, perRound, contentBytes, null)).ToArray();
            await Deadline.WithinAsync(RunAsync(sender, channel, perRound, options.Window, contentBytes, warmReceivers), options.TimeoutSeconds, () => "fanout: a warm-up round");
        }, gateway.ReadJitSecondsAsync);
        Console.WriteLine($"{warmUp}; measuring");

        var latencies = new float[recipients][];
        var receivers = new Task[recipients];
        var ackCount = new Counter();
        var deliveryCount = new Counter();
        for (var i = 0; i < recipients; i++)
        {
            latencies[i] = new float[options.Messages];
            receivers[i] = ReceiveAsync(connections[i], options.Messages, contentBytes, latencies[i], deliveryCount);
        }

        var metricsBefore = await gateway.ReadUnlabelledMetricsAsync();
        var cpuBefore = gateway.CpuSplit;
        var started = Stopwatch.GetTimestamp();
        var acked = TimeSpan.Zero;
        TimeSpan elapsed;
        string Measuring() => $"fanout: {ackCount.Value}/{options.Messages} acked, {deliveryCount.Value}/{(long)options.Messages * recipients} delivered";
        await using (new ProgressLine(Measuring))
        {
            await Deadline.WithinAsync(Task.Run(async () =>
            {
                await SendAllAsync(sender, channel, options.Messages, options.Window, contentBytes, ackCount);
                acked = Stopwatch.GetElapsedTime(started);
                await Task.WhenAll(receivers);
            }), options.TimeoutSeconds, Measuring);
            elapsed = Stopwatch.GetElapsedTime(started);
        }

        var cpuAfter = gateway.CpuSplit;
        var metricsAfter = await gateway.ReadUnlabelledMetricsAsync();
        var jitMs = GatewayProcess.Change(metricsBefore, metricsAfter, "chatwire_jit_compilation_seconds_total") * 1000;

        // How the sender's pipelined SENDs reached the store: fewer, larger commits mean fewer publications and
        // more events per write to each recipient.
        var (commits, meanBatch) = GatewayProcess.GroupCommits(metricsBefore, metricsAfter);
        foreach (var connection in connections)
        {
            connection.Dispose();
        }

        var all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        var deliveries = (long)options.Messages * recipients;
        var perSecond = deliveries / elapsed.TotalSeconds;
        var userNs = (cpuAfter.User - cpuBefore.User).TotalNanoseconds / deliveries;
        var kernelNs = (cpuAfter.Kernel - cpuBefore.Kernel).TotalNanoseconds / deliveries;
        Console.WriteLine($"{options.Messages} messages acked in {acked.TotalSeconds:F2} s; {deliveries} deliveries in {elapsed.TotalSeconds:F2} s: {perSecond:F0} deliveries/s; latency p50 {Percentile(all, 0.50):F1} ms, p99 {Percentile(all, 0.99):F1} ms, max {all[^1]:F1} ms; gateway CPU per delivery: user {userNs:F0} ns, kernel {kernelNs:F0} ns; {jitMs:F0} ms in the JIT; {commits:F0} group commits of {meanBatch:F1} SENDs on average");
        return new
        {
            scenario = "fanout",
            gc = options.Gc,
            listener = security.Name,
            transport = options.Transport.Length > 0 ? options.Transport : "default",
            recipients,
            window = options.Window,
            content_bytes = contentBytes,
            messages = options.Messages,
            deliveries,
            seconds = elapsed.TotalSeconds,
            seconds_to_last_ack = acked.TotalSeconds,
            deliveries_per_second = perSecond,
            p50_ms = Percentile(all, 0.50),
            p99_ms = Percentile(all, 0.99),
            max_ms = (double)all[^1],
            gateway_user_ns_per_delivery = userNs,
            gateway_kernel_ns_per_delivery = kernelNs,
            gateway_jit_ms_while_measured = jitMs,
            group_commits = commits,
            mean_commit_batch = meanBatch,
            warm_up = warmUp.ToJson(),
        };
    }

    /// <summary>One sender's <paramref name="count"/> SENDs, then every receiver's last delivery.</summary>
    internal static async Task RunAsync(LoadConnection sender, Guid channel, int count, int window, int contentBytes, Task[] receivers)
    {
        await SendAllAsync(sender, channel, count, window, contentBytes);
        await Task.WhenAll(receivers);
    }

    // The sender: a window of SENDs in flight, refilled as SEND_ACKs arrive. MESSAGE frames the sender's
    // own connection may receive are ignored.
    internal static async Task SendAllAsync(LoadConnection sender, Guid channel, int count, int window, int contentBytes, Counter? acks = null)
    {
        using var slots = new SemaphoreSlim(window);
        var reader = Task.Run(async () =>
        {
            for (var acked = 0; acked < count;)
            {
                var (header, body) = await sender.ReadFrameInPlaceAsync(CancellationToken.None);
                if (header.OpcodeValue == (uint)Opcode.SendAck)
                {
                    acked++;
                    acks?.Add(1);
                    slots.Release();
                }
                else if (header.OpcodeValue == (uint)Opcode.Error)
                {
                    var error = LoadConnection.Decode<ErrorFrame>(body);
                    throw new InvalidOperationException($"SEND failed: {error.Name} {error.Message}");
                }
            }
        });

        var content = new byte[contentBytes];
        Random.Shared.NextBytes(content);
        var output = new ArrayBufferWriter<byte>(contentBytes + 128);
        for (var i = 0; i < count; i++)
        {
            await slots.WaitAsync();
            BinaryPrimitives.WriteInt64LittleEndian(content, Stopwatch.GetTimestamp());
            output.ResetWrittenCount();
            FrameCodec.Write(output, new Send((uint)(i + 1), channel, Guid.CreateVersion7(), "application/octet-stream", content));
            await sender.SendAsync(output.WrittenMemory, CancellationToken.None);
        }

        await reader;
    }

    // A lean receive loop: walks length prefixes in place and reads the send time at the end of each
    // MESSAGE (its content is the frame's last bytes), so the harness costs little next to the gateway.
    internal static async Task ReceiveAsync(LoadConnection connection, int count, int contentBytes, float[]? latencies, Counter? delivered = null)
    {
        var buffer = new byte[64 * 1024];
        var buffered = 0;
        var received = 0;
        while (received < count)
        {
            var read = await connection.ReceiveAsync(buffer.AsMemory(buffered), CancellationToken.None);
            if (read == 0)
            {
                throw new IOException("The gateway closed a recipient's connection.");
            }

            buffered += read;
            var offset = 0;
            var before = received;
            while (buffered - offset >= ProtocolLimits.LengthPrefixSize)
            {
                var length = (int)BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(offset));
                var frameEnd = offset + ProtocolLimits.LengthPrefixSize + length;
                if (frameEnd > buffered)
                {
                    break;
                }

                // Body byte 0 is the array header (a fixarray for every frame here), byte 1 the opcode.
                if (length > 2 && buffer[offset + ProtocolLimits.LengthPrefixSize + 1] == (byte)Opcode.Event)
                {
                    if (latencies is not null && received < latencies.Length)
                    {
                        var sentAt = BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(frameEnd - contentBytes));
                        latencies[received] = (float)Stopwatch.GetElapsedTime(sentAt).TotalMilliseconds;
                    }

                    received++;
                }

                offset = frameEnd;
            }

            delivered?.Add(received - before);
            Buffer.BlockCopy(buffer, offset, buffer, 0, buffered - offset);
            buffered -= offset;
            if (buffered == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }
        }
    }

    internal static double Percentile(float[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
