using System.Buffers;
using MessagePack;

namespace ChatWire.Protocol.Noise;

/// <summary>
/// How ChatWire uses the Noise Protocol Framework on its Noise listener (docs/protocol.md §8): the selector byte
/// that opens a connection, the prologue both sides hash, and the responder's handshake payload.
/// </summary>
public static class ChatWireNoise
{
    /// <summary>First byte a client sends: it runs <c>Noise_XX_25519_AESGCM_SHA256</c> (it does not hold the server key).</summary>
    public const byte SelectXX = 0x01;

    /// <summary>First byte a client sends: it runs <c>Noise_IK_25519_AESGCM_SHA256</c> with the server key it holds.</summary>
    public const byte SelectIK = 0x02;

    /// <summary>The most bytes the initiator's payload may carry: one HELLO frame within the pre-AUTH frame limit.</summary>
    public const int MaxInitiatorPayload = (int)ProtocolLimits.DefaultMaxPreAuthFrameLength + ProtocolLimits.LengthPrefixSize;

    /// <summary>The key of the responder payload's map that carries the server's current static public key.</summary>
    public const string ServerKeyField = "server_key";

    /// <summary>
    /// The ASCII text every ChatWire Noise prologue starts with; the selector byte follows it, so a man in the middle
    /// who changes the selector breaks the handshake.
    /// </summary>
    public static ReadOnlySpan<byte> ProloguePrefix => "ChatWire Noise v1"u8;

    /// <summary>The selector byte of <paramref name="pattern"/>.</summary>
    public static byte Selector(NoisePattern pattern) => pattern switch
    {
        NoisePattern.XX => SelectXX,
        NoisePattern.IK => SelectIK,
        _ => throw new ArgumentOutOfRangeException(nameof(pattern), pattern, "ChatWire runs XX or IK."),
    };

    /// <summary>The pattern a selector byte asks for; false for any other byte (the connection is closed).</summary>
    public static bool TryGetPattern(byte selector, out NoisePattern pattern)
    {
        pattern = selector == SelectIK ? NoisePattern.IK : NoisePattern.XX;
        return selector is SelectXX or SelectIK;
    }

    /// <summary>The prologue of a handshake run with <paramref name="pattern"/>: <see cref="ProloguePrefix"/> and the selector byte.</summary>
    public static byte[] Prologue(NoisePattern pattern) => [.. ProloguePrefix, Selector(pattern)];

    /// <summary>
    /// The responder's payload when the client reached the server through a previous static key still accepted after a
    /// rotation: a MessagePack map <c>{"server_key": bin 32}</c> naming the current key. Authenticated by the key the
    /// client used, so the client may move its pin to it.
    /// </summary>
    public static byte[] EncodeServerPayload(ReadOnlySpan<byte> currentServerKey)
    {
        if (currentServerKey.Length != NoiseKeyPair.KeySize)
        {
            throw new ArgumentException($"A server key is {NoiseKeyPair.KeySize} bytes.", nameof(currentServerKey));
        }

        var buffer = new ArrayBufferWriter<byte>(48);
        var writer = new MessagePackWriter(buffer);
        writer.WriteMapHeader(1);
        writer.Write(ServerKeyField);
        writer.Write(currentServerKey);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Reads the responder's payload: empty, or a map whose <c>server_key</c> (when present) is the current server key.
    /// Unknown keys are skipped, so a later server may add fields. False when the payload is not such a map.
    /// </summary>
    public static bool TryReadServerPayload(ReadOnlyMemory<byte> payload, out byte[]? currentServerKey)
    {
        currentServerKey = null;
        if (payload.IsEmpty)
        {
            return true;
        }

        try
        {
            var reader = new MessagePackReader(payload);
            var count = reader.ReadMapHeader();
            for (var i = 0; i < count; i++)
            {
                var key = reader.ReadString();
                if (key == ServerKeyField && reader.NextMessagePackType == MessagePackType.Binary)
                {
                    var bytes = reader.ReadBytes();
                    if (bytes is not { Length: NoiseKeyPair.KeySize })
                    {
                        return false;
                    }

                    currentServerKey = bytes.Value.ToArray();
                }
                else
                {
                    reader.Skip();
                }
            }

            return reader.End;
        }
        catch (MessagePackSerializationException)
        {
            return false;
        }
        catch (EndOfStreamException)
        {
            return false;
        }
    }
}
