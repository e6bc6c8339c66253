using System.Globalization;

namespace ChatWire.Benchmarks;

/// <summary>
/// <c>--idle-memory [n1 n2 ...]</c>: the managed bytes retained per authenticated, subscribed, idle session,
/// as the slope of <see cref="GC.GetTotalMemory(bool)"/> (after a full collection) between two session counts
/// on the whole gateway in process (<see cref="InProcessGateway"/>): each session is a production
/// ProtocolConnection, authenticated, registered with the fan-out (subscribed to its user's topic and the one
/// channel every seeded user is in), with presence and the registry. Its transport is a pair of
/// <see cref="System.IO.Pipelines.Pipe"/>s where Kestrel's socket transport would hold its own pair (and a
/// Socket, and the kernel's socket buffers, which this does not count: the load harness's idle scenario
/// measures those on a real gateway process). A BenchmarkDotNet suite does not fit this: it is a retained
/// size, not a time, and each sample costs thousands of sessions.
/// </summary>
internal static class IdleSessionMemory
{
    public static async Task<int> RunAsync(IReadOnlyList<int> counts)
    {
        var max = counts.Max();
        Console.WriteLine($"idle sessions: seeding {max} users with one device each, all in one channel");
        await using var gateway = await InProcessGateway.StartAsync(max);
        var sessions = new List<PipeSession>(max);
        var readings = new List<(int Sessions, long Bytes)> { (0, await HeapSlopes.SettledHeapAsync(TimeSpan.FromSeconds(2))) };
        Console.WriteLine($"0 sessions: {readings[0].Bytes / 1024.0:N0} KiB managed");
        foreach (var count in counts.Order())
        {
            while (sessions.Count < count)
            {
                sessions.Add(await gateway.OpenAsync(sessions.Count));
            }

            // Answers to HELLO and AUTH were read; presence or anything else sent since is dropped here.
            foreach (var session in sessions)
            {
                session.Drain();
            }

            var bytes = await HeapSlopes.SettledHeapAsync(TimeSpan.FromSeconds(2));
            readings.Add((count, bytes));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count} sessions: {bytes / 1024.0:N0} KiB managed, {gateway.Services.Metrics.Authenticated.Value} authenticated"));
        }

        HeapSlopes.Print(
            readings,
            "idle session",
            slope => string.Create(CultureInfo.InvariantCulture, $"; x 1,000,000 sessions = {slope * 1_000_000 / (1L << 30):N2} GiB managed"));

        GC.KeepAlive(sessions);
        return 0;
    }
}
