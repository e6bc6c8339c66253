using System.Buffers;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Benchmarks;

/// <summary>
/// The frames every codec benchmark and the allocation check work on, built the same way each time so
/// the figures in docs/performance.md stay comparable between runs.
/// </summary>
internal static class SampleFrames
{
    /// <summary>A typical short chat message: 200 bytes of content.</summary>
    public const int ContentLength = 200;

    /// <summary>How many SEND frames the stream benchmarks parse back to back.</summary>
    public const int StreamFrameCount = 1_000;

    /// <summary>A pipe's default block size; frames in the multi-segment stream straddle these borders.</summary>
    public const int SegmentSize = 4 * 1024;

    public const string ContentType = "text/plain";

    public static readonly Guid ConversationId = Guid.Parse("0190f5a2-7c3e-7000-8000-000000000001");
    public static readonly Guid MessageId = Guid.Parse("0190f5a2-7c3e-7000-8000-0000000000aa");
    public static readonly Guid SenderUserId = Guid.Parse("0190f5a2-7c3e-7000-8000-0000000000bb");
    public static readonly Guid SenderDeviceId = Guid.Parse("0190f5a2-7c3e-7000-8000-0000000000cc");

    public static Send Send(uint requestId = 42) =>
        new(requestId, ConversationId, MessageId, ContentType, Content());

    public static EventFrame Message() =>
        new(new ConversationEvent(ConversationId, MessageId, 1_234, SenderUserId, SenderDeviceId, 1_764_000_000_000, ContentType, Content()));

    /// <summary>The body (no length prefix) of <paramref name="frame"/>, as <see cref="FrameReader"/> hands it to the decoder.</summary>
    public static ReadOnlySequence<byte> Body<T>(in T frame)
        where T : struct, IFrame<T> =>
        new(FrameCodec.ToArray(frame).AsMemory(ProtocolLimits.LengthPrefixSize));

    /// <summary><see cref="StreamFrameCount"/> SEND frames back to back, prefixes included, with distinct request ids.</summary>
    public static byte[] SendStream()
    {
        var output = new ArrayBufferWriter<byte>();
        for (var i = 0; i < StreamFrameCount; i++)
        {
            FrameCodec.Write(output, Send(requestId: (uint)i + 1));
        }

        return output.WrittenSpan.ToArray();
    }

    private static byte[] Content()
    {
        var content = new byte[ContentLength];
        for (var i = 0; i < content.Length; i++)
        {
            content[i] = (byte)('a' + (i % 26));
        }

        return content;
    }
}
