using System.Buffers;
using System.Buffers.Binary;

namespace ChatWire.Protocol.Noise;

/// <summary>
/// The 2-byte big-endian length prefix in front of every Noise message on a ChatWire connection, handshake messages
/// and transport records alike (a message is at most 65,535 bytes, so the prefix can express every valid length).
/// </summary>
public static class NoiseFraming
{
    /// <summary>Size of the length prefix.</summary>
    public const int LengthPrefixSize = 2;

    /// <summary>Writes the prefix for a message of <paramref name="length"/> bytes.</summary>
    public static void WriteLengthPrefix(Span<byte> destination, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, HandshakeState.MaxMessageLength);
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)length);
    }

    /// <summary>
    /// Reads one length-prefixed message from the front of <paramref name="input"/>. Returns false when more bytes are
    /// needed; then nothing is consumed.
    /// </summary>
    public static bool TryReadMessage(ReadOnlySpan<byte> input, out ReadOnlySpan<byte> message, out int consumed)
    {
        message = default;
        consumed = 0;
        if (input.Length < LengthPrefixSize)
        {
            return false;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(input);
        if (input.Length - LengthPrefixSize < length)
        {
            return false;
        }

        message = input.Slice(LengthPrefixSize, length);
        consumed = LengthPrefixSize + length;
        return true;
    }

    /// <summary>
    /// Reads the length prefix at the front of <paramref name="input"/> without consuming it; false when fewer than
    /// two bytes are buffered. Lets a reader reject a bad length before the body arrives.
    /// </summary>
    public static bool TryPeekLength(in ReadOnlySequence<byte> input, out int length)
    {
        length = 0;
        if (input.Length < LengthPrefixSize)
        {
            return false;
        }

        Span<byte> prefix = stackalloc byte[LengthPrefixSize];
        input.Slice(0, LengthPrefixSize).CopyTo(prefix);
        length = BinaryPrimitives.ReadUInt16BigEndian(prefix);
        return true;
    }

    /// <summary>
    /// Called when the peer's stream ended: any buffered bytes are a record or message cut short.
    /// </summary>
    /// <exception cref="NoiseException"><see cref="NoiseError.TruncatedRecord"/> when <paramref name="bufferedBytes"/> is not zero.</exception>
    public static void ThrowIfTruncated(long bufferedBytes)
    {
        if (bufferedBytes != 0)
        {
            throw new NoiseException(NoiseError.TruncatedRecord, $"The stream ended inside a Noise message ({bufferedBytes} bytes left over).");
        }
    }
}
