using System.Diagnostics.Tracing;
using System.Globalization;

namespace ChatWire.Benchmarks;

/// <summary>
/// <c>--allocation-profile [SENDS]</c>: where a SEND's allocations go, end to end (decode, authorize, append, group
/// commit, publish, the EVENT back to the sender, SEND_ACK), on the whole gateway in process with the embedded store.
/// The total is exact (<see cref="GC.GetTotalAllocatedBytes(bool)"/>, every thread); the split by type is the
/// runtime's own allocation sampling (its AllocationTick event names the type that crossed each ~100 KB), so a
/// type's share is an estimate that gets better with more SENDs. A diagnostic: nothing is compared with a budget.
/// </summary>
internal static class SendAllocationProfile
{
    private const int Batch = SessionDispatchBenchmarks.SendBatch;

    public static async Task<int> RunAsync(int sends)
    {
        // The workload of BenchmarkDotNet's DispatchSendToAck row: a batch of SENDs dispatched, then their SEND_ACKs.
        var benchmark = new SessionDispatchBenchmarks();
        benchmark.Setup();
        try
        {
            return await ProfileAsync(benchmark, sends);
        }
        finally
        {
            benchmark.Cleanup();
        }
    }

    private static async Task<int> ProfileAsync(SessionDispatchBenchmarks benchmark, int sends)
    {
        // Past the JIT's tier-up (its own allocations are not the SEND's).
        for (var i = 0; i < 20_000 / Batch; i++)
        {
            await benchmark.DispatchSendToAck();
        }

        var rounds = Math.Max(1, sends / Batch);
        using var listener = new AllocationSampler();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < rounds; i++)
        {
            await benchmark.DispatchSendToAck();
        }

        var total = GC.GetTotalAllocatedBytes(precise: true) - before;
        var measured = rounds * Batch;
        var byType = listener.Snapshot();
        var sampled = byType.Sum(t => t.Value);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{measured:N0} SENDs ({Batch} in flight, {SampleFrames.ContentLength}-byte content, embedded SQLite): {total:N0} B allocated, {(double)total / measured:N0} B per SEND, all threads"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"by type, from {listener.Events:N0} allocation samples (~100 KB each; {sampled:N0} B sampled):"));
        foreach (var (type, bytes) in byType.OrderByDescending(t => t.Value).Take(40))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(double)bytes / measured,9:N0} B/SEND  {100.0 * bytes / sampled,5:0.0} %  {type}"));
        }

        return 0;
    }

    /// <summary>The runtime's GCAllocationTick events (GC keyword, verbose), summed by the type each one names.</summary>
    private sealed class AllocationSampler : EventListener
    {
        private const int AllocationTickEventId = 10;
        private readonly Dictionary<string, long> _bytes = [];
        private readonly Lock _lock = new();

        public int Events { get; private set; }

        public Dictionary<string, long> Snapshot()
        {
            lock (_lock)
            {
                return new Dictionary<string, long>(_bytes);
            }
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventId != AllocationTickEventId || eventData.PayloadNames is not { } names || eventData.Payload is not { } payload)
            {
                return;
            }

            var type = names.IndexOf("TypeName") is var t and >= 0 ? payload[t] as string ?? "?" : "?";
            var amount = names.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(payload[a], CultureInfo.InvariantCulture) : 100_000;
            lock (_lock)
            {
                _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
                Events++;
            }
        }
    }
}
