using System.Buffers;
using System.Threading.Channels;
using ChatWire.Protocol;

namespace ChatWire.Gateway.Delivery;

/// <summary>
/// Where the fan-out's writes run: one lane per core, each a FIFO queue drained by one worker. Every
/// delivery target belongs to one lane for its whole life, so it receives events in the order they were
/// queued (per-connection order), while different targets are written on different cores and the caller
/// (the bus callback, hence the publisher) does not wait for the writes. Bounded in deliveries (an event
/// for 1,000 targets counts 1,000) and in frame bytes: a lane that falls behind makes <see cref="Enqueue"/>
/// wait, which slows the publisher and, through its own bound, the store's writer. So memory stays flat
/// and the queue ahead of a connection stays short (tens of milliseconds of work) whatever the audience.
/// </summary>
internal sealed class DeliveryLanes : IDisposable
{
    /// <summary>Deliveries (an event times its targets on this lane) one lane may hold before enqueuing waits.</summary>
    public const long LaneDeliveries = 32 * 1024;

    /// <summary>Frame bytes one lane may hold before enqueuing waits.</summary>
    public const long LaneBytes = 8L * 1024 * 1024;

    /// <summary>
    /// Deliveries a lane writes before it flushes the connections written to (it flushes sooner when it runs out
    /// of queued events). At 1,000 recipients on two lanes, up to 64 events per connection leave together: on two
    /// shared cores, 16,384 (32 events) delivered 15-25 % less (docs/performance.md).
    /// </summary>
    public const long BatchDeliveries = 32 * 1024;

    // A hard cap on queued items besides the two bounds above (which a stream of tiny events never reaches).
    private const int LaneCapacity = 4096;

    private readonly Channel<Work>[] _lanes;
    private readonly long[] _queuedBytes;
    private readonly long[] _queuedDeliveries;
    private readonly ManualResetEventSlim[] _room;
    private readonly ILogger _logger;
    private readonly Observability.GatewayMetrics? _metrics;

    public DeliveryLanes(int count, ILogger logger, Observability.GatewayMetrics? metrics = null)
    {
        _logger = logger;
        _metrics = metrics;
        _lanes = new Channel<Work>[Math.Max(1, count)];
        _queuedBytes = new long[_lanes.Length];
        _queuedDeliveries = new long[_lanes.Length];
        _room = new ManualResetEventSlim[_lanes.Length];
        for (var i = 0; i < _lanes.Length; i++)
        {
            _room[i] = new ManualResetEventSlim(initialState: true);
            var lane = Channel.CreateBounded<Work>(new BoundedChannelOptions(LaneCapacity)
            {
                SingleReader = true,
                SingleWriter = false,
                FullMode = BoundedChannelFullMode.Wait,
            });
            _lanes[i] = lane;
            var index = i;
            _ = Task.Run(() => DrainAsync(index));
        }
    }

    public int Count => _lanes.Length;

    /// <summary>The lane of <paramref name="target"/>: its device's (fixed once the session is authenticated).</summary>
    public int LaneOf(IDeliveryTarget target) => (int)((uint)DeliveryTargetComparer.Instance.GetHashCode(target) % (uint)_lanes.Length);

    /// <summary>
    /// Queues <paramref name="frame"/> for the first <paramref name="count"/> targets of <paramref name="targets"/>
    /// (all of one lane). A <paramref name="pooled"/> array was rented from <see cref="ArrayPool{T}.Shared"/> and
    /// the lane returns it; otherwise it is a list the caller shares between events and never changes.
    /// </summary>
    public void Enqueue(int lane, byte[] frame, IDeliveryTarget[] targets, int count, bool pooled = true)
    {
        // Only when this lane is behind does the bus callback wait: that is the backpressure.
        while (IsFull(lane))
        {
            _room[lane].Reset();
            if (IsFull(lane))
            {
                _room[lane].Wait(50);
            }
        }

        Interlocked.Add(ref _queuedBytes[lane], frame.Length);
        Interlocked.Add(ref _queuedDeliveries[lane], count);
        var work = new Work(frame, targets, count, pooled, null);
        var writer = _lanes[lane].Writer;
        if (!writer.TryWrite(work))
        {
            try
            {
                writer.WriteAsync(work).AsTask().GetAwaiter().GetResult();
            }
            catch (ChannelClosedException)
            {
                // Stopping: nothing is written any more.
                if (pooled)
                {
                    ArrayPool<IDeliveryTarget>.Shared.Return(targets, clearArray: true);
                }
            }
        }
    }

    /// <summary>Completes when everything queued before the call has been written.</summary>
    public Task DeliveredAsync()
    {
        var markers = new Task[_lanes.Length];
        for (var i = 0; i < _lanes.Length; i++)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            markers[i] = done.Task;
            _lanes[i].Writer.WriteAsync(new Work(null, null, 0, false, done)).AsTask().GetAwaiter().GetResult();
        }

        return Task.WhenAll(markers);
    }

    public void Dispose()
    {
        foreach (var lane in _lanes)
        {
            lane.Writer.TryComplete();
        }

        foreach (var room in _room)
        {
            room.Set();
        }
    }

    /// <summary>
    /// Whether any lane holds more than a quarter of its bound: deliveries are falling behind, and whatever feeds
    /// the lanes should keep its own queue short, so that a delivery does not wait behind two queues.
    /// </summary>
    public bool IsBehind
    {
        get
        {
            for (var lane = 0; lane < _lanes.Length; lane++)
            {
                if (Interlocked.Read(ref _queuedDeliveries[lane]) > LaneDeliveries / 4 || Interlocked.Read(ref _queuedBytes[lane]) > LaneBytes / 4)
                {
                    return true;
                }
            }

            return false;
        }
    }

    private bool IsFull(int lane) =>
        Interlocked.Read(ref _queuedBytes[lane]) > LaneBytes || Interlocked.Read(ref _queuedDeliveries[lane]) > LaneDeliveries;

    // Writes what the lane holds the way an event loop does: every event at hand is written to its targets
    // unflushed, then each target written to is flushed once. A connection that gets several events of one batch
    // sends them in one system call (one encrypted record under Noise or TLS) instead of one each; the per-lane
    // FIFO order, hence each connection's order, is unchanged. A batch ends when the lane is empty or after
    // BatchDeliveries, so a connection's first event of a batch waits at most one batch's writing; a marker
    // flushes what was written before it.
    private async Task DrainAsync(int index)
    {
        var reader = _lanes[index].Reader;
        var owed = new List<IDeliveryTarget>();
        var taken = new List<Work>();
        var run = new RunBuffers();
        try
        {
            while (await reader.WaitToReadAsync())
            {
                long written = 0;
                while (written < BatchDeliveries)
                {
                    // What is at hand, up to the batch's room (at least one event), stopping at a marker.
                    TaskCompletionSource? marker = null;
                    long deliveries = 0;
                    while (written + deliveries < BatchDeliveries && reader.TryRead(out var work))
                    {
                        if (work.Marker is { } m)
                        {
                            marker = m;
                            break;
                        }

                        taken.Add(work);
                        deliveries += work.Count;
                    }

                    if (taken.Count == 0 && marker is null)
                    {
                        break;
                    }

                    WriteTaken(index, taken, owed, run);
                    written += deliveries;
                    if (marker is not null)
                    {
                        FlushOwed(owed);
                        marker.TrySetResult();
                    }
                }

                FlushOwed(owed);
            }
        }
#pragma warning disable CA1031 // A lane that stopped would stall every connection on it and, through the backpressure, the node.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            // Out of memory or worse: a process that cannot deliver must not look alive; a supervisor restarts it.
            GatewayLog.LaneFailed(_logger, index, ex);
            Environment.FailFast("A ChatWire delivery lane stopped: " + ex.GetType().Name, ex);
        }
    }

    // Writes the events taken off the lane, in order. Consecutive events with the same targets (a burst into one
    // conversation) form a run that each target takes under one acquisition of its lock (DeliverRunUnflushed)
    // rather than one per event, and, unless a frame of it is ephemeral, as one copy of the frames joined back to
    // back here once; each target still receives the events in lane order.
    private void WriteTaken(int index, List<Work> taken, List<IDeliveryTarget> owed, RunBuffers run)
    {
        for (var start = 0; start < taken.Count;)
        {
            var first = taken[start];
            var end = start + 1;
            while (end < taken.Count && end - start < RunBuffers.MaxRun && SameTargets(first, taken[end]))
            {
                end++;
            }

            var length = end - start;
            var joinable = length > 1;
            var joinedLength = 0;
            for (var k = 0; k < length; k++)
            {
                var frame = taken[start + k].Frame!;
                run.Frames[k] = frame;
                run.Written[k] = 0;
                joinedLength += frame.Length;
                joinable &= !DeliveryFrames.IsEphemeral(FrameCodec.PeekOpcode(frame));
            }

            var frames = run.Frames.AsSpan(0, length);
            var counts = run.Written.AsSpan(0, length);
            var joined = joinable && joinedLength <= RunBuffers.MaxJoined ? run.Join(frames, joinedLength) : default;
            for (var i = 0; i < first.Count; i++)
            {
                var target = first.Targets![i];
                try
                {
                    var write = length == 1 ? WriteOne(target, frames[0], counts) : target.DeliverRunUnflushed(frames, joined, counts);
                    if (write == DeliveryWrite.WrittenFlushOwed)
                    {
                        owed.Add(target);
                    }
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A broken recipient is its own problem; the others still get the event.
                    GatewayLog.DeliveryFailed(_logger, target.DeviceId, ex);
                }
            }

            for (var k = 0; k < length; k++)
            {
                var work = taken[start + k];
                if (counts[k] > 0)
                {
                    _metrics?.FrameOut(FrameCodec.PeekOpcode(work.Frame), counts[k]);
                }

                if (work.Pooled)
                {
                    ArrayPool<IDeliveryTarget>.Shared.Return(work.Targets!, clearArray: true);
                }

                Interlocked.Add(ref _queuedBytes[index], -work.Frame!.Length);
                Interlocked.Add(ref _queuedDeliveries[index], -work.Count);
            }

            Array.Clear(run.Frames, 0, length);
            if (!IsFull(index))
            {
                _room[index].Set();
            }

            start = end;
        }

        taken.Clear();
    }

    private static DeliveryWrite WriteOne(IDeliveryTarget target, byte[] frame, Span<int> counts)
    {
        var write = target.DeliverUnflushed(frame);
        if (write != DeliveryWrite.Dropped)
        {
            counts[0]++;
        }

        return write;
    }

    // Whether two events go to the same targets in the same order (the fan-out lists a conversation's
    // recipients the same way each time while its membership and connections stay as they are).
    private static bool SameTargets(Work a, Work b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        var x = a.Targets!;
        var y = b.Targets!;
        if (ReferenceEquals(x, y))
        {
            // A conversation's shared list: the same targets by construction.
            return true;
        }

        for (var i = 0; i < a.Count; i++)
        {
            if (!ReferenceEquals(x[i], y[i]))
            {
                return false;
            }
        }

        return true;
    }

    private void FlushOwed(List<IDeliveryTarget> owed)
    {
        foreach (var target in owed)
        {
            try
            {
                target.FlushDeliveries();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                GatewayLog.DeliveryFailed(_logger, target.DeviceId, ex);
            }
        }

        owed.Clear();
    }

    private readonly record struct Work(byte[]? Frame, IDeliveryTarget[]? Targets, int Count, bool Pooled, TaskCompletionSource? Marker);

    // One lane's scratch for a run: its frames, the frames joined back to back, and, per frame, how many targets
    // wrote it.
    private sealed class RunBuffers
    {
        /// <summary>Events one run may hold (a run is also cut at the batch's end).</summary>
        public const int MaxRun = 64;

        /// <summary>
        /// Bytes of the longest run joined (64 events of about 1 KB); a run of bigger frames is written frame by frame,
        /// where the copy, not the call per frame, is the cost.
        /// </summary>
        public const int MaxJoined = 64 * 1024;

        private byte[] _joined = [];

        public byte[][] Frames { get; } = new byte[MaxRun][];

        public int[] Written { get; } = new int[MaxRun];

        public ReadOnlySpan<byte> Join(ReadOnlySpan<byte[]> frames, int length)
        {
            if (_joined.Length < length)
            {
                // Grows to the largest run joined (at most MaxJoined), kept for the lane's life.
                _joined = GC.AllocateUninitializedArray<byte>(Math.Min(MaxJoined, Math.Max(length, 2 * _joined.Length)));
            }

            var offset = 0;
            foreach (var frame in frames)
            {
                frame.CopyTo(_joined.AsSpan(offset));
                offset += frame.Length;
            }

            return _joined.AsSpan(0, length);
        }
    }
}
