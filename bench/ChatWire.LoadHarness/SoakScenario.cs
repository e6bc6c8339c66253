using System.Buffers;
using System.Diagnostics;
using System.Net;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.LoadHarness;

/// <summary>
/// Soak, the leak check for sessions that stay: N users in one team, in pairs with a direct-message conversation
/// each, keep long-lived connections and talk at a steady total rate for <c>--minutes</c>: four SENDs in five to
/// the partner, one to the team's general channel (every member gets it), TYPING at most every 3 s, a REACT on
/// every fifth message from the partner and a READ on every tenth. Every user hangs up after
/// <c>--reconnect-every</c> of its own SENDs (once each has been acknowledged), reconnects and SYNCs, so sessions
/// also end and begin under traffic. Every <c>--interval</c> seconds the gateway's managed heap (after a forced
/// full, compacting collection), GC-committed bytes and RSS are read; whatever grows with the traffic itself,
/// rather than with the store's bounded caches, shows as the least-squares slope over the readings after the
/// first third, in bytes per minute and per thousand messages.
/// </summary>
internal static class SoakScenario
{
    private const string Emoji = "👍";

    public static async Task<object> RunAsync(HarnessOptions options)
    {
        if (options.Connections < 2 || options.Connections % 2 != 0)
        {
            throw new ArgumentException("soak: --connections (users) must be even: they talk in pairs.");
        }

        await using var gateway = await GatewayProcess.StartAsync(options.GatewayDll, options.Gc, new Dictionary<string, string>());
        var (users, _, general) = await gateway.SignupTeamAsync("soak", options.Connections);

        var clients = new Client[options.Connections];
        for (var p = 0; p < options.Connections / 2; p++)
        {
            var (a, b) = (users[2 * p], users[(2 * p) + 1]);
            var dm = await gateway.CreateDmAsync(a.Token, b.UserId);
            clients[2 * p] = new Client(a.DeviceId, a.Token, dm, general, b.UserId);
            clients[(2 * p) + 1] = new Client(b.DeviceId, b.Token, dm, general, a.UserId);
        }

        var content = new byte[options.ContentBytes];
        Random.Shared.NextBytes(content);
        var perUser = options.Rate / (double)options.Connections;
        Console.WriteLine($"gateway pid {gateway.ProcessId}; {options.Connections} users in {options.Connections / 2} DM pairs and one channel; {options.Rate} SENDs/s in all ({perUser:F1} per user), {options.ContentBytes} bytes each, window {options.Window}; reconnect every {options.ReconnectEvery} SENDs; {options.Minutes} min, a reading every {options.IntervalSeconds} s");

        var counters = new Counters();
        using var stop = new CancellationTokenSource();
        var before = await gateway.ReadMemoryAsync();
        var cpuBefore = gateway.CpuTime;
        var started = Stopwatch.GetTimestamp();
        var drivers = clients.Select(c => DriveAsync(c, gateway, perUser, options, content, counters, stop.Token)).ToArray();
        var readings = new List<(double Minutes, long Sent, MemoryReading Memory)>();
        try
        {
            for (var k = 1; k * options.IntervalSeconds <= options.Minutes * 60; k++)
            {
                var due = TimeSpan.FromSeconds(k * options.IntervalSeconds) - Stopwatch.GetElapsedTime(started);
                await Task.WhenAny(Task.WhenAny(drivers), Task.Delay(due > TimeSpan.Zero ? due : TimeSpan.Zero));
                if (drivers.FirstOrDefault(d => d.IsCompleted) is { } ended)
                {
                    // A user's loop ends only when stopped: this one failed.
                    await ended;
                    throw new InvalidOperationException("A user's session loop ended early.");
                }

                var memory = await gateway.ReadMemoryAsync();
                var minutes = Stopwatch.GetElapsedTime(started).TotalMinutes;
                var sent = Volatile.Read(ref counters.Acked);
                readings.Add((minutes, sent, memory));
                Console.WriteLine($"{minutes,5:F1} min: {sent} acked, {Volatile.Read(ref counters.Events)} events in, {Volatile.Read(ref counters.Reconnects)} reconnects; "
                    + $"managed {Mib(memory.ManagedBytes)} MiB, GC committed {Mib(memory.GcCommittedBytes)} MiB, RSS {Mib(memory.RssBytes)} MiB, {memory.Threads} threads");
            }
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await Task.WhenAll(drivers);
            }
            catch (OperationCanceledException)
            {
                // Stopped while connecting.
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var cpu = gateway.CpuTime - cpuBefore;
        // The first third is the store's caches and the heap finding their size; the slope is taken over the rest.
        var measured = readings.Skip(readings.Count / 3).ToList();
        var minutesX = measured.Select(r => r.Minutes).ToList();
        var managedSlope = ChurnScenario.Slope(minutesX, measured.Select(r => (double)r.Memory.ManagedBytes).ToList());
        var committedSlope = ChurnScenario.Slope(minutesX, measured.Select(r => (double)r.Memory.GcCommittedBytes).ToList());
        var rssSlope = ChurnScenario.Slope(minutesX, measured.Select(r => (double)r.Memory.RssBytes).ToList());
        var messagesPerMinute = ChurnScenario.Slope(minutesX, measured.Select(r => (double)r.Sent).ToList());
        var acked = Volatile.Read(ref counters.Acked);
        Console.WriteLine($"{acked} SENDs acknowledged in {elapsed.TotalMinutes:F1} min ({acked / elapsed.TotalSeconds:F0}/s against {options.Rate}/s asked), {counters.Events} events, {counters.Reactions} reactions, {counters.Reads} reads, {counters.Typing} typing notices, {counters.Reconnects} reconnects; gateway CPU {cpu.TotalSeconds:F0} s");
        double? PerThousand(double slope) => messagesPerMinute > 0 ? slope / messagesPerMinute * 1000 : null;
        Console.WriteLine($"from {measured[0].Minutes:F1} min on: managed heap {managedSlope / 1024:F1} KiB/min ({PerThousand(managedSlope):F1} B per 1,000 messages), "
            + $"GC committed {committedSlope / 1024:F1} KiB/min, RSS {rssSlope / 1024:F1} KiB/min ({PerThousand(rssSlope):F1} B per 1,000 messages)");
        return new
        {
            scenario = "soak",
            gc = options.Gc,
            users = options.Connections,
            rate = options.Rate,
            content_bytes = options.ContentBytes,
            window = options.Window,
            reconnect_every = options.ReconnectEvery,
            minutes = elapsed.TotalMinutes,
            acknowledged = acked,
            events = counters.Events,
            reactions = counters.Reactions,
            reads = counters.Reads,
            typing = counters.Typing,
            reconnects = counters.Reconnects,
            gateway_cpu_seconds = cpu.TotalSeconds,
            slope_from_minute = measured[0].Minutes,
            managed_slope_bytes_per_minute = managedSlope,
            gc_committed_slope_bytes_per_minute = committedSlope,
            rss_slope_bytes_per_minute = rssSlope,
            managed_slope_bytes_per_thousand_messages = PerThousand(managedSlope),
            rss_slope_bytes_per_thousand_messages = PerThousand(rssSlope),
            before,
            readings = readings.Select(r => new { minutes = r.Minutes, acknowledged = r.Sent, memory = r.Memory }),
        };
    }

    // One user: sessions one after the other until stopped, each sending its share of the rate until it has sent
    // ReconnectEvery messages.
    private static async Task DriveAsync(Client client, GatewayProcess gateway, double perSecond, HarnessOptions options, byte[] content, Counters counters, CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        var interval = 1 / perSecond;
        var due = Random.Shared.NextDouble() * interval;

        // The first session is cut short by a random part, so that the users' reconnects spread out over time.
        var sessionLength = 1 + Random.Shared.Next(options.ReconnectEvery);
        while (!stop.IsCancellationRequested)
        {
            var connection = await LoadConnection.ConnectAsync(IPAddress.Loopback, gateway.TcpEndPoint, client.Token, client.DeviceId, stop);
            var session = new Session(client, connection, options.Window, counters);
            Task? reader = null;
            try
            {
                await foreach (var _ in connection.SyncAsync(null))
                {
                }

                reader = session.ReadAsync();
                for (var sent = 0; sent < sessionLength && !stop.IsCancellationRequested; sent++)
                {
                    var wait = due - clock.Elapsed.TotalSeconds;
                    if (wait > 0.001)
                    {
                        try
                        {
                            await Task.Delay(TimeSpan.FromSeconds(wait), stop);
                        }
                        catch (OperationCanceledException)
                        {
                            break;
                        }
                    }

                    // Behind (a reconnect, a forced collection, a slow gateway): carry on at the rate, no catching up.
                    due = Math.Max(due + interval, clock.Elapsed.TotalSeconds);
                    await session.SendAsync(reader, sent % 5 == 4 ? client.General : client.Dm, content, clock.Elapsed, stop);
                }

                await session.DrainAsync(reader);
            }
            finally
            {
                // A read loop still running ends quietly with the connection (drained, stopped, or a send failed:
                // that failure is the one to report). One that ended by itself failed (an ERROR frame, say): its
                // failure says more than the send that failed after it, and goes first.
                if (reader is { IsCompleted: false })
                {
                    session.Close();
                }

                connection.Dispose();
                if (reader is not null)
                {
                    try
                    {
                        await reader;
                    }
                    finally
                    {
                        session.Dispose();
                    }
                }
                else
                {
                    session.Dispose();
                }
            }

            sessionLength = options.ReconnectEvery;
            if (!stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref counters.Reconnects);
            }
        }
    }

    private static double Mib(long bytes) => Math.Round(bytes / 1024.0 / 1024, 1);

    private sealed class Counters
    {
        public long Acked;
        public long Events;
        public long Reactions;
        public long Reads;
        public long Typing;
        public long Reconnects;
    }

    private sealed record Client(Guid DeviceId, string Token, Guid Dm, Guid General, Guid Partner);

    // One connection of a user: a window of SENDs in flight; the reading loop takes the ACKs and answers the
    // partner's messages with REACTs and READs. Writes from both loops go out one at a time.
    private sealed class Session(Client client, LoadConnection connection, int window, Counters counters) : IDisposable
    {
        private readonly SemaphoreSlim _slots = new(window);
        private readonly SemaphoreSlim _write = new(1);
        private readonly ArrayBufferWriter<byte> _sendOutput = new(512);
        private readonly ArrayBufferWriter<byte> _readOutput = new(256);
        private uint _requestId;
        private TimeSpan _lastTyping = TimeSpan.FromSeconds(-3);
        private int _fromPartner;
        private volatile bool _draining;

        public async Task SendAsync(Task reader, Guid conversation, byte[] content, TimeSpan now, CancellationToken stop)
        {
            var room = _slots.WaitAsync(TimeSpan.FromSeconds(60), stop);
            if (!room.IsCompleted && await Task.WhenAny(room, reader) == reader)
            {
                await reader;
                throw new InvalidOperationException("The reading loop ended before every SEND was acknowledged.");
            }

            if (!await room)
            {
                throw new TimeoutException($"No SEND_ACK came for 60 s with {window} SENDs in flight.");
            }

            _sendOutput.ResetWrittenCount();
            if (conversation == client.Dm && now - _lastTyping >= TimeSpan.FromSeconds(3))
            {
                // As a client does while its user types: at most every 3 s.
                _lastTyping = now;
                FrameCodec.Write(_sendOutput, new Typing(NextRequestId(), conversation));
                Interlocked.Increment(ref counters.Typing);
            }

            FrameCodec.Write(_sendOutput, new Send(NextRequestId(), conversation, Guid.CreateVersion7(), "application/octet-stream", content));
            await WriteAsync(_sendOutput);
        }

        // Every SEND acknowledged, then the reading loop stops at the next frame or when the connection closes.
        public async Task DrainAsync(Task reader)
        {
            for (var i = 0; i < window; i++)
            {
                var room = _slots.WaitAsync(TimeSpan.FromSeconds(60));
                if (await Task.WhenAny(room, reader) == reader)
                {
                    await reader;
                    throw new InvalidOperationException("The reading loop ended before every SEND was acknowledged.");
                }

                if (!await room)
                {
                    throw new TimeoutException("A SEND was not acknowledged within 60 s.");
                }
            }

            Close();
        }

        /// <summary>The connection is about to close: the read loop ends quietly when it does.</summary>
        public void Close() => _draining = true;

        public Task ReadAsync() => Task.Run(async () =>
        {
            try
            {
                while (!_draining)
                {
                    var (header, body) = await connection.ReadFrameInPlaceAsync(CancellationToken.None);
                    switch ((Opcode)header.OpcodeValue)
                    {
                        case Opcode.SendAck:
                            Interlocked.Increment(ref counters.Acked);
                            _slots.Release();
                            break;
                        case Opcode.Event:
                            Interlocked.Increment(ref counters.Events);
                            var e = LoadConnection.Decode<EventFrame>(body).Event;
                            if (e.Kind == EventKind.Message && e.ConversationId == client.Dm && e.SenderUserId == client.Partner)
                            {
                                await AnswerAsync(e);
                            }

                            break;
                        case Opcode.Ping:
                            // The gateway's heartbeat: answered, as protocol.md asks of every client.
                            var pong = new ArrayBufferWriter<byte>(16);
                            FrameCodec.Write(pong, new Pong(header.RequestId));
                            await WriteAsync(pong);
                            break;
                        case Opcode.Error:
                            var error = LoadConnection.Decode<ErrorFrame>(body);
                            throw new InvalidOperationException($"The gateway answered request {header.RequestId} with {error.Name}: {error.Message}");
                    }
                }
            }
            catch (Exception ex) when (_draining && ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or EndOfStreamException)
            {
                // The session was over and its connection closed under the read.
            }
        });

        private async Task AnswerAsync(ConversationEvent e)
        {
            _fromPartner++;
            _readOutput.ResetWrittenCount();
            if (_fromPartner % 5 == 0)
            {
                FrameCodec.Write(_readOutput, new React(NextRequestId(), e.ConversationId, e.EventId, Emoji, Remove: false));
                Interlocked.Increment(ref counters.Reactions);
            }

            if (_fromPartner % 10 == 0)
            {
                FrameCodec.Write(_readOutput, new MarkRead(NextRequestId(), e.ConversationId, e.Seq));
                Interlocked.Increment(ref counters.Reads);
            }

            if (_readOutput.WrittenCount > 0)
            {
                await WriteAsync(_readOutput);
            }
        }

        public void Dispose()
        {
            _slots.Dispose();
            _write.Dispose();
        }

        private uint NextRequestId() => Interlocked.Increment(ref _requestId);

        private async Task WriteAsync(ArrayBufferWriter<byte> output)
        {
            await _write.WaitAsync();
            try
            {
                await connection.SendAsync(output.WrittenMemory, CancellationToken.None);
            }
            finally
            {
                _write.Release();
            }
        }
    }
}
