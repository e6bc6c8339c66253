using System.Buffers;
using ChatWire.Gateway.Delivery;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatWire.Gateway.Tests.Units;

// The lanes write what they hold as one batch: every event at hand unflushed, then one flush per target.
public sealed class DeliveryLanesTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task EventsQueuedBehindABusyLane_ReachEachTargetInOrderWithOneFlush()
    {
        using var lanes = new DeliveryLanes(1, NullLogger.Instance);
        var first = new CountingTarget();
        var second = new CountingTarget();
        var gate = HoldLane(lanes, first, second);

        // The lane is inside event 0 (held by the gate): these queue behind it and join its batch.
        for (byte i = 1; i <= 20; i++)
        {
            Enqueue(lanes, Frame(i), first, second);
        }

        Assert.Equal(0, first.Flushes);
        gate.Gate!.Set();
        await lanes.DeliveredAsync().WaitAsync(Wait);

        foreach (var target in new[] { first, second })
        {
            Assert.Equal(Enumerable.Range(0, 21).Select(i => (byte)i), target.Flushed.Select(f => f[0]));
            Assert.Equal(1, target.Flushes);
        }

        Assert.Equal(1, gate.Flushes);
    }

    [Fact]
    public async Task TargetThatThrows_OthersOfTheBatchAreStillWrittenAndFlushed()
    {
        using var lanes = new DeliveryLanes(1, NullLogger.Instance);
        var before = new CountingTarget();
        var broken = new CountingTarget { Throws = true };
        var after = new CountingTarget();

        Enqueue(lanes, Frame(7), before, broken, after);
        Enqueue(lanes, Frame(8), before, broken, after);
        await lanes.DeliveredAsync().WaitAsync(Wait);

        Assert.Equal(new byte[] { 7, 8 }, before.Flushed.Select(f => f[0]));
        Assert.Equal(new byte[] { 7, 8 }, after.Flushed.Select(f => f[0]));
        Assert.Empty(broken.Flushed);
    }

    [Fact]
    public async Task FramesWritten_CountedOncePerEventWithoutTheDropped()
    {
        var metrics = new Observability.GatewayMetrics();
        using var lanes = new DeliveryLanes(1, NullLogger.Instance, metrics);
        var closing = new CountingTarget { Drops = true };

        // A length prefix, then a MessagePack array of three whose first element is the opcode.
        byte[] frame = [0, 0, 0, 4, 0x93, (byte)Protocol.Opcode.Event, 0, 0];
        Enqueue(lanes, frame, new CountingTarget(), closing, new CountingTarget());
        Enqueue(lanes, frame, new CountingTarget());
        await lanes.DeliveredAsync().WaitAsync(Wait);

        using var text = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(text);
        Assert.Contains("chatwire_frames_sent_total{opcode=\"EVENT\"} 3\n", System.Text.Encoding.UTF8.GetString(text.ToArray()), StringComparison.Ordinal);
        Assert.Empty(closing.Flushed);
    }

    [Fact]
    public async Task EventsWithTheSameTargets_EachTargetTakesThemAsOneRunInOrder()
    {
        using var lanes = new DeliveryLanes(1, NullLogger.Instance);
        var first = new CountingTarget();
        var second = new CountingTarget();
        var gate = HoldLane(lanes, first, second);

        // Queued behind event 0: runs of the same target list, cut where the list differs.
        Enqueue(lanes, Frame(1), first, second);
        Enqueue(lanes, Frame(2), first, second);
        Enqueue(lanes, Frame(3), second);
        Enqueue(lanes, Frame(4), first, second);
        Enqueue(lanes, Frame(5), first, second);
        Enqueue(lanes, Frame(6), first, second);
        Enqueue(lanes, Frame(7), second, first);
        gate.Gate!.Set();
        await lanes.DeliveredAsync().WaitAsync(Wait);

        Assert.Equal(new byte[] { 0, 1, 2, 4, 5, 6, 7 }, first.Flushed.Select(f => f[0]));
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4, 5, 6, 7 }, second.Flushed.Select(f => f[0]));
        Assert.Equal([2, 3], first.Runs);
        Assert.Equal([2, 3], second.Runs);
        Assert.Equal(1, first.Flushes);
        Assert.Equal(1, second.Flushes);
    }

    [Fact]
    public async Task Run_FramesCountedPerEventWithoutATargetThatDropsThem()
    {
        var metrics = new Observability.GatewayMetrics();
        using var lanes = new DeliveryLanes(1, NullLogger.Instance, metrics);
        var closing = new CountingTarget { Drops = true };
        var open = new CountingTarget();

        byte[] frame = [0, 0, 0, 4, 0x93, (byte)Protocol.Opcode.Event, 0, 0];
        var gate = HoldLane(lanes);
        for (var i = 0; i < 5; i++)
        {
            Enqueue(lanes, frame, open, closing);
        }

        gate.Gate!.Set();
        await lanes.DeliveredAsync().WaitAsync(Wait);

        using var text = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(text);
        Assert.Contains("chatwire_frames_sent_total{opcode=\"EVENT\"} 5\n", System.Text.Encoding.UTF8.GetString(text.ToArray()), StringComparison.Ordinal);
        Assert.Equal([5], open.Runs);
        Assert.Equal(5, open.Flushed.Count);
        Assert.Empty(closing.Flushed);
    }

    [Fact]
    public async Task Run_JoinedBackToBackUnlessAFrameIsEphemeral()
    {
        using var lanes = new DeliveryLanes(1, NullLogger.Instance);
        var target = new CountingTarget();

        // Length prefix, then a MessagePack array of opcode, request id and a marker (as FrameCodec.PeekOpcode reads it).
        static byte[] Encoded(Protocol.Opcode opcode, byte marker) => [0, 0, 0, 4, 0x93, (byte)opcode, 0, marker];
        var gate = HoldLane(lanes);
        Enqueue(lanes, Encoded(Protocol.Opcode.Event, 1), target);
        Enqueue(lanes, Encoded(Protocol.Opcode.Event, 2), target);
        Enqueue(lanes, Encoded(Protocol.Opcode.ReadState, 3), target);
        gate.Gate!.Set();
        await lanes.DeliveredAsync().WaitAsync(Wait);

        var second = HoldLane(lanes);
        Enqueue(lanes, Encoded(Protocol.Opcode.Event, 4), target);
        Enqueue(lanes, Encoded(Protocol.Opcode.UserTyping, 5), target);
        second.Gate!.Set();
        await lanes.DeliveredAsync().WaitAsync(Wait);

        Assert.Equal([3, 2], target.Runs);
        Assert.Equal(
            [.. Encoded(Protocol.Opcode.Event, 1), .. Encoded(Protocol.Opcode.Event, 2), .. Encoded(Protocol.Opcode.ReadState, 3)],
            target.Joined[0]);
        Assert.Empty(target.Joined[1]);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, target.Flushed.Select(f => f[^1]));
    }

    // The publisher shortens its own queue while a lane is behind (EventPublisher.MaxEventsPendingWhileDeliveryBehind).
    [Fact]
    public async Task IsBehind_WhileALaneHoldsOverAQuarterOfItsBound_AndNotOnceWritten()
    {
        using var lanes = new DeliveryLanes(1, NullLogger.Instance);
        var gate = HoldLane(lanes);
        var many = Enumerable.Range(0, 1000).Select(_ => new CountingTarget()).ToArray();
        Assert.False(lanes.IsBehind);

        var events = (int)(DeliveryLanes.LaneDeliveries / 4 / many.Length) + 1;
        for (var i = 0; i < events; i++)
        {
            Enqueue(lanes, Frame((byte)i), many);
        }

        Assert.True(lanes.IsBehind);
        gate.Gate!.Set();
        await lanes.DeliveredAsync().WaitAsync(Wait);
        Assert.False(lanes.IsBehind);
    }

    private static byte[] Frame(byte marker) => [marker, 1, 2, 3];

    // Queues event 0 for a target that holds the lane inside its write (with others after it) until its Gate is set,
    // so that what is queued next joins one batch.
    private static CountingTarget HoldLane(DeliveryLanes lanes, params CountingTarget[] others)
    {
        var gate = new CountingTarget { Gate = new ManualResetEventSlim() };
        Enqueue(lanes, Frame(0), [gate, .. others]);
        Assert.True(gate.Entered.Wait(Wait));
        return gate;
    }

    private static void Enqueue(DeliveryLanes lanes, byte[] frame, params CountingTarget[] targets)
    {
        var rented = ArrayPool<IDeliveryTarget>.Shared.Rent(targets.Length);
        targets.CopyTo(rented, 0);
        lanes.Enqueue(0, frame, rented, targets.Length);
    }

    private sealed class CountingTarget : IDeliveryTarget
    {
        private readonly List<byte[]> _unflushed = [];
        private readonly List<byte[]> _flushed = [];
        private int _flushes;

        public ManualResetEventSlim? Gate { get; init; }

        public ManualResetEventSlim Entered { get; } = new();

        public bool Throws { get; init; }

        // Like a closing connection: nothing is written.
        public bool Drops { get; init; }

        public Guid UserId { get; } = Guid.CreateVersion7();

        public Guid DeviceId { get; } = Guid.CreateVersion7();

        public int Flushes => Volatile.Read(ref _flushes);

        public IReadOnlyList<byte[]> Flushed
        {
            get
            {
                lock (_flushed)
                {
                    return [.. _flushed];
                }
            }
        }

        public void Deliver(ReadOnlySpan<byte> frame) => throw new InvalidOperationException("The lanes write unflushed.");

        public DeliveryWrite DeliverUnflushed(ReadOnlySpan<byte> frame)
        {
            Entered.Set();
            Gate?.Wait(Wait);
            if (Throws)
            {
                throw new InvalidOperationException("broken target");
            }

            if (Drops)
            {
                return DeliveryWrite.Dropped;
            }

            lock (_flushed)
            {
                _unflushed.Add(frame.ToArray());
                return _unflushed.Count == 1 ? DeliveryWrite.WrittenFlushOwed : DeliveryWrite.Written;
            }
        }

        // The length of each run it was given (DeliverRunUnflushed), in order, and the joined form of each.
        public List<int> Runs { get; } = [];

        public List<byte[]> Joined { get; } = [];

        public DeliveryWrite DeliverRunUnflushed(ReadOnlySpan<byte[]> frames, ReadOnlySpan<byte> joined, Span<int> written)
        {
            Runs.Add(frames.Length);
            Joined.Add(joined.ToArray());
            return DeliveryFrames.DeliverEach(this, frames, written);
        }

        public void FlushDeliveries()
        {
            Interlocked.Increment(ref _flushes);
            lock (_flushed)
            {
                _flushed.AddRange(_unflushed);
                _unflushed.Clear();
            }
        }

        public void Revoke()
        {
        }
    }
}
