using System.Net;

namespace ChatWire.LoadHarness;

/// <summary>
/// Holds authenticated idle connections and reads the gateway's retained memory at each count; the cost
/// of one connection is the slope between two counts, so start-up cost neither flatters nor punishes it.
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

        var security = HarnessSecurity.Configure(options, settings);
        await using var gateway = await GatewayProcess.StartAsync(options.GatewayDll, options.Gc, settings);
        var endpoint = security.EndPoint(gateway);
        await security.ReadTrustAsync(gateway);

        Console.WriteLine($"gateway pid {gateway.ProcessId} on {endpoint} ({security.Name}), transport {(options.Transport.Length > 0 ? options.Transport : "default")}; counts {string.Join(", ", counts)}; {options.ConnectionsPerUser} connections per user; {options.SourceAddresses} source addresses{(options.SyncOnConnect ? "; each SYNCs once after AUTH" : "")}");

        var users = new List<(Guid DeviceId, string Token)>();
        var needed = (counts.Max() + options.ConnectionsPerUser - 1) / options.ConnectionsPerUser;
        for (var i = 0; i < needed; i++)
        {
            var (_, device, token) = await gateway.SignupAsync($"idle{i:D6}");
            users.Add((device, token));
        }

        Console.WriteLine($"signed up {users.Count} users");
        var baseline = await gateway.ReadMemoryAsync();
        Console.WriteLine($"0 connections: managed {Kb(baseline.ManagedBytes)} KB, RSS {Kb(baseline.RssBytes)} KB (server GC: {baseline.ServerGc})");

        var connections = new List<LoadConnection>();
        var readings = new List<MemoryReading>();
        try
        {
            foreach (var target in counts)
            {
                using var gate = new SemaphoreSlim(64);
                var batch = Enumerable.Range(connections.Count, target - connections.Count).Select(async i =>
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

                        return connection;
                    }
                    finally
                    {
                        gate.Release();
                    }
                }).ToList();
                connections.AddRange(await Task.WhenAll(batch));

                // Let the transport settle (pending sends flushed, pool blocks returned) before reading.
                await Task.Delay(2_000);
                var reading = await gateway.ReadMemoryAsync();
                readings.Add(reading);
                Console.WriteLine($"{reading.Connections} connections: managed {Kb(reading.ManagedBytes)} KB, RSS {Kb(reading.RssBytes)} KB, {reading.Threads} threads");
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

        var first = readings[0];
        var last = readings[^1];
        var added = last.Connections - first.Connections;
        var managedPerConnection = (last.ManagedBytes - first.ManagedBytes) / (double)added;
        var rssPerConnection = (last.RssBytes - first.RssBytes) / (double)added;
        Console.WriteLine($"slope {first.Connections} → {last.Connections}: managed {managedPerConnection / 1024:F2} KB/connection, RSS {rssPerConnection / 1024:F2} KB/connection");
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
            baseline,
            readings,
            managed_bytes_per_connection = managedPerConnection,
            rss_bytes_per_connection = rssPerConnection,
        };
    }

    private static long Kb(long bytes) => bytes / 1024;
}
