using System.Buffers;
using System.Buffers.Binary;

namespace ChatWire.Protocol.Noise;

/// <summary>How a client opens a ChatWire Noise connection (docs/protocol.md §8).</summary>
public sealed record NoiseClientOptions
{
    /// <summary>
    /// The server's static public key (32 bytes) when the client holds one it trusts: the handshake is then IK, and
    /// the server must prove it holds that key. Empty: XX, which learns the key; the caller must then decide whether to
    /// trust <see cref="NoiseClientStream.ServerStaticKey"/> (pin it, compare it with a pin).
    /// </summary>
    public ReadOnlyMemory<byte> ServerStaticKey { get; init; }

    /// <summary>
    /// Bytes that start the client's frame stream inside the handshake: empty, or exactly one HELLO frame (length
    /// prefix included). With IK they travel in the first message (encrypted, but not forward secret and
    /// replayable: never put AUTH there); with XX in the third.
    /// </summary>
    public ReadOnlyMemory<byte> EarlyData { get; init; }

    /// <summary>
    /// The client's static key pair; a fresh one per connection when null. The server does not use it for identity
    /// (the session token does that), so a client may keep one per installation or none.
    /// </summary>
    public NoiseKeyPair? ClientStaticKey { get; init; }
}

/// <summary>
/// The client side of a ChatWire Noise connection as a <see cref="Stream"/>: <see cref="ConnectAsync"/> runs the
/// handshake over <c>inner</c>, then reads and writes are the plaintext frame stream, carried in length-prefixed
/// Noise transport records. One reader and one writer may use it at once (the directions are independent).
/// </summary>
public sealed class NoiseClientStream : Stream
{
    private readonly Stream _inner;
    private readonly NoiseTransport _transport;
    private readonly byte[] _received = new byte[NoiseTransport.MaxRecordLength];
    private readonly byte[] _plain = new byte[NoiseTransport.MaxRecordPayload];
    private int _plainStart;
    private int _plainEnd;
    private bool _disposed;

    private NoiseClientStream(Stream inner, NoiseTransport transport, NoisePattern pattern, byte[] serverKey, byte[]? announcedKey, byte[] handshakeHash)
    {
        _inner = inner;
        _transport = transport;
        Pattern = pattern;
        ServerStaticKey = serverKey;
        // Not a conditional expression: its null would convert to an empty ReadOnlyMemory through byte[].
        if (announcedKey is not null)
        {
            AnnouncedServerKey = announcedKey;
        }
        HandshakeHash = handshakeHash;
    }

    /// <summary>The pattern the handshake ran.</summary>
    public NoisePattern Pattern { get; }

    /// <summary>The static key the server proved it holds.</summary>
    public ReadOnlyMemory<byte> ServerStaticKey { get; }

    /// <summary>
    /// The server's current key when it differs from <see cref="ServerStaticKey"/>: the client reached it through a
    /// key it has since rotated away from (still accepted for a while). The announcement is authenticated by
    /// <see cref="ServerStaticKey"/>, so a client that trusted that key may pin this one instead.
    /// </summary>
    public ReadOnlyMemory<byte>? AnnouncedServerKey { get; }

    /// <summary>The handshake hash (channel binding): both sides hold the same 32 bytes.</summary>
    public ReadOnlyMemory<byte> HandshakeHash { get; }

    internal NoiseTransport Transport => _transport;

    /// <summary>
    /// Runs the handshake over <paramref name="inner"/> (a connected stream to the Noise listener), which the returned
    /// stream then owns. On failure <paramref name="inner"/> is left to the caller to dispose.
    /// </summary>
    /// <exception cref="NoiseException">
    /// The server closed the connection during the handshake (<see cref="NoiseError.HandshakeRejected"/>: with IK,
    /// usually a key the server no longer holds), or sent something invalid.
    /// </exception>
    public static async Task<NoiseClientStream> ConnectAsync(Stream inner, NoiseClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(options);
        if (options.EarlyData.Length > ChatWireNoise.MaxInitiatorPayload)
        {
            throw new ArgumentException($"Early data is one HELLO frame, at most {ChatWireNoise.MaxInitiatorPayload} bytes.", nameof(options));
        }

        var pattern = options.ServerStaticKey.IsEmpty ? NoisePattern.XX : NoisePattern.IK;
        var ownsStatic = options.ClientStaticKey is null;
        var clientStatic = options.ClientStaticKey ?? NoiseKeyPair.Generate();
        try
        {
            using var handshake = HandshakeState.Create(pattern, initiator: true, ChatWireNoise.Prologue(pattern), clientStatic, options.ServerStaticKey.Span);
            var buffer = new byte[1 + NoiseFraming.LengthPrefixSize + HandshakeState.MaxMessageLength];

            // -> selector, then the first message: XX carries no payload in the clear; IK carries the early data.
            buffer[0] = ChatWireNoise.Selector(pattern);
            var first = pattern == NoisePattern.IK ? options.EarlyData.Span : default;
            var length = handshake.WriteMessage(first, buffer.AsSpan(1 + NoiseFraming.LengthPrefixSize));
            NoiseFraming.WriteLengthPrefix(buffer.AsSpan(1), length);
            await inner.WriteAsync(buffer.AsMemory(0, 1 + NoiseFraming.LengthPrefixSize + length), cancellationToken).ConfigureAwait(false);
            await inner.FlushAsync(cancellationToken).ConfigureAwait(false);

            // <- the responder's message and its payload.
            var message = await ReadMessageAsync(inner, buffer, cancellationToken).ConfigureAwait(false);
            var payload = new byte[HandshakeState.MaxMessageLength];
            var payloadLength = handshake.ReadMessage(buffer.AsSpan(0, message), payload);
            if (!ChatWireNoise.TryReadServerPayload(payload.AsMemory(0, payloadLength), out var announced))
            {
                throw new NoiseException(NoiseError.MalformedHandshakeMessage, "The server's handshake payload is not a ChatWire map.");
            }

            if (pattern == NoisePattern.XX)
            {
                // -> s, se, with the early data (forward secret here).
                length = handshake.WriteMessage(options.EarlyData.Span, buffer.AsSpan(NoiseFraming.LengthPrefixSize));
                NoiseFraming.WriteLengthPrefix(buffer, length);
                await inner.WriteAsync(buffer.AsMemory(0, NoiseFraming.LengthPrefixSize + length), cancellationToken).ConfigureAwait(false);
                await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            var serverKey = handshake.RemoteStaticPublicKey.ToArray();
            var hash = handshake.GetHandshakeHash().ToArray();
            var (send, receive) = handshake.Split();
            var changed = announced is not null && !announced.AsSpan().SequenceEqual(serverKey) ? announced : null;
            return new NoiseClientStream(inner, new NoiseTransport(send, receive), pattern, serverKey, changed, hash);
        }
        finally
        {
            if (ownsStatic)
            {
                clientStatic.Dispose();
            }
        }
    }

    // Reads one length-prefixed handshake message into the front of buffer; its length.
    private static async Task<int> ReadMessageAsync(Stream inner, byte[] buffer, CancellationToken cancellationToken)
    {
        if (!await ReadExactlyOrEndAsync(inner, buffer.AsMemory(0, NoiseFraming.LengthPrefixSize), cancellationToken).ConfigureAwait(false))
        {
            throw new NoiseException(NoiseError.HandshakeRejected, "The server closed the connection during the Noise handshake.");
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(buffer);
        if (!await ReadExactlyOrEndAsync(inner, buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false))
        {
            throw new NoiseException(NoiseError.TruncatedRecord, "The server's handshake message ended early.");
        }

        return length;
    }

    // False when the stream ends before the first byte; a stream ending later is a truncation.
    private static async Task<bool> ReadExactlyOrEndAsync(Stream inner, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < destination.Length)
        {
            int n;
            try
            {
                n = await inner.ReadAsync(destination[read..], cancellationToken).ConfigureAwait(false);
            }
            catch (IOException) when (read == 0)
            {
                return false;
            }

            if (n == 0)
            {
                return read == 0 ? false : throw new NoiseException(NoiseError.TruncatedRecord, "The stream ended inside a Noise message.");
            }

            read += n;
        }

        return true;
    }

    /// <inheritdoc/>
    /// <exception cref="IOException">
    /// The connection failed: the stream ended inside a record, or a record failed authentication (its
    /// <see cref="Exception.InnerException"/> is the <see cref="NoiseException"/>). As with TLS, a transport failure
    /// after the handshake is an <see cref="IOException"/>.
    /// </exception>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            return await ReadPlaintextAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (NoiseException ex)
        {
            throw new IOException("The Noise connection failed: " + ex.Message, ex);
        }
    }

    private async ValueTask<int> ReadPlaintextAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {

        // Empty records are legal; read on until one carries bytes or the stream ends at a record boundary.
        while (_plainStart == _plainEnd)
        {
            if (!await ReadExactlyOrEndAsync(_inner, _received.AsMemory(0, NoiseFraming.LengthPrefixSize), cancellationToken).ConfigureAwait(false))
            {
                return 0;
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(_received);
            if (length < CipherState.TagSize)
            {
                throw new NoiseException(NoiseError.InvalidRecordLength, $"A record of {length} bytes is shorter than its tag.");
            }

            if (!await ReadExactlyOrEndAsync(_inner, _received.AsMemory(NoiseFraming.LengthPrefixSize, length), cancellationToken).ConfigureAwait(false))
            {
                throw new NoiseException(NoiseError.TruncatedRecord, "The stream ended inside a Noise record.");
            }

            if (!_transport.TryDecode(_received.AsSpan(0, NoiseFraming.LengthPrefixSize + length), _plain, out _, out var written))
            {
                throw new NoiseException(NoiseError.TruncatedRecord, "A Noise record was incomplete.");
            }

            _plainStart = 0;
            _plainEnd = written;
        }

        var count = Math.Min(buffer.Length, _plainEnd - _plainStart);
        _plain.AsSpan(_plainStart, count).CopyTo(buffer.Span);
        _plainStart += count;
        return count;
    }

    /// <inheritdoc/>
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (buffer.IsEmpty)
        {
            return;
        }

        var encoded = ArrayPool<byte>.Shared.Rent(_transport.GetEncodedLength(buffer.Length));
        try
        {
            int length;
            try
            {
                length = _transport.Encode(buffer.Span, encoded);
            }
            catch (NoiseException ex)
            {
                // Nonce exhaustion (or a transport already failed): the connection is over.
                throw new IOException("The Noise connection cannot send any more: " + ex.Message, ex);
            }

            await _inner.WriteAsync(encoded.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(encoded);
        }
    }

    /// <inheritdoc/>
    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override void Flush() => _inner.Flush();

    /// <inheritdoc/>
    public override bool CanRead => !_disposed;

    /// <inheritdoc/>
    public override bool CanWrite => !_disposed;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _transport.Dispose();
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
