using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Tests.Shared;

namespace ChatWire.Gateway.Tests.HistoryCheck;

/// <summary>
/// A Jepsen-style run of the distributed mode: clients SEND to two channels through two gateway nodes (or one, and
/// its replacement once it is killed) on their own MariaDB (a semi-synchronous primary and replica) and Redis, while a nemesis kills a node with SIGKILL and
/// starts another, freezes a node with SIGSTOP, cuts one node's link to Redis for a while (a <see cref="LinkProxy"/>
/// stands between each node and Redis), restarts Redis, and kills the database primary with SIGKILL and
/// promotes the replica. Every SEND is logged as ok, fail or info (no answer, or the store's failure), every EVENT
/// a connection receives is logged, and afterwards the stored history is checked against the log
/// (<see cref="HistoryChecker"/>). A client that gets no answer reconnects to a live node and resends the same
/// message id, as docs/sdk.md tells an app to.
/// One round of each runs in every <c>./test.sh</c>; <c>CHATWIRE_HISTORY_ROUNDS=100</c> runs a hundred (about a
/// minute each), <c>CHATWIRE_HISTORY_SEED</c> repeats a round's order of faults, and <c>CHATWIRE_HISTORY_FAULTS</c>
/// (node-kill, node-freeze, redis-partition, redis-restart, primary-kill, comma-separated) chooses among them.
/// </summary>
[Collection(RunAlone.Name)]
public sealed class HistoryTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Writers = 4;
    private const int Readers = 2;
    private static readonly TimeSpan AfterFaults = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan AnswerWait = TimeSpan.FromSeconds(3);

    // Longer than StackExchange.Redis waits for an answer (5 s), so the cut-off node's commands time out.
    private static readonly TimeSpan PartitionTime = TimeSpan.FromSeconds(6);

    // How long readers go on listening once the writers have stopped: the last events' pushes arrive meanwhile.
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);
    private static readonly ProtocolLimits Limits = ProtocolLimits.Default with { MaxContentLength = int.MaxValue, MaxFrameLength = uint.MaxValue };

    // With one node (its replacement started after the kill) each connection must also receive every event once and
    // in seq order; with two, a connection may see events out of order, or twice after a Redis outage (counted).
    [Theory]
    [InlineData(2)]
    [InlineData(1)]
    public async Task SendsThroughNodeKillsPausesARedisRestartAndAPrimaryKill_TheHistoryHoldsUp(int nodes)
    {
        var rounds = int.Parse(Environment.GetEnvironmentVariable("CHATWIRE_HISTORY_ROUNDS") ?? "1", CultureInfo.InvariantCulture);
        var seed = int.Parse(Environment.GetEnvironmentVariable("CHATWIRE_HISTORY_SEED") ?? Random.Shared.Next(1_000_000).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var failures = new List<string>();
        for (var round = 0; round < rounds; round++)
        {
            output.WriteLine($"{nodes} node(s), round {round + 1} of {rounds}: seed {seed + round}");
            var (verdict, faults) = await RunRoundAsync(seed + round, nodes);
            output.WriteLine($"{nodes} node(s), round {round + 1} of {rounds}, seed {seed + round}: {faults}\n  {verdict}");
            if (verdict.Anomalies.Count > 0)
            {
                failures.Add($"seed {seed + round}: {verdict}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static async Task<(HistoryVerdict Verdict, string Faults)> RunRoundAsync(int seed, int nodes)
    {
        var random = new Random(seed);
        await using var mysql = await PrivateMySql.StartAsync();
        await using var redis = await PrivateRedis.StartAsync();
        await using var cluster = await Cluster.StartAsync(nodes, redis.Configuration, new Dictionary<string, string>
        {
            ["Storage:MySql:ConnectionString"] = mysql.FailoverConnectionString + ";Database=chatwire_history;Connection Timeout=3",
            ["Storage:MySql:ReplicaConnectionString"] = "",

            // Readers only listen; the round is over long before a heartbeat is due.
            ["Gateway:HeartbeatIntervalMs"] = "120000",
        }, relayRedis: true);

        var (ownerToken, _) = await cluster[0].SignupAsync("owner");
        var team = await cluster[0].CallAsync(ownerToken, HttpMethod.Post, "v1/teams", new { name = "Acme" });
        var teamId = team.GetProperty("team_id").GetGuid();
        var conversations = new[]
        {
            team.GetProperty("general_channel_id").GetGuid(),
            (await cluster[0].CallAsync(ownerToken, HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "random" })).GetProperty("conversation_id").GetGuid(),
        };
        var invite = (await cluster[0].CallAsync(ownerToken, HttpMethod.Post, $"v1/teams/{teamId}/invites", new { })).GetProperty("invite_code").GetString();
        var clients = new List<(string Name, string Token, Guid Device)>();
        for (var i = 0; i < Writers + Readers; i++)
        {
            var name = i < Writers ? $"writer{i}" : $"reader{i - Writers}";
            var (token, device) = await cluster[i % nodes].SignupAsync(name);
            await cluster[i % nodes].CallAsync(token, HttpMethod.Post, $"v1/invites/{invite}/join");
            await cluster[i % nodes].CallAsync(token, HttpMethod.Post, $"v1/channels/{conversations[1]}/join");
            clients.Add((name, token, device));
        }

        var attempts = new List<SendAttempt>();
        var deliveries = new List<Delivery>();
        using var stopWriting = new CancellationTokenSource();
        using var stopListening = new CancellationTokenSource();
        var writing = new List<Task>();
        var listening = new List<Task>();
        var readers = new List<HistoryClient>();
        string faults;
        try
        {
            for (var i = 0; i < clients.Count; i++)
            {
                if (i < Writers)
                {
                    var writer = new HistoryClient(clients[i].Name, clients[i].Token, clients[i].Device, cluster, i % nodes, deliveries);
                    writing.Add(WriteAsync(writer, i, conversations, new Random(seed * 31 + i), attempts, stopWriting.Token));
                }
                else
                {
                    var reader = new HistoryClient(clients[i].Name, clients[i].Token, clients[i].Device, cluster, i % nodes, deliveries, new DeviceTimeline(clients[i].Name, conversations));
                    readers.Add(reader);
                    listening.Add(reader.ListenAsync(stopListening.Token));
                }
            }

            // Writing goes on a while after the last fault, however long the faults took on a busy machine.
            faults = await NemesisAsync(random, cluster, mysql, redis);
            await Task.Delay(AfterFaults);
        }
        finally
        {
            await stopWriting.CancelAsync();
            foreach (var node in LiveNodes(cluster))
            {
                Signal(node, "CONT");
            }

            await Task.WhenAll(writing);
            await Task.Delay(Settle);
            await stopListening.CancelAsync();
            await Task.WhenAll(listening);
        }

        // Each reader connects once more and catches up, as an app does when it next starts: with one node, every
        // event must have reached it before (pushed, or filled after a gap or a reconnect); with several, a node may
        // have lost a push while the bus was down (docs/protocol.md §4.10), which only a later event or this SYNC reveals.
        var filledAtTheEnd = 0;
        foreach (var reader in readers)
        {
            var before = reader.Timeline!.Used.Count;
            await reader.CatchUpOnceMoreAsync();
            filledAtTheEnd += reader.Timeline.Used.Count - before;
        }

        var stored = new Dictionary<Guid, IReadOnlyList<ConversationEvent>>();
        var checker = new HistoryClient("checker", clients[0].Token, clients[0].Device, cluster, 0, []);
        foreach (var conversation in conversations)
        {
            stored[conversation] = await checker.ReadAllAsync(conversation);
        }

        await checker.DisposeAsync();
        lock (attempts)
        {
            lock (deliveries)
            {
                var sessions = deliveries.Select(d => d.Session).Distinct().Count();
                var timelines = readers.Select(r => r.Timeline!).ToList();
                var verdict = HistoryChecker.Check(attempts, stored, deliveries, oneNode: nodes == 1, timelines);
                if (nodes == 1 && filledAtTheEnd > 0)
                {
                    verdict = verdict with { Anomalies = [.. verdict.Anomalies, $"the readers found {filledAtTheEnd} events they had not been given only when they connected again after the run"] };
                }

                return (verdict, $"{faults}; {sessions} connections received events; the readers used {timelines.Sum(t => t.UsedFromHistory)} events from HISTORY " +
                    $"(their first catch-up, gaps and reconnects), {filledAtTheEnd} of them only when they connected again after the run");
            }
        }
    }

    // One writer: a new message at a time to a random channel; an attempt with no answer (or the store's failure) is
    // resent with the same message id over a new connection after a pause that doubles from 100 ms, as an app backs off,
    // up to six attempts (3.1 s of pauses: longer than the replica refuses writes before its promotion), then given
    // up as indeterminate.
    private static async Task WriteAsync(HistoryClient client, int index, Guid[] conversations, Random random, List<SendAttempt> attempts, CancellationToken stop)
    {
        await Task.Yield();
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var conversation = conversations[random.Next(conversations.Length)];
                var id = Guid.CreateVersion7();
                var content = System.Text.Encoding.UTF8.GetBytes($"{client.Name} {id}");
                for (var attempt = 1; attempt <= 6; attempt++)
                {
                    if (attempt > 1)
                    {
                        await Task.Delay(100 << (attempt - 2), CancellationToken.None);
                    }

                    var result = await client.SendAsync(index, conversation, id, content);
                    if (result is null)
                    {
                        continue;
                    }

                    lock (attempts)
                    {
                        attempts.Add(result);
                    }

                    if (result.Outcome != AttemptOutcome.Info)
                    {
                        break;
                    }
                }
            }
        }
        finally
        {
            await client.DisposeAsync();
        }
    }

    // The faults, in an order drawn from the seed, spread over the writing time; each ends before the next begins.
    private static async Task<string> NemesisAsync(Random random, Cluster cluster, PrivateMySql mysql, PrivateRedis redis)
    {
        var log = new List<string>();
        var clock = Stopwatch.StartNew();
        var faults = new Dictionary<string, Func<Task<string>>>
        {
            ["node-kill"] = async () =>
            {
                var node = AnyLiveNode(cluster, random);
                await node.KillAsync();
                await Task.Delay(500);
                await cluster.AddNodeAsync();
                return $"killed node :{node.Tcp.Port} (SIGKILL) and started another";
            },
            ["node-freeze"] = async () =>
            {
                var node = AnyLiveNode(cluster, random);
                Signal(node, "STOP");
                await Task.Delay(4000);
                Signal(node, "CONT");
                return $"froze node :{node.Tcp.Port} for 4 s (SIGSTOP), longer than a client waits for an answer";
            },
            ["redis-partition"] = async () =>
            {
                var node = AnyLiveNode(cluster, random);
                var link = cluster.RedisLink(node);
                var silent = random.Next(2) == 0;
                if (silent)
                {
                    link.Cut();
                }
                else
                {
                    link.Refuse();
                }

                await Task.Delay(PartitionTime);
                link.Heal();
                return $"cut node :{node.Tcp.Port} off from Redis for {PartitionTime.TotalSeconds:0} s " +
                    (silent ? "(nothing passing either way)" : "(its connections closed, new ones refused)") + ", then healed";
            },
            ["redis-restart"] = async () =>
            {
                await redis.StopAsync();
                await Task.Delay(1000);
                await redis.StartAgainAsync();
                return "stopped Redis for 1 s and started it again, empty";
            },
            ["primary-kill"] = async () =>
            {
                await mysql.KillPrimaryAsync();
                await mysql.PromoteReplicaAsync();
                return "killed the MariaDB primary (SIGKILL) and promoted the replica";
            },
        };
        await Task.Delay(1500);
        var chosen = Environment.GetEnvironmentVariable("CHATWIRE_HISTORY_FAULTS")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var (_, fault) in faults.Where(f => chosen is null || chosen.Contains(f.Key)).OrderBy(_ => random.Next()))
        {
            log.Add($"{clock.Elapsed.TotalSeconds:0.0} s: {await fault()}");
            await Task.Delay(500 + random.Next(1500));
        }

        return log.Count == 0 ? "no faults" : string.Join("; ", log);
    }

    // The nemesis adds nodes while the clients look for one: read under the list's lock (Cluster.AddNodeAsync adds under it).
    private static List<GatewayChild> LiveNodes(Cluster cluster)
    {
        lock (cluster.Nodes)
        {
            return [.. cluster.Nodes.Where(n => !n.HasExited)];
        }
    }

    private static GatewayChild AnyLiveNode(Cluster cluster, Random random)
    {
        var live = LiveNodes(cluster);
        return live[random.Next(live.Count)];
    }

    // What ends an attempt, a connection or a read without failing the round: the link broke, the node did not answer in
    // time, or it answered a handshake or request with an ERROR (RawClient throws those as assertion failures).
    private static bool IsLinkFailure(Exception ex) =>
        ex is IOException or OperationCanceledException or TimeoutException or System.Net.Sockets.SocketException or ObjectDisposedException or Xunit.Sdk.XunitException;

    private static void Signal(GatewayChild node, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", node.ProcessId.ToString(CultureInfo.InvariantCulture)]);
        kill!.WaitForExit();
    }

    /// <summary>
    /// One device's connection, replaced by a new one (to a live node) whenever it fails. A reader given a
    /// <see cref="DeviceTimeline"/> follows docs/protocol.md §4.10 as an app would: SYNC after every connect, HISTORY
    /// after the watermark for what it lacks, and for a gap between pushed events.
    /// </summary>
    private sealed class HistoryClient(string name, string token, Guid device, Cluster cluster, int preferredNode, List<Delivery> deliveries, DeviceTimeline? timeline = null) : IAsyncDisposable
    {
        private RawClient? _connection;
        private int _sessions;
        private string _session = "";
        private bool _caughtUp;

        public string Name => name;

        public DeviceTimeline? Timeline => timeline;

        // One SEND and its answer; null when no connection could be made (nothing was written).
        public async Task<SendAttempt?> SendAsync(int index, Guid conversation, Guid id, byte[] content)
        {
            if (!await EnsureConnectedAsync())
            {
                await Task.Delay(200);
                return null;
            }

            var connection = _connection!;
            var requestId = connection.NextRequestId();
            var invoked = Stopwatch.GetTimestamp();
            using var deadline = new CancellationTokenSource(AnswerWait);
            try
            {
                await connection.SendAsync(new Send(requestId, conversation, id, "text/plain", content)).WaitAsync(deadline.Token);
                while (true)
                {
                    var frame = await connection.ReadFrameAsync(AnswerWait).WaitAsync(deadline.Token);
                    if (frame is null)
                    {
                        break;
                    }

                    var body = new ReadOnlySequence<byte>(frame.Value.Body);
                    switch (frame.Value.Header.Opcode)
                    {
                        case Opcode.SendAck when FrameCodec.Decode<SendAck>(body, Limits) is var ack && ack.RequestId == requestId:
                            return new SendAttempt(index, conversation, id, invoked, Stopwatch.GetTimestamp(), AttemptOutcome.Ok, ack.Seq);
                        case Opcode.Error when FrameCodec.Decode<ErrorFrame>(body, Limits) is var error && error.RequestId == requestId:
                            var outcome = error.Code is ErrorCode.StorageUnavailable or ErrorCode.InternalError or ErrorCode.ShuttingDown ? AttemptOutcome.Info : AttemptOutcome.Fail;
                            if (outcome == AttemptOutcome.Info)
                            {
                                await DropAsync();
                            }

                            return new SendAttempt(index, conversation, id, invoked, Stopwatch.GetTimestamp(), outcome, Error: error.Code.ToString());
                        case Opcode.Event:
                            Record(FrameCodec.Decode<EventFrame>(body, Limits).Event);
                            break;
                    }
                }
            }
            catch (Exception ex) when (IsLinkFailure(ex))
            {
            }

            await DropAsync();
            return new SendAttempt(index, conversation, id, invoked, Stopwatch.GetTimestamp(), AttemptOutcome.Info, Error: "no answer");
        }

        // Records every EVENT until stopped, reconnecting whenever the connection fails.
        public async Task ListenAsync(CancellationToken stop)
        {
            await Task.Yield();
            using var registration = stop.Register(() => _connection?.DisposeAsync().AsTask());
            while (!stop.IsCancellationRequested)
            {
                if (!await EnsureConnectedAsync())
                {
                    await Task.Delay(200, CancellationToken.None);
                    continue;
                }

                // A stop that came while there was no connection to close: seen now, not after a read that may never end.
                if (stop.IsCancellationRequested)
                {
                    break;
                }

                try
                {
                    if (timeline is not null && !_caughtUp)
                    {
                        await CatchUpAsync();
                        _caughtUp = true;
                    }

                    var frame = await _connection!.ReadFrameAsync(TimeSpan.FromMinutes(2));
                    if (frame is null)
                    {
                        await DropAsync();
                    }
                    else if (frame.Value.Header.Opcode == Opcode.Event)
                    {
                        Record(FrameCodec.Decode<EventFrame>(new ReadOnlySequence<byte>(frame.Value.Body), Limits).Event);
                        await FillGapsAsync();
                    }
                }
                catch (Exception ex) when (IsLinkFailure(ex))
                {
                    await DropAsync();
                }
            }

            await DisposeAsync();
        }

        // Every event of the conversation, as the store holds it, page by page (retried while the store recovers).
        public async Task<IReadOnlyList<ConversationEvent>> ReadAllAsync(Guid conversation)
        {
            var events = new List<ConversationEvent>();
            for (var failures = 0; ;)
            {
                try
                {
                    if (!await EnsureConnectedAsync())
                    {
                        throw new IOException("No node took the connection.");
                    }

                    await _connection!.SendAsync(new ChatWire.Protocol.Frames.History(_connection.NextRequestId(), conversation, events.Count == 0 ? 0 : events[^1].Seq, HistoryDirection.After, 200));
                    var page = await _connection.ExpectAsync<HistoryPage>(TimeSpan.FromSeconds(10));
                    events.AddRange(page.Events);
                    if (!page.HasMore)
                    {
                        return events;
                    }
                }
                catch (Exception ex) when (++failures < 20 && IsLinkFailure(ex))
                {
                    await DropAsync();
                    await Task.Delay(500);
                }
            }
        }

        // A reader's next start after the run: one more connection and its catch-up (retried while the store recovers).
        public async Task CatchUpOnceMoreAsync()
        {
            for (var failures = 0; ;)
            {
                try
                {
                    if (!await EnsureConnectedAsync())
                    {
                        throw new IOException("No node took the connection.");
                    }

                    await CatchUpAsync();
                    break;
                }
                catch (Exception ex) when (++failures < 20 && IsLinkFailure(ex))
                {
                    await DropAsync();
                    await Task.Delay(500);
                }
            }

            await DropAsync();
        }

        public async ValueTask DisposeAsync() => await DropAsync();

        private void Record(ConversationEvent e)
        {
            lock (deliveries)
            {
                deliveries.Add(new Delivery(_session, e.ConversationId, e.Seq, e.EventId));
            }

            timeline?.Offer(e, fromHistory: false);
        }

        // §4.10 rule 4: SYNC, page by page, then HISTORY after the watermark wherever last_seq is above it.
        private async Task CatchUpAsync()
        {
            var lastSeqs = new Dictionary<Guid, ulong>();
            for (var after = Guid.Empty; ;)
            {
                var page = await RequestAsync<Sync, SyncPage>(id => new Sync(id, after, 500));
                foreach (var conversation in page.Conversations)
                {
                    lastSeqs[conversation.ConversationId] = conversation.LastSeq;
                }

                if (!page.HasMore || page.Conversations.Count == 0)
                {
                    break;
                }

                after = page.Conversations[^1].ConversationId;
            }

            foreach (var conversation in timeline!.Conversations.ToList())
            {
                if (lastSeqs.TryGetValue(conversation, out var last) && last > timeline.Watermark(conversation))
                {
                    await FillAsync(conversation);
                }
            }
        }

        // §4.10 rule 3: events held past a gap wait for HISTORY after the watermark.
        private async Task FillGapsAsync()
        {
            foreach (var conversation in timeline!.Conversations.Where(timeline.HasGap).ToList())
            {
                await FillAsync(conversation);
            }
        }

        // HISTORY After the watermark, a page at a time, while pages follow and the watermark moves.
        private async Task FillAsync(Guid conversation)
        {
            while (true)
            {
                var from = timeline!.Watermark(conversation);
                var page = await RequestAsync<ChatWire.Protocol.Frames.History, HistoryPage>(id => new ChatWire.Protocol.Frames.History(id, conversation, from, HistoryDirection.After, 200));
                foreach (var e in page.Events)
                {
                    timeline.Offer(e, fromHistory: true);
                }

                if (!page.HasMore || timeline.Watermark(conversation) == from)
                {
                    return;
                }
            }
        }

        // One request and its answer; EVENTs that arrive meanwhile are used as they come. A refusal (the store
        // failing over, say) ends the connection as a broken link does: the reader connects again and catches up anew.
        private async Task<TAnswer> RequestAsync<TRequest, TAnswer>(Func<uint, TRequest> request)
            where TRequest : struct, IFrame<TRequest>
            where TAnswer : struct, IFrame<TAnswer>
        {
            var connection = _connection ?? throw new IOException("Not connected.");
            var requestId = connection.NextRequestId();
            await connection.SendAsync(request(requestId));
            while (true)
            {
                var frame = await connection.ReadFrameAsync(TimeSpan.FromSeconds(10)) ?? throw new IOException("The node closed the connection.");
                var body = new ReadOnlySequence<byte>(frame.Body);
                if (frame.Header.Opcode == Opcode.Event)
                {
                    Record(FrameCodec.Decode<EventFrame>(body, Limits).Event);
                }
                else if (frame.Header.RequestId == requestId && frame.Header.OpcodeValue == (uint)TAnswer.Opcode)
                {
                    return FrameCodec.Decode<TAnswer>(body, Limits);
                }
                else if (frame.Header.RequestId == requestId && frame.Header.Opcode == Opcode.Error)
                {
                    throw new IOException($"Refused: {FrameCodec.Decode<ErrorFrame>(body, Limits).Code}.");
                }
            }
        }

        // A connection to the preferred node while it runs, else to another live one.
        private async Task<bool> EnsureConnectedAsync()
        {
            if (_connection is not null)
            {
                return true;
            }

            var live = LiveNodes(cluster);
            if (live.Count == 0)
            {
                return false;
            }

            var node = live[(preferredNode + _sessions) % live.Count];
            RawClient? connection = null;
            try
            {
                connection = await RawClient.ConnectAsync(node.Tcp).WaitAsync(AnswerWait);
                await connection.HandshakeAsync(token, device).WaitAsync(AnswerWait);
                _connection = connection;
                _session = $"{name}#{++_sessions}";
                return true;
            }
            catch (Exception ex) when (IsLinkFailure(ex))
            {
                _sessions++;
                if (connection is not null)
                {
                    await connection.DisposeAsync();
                }

                return false;
            }
        }

        private async Task DropAsync()
        {
            var connection = _connection;
            _connection = null;
            _caughtUp = false;
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
    }
}
