namespace ChatWire.Crypto;

/// <summary>Why a cryptographic operation refused its input. The CLI and SDK show this reason to the user.</summary>
public enum CryptoError
{
    /// <summary>The input is not in the expected binary format (wrong length, unknown version, truncated).</summary>
    Malformed = 1,

    /// <summary>An X25519 agreement produced the all-zero value (a low-order public key; RFC 7748 §6.1).</summary>
    AllZeroSharedSecret,

    /// <summary>A signature did not verify.</summary>
    BadSignature,

    /// <summary>AES-GCM authentication failed: the ciphertext, its associated data or the key is wrong.</summary>
    DecryptionFailed,

    /// <summary>No key is held for the sender chain the envelope names (its seed has not arrived or was dropped).</summary>
    NoKeyForChain,

    /// <summary>The envelope's (chain, iteration) or message id was already accepted once.</summary>
    Replay,

    /// <summary>The envelope's iteration is further ahead of the chain than the skipped-key window allows, or already behind it.</summary>
    OutOfWindow,

    /// <summary>The envelope belongs to another conversation than the one it was delivered in.</summary>
    WrongConversation,

    /// <summary>The envelope's sender does not match the sender the chain was distributed by.</summary>
    WrongSender,

    /// <summary>The nonce in the header is not the nonce derived from the chain key.</summary>
    NonceMismatch,

    /// <summary>A signed record (device list) has a lower version than one already seen.</summary>
    Rollback,

    /// <summary>An attachment's ciphertext does not match its declared hash or size, or its chunks are truncated or reordered.</summary>
    AttachmentMismatch,

    /// <summary>
    /// An envelope on an epoch-secret chain names a sender device whose signing key the caller does not know as verified
    /// (not on the sender's account-signed device list, or not fetched yet).
    /// </summary>
    UnknownSenderDevice,
}

/// <summary>A cryptographic check failed; <see cref="Error"/> says which.</summary>
public sealed class ChatWireCryptoException : Exception
{
    /// <summary>Creates the exception for one reason.</summary>
    public ChatWireCryptoException(CryptoError error, string message)
        : base(message)
    {
        Error = error;
    }

    /// <summary>Creates the exception without a reason (Malformed); for serializers.</summary>
    public ChatWireCryptoException()
        : this(CryptoError.Malformed, "Malformed input.")
    {
    }

    /// <summary>Creates the exception with a message (Malformed).</summary>
    public ChatWireCryptoException(string message)
        : this(CryptoError.Malformed, message)
    {
    }

    /// <summary>Creates the exception with a message and inner exception (Malformed).</summary>
    public ChatWireCryptoException(string message, Exception innerException)
        : base(message, innerException)
    {
        Error = CryptoError.Malformed;
    }

    /// <summary>Why the operation refused its input.</summary>
    public CryptoError Error { get; }

    internal static ChatWireCryptoException Malformed(string what) => new(CryptoError.Malformed, what);
}
