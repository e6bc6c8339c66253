using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using ChatWire.Protocol.Internal;
using MessagePack;

namespace ChatWire.Protocol;

/// <summary>
/// Encodes and decodes frame bodies: a MessagePack array <c>[opcode, request_id, fields…]</c>
/// (docs/protocol.md §2–§4). Decoding failures surface as <see cref="ProtocolException"/> only.
/// </summary>
public static class FrameCodec
{
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_scratch;

    /// <summary>
    /// The opcode of a whole frame this library wrote (length prefix included), without decoding it: the
    /// array header is fixarray or array16, and the opcode a positive fixint.
    /// </summary>
    public static Opcode PeekOpcode(ReadOnlySpan<byte> frame) =>
        frame.Length <= ProtocolLimits.LengthPrefixSize ? default : PeekBodyOpcode(frame[ProtocolLimits.LengthPrefixSize..]);

    /// <summary>
    /// As <see cref="PeekOpcode"/>, for a frame's body (after its length prefix): a guess from the first bytes, not
    /// a check; <c>default</c> when there are too few of them.
    /// </summary>
    public static Opcode PeekBodyOpcode(ReadOnlySpan<byte> body)
    {
        if (body.Length <= 3)
        {
            return default;
        }

        return (Opcode)(body[0] == 0xdc ? body[3] : body[1]);
    }

    /// <summary>Reads the array header, opcode and request id.</summary>
    /// <exception cref="ProtocolException">
    /// <see cref="ErrorCode.MalformedFrame"/> when the body is not such an array; with request id 0 only when
    /// the opcode and request id themselves could not be read (docs/protocol.md §2.2).
    /// </exception>
    public static FrameHeader ReadHeader(ref MessagePackReader reader)
    {
        const string NotAnArray = "A frame body must be a MessagePack array.";
        int count;
        try
        {
            // TryReadArrayHeader, not ReadArrayHeader: the latter refuses a header that claims more elements
            // than bytes remain before the opcode and request id are read, and the answer should carry the
            // request id whenever it can be read. The claimed count is never used to allocate: ReadBody's
            // reads and skips fail at the end of the bytes.
            if (!reader.End && reader.NextCode == MessagePackCode.Array32)
            {
                // Read here: the library refuses an array32 count of 2^31 or more (it overflows an int), yet
                // the opcode and request id after it may be readable. Such a count claims more elements than
                // any frame holds, which ReadBody finds at the end of the bytes.
                Span<byte> array32 = stackalloc byte[5];
                reader.ReadRaw(array32.Length).CopyTo(array32);
                count = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(array32[1..]), int.MaxValue);
            }
            else if (reader.End || reader.NextMessagePackType != MessagePackType.Array || !reader.TryReadArrayHeader(out count))
            {
                throw new ProtocolException(ErrorCode.MalformedFrame, NotAnArray, 0);
            }
        }
        catch (Exception ex) when (IsDecodeFailure(ex))
        {
            // The header itself is cut short.
            throw new ProtocolException(ErrorCode.MalformedFrame, NotAnArray, 0, ex);
        }

        if (count < 2)
        {
            ThrowHelper.Malformed("A frame body needs at least an opcode and a request id.");
        }

        uint opcode;
        uint requestId;
        try
        {
            opcode = reader.ReadUInt32();
            requestId = reader.ReadUInt32();
        }
        catch (Exception ex) when (IsDecodeFailure(ex))
        {
            throw new ProtocolException(ErrorCode.MalformedFrame, "The opcode and the request id must be unsigned integers of at most 32 bits.", 0, ex);
        }

        return new FrameHeader(opcode, requestId, count - 2);
    }

    /// <summary>
    /// Reads the fields of a <typeparamref name="T"/> frame after <see cref="ReadHeader"/>: the required
    /// ones, the optional ones that are present, then skips trailing fields a newer peer may have appended,
    /// and requires the body to end there.
    /// </summary>
    public static T ReadBody<T>(ref MessagePackReader reader, in FrameHeader header, ProtocolLimits limits)
        where T : struct, IFrame<T>
    {
        if (header.FieldCount < T.RequiredFields)
        {
            ThrowHelper.Malformed($"{Opcodes.Name(T.Opcode)} needs {T.RequiredFields} fields after the request id; got {header.FieldCount}.", header.RequestId);
        }

        try
        {
            var frame = T.ReadFields(ref reader, header.RequestId, Math.Min(header.FieldCount, T.KnownFields), limits);
            for (var i = T.KnownFields; i < header.FieldCount; i++)
            {
                MessagePackFields.SkipBounded(ref reader, 0, limits.MaxSkipDepth, header.RequestId);
            }

            if (!reader.End)
            {
                ThrowHelper.Malformed("Bytes follow the frame's array.", header.RequestId);
            }

            return frame;
        }
        catch (Exception ex) when (IsDecodeFailure(ex))
        {
            // A fixed sentence: the MessagePack library's own text never reaches a peer.
            throw new ProtocolException(ErrorCode.MalformedFrame, $"{Opcodes.Name(T.Opcode)} is malformed: a field has the wrong type or the body ends before its last field.", header.RequestId, ex);
        }
    }

    /// <summary>Decodes a whole body known to hold a <typeparamref name="T"/> frame.</summary>
    public static T Decode<T>(ReadOnlySequence<byte> body, ProtocolLimits limits)
        where T : struct, IFrame<T>
    {
        var reader = new MessagePackReader(body);
        var header = ReadHeader(ref reader);
        if (header.OpcodeValue != (uint)T.Opcode)
        {
            ThrowHelper.Malformed($"Expected {Opcodes.Name(T.Opcode)}, got opcode {header.OpcodeValue}.", header.RequestId);
        }

        return ReadBody<T>(ref reader, header, limits);
    }

    /// <summary>Writes the length prefix and body of <paramref name="frame"/> to <paramref name="output"/>.</summary>
    /// <returns>The number of bytes written, prefix included.</returns>
    public static int Write<T>(IBufferWriter<byte> output, in T frame)
        where T : struct, IFrame<T>
    {
        ArgumentNullException.ThrowIfNull(output);
        var body = EncodeBody(frame);
        var span = output.GetSpan(ProtocolLimits.LengthPrefixSize + body.Length);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)body.Length);
        body.CopyTo(span[ProtocolLimits.LengthPrefixSize..]);
        output.Advance(ProtocolLimits.LengthPrefixSize + body.Length);
        return ProtocolLimits.LengthPrefixSize + body.Length;
    }

    /// <summary>The whole frame (prefix and body) as a new array: encode once, write to many.</summary>
    public static byte[] ToArray<T>(in T frame)
        where T : struct, IFrame<T>
    {
        var body = EncodeBody(frame);
        var result = new byte[ProtocolLimits.LengthPrefixSize + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(result, (uint)body.Length);
        body.CopyTo(result.AsSpan(ProtocolLimits.LengthPrefixSize));
        return result;
    }

    // The body goes to a per-thread scratch buffer first because the prefix needs its length;
    // the scratch buffer is reused, so steady-state encoding allocates nothing.
    private static ReadOnlySpan<byte> EncodeBody<T>(in T frame)
        where T : struct, IFrame<T>
    {
        var scratch = t_scratch ??= new ArrayBufferWriter<byte>(1024);
        scratch.ResetWrittenCount();
        var writer = new MessagePackWriter(scratch);
        writer.WriteArrayHeader(2 + frame.FieldCount);
        writer.Write((uint)T.Opcode);
        writer.Write(frame.RequestId);
        frame.WriteFields(ref writer);
        writer.Flush();
        return scratch.WrittenSpan;
    }

    // ArgumentOutOfRangeException: MessagePack-CSharp 2.x reads a str32/bin32/ext32 length of 2^31 or more
    // as a negative int and fails while slicing, not with EndOfStreamException.
    private static bool IsDecodeFailure(Exception ex) =>
        ex is MessagePackSerializationException or EndOfStreamException or OverflowException
            or DecoderFallbackException or InvalidOperationException or ArgumentOutOfRangeException;
}
