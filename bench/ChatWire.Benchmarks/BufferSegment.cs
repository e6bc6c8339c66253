using System.Buffers;

namespace ChatWire.Benchmarks;

/// <summary>
/// A segment of a hand-built <see cref="ReadOnlySequence{T}"/>, the shape a pipe hands a parser when a
/// frame straddles two of its blocks.
/// </summary>
internal sealed class BufferSegment : ReadOnlySequenceSegment<byte>
{
    private BufferSegment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    /// <summary>Cuts <paramref name="data"/> into consecutive segments of <paramref name="segmentSize"/> bytes (the last may be shorter).</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, int segmentSize)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(segmentSize);
        if (data.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new BufferSegment(data.AsMemory(0, Math.Min(segmentSize, data.Length)), 0);
        var last = first;
        for (var start = segmentSize; start < data.Length; start += segmentSize)
        {
            var next = new BufferSegment(data.AsMemory(start, Math.Min(segmentSize, data.Length - start)), start);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
