using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace ChatWire.LoadHarness;

/// <summary>
/// The distributed mode on one machine: Redis and MariaDB (primary and semi-synchronous replica) started
/// through scripts/services.sh, N gateway processes on them (MySQL directory and messages, Redis bus) sharing
/// one fresh database, all members of one team channel.
/// <list type="number">
/// <item>Cross-node fan-out: one sender on node 1 keeps a window of SENDs in flight; R recipient connections
/// sit on the other nodes (round robin; optionally some on node 1 too). Every delivery's SEND → EVENT latency
/// (the send time travels in the content, as in the fan-out scenario), deliveries/s and messages/s, and from
/// each node's /metrics before and after: Redis PUBLISHes and bus payloads received per SEND.</item>
/// <item>Contention: one sender per node, all writing to the same channel with a window each; the MySQL head
/// row of the conversation makes their batches take turns. Acked SEND/s and SEND → SEND_ACK latency.</item>
/// </list>
/// </summary>
internal static class ClusterScenario
{
    private static readonly string[] BusMetrics =
        ["chatwire_bus_published_total", "chatwire_bus_received_total", "chatwire_bus_publish_failures_total", "chatwire_bus_subscribed_topics"];

    public static async Task<object> RunAsync(HarnessOptions options)
    {
        Console.WriteLine("starting Redis and MariaDB (scripts/services.sh)…");
        await using var services = await BackingServices.StartAsync(HarnessOptions.RepositoryRoot());
        return await WithNodesAsync(options, services, new Dictionary<string, string>(), nodes => RunOnNodesAsync(options, nodes));
    }

    /// <summary>
    /// Starts --nodes gateways on the services with the cluster's settings (plus <paramref name="extra"/>, then the
    /// --setting ones), sharing one fresh database; runs <paramref name="run"/> on them and stops them.
    /// </summary>
    internal static async Task<object> WithNodesAsync(
        HarnessOptions options, BackingServices services, Dictionary<string, string> extra, Func<List<GatewayProcess>, Task<object>> run)
    {
        var database = "chatwire_load_" + Guid.NewGuid().ToString("N")[..12];
        var settings = new Dictionary<string, string>
        {
            ["Gateway:HeartbeatIntervalMs"] = "3600000",
            ["Gateway:MaxConnectionsPerIp"] = "1000000",
            ["Gateway:MaxConnectionsPerUser"] = "0",
            ["Storage:Directory"] = "mysql",
            ["Storage:Messages"] = "mysql",
            ["Storage:MySql:ConnectionString"] = $"{services.MySql};Database={database}",
            ["Storage:MySql:ReplicaConnectionString"] = $"{services.MySqlReplica};Database={database}",
            ["Routing:Bus"] = "redis",
            ["Routing:Redis:Configuration"] = services.Redis,
        };
        foreach (var (key, value) in extra.Concat(options.Settings))
        {
            settings[key] = value;
        }

        var nodes = new List<GatewayProcess>();
        try
        {
            // Node 1 alone first: it creates the database and applies the migrations; the others find them done.
            for (var k = 1; k <= options.Nodes; k++)
            {
                nodes.Add(await GatewayProcess.StartAsync(options.GatewayDll, options.Gc, settings, $"node{k}", TimeSpan.FromSeconds(90)));
            }

            Console.WriteLine($"{options.Nodes} nodes up (pids {string.Join(", ", nodes.Select(n => n.ProcessId))}); Redis {services.Redis}; database {database}");
            return await run(nodes);
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    private static async Task<object> RunOnNodesAsync(HarnessOptions options, List<GatewayProcess> nodes)
    {
        var first = nodes[0];
        var recipients = options.Recipients;
        var contentBytes = Math.Max(options.ContentBytes, sizeof(long));

        // Accounts and the channel, all through node 1's API (the directory is shared).
        var (_, senderDevice, senderToken) = await first.SignupAsync("cluster-sender1");
        var (teamId, channel) = await first.CreateTeamAsync(senderToken, "cluster");
        var invite = await first.CreateInviteAsync(senderToken, teamId);
        var senders = new List<(Guid DeviceId, string Token)> { (senderDevice, senderToken) };
        for (var k = 2; k <= nodes.Count; k++)
        {
            var (_, device, token) = await first.SignupAsync($"cluster-sender{k}");
            await first.JoinAsync(token, invite);
            senders.Add((device, token));
        }

        var users = new List<(Guid DeviceId, string Token)>();
        for (var i = 0; i < (recipients + options.ConnectionsPerUser - 1) / options.ConnectionsPerUser; i++)
        {
            var (_, device, token) = await first.SignupAsync($"cluster{i:D5}");
            await first.JoinAsync(token, invite);
            users.Add((device, token));
        }

        // The first --local-recipients on node 1, the rest round robin over the other nodes.
        var connections = new LoadConnection[recipients];
        var placement = new int[nodes.Count];
        var local = nodes.Count == 1 ? recipients : Math.Min(options.LocalRecipients, recipients);
        var connected = 0;
        string Connecting() => $"cluster: {Volatile.Read(ref connected)}/{recipients} recipients connected";
        await using (new ProgressLine(Connecting))
        {
            await Deadline.WithinAsync(Task.Run(async () =>
            {
                for (var i = 0; i < recipients; i++)
                {
                    var node = i < local ? 0 : 1 + ((i - local) % (nodes.Count - 1));
                    placement[node]++;
                    var user = users[i / options.ConnectionsPerUser];
                    var source = IPAddress.Parse($"127.0.0.{1 + (i % options.SourceAddresses)}");
                    connections[i] = await LoadConnection.ConnectAsync(source, nodes[node].TcpEndPoint, user.Token, user.DeviceId, CancellationToken.None);
                    Volatile.Write(ref connected, i + 1);
                }
            }), options.TimeoutSeconds, Connecting);
        }

        // The other nodes' senders connect only for the contention phase: connected but unread during the
        // fan-out, they would fall behind and be closed as slow consumers.
        var senderConnections = new List<LoadConnection>
        {
            await LoadConnection.ConnectAsync(IPAddress.Loopback, first.TcpEndPoint, senders[0].Token, senders[0].DeviceId, CancellationToken.None),
        };
        Console.WriteLine($"{recipients} recipients connected, per node: {string.Join(", ", placement)}; {options.Messages} messages of {contentBytes} bytes, window {options.Window}");
        try
        {
            // Each phase (the warm-up and the measured fan-out together, then the contention) within --timeout-seconds.
            var fanout = await Deadline.WithinAsync(
                CrossNodeFanoutAsync(options, nodes, channel, senderConnections[0], connections, contentBytes), options.TimeoutSeconds, () => "cluster: the cross-node fan-out");
            for (var k = 1; k < nodes.Count; k++)
            {
                senderConnections.Add(await LoadConnection.ConnectAsync(IPAddress.Loopback, nodes[k].TcpEndPoint, senders[k].Token, senders[k].DeviceId, CancellationToken.None));
            }

            var contention = await Deadline.WithinAsync(
                ContentionAsync(options, channel, [.. senderConnections], connections, contentBytes), options.TimeoutSeconds, () => "cluster: the contention phase");
            return new
            {
                scenario = "cluster",
                gc = options.Gc,
                nodes = nodes.Count,
                recipients,
                recipients_per_node = placement,
                content_bytes = contentBytes,
                fanout,
                contention,
            };
        }
        finally
        {
            foreach (var connection in connections.Concat(senderConnections))
            {
                connection.Dispose();
            }
        }
    }

    private static async Task<object> CrossNodeFanoutAsync(
        HarnessOptions options, List<GatewayProcess> nodes, Guid channel, LoadConnection sender, LoadConnection[] connections, int contentBytes)
    {
        // Warm-up (JIT, connection pools, Redis subscriptions, the recipients' buffers), not measured.
        var warmup = Math.Min(500, options.Messages);
        var warmReceivers = connections.Select(c => FanoutScenario.ReceiveAsync(c, warmup, contentBytes, null)).ToArray();
        await FanoutScenario.SendAllAsync(sender, channel, warmup, options.Window, contentBytes);
        await Task.WhenAll(warmReceivers);

        var before = await ReadBusAsync(nodes);
        var latencies = new float[connections.Length][];
        var receivers = new Task[connections.Length];
        for (var i = 0; i < connections.Length; i++)
        {
            latencies[i] = new float[options.Messages];
            receivers[i] = FanoutScenario.ReceiveAsync(connections[i], options.Messages, contentBytes, latencies[i]);
        }

        var started = Stopwatch.GetTimestamp();
        await FanoutScenario.SendAllAsync(sender, channel, options.Messages, options.Window, contentBytes);
        var acked = Stopwatch.GetElapsedTime(started);
        await Task.WhenAll(receivers);
        var elapsed = Stopwatch.GetElapsedTime(started);

        // The counters are read at collection time; give a straggling echo a moment to be counted.
        await Task.Delay(500);
        var after = await ReadBusAsync(nodes);

        var all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        var deliveries = (long)options.Messages * connections.Length;
        var perNode = nodes.Select((_, k) => new
        {
            node = k + 1,
            published = after[k][0] - before[k][0],
            received = after[k][1] - before[k][1],
            publish_failures = after[k][2] - before[k][2],
            subscribed_topics = after[k][3],
            published_per_send = (after[k][0] - before[k][0]) / options.Messages,
            received_per_send = (after[k][1] - before[k][1]) / options.Messages,
        }).ToArray();
        var publishedPerSend = perNode.Sum(n => n.published) / options.Messages;
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"fan-out: {options.Messages} messages acked in {acked.TotalSeconds:F2} s ({options.Messages / acked.TotalSeconds:F0} msg/s); {deliveries} deliveries in {elapsed.TotalSeconds:F2} s: {deliveries / elapsed.TotalSeconds:F0} deliveries/s, {options.Messages / elapsed.TotalSeconds:F0} messages/s delivered; latency p50 {FanoutScenario.Percentile(all, 0.50):F1} ms, p99 {FanoutScenario.Percentile(all, 0.99):F1} ms, max {all[^1]:F1} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bus: {publishedPerSend:F3} Redis PUBLISHes per SEND (all nodes)"));
        foreach (var node in perNode)
        {
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"  node{node.node}: published {node.published:F0} ({node.published_per_send:F3}/SEND), received {node.received:F0} ({node.received_per_send:F3}/SEND), failures {node.publish_failures:F0}, subscribed topics {node.subscribed_topics:F0}"));
        }

        return new
        {
            messages = options.Messages,
            window = options.Window,
            warmup,
            deliveries,
            seconds = elapsed.TotalSeconds,
            seconds_to_last_ack = acked.TotalSeconds,
            deliveries_per_second = deliveries / elapsed.TotalSeconds,
            messages_per_second = options.Messages / elapsed.TotalSeconds,
            p50_ms = FanoutScenario.Percentile(all, 0.50),
            p99_ms = FanoutScenario.Percentile(all, 0.99),
            max_ms = (double)all[^1],
            redis_publishes_per_send = publishedPerSend,
            per_node = perNode,
        };
    }

    private static async Task<object> ContentionAsync(
        HarnessOptions options, Guid channel, LoadConnection[] senders, LoadConnection[] connections, int contentBytes)
    {
        // Every sender writes its share; the recipients keep reading (unmeasured) so none becomes a slow consumer.
        var perSender = options.ContentionMessages / senders.Length;
        var total = perSender * senders.Length;
        Console.WriteLine($"contention: {senders.Length} senders (one per node) × {perSender} messages, window {options.ContentionWindow} each, one conversation");
        var receivers = connections.Select(c => FanoutScenario.ReceiveAsync(c, total, contentBytes, null)).ToArray();
        var content = new byte[contentBytes];
        Random.Shared.NextBytes(content);
        var latencies = new ConcurrentBag<double>();
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(senders.Select(s => SendScenario.DriveAsync(s, channel, perSender, options.ContentionWindow, content, latencies)));
        var acked = Stopwatch.GetElapsedTime(started);
        await Task.WhenAll(receivers);
        var delivered = Stopwatch.GetElapsedTime(started);

        var sorted = latencies.Order().ToArray();
        var p50 = SendScenario.Percentile(sorted, 0.50);
        var p99 = SendScenario.Percentile(sorted, 0.99);
        var max = sorted.Length == 0 ? 0 : sorted[^1];
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"contention: {total} messages acked in {acked.TotalSeconds:F2} s: {total / acked.TotalSeconds:F0} acked SEND/s; SEND→ACK p50 {p50:F1} ms, p99 {p99:F1} ms, max {max:F1} ms; all delivered after {delivered.TotalSeconds:F2} s"));
        return new
        {
            senders = senders.Length,
            window_per_sender = options.ContentionWindow,
            messages = total,
            seconds_to_last_ack = acked.TotalSeconds,
            acked_per_second = total / acked.TotalSeconds,
            ack_p50_ms = p50,
            ack_p99_ms = p99,
            ack_max_ms = max,
            seconds_to_last_delivery = delivered.TotalSeconds,
        };
    }

    // Each node's bus counters, in BusMetrics order (0 when a node does not export them: not on Redis).
    private static async Task<double[][]> ReadBusAsync(List<GatewayProcess> nodes)
    {
        var readings = new double[nodes.Count][];
        for (var k = 0; k < nodes.Count; k++)
        {
            var samples = await nodes[k].ReadUnlabelledMetricsAsync();
            readings[k] = BusMetrics.Select(name => samples.GetValueOrDefault(name)).ToArray();
        }

        return readings;
    }
}
