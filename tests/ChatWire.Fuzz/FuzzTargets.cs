using ChatWire.Crypto;
using ChatWire.Protocol;
using ChatWire.Protocol.Noise;
using ChatWire.Protocol.Tests;
using ChatWire.Protocol.Tests.Support;

namespace ChatWire.Fuzz;

/// <summary>
/// The fuzz targets: each feeds one input to a parser that reads bytes a peer chose, and lets through only the
/// exception that parser documents for bad input. Anything else escaping (an index out of range, an overflow, a
/// null reference, an allocation the input's size does not justify) is a finding: the fuzzer reports it as a crash.
/// </summary>
internal static class FuzzTargets
{
    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["frames"] = Frames,
        ["noise"] = NoiseFirstMessage,
        ["envelope"] = Envelope,
        ["attachment"] = Attachment,
    };

    /// <summary>
    /// A connection's byte stream as the server (or the SDK) reads it: length-prefixed frames back to back, each
    /// decoded as its opcode's frame. The first byte sets how the rest is cut into buffer segments (1 to 256 bytes),
    /// as reads from a socket cut it. Bad input is a <see cref="ProtocolException"/>.
    /// </summary>
    private static void Frames(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var buffer = Segments.Of([.. input.Skip(1).Chunk(input[0] + 1)]);
        try
        {
            while (FrameReader.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxFrameLength, out var body))
            {
                ServerDecoder.Decode(body, ProtocolLimits.Default, out _);
            }
        }
        catch (ProtocolException)
        {
            // A frame longer than the limit: the server answers FRAME_TOO_LARGE and closes.
        }
    }

    /// <summary>
    /// What a client sends first on the Noise listener (docs/protocol.md §8): a selector byte, then one handshake
    /// message, read by the responder as the gateway reads it. Bad input is a <see cref="NoiseException"/>.
    /// </summary>
    private static void NoiseFirstMessage(byte[] input)
    {
        if (input.Length == 0 || !ChatWireNoise.TryGetPattern(input[0], out var pattern))
        {
            return;
        }

        using var handshake = HandshakeState.Create(pattern, initiator: false, ChatWireNoise.Prologue(pattern), Fixed.ServerKey);
        var payload = new byte[input.Length];
        try
        {
            handshake.ReadMessage(input.AsSpan(1), payload);
        }
        catch (NoiseException)
        {
        }
    }

    /// <summary>An end-to-end envelope's layout as a receiving client reads it before any key is used (docs/e2e.md).</summary>
    private static void Envelope(byte[] input)
    {
        try
        {
            EnvelopeHeader.ReadUnauthenticated(input);
        }
        catch (ChatWireCryptoException ex) when (ex.Error == CryptoError.Malformed)
        {
        }
    }

    /// <summary>An attachment descriptor as a receiving client decodes it from a decrypted message (docs/e2e.md).</summary>
    private static void Attachment(byte[] input)
    {
        try
        {
            AttachmentDescriptor.Decode(input);
        }
        catch (ChatWireCryptoException ex) when (ex.Error == CryptoError.Malformed)
        {
        }
    }

    /// <summary>Starting inputs for <paramref name="target"/>: valid ones, so the fuzzer begins where parsing gets deep.</summary>
    public static IEnumerable<byte[]> Seeds(string target, IReadOnlyList<string> vectorFiles) => target switch
    {
        // Segments of 256 bytes: the first byte 0xff. Valid frames of six opcodes, then a few hostile ones.
        "frames" => HostileCorpus.ValidFrames(HostileCorpus.DefaultSeed, 12)
            .Concat(HostileCorpus.Cases.Take(8).Select(c => c.FrameBytes))
            .Select(frame => (byte[])[0xff, .. frame]),
        "noise" => [FirstMessage(NoisePattern.XX), FirstMessage(NoisePattern.IK)],
        "envelope" => VectorFields(vectorFiles, "envelope"),
        "attachment" => VectorFields(vectorFiles, "descriptor"),
        _ => throw new ArgumentException($"Unknown target '{target}'.", nameof(target)),
    };

    private static byte[] FirstMessage(NoisePattern pattern)
    {
        using var client = NoiseKeyPair.Generate();
        using var handshake = HandshakeState.Create(pattern, initiator: true, ChatWireNoise.Prologue(pattern), client, pattern == NoisePattern.IK ? Fixed.ServerKey.PublicKey : default);
        var message = new byte[handshake.GetWriteLength(0)];
        var length = handshake.WriteMessage([], message);
        return [ChatWireNoise.Selector(pattern), .. message.AsSpan(0, length)];
    }

    // Every hex string under the key in the JSON test-vector files (docs/e2e.md, "Test vectors").
    private static List<byte[]> VectorFields(IReadOnlyList<string> files, string key)
    {
        var found = new List<byte[]>();
        foreach (var file in files)
        {
            using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(file));
            Collect(document.RootElement, key, found);
        }

        return found.Count > 0 ? found : throw new ArgumentException($"No \"{key}\" field in the vector files given.", nameof(files));
    }

    private static void Collect(System.Text.Json.JsonElement element, string key, List<byte[]> found)
    {
        switch (element.ValueKind)
        {
            case System.Text.Json.JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.NameEquals(key) && property.Value.ValueKind == System.Text.Json.JsonValueKind.String)
                    {
                        found.Add(Convert.FromHexString(property.Value.GetString()!));
                    }
                    else
                    {
                        Collect(property.Value, key, found);
                    }
                }

                break;
            case System.Text.Json.JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Collect(item, key, found);
                }

                break;
        }
    }
}

/// <summary>
/// The Noise listener's static key in these runs: fixed, so that a saved input replays the same way. A class of its
/// own so that it is made on first use, inside the fuzzing loop: instrumented code run before the loop has set up
/// AFL's coverage map (a static initializer of the targets' class, say) writes through a null map and dies.
/// </summary>
internal static class Fixed
{
    public static NoiseKeyPair ServerKey { get; } = NoiseKeyPair.FromPrivateKey([.. Enumerable.Repeat((byte)0x42, NoiseKeyPair.KeySize)]);
}
