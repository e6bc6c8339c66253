namespace ChatWire.Crypto;

/// <summary>The outcome of decrypting an envelope: the plaintext and header, or why it cannot be decrypted.</summary>
public sealed class DecryptResult
{
    private DecryptResult(EnvelopeHeader? header, byte[]? plaintext, CryptoError? error, string? reason)
    {
        Header = header;
        Plaintext = plaintext;
        Error = error;
        Reason = reason;
    }

    /// <summary>Whether the envelope decrypted and every check passed.</summary>
    public bool Succeeded => Error is null;

    /// <summary>The header, when the envelope could be parsed (also on most failures, to say which message failed).</summary>
    public EnvelopeHeader? Header { get; }

    /// <summary>The unpadded plaintext on success.</summary>
    public byte[]? Plaintext { get; }

    /// <summary>Why the envelope cannot be decrypted, or null on success.</summary>
    public CryptoError? Error { get; }

    /// <summary>A sentence for people saying why, or null on success.</summary>
    public string? Reason { get; }

    internal static DecryptResult Success(EnvelopeHeader header, byte[] plaintext) => new(header, plaintext, null, null);

    internal static DecryptResult Failure(EnvelopeHeader? header, CryptoError error, string reason) => new(header, null, error, reason);
}
