using System.Collections.Concurrent;
using System.Diagnostics;

namespace ChatWire.LoadHarness;

/// <summary>
/// A connect storm: N seeded devices (users, sessions and tokens written straight into the directory, see
/// <see cref="DirectorySeed"/>) all connect at once, HELLO + AUTH each, at most <c>--in-flight</c> being set up
/// at a time, as fast as the gateway admits them; the connections stay open until the end. Reports
/// authenticated connections per second, the time of each set-up (TCP connect to AUTH_OK) and of AUTH alone
/// (HELLO + AUTH written to AUTH_OK), refusals by error, and the gateway's CPU and memory afterwards.
/// </summary>
internal static class ConnectStormScenario
{
    public static async Task<object> RunAsync(HarnessOptions options)
    {
        var count = options.Connections;
        var settings = StormSettings(options);
        var security = HarnessSecurity.Configure(options, settings);
        SeedResult? seed = null;
        await using var gateway = await GatewayProcess.StartAsync(options.GatewayDll, options.Gc, settings, prepare: async data =>
            seed = await DirectorySeed.RunAsync(data, (count + options.ConnectionsPerUser - 1) / options.ConnectionsPerUser, options.ConnectionsPerUser, 0, 1));
        await security.ReadTrustAsync(gateway);
        var devices = seed!.Devices.Take(count).ToList();
        Console.WriteLine($"gateway pid {gateway.ProcessId} ({security.Name}); {count} connections, {options.ConnectionsPerUser} per user, {options.InFlight} in flight, {options.SourceAddresses} source addresses, deadline {options.TimeoutSeconds} s");

        var storm = new StormClients();
        var setups = new ConcurrentBag<double>();
        var auths = new ConcurrentBag<double>();
        var cpuBefore = gateway.CpuTime;
        var started = Stopwatch.GetTimestamp();
        List<LoadConnection> connections;
        await using (new ProgressLine(() => $"connect-storm: {storm.Describe(count)}, {storm.Opened / Stopwatch.GetElapsedTime(started).TotalSeconds:F0}/s"))
        {
            connections = await storm.RunAsync(devices, security, gateway, options.InFlight, options.SourceAddresses, TimeSpan.FromSeconds(options.TimeoutSeconds), (_, _, timing) =>
            {
                setups.Add(StormClients.Ms(timing.Started, timing.Authenticated));
                auths.Add(StormClients.Ms(timing.Connected, timing.Authenticated));
                return Task.FromResult(true);
            });
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var cpu = gateway.CpuTime - cpuBefore;
        try
        {
            var memory = await gateway.ReadMemoryAsync();
            var rate = connections.Count / elapsed.TotalSeconds;
            Console.WriteLine($"{connections.Count} of {count} authenticated in {elapsed.TotalSeconds:F2} s: {rate:F0} connects/s; set-up {StormClients.Describe(setups)}; AUTH {StormClients.Describe(auths)}; gateway CPU {cpu.TotalMicroseconds / Math.Max(1, connections.Count):F0} µs per connection; {memory.Connections} connections held, RSS {memory.RssBytes / 1024 / 1024} MB");
            return new
            {
                scenario = "connect-storm",
                gc = options.Gc,
                transport = options.Transport.Length > 0 ? options.Transport : "default",
                listener = security.Name,
                connections = count,
                connections_per_user = options.ConnectionsPerUser,
                in_flight = options.InFlight,
                seed_seconds = seed.Seconds,
                authenticated = connections.Count,
                failed = storm.Failed,
                refusals = storm.Refusals,
                seconds = elapsed.TotalSeconds,
                connects_per_second = rate,
                setup = StormClients.Summary(setups),
                auth = StormClients.Summary(auths),
                gateway_cpu_seconds = cpu.TotalSeconds,
                gateway_cpu_microseconds_per_connection = cpu.TotalMicroseconds / Math.Max(1, connections.Count),
                after = memory,
            };
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection.Dispose();
            }
        }
    }

    /// <summary>The gateway settings of both storms: no heartbeat traffic, no per-address cap on loopback.</summary>
    internal static Dictionary<string, string> StormSettings(HarnessOptions options)
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

        return settings;
    }
}
