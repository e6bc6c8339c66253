using System.Buffers;
using System.Net.Sockets;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Protocol.Noise;

namespace ChatWire.Client.Internal;

// Opens the Noise stream of one link (docs/protocol.md §8): IK under the trusted key with HELLO riding in the first
// message, so WELCOME comes back in the first record; when the server refuses that key, once more with XX to learn
// which key it holds, and refuse it unless it is the trusted one (or trust on first use may take a changed key).
internal static class NoiseConnector
{
    public static async Task<NoiseOpened> ConnectAsync(ChatWireConnectionOptions options, NoiseTrust trust, Hello hello, CancellationToken cancellationToken)
    {
        var (trusted, explicitPin) = trust.Expected(options.Host, options.Port);
        if (trusted is not null)
        {
            var early = Encode(hello);
            var opened = await TryHandshakeAsync(options, trusted, early, cancellationToken).ConfigureAwait(false);
            if (opened is not null)
            {
                byte[]? rotatedFrom = null;
                if (opened.Value.Stream.AnnouncedServerKey is { } announced)
                {
                    // Authenticated by the key this client trusts: the server's own word that it moved on.
                    trust.Trust(options.Host, options.Port, announced.Span);
                    rotatedFrom = trusted;
                }

                return opened.Value with { HelloSent = !early.IsEmpty, RotatedFrom = rotatedFrom };
            }
        }

        var learned = await TryHandshakeAsync(options, null, default, cancellationToken).ConfigureAwait(false)
            ?? throw new IOException($"The Noise server at {NoiseKeys.PinName(options.Host, options.Port)} closed the connection during the handshake.");
        var proven = learned.Stream.ServerStaticKey.Span;
        if (trusted is null || proven.SequenceEqual(trusted))
        {
            if (trusted is null)
            {
                trust.Trust(options.Host, options.Port, proven);
            }

            return learned;
        }

        if (!explicitPin && options.AcceptChangedNoiseKey)
        {
            trust.Trust(options.Host, options.Port, proven);
            return learned;
        }

        var refused = new NoiseServerKeyChangedException(options.Host, options.Port, trusted, proven, explicitPin);
        await learned.Stream.DisposeAsync().ConfigureAwait(false);
        throw refused;
    }

    // One TCP connection and handshake (IK when key is given, else XX); null when the server closed the connection
    // during the handshake (with IK: it does not hold that key).
    private static async Task<NoiseOpened?> TryHandshakeAsync(ChatWireConnectionOptions options, byte[]? key, ReadOnlyMemory<byte> early, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        NetworkStream? inner = null;
        try
        {
            await socket.ConnectAsync(options.Host, options.Port, cancellationToken).ConfigureAwait(false);
            inner = new NetworkStream(socket, ownsSocket: true);
            var stream = await NoiseClientStream.ConnectAsync(inner, new NoiseClientOptions { ServerStaticKey = key, EarlyData = early }, cancellationToken).ConfigureAwait(false);
            return new NoiseOpened(socket, stream, false, null);
        }
        catch (NoiseException ex) when (ex.Error == NoiseError.HandshakeRejected)
        {
            Dispose(socket, inner);
            return null;
        }
        catch
        {
            Dispose(socket, inner);
            throw;
        }
    }

    private static void Dispose(Socket socket, NetworkStream? inner)
    {
        if (inner is not null)
        {
            inner.Dispose();
        }
        else
        {
            socket.Dispose();
        }
    }

    // The whole HELLO frame, length prefix included; empty when it would not fit in the first handshake message
    // (a very long capability list), so HELLO goes after the handshake instead.
    private static ReadOnlyMemory<byte> Encode(Hello hello)
    {
        var buffer = new ArrayBufferWriter<byte>();
        FrameCodec.Write(buffer, hello);
        return buffer.WrittenCount <= ChatWireNoise.MaxInitiatorPayload ? buffer.WrittenMemory : ReadOnlyMemory<byte>.Empty;
    }
}

// A Noise link's stream and what its handshake learned. HelloSent: HELLO went as early data; RotatedFrom: the key
// the handshake ran under when the server announced a newer one (the pin moved).
internal readonly record struct NoiseOpened(Socket Socket, NoiseClientStream Stream, bool HelloSent, byte[]? RotatedFrom);
