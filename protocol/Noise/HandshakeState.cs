using System.Security.Cryptography;

namespace ChatWire.Protocol.Noise;

/// <summary>
/// One side of a Noise handshake (revision 34, §5.3) for <see cref="NoisePattern.XX"/> or
/// <see cref="NoisePattern.IK"/> with Curve25519, AES-256-GCM and SHA-256. Call <see cref="WriteMessage"/> and
/// <see cref="ReadMessage"/> in turn (the initiator writes first); once <see cref="IsCompleted"/>, <see cref="Split"/>
/// gives the transport cipher states. Messages are the bare Noise messages; framing them is the caller's concern.
/// </summary>
/// <remarks>
/// Any <see cref="NoiseException"/> leaves the handshake failed: every later call throws
/// <see cref="NoiseError.InvalidState"/>, and the connection is closed. <see cref="Dispose"/> zeroes the ephemeral key
/// and the chaining key; the local static key pair is borrowed (shared by many handshakes) and not disposed here.
/// </remarks>
public sealed partial class HandshakeState : IDisposable
{
    /// <summary>The largest Noise message (§3): handshake and transport messages alike.</summary>
    public const int MaxMessageLength = 65535;

    private const int DhLength = X25519.KeySize;

    private readonly PatternDefinition _pattern;
    private readonly SymmetricState _symmetric;
    private readonly NoiseKeyPair _localStatic;
    private readonly bool _initiator;
    private Key32 _ephemeralPrivate;
    private Key32 _ephemeralPublic;
    private Key32 _remoteEphemeral;
    private Key32 _remoteStatic;
    private Key32 _finalHash;
    private bool _hasEphemeral;
    private bool _hasRemoteEphemeral;
    private bool _hasRemoteStatic;
    private int _messageIndex;
    private bool _failed;
    private bool _split;

    private HandshakeState(PatternDefinition pattern, bool initiator, ReadOnlySpan<byte> prologue, NoiseKeyPair localStatic, ReadOnlySpan<byte> remoteStaticPublicKey)
    {
        ArgumentNullException.ThrowIfNull(localStatic);
        _ = localStatic.PrivateKey; // throws if disposed
        var needsRemoteStatic = initiator ? pattern.ResponderStaticPreMessage : pattern.InitiatorStaticPreMessage;
        if (needsRemoteStatic && remoteStaticPublicKey.Length != DhLength)
        {
            throw new ArgumentException($"{pattern.Name} needs the peer's {DhLength}-byte static public key.", nameof(remoteStaticPublicKey));
        }

        if (!needsRemoteStatic && !remoteStaticPublicKey.IsEmpty)
        {
            throw new ArgumentException($"{pattern.Name} learns the peer's static key during the handshake.", nameof(remoteStaticPublicKey));
        }

        _pattern = pattern;
        _initiator = initiator;
        _localStatic = localStatic;
        _symmetric = new SymmetricState(pattern.ProtocolNameBytes);
        _symmetric.MixHash(prologue);

        if (needsRemoteStatic)
        {
            remoteStaticPublicKey.CopyTo(_remoteStatic);
            _hasRemoteStatic = true;
        }

        // Pre-messages (§7.1): the initiator's first, then the responder's, hashed on both sides in the same order.
        if (pattern.InitiatorStaticPreMessage)
        {
            _symmetric.MixHash(initiator ? localStatic.PublicKey : _remoteStatic);
        }

        if (pattern.ResponderStaticPreMessage)
        {
            _symmetric.MixHash(initiator ? _remoteStatic : localStatic.PublicKey);
        }
    }

    /// <summary>
    /// Starts a handshake. <paramref name="remoteStaticPublicKey"/> is the server's public key for the
    /// <see cref="NoisePattern.IK"/> initiator and must be empty otherwise.
    /// </summary>
    /// <param name="pattern">XX (first contact) or IK (the client holds the server's key).</param>
    /// <param name="initiator">True on the client, which sends the first message.</param>
    /// <param name="prologue">Bytes both sides must agree on (bound into the handshake hash, never sent).</param>
    /// <param name="localStatic">This side's static key pair; borrowed, not disposed by the handshake.</param>
    /// <param name="remoteStaticPublicKey">The peer's static public key when the pattern requires it up front.</param>
    public static HandshakeState Create(NoisePattern pattern, bool initiator, ReadOnlySpan<byte> prologue, NoiseKeyPair localStatic, ReadOnlySpan<byte> remoteStaticPublicKey = default) =>
        new(PatternDefinition.For(pattern), initiator, prologue, localStatic, remoteStaticPublicKey);

    // Test vectors name patterns this engine runs but ChatWire does not offer (deferred variants).
    internal static HandshakeState Create(PatternDefinition pattern, bool initiator, ReadOnlySpan<byte> prologue, NoiseKeyPair localStatic, ReadOnlySpan<byte> remoteStaticPublicKey) =>
        new(pattern, initiator, prologue, localStatic, remoteStaticPublicKey);

    /// <summary>Whether this side sent (or will send) the first message.</summary>
    public bool IsInitiator => _initiator;

    /// <summary>Whether the next handshake operation is <see cref="WriteMessage"/> (otherwise <see cref="ReadMessage"/>).</summary>
    public bool IsMyTurnToWrite => !IsCompleted && (_messageIndex % 2 == 0) == _initiator;

    /// <summary>Whether every handshake message was processed; <see cref="Split"/> may now be called.</summary>
    public bool IsCompleted => _messageIndex == _pattern.Messages.Length;

    /// <summary>The peer's static public key, once known (up front for the IK initiator, from its message otherwise).</summary>
    public ReadOnlySpan<byte> RemoteStaticPublicKey
    {
        get
        {
            if (!_hasRemoteStatic)
            {
                throw new InvalidOperationException("The peer's static key is not known yet.");
            }

            return _remoteStatic;
        }
    }

    // Test hook: the vectors fix the ephemeral keys; production always generates a fresh one.
    internal void SetEphemeralForTest(ReadOnlySpan<byte> privateKey)
    {
        privateKey.CopyTo(_ephemeralPrivate);
        X25519.PublicKey(_ephemeralPrivate, _ephemeralPublic);
        _hasEphemeral = true;
    }

    /// <summary>
    /// The handshake hash h (§11.2) after completion: both sides hold the same 32 bytes, usable for channel binding.
    /// </summary>
    public ReadOnlySpan<byte> GetHandshakeHash()
    {
        if (!IsCompleted)
        {
            throw new InvalidOperationException("The handshake is not complete.");
        }

        return _finalHash;
    }

    /// <summary>
    /// The transport cipher states, in this side's terms: <c>Send</c> encrypts what this side writes, <c>Receive</c>
    /// decrypts what the peer writes. Callable once, after completion; the caller owns (and disposes) both.
    /// </summary>
    public (CipherState Send, CipherState Receive) Split()
    {
        if (!IsCompleted || _split || _failed)
        {
            throw new InvalidOperationException("Split is available once, after a completed handshake.");
        }

        _split = true;
        var (first, second) = _symmetric.Split();
        _symmetric.Dispose();
        return _initiator ? (first, second) : (second, first);
    }

    /// <summary>Zeroes the ephemeral private key, the chaining key and the handshake cipher key.</summary>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_ephemeralPrivate);
        _symmetric.Dispose();
        _failed = true;
    }
}
