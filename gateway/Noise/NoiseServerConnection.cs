using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using ChatWire.Gateway.Observability;
using ChatWire.Protocol;
using ChatWire.Protocol.Noise;
using MessagePack;
using Microsoft.AspNetCore.Connections;

namespace ChatWire.Gateway.Noise;

/// <summary>
/// The server side of a ChatWire Noise connection (docs/protocol.md §8) as the connection's transport: the
/// <see cref="Input"/> a <c>ProtocolConnection</c> reads is the decrypted frame stream, the <see cref="Output"/> it
/// writes is encrypted into records. The handshake runs inside the first reads, so the session's pre-AUTH deadline
/// (the shared sweep) also bounds a handshake that never finishes. Any Noise failure ends the connection with
/// nothing sent in the clear and nothing decrypted handed on.
/// </summary>
internal sealed partial class NoiseServerConnection : IDuplexPipe, IDisposable
{
    private readonly IDuplexPipe _inner;
    private readonly NoiseServerKeys _keys;
    private readonly GatewayMetrics _metrics;
    private readonly Reader _reader;
    private readonly Writer _writer;
    private volatile NoiseTransport? _transport;
    private int _completedSides;

    public NoiseServerConnection(IDuplexPipe inner, NoiseServerKeys keys, GatewayMetrics metrics)
    {
        _inner = inner;
        if (inner.Output is Transport.LeanWriter lean)
        {
            // Each flush becomes one record: flushes that wait until sent let the session put what comes meanwhile
            // into the next record (about twice the encrypted fan-out of one record per event; docs/performance.md).
            lean.FlushWaitsForSend = true;
        }

        _keys = keys;
        _metrics = metrics;
        _reader = new Reader(this);
        _writer = new Writer(this);
    }

    public PipeReader Input => _reader;

    public PipeWriter Output => _writer;

    /// <summary>Set once the handshake has completed; until then nothing can be sent.</summary>
    internal NoiseTransport? Transport => _transport;

    /// <summary>Zeroes the transport keys.</summary>
    public void Dispose() => _transport?.Dispose();

    // The keys are zeroed once both directions are completed (the connection has ended).
    private void SideCompleted()
    {
        if (Interlocked.Increment(ref _completedSides) == 2)
        {
            Dispose();
        }
    }

    // Runs the whole handshake: the initiator's payload (HELLO or nothing), or null when the read was cancelled (the
    // session is closing) before it finished.
    private async ValueTask<byte[]?> HandshakeAsync(CancellationToken cancellationToken)
    {
        var input = _inner.Input;
        var label = "unknown";
        HandshakeState? handshake = null;
        try
        {
            var selector = await ReadAsync(input, 1, cancellationToken);
            if (selector is null)
            {
                return null;
            }

            if (!ChatWireNoise.TryGetPattern(selector[0], out var pattern))
            {
                throw new NoiseException(NoiseError.MalformedHandshakeMessage, $"0x{selector[0]:x2} is not a ChatWire Noise selector.");
            }

            label = pattern == NoisePattern.IK ? "ik" : "xx";
            var prologue = ChatWireNoise.Prologue(pattern);
            var first = await ReadMessageAsync(input, cancellationToken);
            if (first is null)
            {
                return null;
            }

            // A payload is never longer than its message: no 64 KiB buffer per handshake (a reconnect storm's garbage).
            var payload = new byte[first.Length];
            byte[] serverPayload = [];
            int payloadLength;
            if (pattern == NoisePattern.IK)
            {
                (handshake, payloadLength, var keyUsed) = ReadInitiatorIK(prologue, first, payload);

                // Checked before answering: a refused payload gets no handshake reply at all.
                CheckInitiatorPayload(payload.AsSpan(0, payloadLength));
                if (keyUsed < 0)
                {
                    label = "ik_previous";
                    serverPayload = ChatWireNoise.EncodeServerPayload(_keys.Current.PublicKey);
                }
                else if (keyUsed > 0)
                {
                    // The client already holds the key that is about to become current: nothing to announce.
                    label = "ik_next";
                }
            }
            else
            {
                handshake = HandshakeState.Create(NoisePattern.XX, initiator: false, prologue, _keys.Current);
                payloadLength = handshake.ReadMessage(first, payload);
                if (payloadLength != 0)
                {
                    throw new NoiseException(NoiseError.MalformedHandshakeMessage, "The first XX message travels in the clear and must carry no payload.");
                }
            }

            await WriteMessageAsync(handshake, serverPayload, cancellationToken);
            if (pattern == NoisePattern.XX)
            {
                var third = await ReadMessageAsync(input, cancellationToken);
                if (third is null)
                {
                    return null;
                }

                payload = new byte[third.Length];
                payloadLength = handshake.ReadMessage(third, payload);
                CheckInitiatorPayload(payload.AsSpan(0, payloadLength));
            }

            var early = payload.AsSpan(0, payloadLength);
            var (send, receive) = handshake.Split();
            _transport = new NoiseTransport(send, receive);
            _metrics.NoiseHandshake(label, "ok");
            return early.ToArray();
        }
        catch (NoiseException ex)
        {
            _metrics.NoiseHandshake(label, "failed");
            throw Failed(ex);
        }
        finally
        {
            handshake?.Dispose();
        }
    }

    // IK's first message under the current key, else under the staged next one, else (while it is still accepted)
    // under the previous one. Which key it was: the current (0), the next (1) or the previous (-1).
    private (HandshakeState Handshake, int PayloadLength, int KeyUsed) ReadInitiatorIK(byte[] prologue, byte[] message, byte[] payload)
    {
        var candidates = new List<(NoiseKeyPair Key, int Used)>(3) { (_keys.Current, 0) };
        if (_keys.Next is { } next)
        {
            candidates.Add((next, 1));
        }

        if (_keys.AcceptsPrevious(DateTimeOffset.UtcNow))
        {
            candidates.Add((_keys.Previous!, -1));
        }

        for (var i = 0; ; i++)
        {
            var handshake = HandshakeState.Create(NoisePattern.IK, initiator: false, prologue, candidates[i].Key);
            try
            {
                return (handshake, handshake.ReadMessage(message, payload), candidates[i].Used);
            }
            catch (NoiseException ex) when (ex.Error == NoiseError.DecryptionFailed && i + 1 < candidates.Count)
            {
                handshake.Dispose();
            }
            catch
            {
                handshake.Dispose();
                throw;
            }
        }
    }

    // The initiator's payload starts the frame stream: nothing, or exactly one HELLO frame. Anything else (AUTH in
    // an IK first message, which is neither forward secret nor replay-proof) ends the handshake.
    private static void CheckInitiatorPayload(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty)
        {
            return;
        }

        var sequence = new ReadOnlySequence<byte>(payload.ToArray());
        try
        {
            if (FrameReader.TryReadFrame(ref sequence, ProtocolLimits.DefaultMaxPreAuthFrameLength, out var body) && sequence.IsEmpty)
            {
                var reader = new MessagePackReader(body);
                if (FrameCodec.ReadHeader(ref reader) is { IsKnown: true, Opcode: Opcode.Hello })
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is ProtocolException or MessagePackSerializationException or EndOfStreamException)
        {
        }

        throw new NoiseException(NoiseError.MalformedHandshakeMessage, "The handshake payload must be empty or exactly one HELLO frame.");
    }

    private async ValueTask WriteMessageAsync(HandshakeState handshake, byte[] payload, CancellationToken cancellationToken)
    {
        var output = _inner.Output;
        var length = handshake.GetWriteLength(payload.Length);
        var span = output.GetSpan(NoiseFraming.LengthPrefixSize + length);
        handshake.WriteMessage(payload, span[NoiseFraming.LengthPrefixSize..]);
        NoiseFraming.WriteLengthPrefix(span, length);
        output.Advance(NoiseFraming.LengthPrefixSize + length);
        await output.FlushAsync(cancellationToken);
    }

    // One length-prefixed handshake message, copied out of the pipe; null when the read was cancelled.
    private static async ValueTask<byte[]?> ReadMessageAsync(PipeReader input, CancellationToken cancellationToken)
    {
        var prefix = await ReadAsync(input, NoiseFraming.LengthPrefixSize, cancellationToken);
        return prefix is null ? null : await ReadAsync(input, BinaryPrimitives.ReadUInt16BigEndian(prefix), cancellationToken);
    }

    // Exactly count bytes; null when cancelled; a stream that ends first fails the handshake.
    private static async ValueTask<byte[]?> ReadAsync(PipeReader input, int count, CancellationToken cancellationToken)
    {
        // An empty message (a length prefix of 0) is read at once, not when more bytes come: it is refused as
        // shorter than its pattern requires, and the connection closes then.
        if (count == 0)
        {
            return [];
        }

        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (buffer.Length >= count)
            {
                var bytes = buffer.Slice(0, count).ToArray();
                input.AdvanceTo(buffer.GetPosition(count));
                return bytes;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCanceled)
            {
                return null;
            }

            if (result.IsCompleted)
            {
                throw new NoiseException(NoiseError.HandshakeRejected, "The client closed the connection during the handshake.");
            }
        }
    }

    // Every Noise failure ends the connection quietly: the session's read loop treats it as the peer going away.
    private static ConnectionAbortedException Failed(NoiseException ex) => new("Noise: " + ex.Error + ": " + ex.Message, ex);
}
