using System.Net;
using ChatWire.Bench;

namespace ChatWire.LoadHarness;

/// <summary>
/// Holds authenticated idle connections and reads the gateway's retained memory at each count; the cost
/// of one connection is the slope between two counts, so start-up cost neither flatters nor punishes it.
/// With <c>--warmup N</c>, N connections are opened and closed first, so that what the node pays once while
/// its first connections arrive (the JIT compiling the AUTH path again at its higher tier, threads the pool
/// starts) is not read as the cost of the connections that follow.
/// </summary>
internal static class IdleScenario
{
    public static async Task<object> RunAsync(HarnessOptions options)
    {
        var counts = options.Counts;
        var settings = new Dictionary<string, string>
        {
            // Idle means idle: no heartbeat traffic during the measurement.
            ["Gateway:HeartbeatIntervalMs"] = "3600000",
            ["Gateway:MaxConnectionsPerIp"] = "1000000",
            ["Gateway:MaxConnectionsPerUser"] = "0",
        };
        if (options.Transport.Length > 0)
        {
            settings["Gateway:ProtocolTransport"] = options.Transport;
        }

        // Users and their session tokens written straight into the fresh directory (DirectorySeed: no password hash
        // per user, so a run of one connection per user is as quick as one of fifty); every connection of a user
        // presents the user's one device.
        var security = HarnessSecurity.Configure(options, settings);
        var needed = (Math.Max(counts.Max(), options.Warmup) + options.ConnectionsPerUser - 1) / options.ConnectionsPerUser;
        SeedResult? seed = null;
        await using var gateway = await GatewayProcess.StartAsync(
            options.GatewayDll, options.Gc, settings, prepare: async data => seed = await DirectorySeed.RunAsync(data, needed, 1, 0, 1));
        var endpoint = security.EndPoint(gateway);
        await security.ReadTrustAsync(gateway);

        Console.WriteLine($"gateway pid {gateway.ProcessId} on {endpoint} ({security.Name}), transport {(options.Transport.Length > 0 ? options.Transport : "default")}; counts {string.Join(", ", counts)}; {options.ConnectionsPerUser} connections per user; {options.SourceAddresses} source addresses{(options.SyncOnConnect ? "; each SYNCs once after AUTH" : "")}; warm-up {options.Warmup}; readings {options.SettleSeconds} s after each count; each ramp bounded by {options.TimeoutSeconds} s");

        var users = seed!.Devices.Select(d => (d.DeviceId, d.Token)).ToList();
        Console.WriteLine($"seeded {users.Count} users in {seed.Seconds:F1} s");
        var baseline = await gateway.ReadMemoryAsync();
        Console.WriteLine($"0 connections: managed {Kb(baseline.ManagedBytes)} KB, RSS {Kb(baseline.RssBytes)} KB (server GC: {baseline.ServerGc})");

        // Connections from..to-1, as many as 64 at a time, each AUTHed (and SYNCed, with --sync); a progress line
        // while they open, and the whole ramp bounded by --timeout-seconds.
        async Task<LoadConnection[]> OpenAsync(int from, int to, string phase)
        {
            using var gate = new SemaphoreSlim(64);
            var opened = new Counter();
            string Describe() => $"idle, {phase}: {from + opened.Value}/{to} connections open";
            await using var progress = new ProgressLine(Describe);
            return await Deadline.WithinAsync(Task.WhenAll(Enumerable.Range(from, to - from).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    var user = users[i / options.ConnectionsPerUser];
                    var source = IPAddress.Parse($"127.0.0.{1 + (i % options.SourceAddresses)}");
                    var connection = await security.ConnectAsync(gateway, source, user.Token, user.DeviceId, CancellationToken.None);
                    if (options.SyncOnConnect)
                    {
                        await foreach (var _ in connection.SyncAsync(null))
                        {
                        }
                    }

                    opened.Add(1);
                    return connection;
                }
                finally
                {
                    gate.Release();
                }
            }).ToList()), options.TimeoutSeconds, Describe);
        }

        MemoryReading? warmed = null;
        if (options.Warmup > 0)
        {
            foreach (var connection in await OpenAsync(0, options.Warmup, "warm-up"))
            {
                connection.Dispose();
            }

            await gateway.WaitForConnectionsAsync(0, TimeSpan.FromSeconds(60));
            await Task.Delay(TimeSpan.FromSeconds(options.SettleSeconds));
            warmed = await gateway.ReadMemoryAsync();
            Console.WriteLine($"after a warm-up of {options.Warmup} connections, 0 connections: managed {Kb(warmed.ManagedBytes)} KB, RSS {Kb(warmed.RssBytes)} KB, {warmed.Threads} threads, {warmed.JitMethods} methods compiled");
        }

        var connections = new List<LoadConnection>();
        var readings = new List<MemoryReading>();
        try
        {
            foreach (var target in counts)
            {
                connections.AddRange(await OpenAsync(connections.Count, target, $"count {readings.Count + 1} of {counts.Length}"));

                // Let the transport settle (pending sends flushed, pool blocks returned) before reading.
                await Task.Delay(TimeSpan.FromSeconds(options.SettleSeconds));
                var reading = await gateway.ReadMemoryAsync();
                readings.Add(reading);
                Console.WriteLine($"{reading.Connections} connections: managed {Kb(reading.ManagedBytes)} KB, RSS {Kb(reading.RssBytes)} KB, {reading.Threads} threads, {reading.JitMethods} methods compiled");
            }

            if (options.HoldSeconds > 0)
            {
                Console.WriteLine($"holding {connections.Count} connections for {options.HoldSeconds} s (gateway pid {gateway.ProcessId})");
                await Task.Delay(TimeSpan.FromSeconds(options.HoldSeconds));
            }
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection.Dispose();
            }
        }

        IReadOnlyList<(int, long)> Of(Func<MemoryReading, long> bytes) => [.. readings.Select(r => (r.Connections, bytes(r)))];
        var first = readings[0];
        var managedPerConnection = Slopes.Overall(Of(r => r.ManagedBytes));
        var rssPerConnection = Slopes.Overall(Of(r => r.RssBytes));
        Console.WriteLine($"slope {first.Connections} → {readings[^1].Connections}: managed {managedPerConnection / 1024:F2} KB/connection, RSS {rssPerConnection / 1024:F2} KB/connection");
        var steps = Slopes.Steps(Of(r => r.RssBytes));
        Console.WriteLine($"RSS steps: {Kb(steps)} KB/connection; largest {steps.Max() / 1024:F2}");

        // SQLite's page caches fill as each new user's rows are read at AUTH, up to their bounded size: part of the RSS
        // slope while they fill, and none of a connection's own memory. Warm them (a warm-up over every user) to see it.
        var sqlitePerConnection = Slopes.Overall(Of(r => r.SqliteBytes));
        var rssLessSqlite = Slopes.Steps(Of(r => r.RssBytes - r.SqliteBytes));
        if (readings.Any(r => r.SqliteBytes > 0))
        {
            Console.WriteLine($"of which SQLite's own heap (page caches): {sqlitePerConnection / 1024:F2} KB/connection; RSS steps less it: {Kb(rssLessSqlite)} KB/connection; largest {rssLessSqlite.Max() / 1024:F2}");
        }
        return new
        {
            scenario = "idle",
            gc = options.Gc,
            transport = options.Transport.Length > 0 ? options.Transport : "default",
            tls = options.Tls,
            noise = options.Noise,
            server_gc = first.ServerGc,
            connections_per_user = options.ConnectionsPerUser,
            sync_on_connect = options.SyncOnConnect,
            warmup = options.Warmup,
            settle_seconds = options.SettleSeconds,
            baseline,
            warmed,
            readings,
            managed_bytes_per_connection = managedPerConnection,
            rss_bytes_per_connection = rssPerConnection,
            rss_bytes_per_connection_largest_step = steps.Max(),
            sqlite_bytes_per_connection = sqlitePerConnection,
            rss_less_sqlite_bytes_per_connection_largest_step = rssLessSqlite.Max(),
        };
    }

    private static long Kb(long bytes) => bytes / 1024;

    private static string Kb(double[] perConnection) => string.Join(", ", perConnection.Select(s => $"{s / 1024:F2}"));
}
