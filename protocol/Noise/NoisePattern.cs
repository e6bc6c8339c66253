namespace ChatWire.Protocol.Noise;

/// <summary>The handshake patterns ChatWire speaks, each with Curve25519, AES-256-GCM and SHA-256.</summary>
public enum NoisePattern
{
    /// <summary>
    /// <c>Noise_XX_25519_AESGCM_SHA256</c>: first contact, the client does not know the server's static key yet.
    /// Three messages: <c>-&gt; e</c>; <c>&lt;- e, ee, s, es</c>; <c>-&gt; s, se</c>.
    /// </summary>
    XX,

    /// <summary>
    /// <c>Noise_IK_25519_AESGCM_SHA256</c>: the client holds the server's static key (pre-message <c>&lt;- s</c>),
    /// so its first message is already encrypted and may carry a payload. Two messages:
    /// <c>-&gt; e, es, s, ss</c>; <c>&lt;- e, ee, se</c>.
    /// </summary>
    IK,
}

internal enum NoiseToken : byte
{
    E,
    S,
    EE,
    ES,
    SE,
    SS,
}

// A handshake pattern as data (revision 34, §7): which static keys the pre-messages make known, and the tokens of
// each message in order, initiator first. Deferred variants exist only so the test vectors for them run through the
// same engine (ChatWire's listener offers XX and IK).
internal sealed class PatternDefinition
{
    private PatternDefinition(string name, bool initiatorStaticPreMessage, bool responderStaticPreMessage, NoiseToken[][] messages)
    {
        Name = name;
        ProtocolName = "Noise_" + name + "_25519_AESGCM_SHA256";
        ProtocolNameBytes = System.Text.Encoding.ASCII.GetBytes(ProtocolName);
        InitiatorStaticPreMessage = initiatorStaticPreMessage;
        ResponderStaticPreMessage = responderStaticPreMessage;
        Messages = messages;
    }

    public string Name { get; }

    public string ProtocolName { get; }

    // Encoded once: every handshake starts by hashing it.
    public byte[] ProtocolNameBytes { get; }

    public bool InitiatorStaticPreMessage { get; }

    public bool ResponderStaticPreMessage { get; }

    public NoiseToken[][] Messages { get; }

    public static PatternDefinition XX { get; } = new("XX", false, false,
    [
        [NoiseToken.E],
        [NoiseToken.E, NoiseToken.EE, NoiseToken.S, NoiseToken.ES],
        [NoiseToken.S, NoiseToken.SE],
    ]);

    public static PatternDefinition IK { get; } = new("IK", false, true,
    [
        [NoiseToken.E, NoiseToken.ES, NoiseToken.S, NoiseToken.SS],
        [NoiseToken.E, NoiseToken.EE, NoiseToken.SE],
    ]);

    // Deferred patterns (§18.3), test-vector coverage only.
    public static PatternDefinition XX1 { get; } = new("XX1", false, false,
    [
        [NoiseToken.E],
        [NoiseToken.E, NoiseToken.EE, NoiseToken.S],
        [NoiseToken.ES, NoiseToken.S, NoiseToken.SE],
    ]);

    public static PatternDefinition IK1 { get; } = new("IK1", false, true,
    [
        [NoiseToken.E, NoiseToken.S],
        [NoiseToken.E, NoiseToken.EE, NoiseToken.SE, NoiseToken.ES],
    ]);

    public static PatternDefinition For(NoisePattern pattern) => pattern switch
    {
        NoisePattern.XX => XX,
        NoisePattern.IK => IK,
        _ => throw new ArgumentOutOfRangeException(nameof(pattern), pattern, "Unknown Noise pattern."),
    };
}
