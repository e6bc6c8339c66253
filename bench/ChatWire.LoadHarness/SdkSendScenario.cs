using System.Collections.Concurrent;
using System.Diagnostics;
using ChatWire.Bench;
using ChatWire.Client;

namespace ChatWire.LoadHarness;

/// <summary>
/// The .NET SDK as an app drives it: one <see cref="ChatWireConnection"/> (one device) shared by --window callers,
/// each awaiting <see cref="ChatWireConnection.SendAsync(Guid, ReadOnlyMemory{byte}, string, Guid?, CancellationToken)"/>
/// in turn (a bot answering in many threads, an outbox sent by several tasks), --messages in all into one channel.
/// The app reads its events all the while, as an app does (its own messages come back as events). Measured: the
/// acknowledged SENDs per second, their latency, and the gateway's group commits and SENDs per commit, which show
/// how many SENDs reached it together.
/// </summary>
internal static class SdkSendScenario
{
    private const int WarmUpMessages = 2_000;

    public static async Task<object> RunAsync(HarnessOptions options)
    {
        await using var gateway = await GatewayProcess.StartAsync(options.GatewayDll, options.Gc, new Dictionary<string, string>());
        var user = await gateway.SignupAsync("sdk00001");
        var (_, general) = await gateway.CreateTeamAsync(user.Token, "sdk-load");
        await using var connection = await ChatWireConnection.ConnectAsync(new ChatWireConnectionOptions
        {
            Host = gateway.TcpEndPoint.Address.ToString(),
            Port = gateway.TcpEndPoint.Port,
            SessionToken = user.Token,
            DeviceId = user.DeviceId,
            ClientName = "ChatWire.LoadHarness",
        });
        using var stop = new CancellationTokenSource();
        var events = 0L;
        var reading = Task.Run(async () =>
        {
            await foreach (var _ in connection.ReadEventsAsync(stop.Token))
            {
                Interlocked.Increment(ref events);
            }
        });

        var content = new byte[options.ContentBytes];
        Random.Shared.NextBytes(content);
        var callers = Math.Max(1, options.Window);
        Console.WriteLine($"gateway pid {gateway.ProcessId}; one SDK connection, {callers} callers, {options.Messages} messages of {content.Length} bytes");

        var warmUp = await JitWarmUp.RunAsync(() => DriveAsync(connection, general, callers, Math.Min(WarmUpMessages, options.Messages), content, null), gateway.ReadJitSecondsAsync);
        Console.WriteLine($"{warmUp}; measuring");

        var acks = new ConcurrentBag<double>();
        var metricsBefore = await gateway.ReadUnlabelledMetricsAsync();
        var cpuBefore = gateway.CpuTime;
        var started = Stopwatch.GetTimestamp();
        await DriveAsync(connection, general, callers, options.Messages, content, acks);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var cpu = gateway.CpuTime - cpuBefore;
        var metricsAfter = await gateway.ReadUnlabelledMetricsAsync();
        await stop.CancelAsync();
        await reading.ContinueWith(_ => { }, TaskScheduler.Default);

        var (commits, meanBatch) = GatewayProcess.GroupCommits(metricsBefore, metricsAfter);
        var sorted = acks.Order().ToArray();
        var throughput = options.Messages / elapsed.TotalSeconds;
        var cpuMicros = cpu.TotalMicroseconds / options.Messages;
        var (p50, p99) = (SendScenario.Percentile(sorted, 0.50), SendScenario.Percentile(sorted, 0.99));
        Console.WriteLine($"{options.Messages} acked in {elapsed.TotalSeconds:F2} s: {throughput:F0} msg/s; p50 {p50:F2} ms, "
            + $"p99 {p99:F2} ms; {commits:F0} group commits of {meanBatch:F1} SENDs on average; gateway CPU {cpuMicros:F1} µs per message");
        return new
        {
            scenario = "sdk-send",
            gc = options.Gc,
            callers,
            content_bytes = content.Length,
            messages = options.Messages,
            seconds = elapsed.TotalSeconds,
            messages_per_second = throughput,
            p50_ms = p50,
            p99_ms = p99,
            group_commits = commits,
            mean_commit_batch = meanBatch,
            gateway_cpu_microseconds_per_message = cpuMicros,
            events_read = Interlocked.Read(ref events),
            warm_up = warmUp.ToJson(),
        };
    }

    // count SENDs by callers tasks, each sending its next once its last is acknowledged.
    private static async Task DriveAsync(ChatWireConnection connection, Guid conversation, int callers, int count, byte[] content, ConcurrentBag<double>? acks)
    {
        var left = count;
        await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Decrement(ref left) >= 0)
            {
                var sent = Stopwatch.GetTimestamp();
                await connection.SendAsync(conversation, content, "application/octet-stream");
                acks?.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
            }
        })));
    }
}
