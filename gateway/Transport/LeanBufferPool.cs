using System.Buffers;
using System.Collections.Concurrent;

namespace ChatWire.Gateway.Transport;

/// <summary>
/// One block of a lean connection's input or output: a byte array and how much of it holds data, linked into
/// a <see cref="ReadOnlySequence{T}"/> when a frame spans blocks. Pooled with its array, so taking a block
/// allocates nothing once the pool is warm.
/// </summary>
internal sealed class LeanSegment : ReadOnlySequenceSegment<byte>
{
    public LeanSegment(byte[] array, bool pooled)
    {
        Array = array;
        Pooled = pooled;
    }

    /// <summary>
    /// The block's bytes, allocated on the pinned object heap: the transport hands their addresses to the kernel
    /// (a gathering send of a whole chain) without pinning each block for each call.
    /// </summary>
    public byte[] Array { get; }

    /// <summary>False for an oversized block made for one large write: dropped on return, not kept.</summary>
    public bool Pooled { get; }

    /// <summary>Bytes of <see cref="Array"/> that hold data.</summary>
    public int End { get; private set; }

    public int Free => Array.Length - End;

    public LeanSegment? NextSegment => (LeanSegment?)Next;

    public Memory<byte> FreeMemory => Array.AsMemory(End);

    /// <summary>Marks <paramref name="count"/> more bytes as data and makes them visible to readers of the sequence.</summary>
    public void Grow(int count)
    {
        End += count;
        Memory = Array.AsMemory(0, End);
    }

    public void Link(LeanSegment next)
    {
        next.RunningIndex = RunningIndex + End;
        Next = next;
    }

    public void Unlink() => Next = null;

    public void Reset()
    {
        End = 0;
        Memory = default;
        Next = null;
        RunningIndex = 0;
    }
}

/// <summary>
/// The blocks of the lean transport (docs/architecture.md, "Lean transport"): taken when bytes arrive or a
/// frame is written, given back when the consumer has consumed them or the socket has taken them. An idle
/// connection holds none. The counters are what the transport's tests check: nothing is measured by timing.
/// </summary>
internal sealed class LeanBufferPool(int blockSize = LeanBufferPool.DefaultBlockSize, int maxRetained = LeanBufferPool.DefaultMaxRetained)
{
    public const int DefaultBlockSize = 4096;

    /// <summary>
    /// Free blocks kept for reuse (16 MiB at the default block size); more are left to the GC. A fan-out batch to a
    /// few thousand connections has a few blocks out per connection at once; fewer kept would be made again each batch.
    /// </summary>
    public const int DefaultMaxRetained = 4096;

    private readonly ConcurrentQueue<LeanSegment> _free = new();
    private long _taken;
    private long _returned;
    private int _retained;

    public int BlockSize => blockSize;

    /// <summary>Blocks handed out and not yet given back: the bytes every connection holds, in blocks.</summary>
    public long Outstanding => Interlocked.Read(ref _taken) - Interlocked.Read(ref _returned);

    public long Taken => Interlocked.Read(ref _taken);

    public long Returned => Interlocked.Read(ref _returned);

    /// <summary>A block with room for at least <paramref name="minimum"/> bytes.</summary>
    public LeanSegment Take(int minimum = 1)
    {
        Interlocked.Increment(ref _taken);
        if (minimum > blockSize)
        {
            return new LeanSegment(GC.AllocateUninitializedArray<byte>(minimum, pinned: true), pooled: false);
        }

        if (_free.TryDequeue(out var segment))
        {
            Interlocked.Decrement(ref _retained);
            return segment;
        }

        return new LeanSegment(GC.AllocateUninitializedArray<byte>(blockSize, pinned: true), pooled: true);
    }

    public void Return(LeanSegment segment)
    {
        Interlocked.Increment(ref _returned);
        segment.Reset();
        if (segment.Pooled && Interlocked.Increment(ref _retained) <= maxRetained)
        {
            _free.Enqueue(segment);
        }
        else if (segment.Pooled)
        {
            Interlocked.Decrement(ref _retained);
        }
    }

    /// <summary>Returns a chain of blocks linked through <see cref="LeanSegment.NextSegment"/>, from <paramref name="first"/> on.</summary>
    public void ReturnChain(LeanSegment? first)
    {
        while (first is not null)
        {
            var next = first.NextSegment;
            Return(first);
            first = next;
        }
    }
}
