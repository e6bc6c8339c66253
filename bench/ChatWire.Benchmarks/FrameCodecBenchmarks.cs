using System.Buffers;
using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using MessagePack;

namespace ChatWire.Benchmarks;

/// <summary>
/// Encoding and decoding single frame bodies. The baseline writes the same SEND bytes by hand with a
/// <c>MessagePackWriter</c> straight into the output, so the ratio of <see cref="WriteSend"/> is the
/// price of the codec's generic path and its scratch-buffer copy. Decode ratios are against the same
/// encode baseline and only give a sense of scale.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class FrameCodecBenchmarks
{
    // Large enough that no benchmark ever grows it: growing would show up as allocation.
    private readonly ArrayBufferWriter<byte> _output = new(4 * 1024);
    private readonly ProtocolLimits _limits = ProtocolLimits.Default;
    private Send _send;
    private EventFrame _message;
    private ReadOnlySequence<byte> _sendBody;
    private ReadOnlySequence<byte> _pingBody;
    private int _sendBodyLength;

    [GlobalSetup]
    public void Setup()
    {
        _send = SampleFrames.Send();
        _message = SampleFrames.Message();
        _sendBody = SampleFrames.Body(_send);
        _pingBody = SampleFrames.Body(new Ping(7));
        _sendBodyLength = (int)_sendBody.Length;

        // The baseline only means something if it produces the codec's exact bytes.
        WriteSendByHand();
        var byHand = _output.WrittenSpan.ToArray();
        WriteSend();
        if (!byHand.AsSpan().SequenceEqual(_output.WrittenSpan))
        {
            throw new InvalidOperationException("The hand-written SEND differs from FrameCodec's.");
        }
    }

    /// <summary>
    /// The same SEND written field by field (docs/protocol.md §4) straight into the output; the body length
    /// is known in advance here, which spares the codec's scratch buffer and copy.
    /// </summary>
    [Benchmark(Baseline = true)]
    public int WriteSendByHand()
    {
        _output.ResetWrittenCount();
        BinaryPrimitives.WriteUInt32BigEndian(_output.GetSpan(ProtocolLimits.LengthPrefixSize), (uint)_sendBodyLength);
        _output.Advance(ProtocolLimits.LengthPrefixSize);

        var writer = new MessagePackWriter(_output);
        writer.WriteArrayHeader(6);
        writer.Write((uint)Opcode.Send);
        writer.Write(_send.RequestId);
        WriteUuid(ref writer, _send.ConversationId);
        WriteUuid(ref writer, _send.MessageId);
        writer.Write(_send.ContentType);
        writer.Write(_send.Content.Span);
        writer.Flush();
        return _output.WrittenCount;
    }

    [Benchmark]
    public int WriteSend()
    {
        _output.ResetWrittenCount();
        return FrameCodec.Write(_output, _send);
    }

    [Benchmark]
    public byte[] MessageToArray() => FrameCodec.ToArray(_message);

    [Benchmark]
    public Send DecodeSend()
    {
        var reader = new MessagePackReader(_sendBody);
        var header = FrameCodec.ReadHeader(ref reader);
        return FrameCodec.ReadBody<Send>(ref reader, header, _limits);
    }

    [Benchmark]
    public Ping DecodePing()
    {
        var reader = new MessagePackReader(_pingBody);
        var header = FrameCodec.ReadHeader(ref reader);
        return FrameCodec.ReadBody<Ping>(ref reader, header, _limits);
    }

    private static void WriteUuid(ref MessagePackWriter writer, Guid value)
    {
        writer.WriteBinHeader(16);
        var span = writer.GetSpan(16);
        value.TryWriteBytes(span, bigEndian: true, out _);
        writer.Advance(16);
    }
}
