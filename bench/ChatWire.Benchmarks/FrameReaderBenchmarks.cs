using System.Buffers;
using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using ChatWire.Protocol;

namespace ChatWire.Benchmarks;

/// <summary>
/// Splitting a received byte stream into frames: 1,000 back-to-back SEND frames (200-byte content),
/// once as one contiguous segment and once cut into 4 KiB segments as a pipe delivers them.
/// Figures are per frame (<see cref="BenchmarkAttribute.OperationsPerInvoke"/>).
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class FrameReaderBenchmarks
{
    private byte[] _stream = [];
    private ReadOnlySequence<byte> _singleSegment;
    private ReadOnlySequence<byte> _multiSegment;

    [GlobalSetup]
    public void Setup()
    {
        _stream = SampleFrames.SendStream();
        _singleSegment = new ReadOnlySequence<byte>(_stream);
        _multiSegment = BufferSegment.Split(_stream, SampleFrames.SegmentSize);

        // A benchmark that parses fewer frames than it claims would flatter the per-frame figures.
        if (WalkLengthPrefixes() != SampleFrames.StreamFrameCount
            || ReadSingleSegment() != SampleFrames.StreamFrameCount
            || ReadMultiSegment() != SampleFrames.StreamFrameCount)
        {
            throw new InvalidOperationException("The sample stream does not parse into the expected frames.");
        }
    }

    /// <summary>The bare-parse ceiling: read each big-endian prefix and jump over the body, no checks, one span.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = SampleFrames.StreamFrameCount)]
    public int WalkLengthPrefixes()
    {
        ReadOnlySpan<byte> span = _stream;
        var frames = 0;
        var offset = 0;
        while (span.Length - offset >= ProtocolLimits.LengthPrefixSize)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(span[offset..]);
            offset += ProtocolLimits.LengthPrefixSize + (int)length;
            frames++;
        }

        return frames;
    }

    [Benchmark(OperationsPerInvoke = SampleFrames.StreamFrameCount)]
    public int ReadSingleSegment() => ReadAll(_singleSegment);

    [Benchmark(OperationsPerInvoke = SampleFrames.StreamFrameCount)]
    public int ReadMultiSegment() => ReadAll(_multiSegment);

    private static int ReadAll(ReadOnlySequence<byte> buffer)
    {
        var frames = 0;
        while (FrameReader.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxFrameLength, out var body))
        {
            // Touch the body so the slice is not dead code.
            frames += body.IsEmpty ? 0 : 1;
        }

        return frames;
    }
}
