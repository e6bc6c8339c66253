using ChatWire.Gateway.Connections;
using Prometheus;

namespace ChatWire.Gateway.Observability;

// The process: .NET runtime and process metrics, memory per connection, outbound queues. Read at collect
// time, so they cost nothing between scrapes.
internal sealed partial class GatewayMetrics
{
    /// <summary>
    /// Registers prometheus-net's process and runtime collectors (<c>process_*</c>, <c>dotnet_*</c>: CPU,
    /// memory, GC collections, threads, handles) and the gateway's own gauges read from <paramref name="registry"/>.
    /// </summary>
    public void ObserveRuntime(ConnectionRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        DotNetStats.Register(Registry);
        var factory = Metrics.WithCustomRegistry(Registry);
        var heap = factory.CreateGauge("chatwire_gc_heap_bytes", "Managed heap size after the last garbage collection.");
        var perConnection = factory.CreateGauge(
            "chatwire_memory_per_connection_bytes",
            "Process working set divided by open protocol connections (the whole working set when there are none): what one connection costs, roughly, on a busy node.");
        var pause = factory.CreateGauge("chatwire_gc_pause_ratio", "Fraction of the process's run time spent paused in garbage collection.");
        DateTime started;
        using (var process = System.Diagnostics.Process.GetCurrentProcess())
        {
            started = process.StartTime.ToUniversalTime();
        }

        // Still rising under a steady load: the code is still tiering up (a benchmark's warm-up waits for it to level off).
        var jitMethods = factory.CreateCounter("chatwire_jit_compiled_methods_total", "Methods compiled by the JIT since the process started, each tier of a method counted.");
        var jitSeconds = factory.CreateCounter("chatwire_jit_compilation_seconds_total", "Time spent in the JIT since the process started, over all threads.");
        var queued = factory.CreateGauge("chatwire_outbound_queue_bytes", "Bytes written to protocol connections and not yet flushed to their sockets, over all connections.");
        var largest = factory.CreateGauge("chatwire_outbound_queue_max_bytes", "The largest unflushed outbound queue of one protocol connection.");
        Registry.AddBeforeCollectCallback(() =>
        {
            var info = GC.GetGCMemoryInfo();
            heap.Set(info.HeapSizeBytes);
            pause.Set(GC.GetTotalPauseDuration().TotalSeconds / Math.Max(1e-3, (DateTime.UtcNow - started).TotalSeconds));
            jitMethods.IncTo(System.Runtime.JitInfo.GetCompiledMethodCount());
            jitSeconds.IncTo(System.Runtime.JitInfo.GetCompilationTime().TotalSeconds);
            long total = 0;
            long max = 0;
            foreach (var connection in registry.Connections)
            {
                var bytes = connection.OutboundBytes;
                total += bytes;
                max = Math.Max(max, bytes);
            }

            queued.Set(total);
            largest.Set(max);
            perConnection.Set((double)Environment.WorkingSet / Math.Max(1, registry.Count));
        });
    }
}
