using System.Buffers;
using System.Buffers.Binary;
using ChatWire.Protocol.Internal;

namespace ChatWire.Protocol;

/// <summary>
/// Splits a byte stream into frames: a 4-byte big-endian unsigned length N, then N bytes of body
/// (docs/protocol.md §2). Follows the pipelines parser contract: <c>false</c> means "need more data".
/// </summary>
public static class FrameReader
{
    /// <summary>
    /// Reads one frame from the front of <paramref name="buffer"/>. On success the body is returned
    /// and <paramref name="buffer"/> is advanced past the frame. The length is checked against
    /// <paramref name="maxFrameLength"/> as soon as the prefix is complete, before any body byte is awaited.
    /// </summary>
    /// <returns><c>false</c> when the buffer does not yet hold a whole frame.</returns>
    /// <exception cref="ProtocolException"><see cref="ErrorCode.FrameTooLarge"/> when the prefix exceeds the limit.</exception>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, uint maxFrameLength, out ReadOnlySequence<byte> body)
    {
        if (buffer.Length < ProtocolLimits.LengthPrefixSize)
        {
            body = default;
            return false;
        }

        uint length;
        if (buffer.FirstSpan.Length >= ProtocolLimits.LengthPrefixSize)
        {
            length = BinaryPrimitives.ReadUInt32BigEndian(buffer.FirstSpan);
        }
        else
        {
            Span<byte> prefix = stackalloc byte[ProtocolLimits.LengthPrefixSize];
            buffer.Slice(0, ProtocolLimits.LengthPrefixSize).CopyTo(prefix);
            length = BinaryPrimitives.ReadUInt32BigEndian(prefix);
        }

        if (length > maxFrameLength)
        {
            ThrowHelper.FrameTooLarge(length, maxFrameLength);
        }

        var total = ProtocolLimits.LengthPrefixSize + (long)length;
        if (buffer.Length < total)
        {
            body = default;
            return false;
        }

        body = buffer.Slice(ProtocolLimits.LengthPrefixSize, length);
        buffer = buffer.Slice(total);
        return true;
    }
}
