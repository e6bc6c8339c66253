using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using StackExchange.Redis;

namespace ChatWire.LoadHarness;

/// <summary>
/// Connection churn in the distributed mode. One account, a member of --conversations channels, connects, AUTHs and
/// hangs up in a loop on node 1, from --connections tasks with a source address each (127.0.0.2 on), for --hold
/// seconds; meanwhile another user (one conversation) connects and AUTHs on node 1 every 250 ms from 127.0.0.1,
/// and does so alone first, for half as long, as the baseline. Every node subscribes to a conversation's Redis
/// channel while it has a local member of it, so without <c>Gateway:TopicLingerMs</c> each churning connection
/// costs Redis a SUBSCRIBE and an UNSUBSCRIBE per conversation, queued ahead of every other user's AUTH on that node.
/// Reports the other user's AUTH time (HELLO and AUTH written to AUTH_OK) in both phases, the churn's connects/s,
/// Redis's SUBSCRIBE and UNSUBSCRIBE calls per second in both phases (INFO commandstats), and the lowest and highest
/// subscribed-topics gauge of node 1, read once a second. The per-address connection rate limit is lifted.
/// </summary>
internal static class ClusterChurnScenario
{
    private static readonly TimeSpan VictimEvery = TimeSpan.FromMilliseconds(250);

    public static async Task<object> RunAsync(HarnessOptions options)
    {
        await using var services = await BackingServices.StartOrAttachAsync(HarnessOptions.RepositoryRoot());
        var extra = new Dictionary<string, string>
        {
            ["Gateway:ConnectionsPerMinutePerIp"] = "0",
            ["Limits:ApiRequestsPerMinutePerUser"] = "0",
            ["Limits:ApiRequestsPerMinutePerAddress"] = "0",
        };
        return await ClusterScenario.WithNodesAsync(options, services, extra, nodes => RunOnNodesAsync(options, services, nodes));
    }

    private static async Task<object> RunOnNodesAsync(HarnessOptions options, BackingServices services, List<GatewayProcess> nodes)
    {
        var node = nodes[0];
        var (_, churnerDevice, churnerToken) = await node.SignupAsync("churner");
        var (teamId, _) = await node.CreateTeamAsync(churnerToken, "churn");
        var made = 0;
        await Parallel.ForEachAsync(Enumerable.Range(1, options.Conversations - 1), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) =>
        {
            await node.CreateChannelAsync(churnerToken, teamId, $"c{i:D4}");
            Interlocked.Increment(ref made);
        });
        var (_, victimDevice, victimToken) = await node.SignupAsync("victim");
        await node.JoinAsync(victimToken, await node.CreateInviteAsync(churnerToken, teamId));
        Console.WriteLine($"churner in {made + 1} conversations; victim in 1; {options.Connections} churning tasks for {options.HoldSeconds} s");

        await using var redis = await ConnectionMultiplexer.ConnectAsync(services.Redis + ",allowAdmin=true");
        var server = redis.GetServer(redis.GetEndPoints()[0]);

        var baseline = await PhaseAsync("baseline", Math.Max(5, options.HoldSeconds / 2), churners: 0);
        var churn = await PhaseAsync("churn", options.HoldSeconds, options.Connections);
        return new
        {
            scenario = "cluster-churn",
            gc = options.Gc,
            nodes = nodes.Count,
            conversations = made + 1,
            settings = options.Settings,
            baseline,
            churn,
        };

        async Task<object> PhaseAsync(string name, int seconds, int churners)
        {
            var before = await SubscribeCallsAsync(server);
            var deadline = Stopwatch.GetTimestamp() + (long)(seconds * (double)Stopwatch.Frequency);
            var connects = 0;
            var churnFailures = 0;
            var topics = new ConcurrentBag<double>();
            var started = Stopwatch.GetTimestamp();
            var churning = Enumerable.Range(0, churners).Select(k => Task.Run(async () =>
            {
                var source = IPAddress.Parse($"127.0.0.{2 + k}");
                while (Stopwatch.GetTimestamp() < deadline)
                {
                    try
                    {
                        using var connection = await LoadConnection.ConnectAsync(source, node.TcpEndPoint, churnerToken, churnerDevice, CancellationToken.None);
                        Interlocked.Increment(ref connects);
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        Interlocked.Increment(ref churnFailures);
                        await Task.Delay(100);
                    }
                }
            })).ToArray();
            var sampling = Task.Run(async () =>
            {
                while (Stopwatch.GetTimestamp() < deadline)
                {
                    topics.Add((await node.ReadUnlabelledMetricsAsync()).GetValueOrDefault("chatwire_bus_subscribed_topics"));
                    await Task.Delay(1000);
                }
            });

            var auths = new List<double>();
            var victimFailures = 0;
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var next = Stopwatch.GetTimestamp() + (long)(VictimEvery.TotalSeconds * Stopwatch.Frequency);
                var timing = new ConnectTiming();
                try
                {
                    using var connection = await LoadConnection.ConnectAsync(IPAddress.Loopback, node.TcpEndPoint, victimToken, victimDevice, CancellationToken.None, timing: timing);
                    auths.Add(StormClients.Ms(timing.Connected, timing.Authenticated));
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    victimFailures++;
                }

                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }
            }

            await Task.WhenAll(churning);
            await sampling;
            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var after = await SubscribeCallsAsync(server);
            var subscribes = (after.Subscribe - before.Subscribe) / elapsed;
            var unsubscribes = (after.Unsubscribe - before.Unsubscribe) / elapsed;
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{name}: other user's AUTH {StormClients.Describe(auths)} ({auths.Count} AUTHs, {victimFailures} failed); churn {connects / elapsed:F0} connects/s ({churnFailures} failed); Redis {subscribes:F0} SUBSCRIBE/s, {unsubscribes:F0} UNSUBSCRIBE/s; node 1 subscribed topics {topics.DefaultIfEmpty().Min():F0}–{topics.DefaultIfEmpty().Max():F0}"));
            return new
            {
                seconds = elapsed,
                auth = StormClients.Summary(auths),
                auth_failures = victimFailures,
                churn_connects = connects,
                churn_connects_per_second = connects / elapsed,
                churn_failures = churnFailures,
                redis_subscribes_per_second = subscribes,
                redis_unsubscribes_per_second = unsubscribes,
                subscribed_topics_min = topics.DefaultIfEmpty().Min(),
                subscribed_topics_max = topics.DefaultIfEmpty().Max(),
            };
        }
    }

    // Redis's SUBSCRIBE and UNSUBSCRIBE calls since it started (INFO commandstats), over every client.
    private static async Task<(long Subscribe, long Unsubscribe)> SubscribeCallsAsync(IServer server)
    {
        var stats = (await server.InfoAsync("commandstats")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
        return (Calls(stats, "cmdstat_subscribe"), Calls(stats, "cmdstat_unsubscribe"));

        static long Calls(Dictionary<string, string> stats, string key) =>
            stats.TryGetValue(key, out var value) && value.Split(',').FirstOrDefault(p => p.StartsWith("calls=", StringComparison.Ordinal)) is { } calls
                ? long.Parse(calls["calls=".Length..], CultureInfo.InvariantCulture)
                : 0;
    }
}
