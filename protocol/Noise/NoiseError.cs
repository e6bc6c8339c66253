namespace ChatWire.Protocol.Noise;

/// <summary>
/// Why a Noise handshake or transport operation failed. Every value except <see cref="NonceExhausted"/> on the sending
/// side means the peer sent something invalid; in all cases the connection's Noise state can no longer be trusted and
/// the connection is closed without a reply (nothing can be sent encrypted once the cipher state is in doubt).
/// </summary>
public enum NoiseError
{
    /// <summary>AES-256-GCM authentication failed: a tampered, replayed, reordered or misdirected message.</summary>
    DecryptionFailed = 1,

    /// <summary>
    /// The 64-bit nonce reached 2^64-1, the value the Noise specification reserves for Rekey; no further message can
    /// be encrypted or decrypted with this cipher state (Rekey does not reset the nonce).
    /// </summary>
    NonceExhausted = 2,

    /// <summary>A Diffie-Hellman result was all zeros: the peer sent a low-order (invalid) public key.</summary>
    InvalidPublicKey = 3,

    /// <summary>A handshake message is shorter than its pattern requires or longer than 65,535 bytes.</summary>
    MalformedHandshakeMessage = 4,

    /// <summary>A record's length prefix is below the 16-byte tag or above the connection's maximum record size.</summary>
    InvalidRecordLength = 5,

    /// <summary>The stream ended inside a record (length prefix or ciphertext incomplete).</summary>
    TruncatedRecord = 6,

    /// <summary>The state was used after an earlier failure, or a handshake message arrived out of turn.</summary>
    InvalidState = 7,

    /// <summary>
    /// The peer closed the connection before the handshake completed. From a server after an IK first message this
    /// usually means it does not hold the static key the client assumed (rotated out): try XX and compare keys.
    /// </summary>
    HandshakeRejected = 8,
}
