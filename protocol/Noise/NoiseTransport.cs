using System.Buffers;
using System.Buffers.Binary;

namespace ChatWire.Protocol.Noise;

/// <summary>
/// The record layer of a Noise connection after the handshake: each record is a 2-byte big-endian length and then
/// 16 to 65,535 bytes of AES-256-GCM ciphertext (tag included), encrypted with an empty associated data and the next
/// nonce. The plaintext of consecutive records is one byte stream of ChatWire frames, so a frame may span records and
/// a record may hold several frames.
/// </summary>
/// <remarks>
/// Per connection this is three small managed objects (this and two <see cref="CipherState"/>s, about 200 bytes)
/// and no native state. Not thread-safe: one writer encodes and one reader decodes (the two directions are
/// independent and may run on different threads). After any <see cref="NoiseException"/> the transport is failed:
/// every later call throws <see cref="NoiseError.InvalidState"/> and the connection must be closed without a reply.
/// </remarks>
public sealed class NoiseTransport : IDisposable
{
    /// <summary>The largest record ciphertext (tag included) the length prefix can carry.</summary>
    public const int MaxRecordLength = HandshakeState.MaxMessageLength;

    /// <summary>The most plaintext one record of <see cref="MaxRecordLength"/> carries.</summary>
    public const int MaxRecordPayload = MaxRecordLength - CipherState.TagSize;

    /// <summary>
    /// The rekey rule both peers apply (Noise §11.3, docs/protocol.md "Noise transport"): each direction's key is
    /// replaced by REKEY after every 2^24 records it carried, that is whenever its nonce reaches a multiple of 2^24.
    /// It bounds what one AES-GCM key encrypts (about 2^40 bytes) well below the cipher's limits; the nonce keeps
    /// counting, and at 2^64-1 the connection closes.
    /// </summary>
    public const ulong RekeyInterval = 1UL << 24;

    private readonly CipherState _send;
    private readonly CipherState _receive;
    private readonly int _maxRecordLength;
    private volatile bool _failed;

    /// <summary>
    /// Wraps the cipher states from <see cref="HandshakeState.Split"/>; the transport owns them from now on.
    /// <paramref name="maxRecordLength"/> bounds both the records this side writes and those it accepts.
    /// </summary>
    public NoiseTransport(CipherState send, CipherState receive, int maxRecordLength = MaxRecordLength)
    {
        ArgumentNullException.ThrowIfNull(send);
        ArgumentNullException.ThrowIfNull(receive);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(maxRecordLength, CipherState.TagSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxRecordLength, MaxRecordLength);
        _send = send;
        _receive = receive;
        _maxRecordLength = maxRecordLength;
    }

    /// <summary>Messages sent so far (the send nonce).</summary>
    public ulong SentRecords => _send.Nonce;

    /// <summary>Messages received so far (the receive nonce).</summary>
    public ulong ReceivedRecords => _receive.Nonce;

    internal CipherState SendCipher => _send;

    internal CipherState ReceiveCipher => _receive;

    /// <summary>Bytes <see cref="Encode(ReadOnlySpan{byte}, Span{byte})"/> writes for <paramref name="plaintextLength"/> bytes.</summary>
    public int GetEncodedLength(int plaintextLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(plaintextLength);
        var perRecord = _maxRecordLength - CipherState.TagSize;
        var records = (plaintextLength + perRecord - 1) / perRecord;
        return plaintextLength + (records * (NoiseFraming.LengthPrefixSize + CipherState.TagSize));
    }

    /// <summary>
    /// Encrypts <paramref name="plaintext"/> (any part of the frame stream) into as many records as it needs;
    /// nothing for an empty span. <paramref name="destination"/> must hold <see cref="GetEncodedLength"/> bytes.
    /// </summary>
    /// <returns>Bytes written.</returns>
    /// <exception cref="NoiseException"><see cref="NoiseError.NonceExhausted"/>: the connection must close.</exception>
    public int Encode(ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        ThrowIfFailed();
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, GetEncodedLength(plaintext.Length), nameof(destination));
        var perRecord = _maxRecordLength - CipherState.TagSize;
        var written = 0;
        while (!plaintext.IsEmpty)
        {
            var chunk = plaintext[..Math.Min(perRecord, plaintext.Length)];
            written += EncodeRecord(chunk, destination[written..]);
            plaintext = plaintext[chunk.Length..];
        }

        return written;
    }

    /// <summary>Encrypts <paramref name="plaintext"/> into records appended to <paramref name="output"/>.</summary>
    /// <exception cref="NoiseException"><see cref="NoiseError.NonceExhausted"/>: the connection must close.</exception>
    public void Encode(ReadOnlySpan<byte> plaintext, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        ThrowIfFailed();
        var perRecord = _maxRecordLength - CipherState.TagSize;
        while (!plaintext.IsEmpty)
        {
            var chunk = plaintext[..Math.Min(perRecord, plaintext.Length)];
            var length = NoiseFraming.LengthPrefixSize + chunk.Length + CipherState.TagSize;
            output.Advance(EncodeRecord(chunk, output.GetSpan(length)));
            plaintext = plaintext[chunk.Length..];
        }
    }

    /// <summary>
    /// Decodes the record at the front of <paramref name="input"/> into <paramref name="plaintext"/> (which must not
    /// overlap the input and needs up to <see cref="MaxRecordPayload"/> bytes). Returns false, consuming nothing,
    /// when the record is not complete yet; a bad length is refused as soon as its two bytes are there.
    /// </summary>
    /// <exception cref="NoiseException">
    /// <see cref="NoiseError.InvalidRecordLength"/>, <see cref="NoiseError.DecryptionFailed"/> (tampered, replayed,
    /// reordered) or <see cref="NoiseError.NonceExhausted"/>: the connection must close.
    /// </exception>
    public bool TryDecode(ReadOnlySpan<byte> input, Span<byte> plaintext, out int consumed, out int written)
    {
        ThrowIfFailed();
        consumed = 0;
        written = 0;
        if (input.Length < NoiseFraming.LengthPrefixSize)
        {
            return false;
        }

        var length = CheckLength(BinaryPrimitives.ReadUInt16BigEndian(input));
        if (input.Length - NoiseFraming.LengthPrefixSize < length)
        {
            return false;
        }

        written = DecryptRecord(input.Slice(NoiseFraming.LengthPrefixSize, length), plaintext);
        consumed = NoiseFraming.LengthPrefixSize + length;
        return true;
    }

    /// <summary>
    /// Decodes the record at the front of <paramref name="input"/>, appends its plaintext to <paramref name="output"/>
    /// and slices the record off <paramref name="input"/>. Returns false, leaving <paramref name="input"/> as it was,
    /// when the record is not complete yet. A record split across segments is copied once into a pooled buffer.
    /// </summary>
    /// <exception cref="NoiseException">As <see cref="TryDecode(ReadOnlySpan{byte}, Span{byte}, out int, out int)"/>.</exception>
    public bool TryDecode(ref ReadOnlySequence<byte> input, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        ThrowIfFailed();
        if (!NoiseFraming.TryPeekLength(input, out var rawLength))
        {
            return false;
        }

        var length = CheckLength(rawLength);
        var total = NoiseFraming.LengthPrefixSize + length;
        if (input.Length < total)
        {
            return false;
        }

        var record = input.Slice(NoiseFraming.LengthPrefixSize, length);
        var destination = output.GetSpan(length - CipherState.TagSize);
        int written;
        if (record.IsSingleSegment)
        {
            written = DecryptRecord(record.FirstSpan, destination);
        }
        else
        {
            var rented = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                record.CopyTo(rented);
                written = DecryptRecord(rented.AsSpan(0, length), destination);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        output.Advance(written);
        input = input.Slice(total);
        return true;
    }

    /// <summary>
    /// Rekeys the sending direction (§11.3). The peer must call <see cref="RekeyReceive"/> after decoding the same
    /// record, so both sides need an agreed rule for when; nothing on the wire announces it.
    /// </summary>
    public void RekeySend()
    {
        ThrowIfFailed();
        _send.Rekey();
    }

    /// <summary>Rekeys the receiving direction, mirroring the peer's <see cref="RekeySend"/>.</summary>
    public void RekeyReceive()
    {
        ThrowIfFailed();
        _receive.Rekey();
    }

    /// <summary>Zeroes both keys.</summary>
    public void Dispose()
    {
        _failed = true;
        _send.Dispose();
        _receive.Dispose();
    }

    private int EncodeRecord(ReadOnlySpan<byte> chunk, Span<byte> destination)
    {
        try
        {
            var ciphertextLength = _send.EncryptWithAd(default, chunk, destination[NoiseFraming.LengthPrefixSize..]);
            BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)ciphertextLength);
            RekeyOnSchedule(_send);
            return NoiseFraming.LengthPrefixSize + ciphertextLength;
        }
        catch (NoiseException)
        {
            _failed = true;
            throw;
        }
    }

    private int DecryptRecord(ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
    {
        try
        {
            var written = _receive.DecryptWithAd(default, ciphertext, plaintext);
            RekeyOnSchedule(_receive);
            return written;
        }
        catch (NoiseException)
        {
            _failed = true;
            throw;
        }
    }

    private static void RekeyOnSchedule(CipherState cipher)
    {
        if (cipher.Nonce % RekeyInterval == 0)
        {
            cipher.Rekey();
        }
    }

    private int CheckLength(int length)
    {
        if (length < CipherState.TagSize || length > _maxRecordLength)
        {
            _failed = true;
            throw new NoiseException(NoiseError.InvalidRecordLength,
                $"A record of {length} bytes is outside {CipherState.TagSize}..{_maxRecordLength}.");
        }

        return length;
    }

    private void ThrowIfFailed()
    {
        if (_failed)
        {
            throw new NoiseException(NoiseError.InvalidState, "The Noise transport failed earlier or was disposed.");
        }
    }
}
