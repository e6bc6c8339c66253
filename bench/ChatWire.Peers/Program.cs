using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ChatWire.Bench;
using ChatWire.Peers;

// Measures a peer server started by scripts/peers.sh (Redis pub/sub, NATS, Mosquitto, the SignalR hub of
// bench/ChatWire.SignalRPeer) with the same idle and fan-out shapes the ChatWire load harness uses:
// idle = N subscribed connections, server RSS at each of --counts (at least three), its slope from the first count
// to the last and its largest step between two counts in a row (RSS grows in steps), after --warmup connections were
// opened and closed (as the harness's idle --warmup does for ChatWire); fan-out = 1 publisher, R subscribers
// on one topic, M messages, deliveries/s and latency p50/p99, best of --runs (3). --phase idle or fanout runs one
// of the two, so that scripts/peers.sh can alternate one fan-out run of each server with the ChatWire harness's.
// `ratios OUT_DIR` reads the harness's and the peers' JSON results there and prints ChatWire ÷ peer.
const string Usage = "usage: ChatWire.Peers redis|nats|mqtt|signalr PORT SERVER_PID [--phase both|idle|fanout] [--counts 5000,10000,15000] [--warmup 0] [--recipients 1000] [--messages 2000] [--runs 3] [--content-bytes 200] [--out FILE]\n"
    + "       ChatWire.Peers ratios OUT_DIR";
if (args is ["ratios", var directory])
{
    RatioTable.Write(directory);
    return 0;
}

if (args.Length < 3 || args[0] is not ("redis" or "nats" or "mqtt" or "signalr"))
{
    Console.Error.WriteLine(Usage);
    return 2;
}

var kind = args[0];
var port = int.Parse(args[1], CultureInfo.InvariantCulture);
var pid = int.Parse(args[2], CultureInfo.InvariantCulture);
int[] counts = [5_000, 10_000, 15_000];
var recipients = 1_000;
var messages = 2_000;
var contentBytes = 200;
var output = "";
var phase = "both";
var runCount = 3;
var warmupConnections = 0;
for (var i = 3; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--phase" when args[i + 1] is "both" or "idle" or "fanout": phase = args[i + 1]; break;
        case "--phase": Console.Error.WriteLine($"--phase takes both, idle or fanout, not {args[i + 1]}"); return 2;
        case "--runs": runCount = Math.Max(1, int.Parse(args[i + 1], CultureInfo.InvariantCulture)); break;
        case "--warmup": warmupConnections = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--counts": counts = args[i + 1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
        case "--recipients": recipients = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--messages": messages = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--content-bytes": contentBytes = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--out": output = args[i + 1]; break;
        default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
    }
}

if (counts.Length < 3 || counts.Zip(counts.Skip(1)).Any(p => p.First >= p.Second))
{
    Console.Error.WriteLine("--counts takes at least three increasing counts: RSS grows in steps, and the largest step is reported beside the slope.");
    return 2;
}

IPeer peer = kind switch
{
    "redis" => new RedisPeer(port),
    "nats" => new NatsPeer(port),
    "mqtt" => new MqttPeer(port),
    _ => new SignalRPeer(port),
};

// Idle: each connection subscribed to its own topic.
var readings = new List<(int Count, long Rss)>();
var slope = double.NaN;
var largestStep = double.NaN;
if (phase != "fanout")
{
    var idle = new List<IPeerSubscription>();
    if (warmupConnections > 0)
    {
        for (var i = 0; i < warmupConnections; i++)
        {
            idle.Add(await peer.SubscribeAsync($"warm{i}"));
        }

        await Task.WhenAll(idle.Select(s => s.DisposeAsync().AsTask()));
        idle.Clear();
        await Task.Delay(2_000);
        Console.WriteLine($"{kind} after a warm-up of {warmupConnections} connections, 0 connections: RSS {ReadRss(pid) / 1024} KB");
    }

    foreach (var target in counts)
    {
        while (idle.Count < target)
        {
            idle.Add(await peer.SubscribeAsync($"idle{idle.Count}"));
        }

        await Task.Delay(2_000);
        readings.Add((target, ReadRss(pid)));
        Console.WriteLine($"{kind} idle {target} connections: RSS {readings[^1].Rss / 1024} KB");
    }

    slope = Slopes.Overall(readings);
    largestStep = Slopes.Steps(readings).Max();
    Console.WriteLine($"{kind} idle slope: {slope / 1024:F2} KB/connection; largest step {largestStep / 1024:F2} KB/connection");
    await Task.WhenAll(idle.Select(s => s.DisposeAsync().AsTask()));
}

// Fan-out: warm-up runs until this process's receive loops are compiled and tiered up (JitWarmUp, the load harness's
// own rule: two runs in a row with under 1 % of their wall time in the JIT), then the best of --runs runs. The servers
// are native programs, except the SignalR hub, which gets the same warm-up traffic.
using var server = Process.GetProcessById(pid);
var runs = new List<FanoutResult>();
if (phase != "idle")
{
    var warmUp = await JitWarmUp.RunAsync(() => FanoutAsync(peer, server, recipients, Math.Min(Fanout.WarmUp, messages), contentBytes), JitWarmUp.NoJit, maxTime: Fanout.MaxWarmUp);
    Console.WriteLine($"{kind} {warmUp}");

    for (var run = 0; run < runCount; run++)
    {
        var result = await FanoutAsync(peer, server, recipients, messages, contentBytes);
        runs.Add(result);
        Console.WriteLine($"{kind} fanout run {run + 1}: {result.Rate:F0} deliveries/s, p50 {result.P50:F2} ms, p99 {result.P99:F2} ms; server CPU per delivery: user {result.UserNs:F0} ns, kernel {result.KernelNs:F0} ns"
            + (result.Delivered < result.Expected ? $" ({result.Delivered} of {result.Expected} delivered)" : ""));
    }
}

var best = runs.MaxBy(r => r.Rate);
Console.WriteLine(FormattableString.Invariant($"RESULT {kind} idle_kb_per_connection={slope / 1024:F2} deliveries_per_s={best?.Rate ?? double.NaN:F0} p50_ms={best?.P50 ?? double.NaN:F2} p99_ms={best?.P99 ?? double.NaN:F2}"));
if (output.Length > 0)
{
    var report = new
    {
        peer = kind,
        date = DateTimeOffset.UtcNow,
        command = "ChatWire.Peers " + string.Join(' ', args),
        idle = phase == "fanout" ? null : new { readings = readings.Select(r => new { connections = r.Count, rss_bytes = r.Rss }), rss_bytes_per_connection = slope, rss_bytes_per_connection_largest_step = largestStep },
        fanout = phase == "idle" ? null : new
        {
            recipients,
            messages,
            content_bytes = contentBytes,
            window = Fanout.Window,
            runs = runs.Select(r => new { deliveries_per_second = r.Rate, p50_ms = r.P50, p99_ms = r.P99, delivered = r.Delivered, expected = r.Expected, server_user_ns_per_delivery = r.UserNs, server_kernel_ns_per_delivery = r.KernelNs }),
        },
    };
    await File.WriteAllTextAsync(output, JsonSerializer.Serialize(report, RatioTable.Indented));
}

return 0;

static async Task<FanoutResult> FanoutAsync(IPeer peer, Process server, int recipients, int messages, int contentBytes)
{
    var subscribers = new List<IPeerSubscription>();
    for (var i = 0; i < recipients; i++)
    {
        subscribers.Add(await peer.SubscribeAsync("fanout"));
    }

    // One latency array per subscriber (as the ChatWire harness keeps): no shared counter between receive loops.
    // A message that never arrived leaves its NaN.
    var latencies = new float[recipients][];
    for (var i = 0; i < recipients; i++)
    {
        latencies[i] = new float[messages];
        Array.Fill(latencies[i], float.NaN);
    }

    var readers = subscribers.Select((s, i) => s.ReceiveAsync(messages, latencies[i])).ToArray();
    var publisher = await peer.ConnectPublisherAsync();
    var padding = new string('x', contentBytes);
    server.Refresh();
    var (user, kernel) = (server.UserProcessorTime, server.PrivilegedProcessorTime);
    var start = Stopwatch.GetTimestamp();
    // Every publisher keeps at most Window messages unconfirmed, like the harness's ChatWire sender: it sends a
    // batch and waits for the server to confirm it (Redis: the PUBLISH replies; NATS: PING → PONG; MQTT:
    // PINGREQ → PINGRESP; SignalR: the hub invocations' completions).
    for (var m = 0; m < messages; m += Fanout.Window)
    {
        var batch = Math.Min(Fanout.Window, messages - m);
        var bodies = new string[batch];
        for (var k = 0; k < batch; k++)
        {
            bodies[k] = (Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture) + " " + padding)[..contentBytes];
        }

        await publisher.PublishBatchAsync("fanout", bodies);
    }

    var all = Task.WhenAll(readers);
    await Task.WhenAny(all, Task.Delay(60_000));
    var elapsed = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
    server.Refresh();
    (user, kernel) = (server.UserProcessorTime - user, server.PrivilegedProcessorTime - kernel);
    await publisher.DisposeAsync();
    await Task.WhenAll(subscribers.Select(s => s.DisposeAsync().AsTask()));

    var sorted = latencies.SelectMany(l => l).Where(l => !float.IsNaN(l)).ToArray();
    Array.Sort(sorted);
    var perDelivery = Math.Max(1, sorted.Length);
    return new FanoutResult(sorted.Length / elapsed, Percentile(sorted, 0.50), Percentile(sorted, 0.99), sorted.Length, (long)recipients * messages,
        user.TotalNanoseconds / perDelivery, kernel.TotalNanoseconds / perDelivery);
}

static double Percentile(float[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

static long ReadRss(int pid)
{
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
        {
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
    }

    throw new InvalidOperationException($"no VmRSS for pid {pid}");
}

/// <summary>One fan-out run; UserNs and KernelNs are the server process's CPU per delivery (/proc/PID/stat, 10 ms ticks).</summary>
internal sealed record FanoutResult(double Rate, double P50, double P99, long Delivered, long Expected, double UserNs, double KernelNs);

internal static class Fanout
{
    public const int Window = 50;

    /// <summary>Messages of each unmeasured warm-up run (the ChatWire harness's warm-up rounds have as many).</summary>
    public const int WarmUp = 2000;

    /// <summary>Most warm-up time (Mosquitto's 2,000 messages take 40 s a run), should the JIT never quieten.</summary>
    public static readonly TimeSpan MaxWarmUp = TimeSpan.FromSeconds(60);
}
