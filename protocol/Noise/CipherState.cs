using System.Buffers.Binary;
using System.Security.Cryptography;

namespace ChatWire.Protocol.Noise;

/// <summary>
/// The Noise CipherState (specification revision 34, §5.1) for AES-256-GCM: a 32-byte key and a 64-bit nonce held
/// as raw bytes in this object, so a connection's transport state is two small managed objects and no native state.
/// The cipher runs through libsodium's stateless <c>crypto_aead_aes256gcm_*</c> functions.
/// </summary>
/// <remarks>
/// Not thread-safe: one sender and one receiver per connection use their own instance. A failed decryption leaves
/// the nonce unchanged (§5.1), but the transport treats any failure as fatal for the connection.
/// </remarks>
public sealed unsafe class CipherState : IDisposable
{
    /// <summary>Size of the key in bytes.</summary>
    public const int KeySize = Key32.Size;

    /// <summary>Size of the AES-GCM authentication tag appended to every ciphertext.</summary>
    public const int TagSize = Libsodium.AesGcmTagBytes;

    /// <summary>The nonce the specification reserves for <see cref="Rekey"/>; never used for a message.</summary>
    public const ulong ReservedNonce = ulong.MaxValue;

    private Key32 _key;
    private bool _hasKey;
    private bool _disposed;

    internal CipherState()
    {
    }

    /// <summary>Whether a key is set; without one, messages pass through unencrypted (the start of a handshake).</summary>
    public bool HasKey => _hasKey;

    /// <summary>The nonce the next message will use (the count of messages processed so far).</summary>
    public ulong Nonce { get; private set; }

    internal void InitializeKey(ReadOnlySpan<byte> key)
    {
        Libsodium.EnsureInitialized();
        key[..KeySize].CopyTo(_key);
        _hasKey = true;
        Nonce = 0;
    }

    // Test hook: reaching nonce exhaustion by counting up to 2^64-1 is impossible, so tests start near it.
    internal void SetNonce(ulong nonce) => Nonce = nonce;

    // Test hook: lets a test observe that Rekey changed the key.
    internal ReadOnlySpan<byte> KeyForTest => _key;

    /// <summary>
    /// ENCRYPT(k, n++, ad, plaintext) into <paramref name="destination"/>, which needs
    /// <paramref name="plaintext"/>.Length + <see cref="TagSize"/> bytes (plaintext length only without a key).
    /// May be the same memory as the plaintext (in place) but must not otherwise overlap it.
    /// </summary>
    /// <returns>Bytes written.</returns>
    /// <exception cref="NoiseException"><see cref="NoiseError.NonceExhausted"/> when the nonce reached 2^64-1.</exception>
    public int EncryptWithAd(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        // A disposed state must fail, never fall back to the keyless pass-through and send plaintext.
        ThrowIfDisposed();
        if (!_hasKey)
        {
            plaintext.CopyTo(destination);
            return plaintext.Length;
        }

        ThrowIfExhausted();
        var written = Encrypt(_key, Nonce, ad, plaintext, destination);
        Nonce++;
        return written;
    }

    /// <summary>
    /// DECRYPT(k, n++, ad, ciphertext) into <paramref name="destination"/>, which needs
    /// <paramref name="ciphertext"/>.Length - <see cref="TagSize"/> bytes. On failure the nonce is unchanged and
    /// <paramref name="destination"/> holds no plaintext.
    /// </summary>
    /// <returns>Bytes written.</returns>
    /// <exception cref="NoiseException">
    /// <see cref="NoiseError.DecryptionFailed"/> when authentication fails (tampering, replay, reordering, or a
    /// ciphertext shorter than the tag); <see cref="NoiseError.NonceExhausted"/> when the nonce reached 2^64-1.
    /// </exception>
    public int DecryptWithAd(ReadOnlySpan<byte> ad, ReadOnlySpan<byte> ciphertext, Span<byte> destination)
    {
        // A disposed state must fail, never fall back to the keyless pass-through and send plaintext.
        ThrowIfDisposed();
        if (!_hasKey)
        {
            ciphertext.CopyTo(destination);
            return ciphertext.Length;
        }

        ThrowIfExhausted();
        if (ciphertext.Length < TagSize)
        {
            throw new NoiseException(NoiseError.DecryptionFailed, "The ciphertext is shorter than its authentication tag.");
        }

        var plaintextLength = ciphertext.Length - TagSize;
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, plaintextLength, nameof(destination));
        Span<byte> nonce = stackalloc byte[Libsodium.AesGcmNonceBytes];
        EncodeNonce(Nonce, nonce);
        int result;
        ulong length;
        ReadOnlySpan<byte> key = _key;
        fixed (byte* m = destination)
        fixed (byte* c = ciphertext)
        fixed (byte* a = ad)
        fixed (byte* npub = nonce)
        fixed (byte* k = key)
        {
            result = Libsodium.crypto_aead_aes256gcm_decrypt(m, &length, null, c, (ulong)ciphertext.Length, a, (ulong)ad.Length, npub, k);
        }

        if (result != 0)
        {
            // libsodium already wipes the output on failure; this keeps that true whatever its version does.
            CryptographicOperations.ZeroMemory(destination[..plaintextLength]);
            throw new NoiseException(NoiseError.DecryptionFailed, "A Noise message failed authentication.");
        }

        Nonce++;
        return plaintextLength;
    }

    /// <summary>
    /// REKEY (§4.2, §11.3): the key becomes the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes). The
    /// nonce is not reset, so Rekey protects against key wear, not nonce exhaustion. Both peers must call it at the
    /// same point of their message streams.
    /// </summary>
    public void Rekey()
    {
        ThrowIfDisposed();
        if (!_hasKey)
        {
            throw new NoiseException(NoiseError.InvalidState, "Rekey needs a key.");
        }

        Span<byte> block = stackalloc byte[KeySize + TagSize];
        block.Clear();
        Encrypt(_key, ReservedNonce, default, block[..KeySize], block);
        block[..KeySize].CopyTo(_key);
        CryptographicOperations.ZeroMemory(block);
    }

    /// <summary>Zeroes the key; every later use throws <see cref="NoiseError.InvalidState"/>.</summary>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_key);
        _hasKey = false;
        _disposed = true;
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new NoiseException(NoiseError.InvalidState, "The cipher state was disposed.");
        }
    }

    private void ThrowIfExhausted()
    {
        if (Nonce == ReservedNonce)
        {
            throw new NoiseException(NoiseError.NonceExhausted, "The Noise nonce reached 2^64-1; the connection must close.");
        }
    }

    private static int Encrypt(ReadOnlySpan<byte> key, ulong n, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        var ciphertextLength = plaintext.Length + TagSize;
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, ciphertextLength, nameof(destination));
        Span<byte> nonce = stackalloc byte[Libsodium.AesGcmNonceBytes];
        EncodeNonce(n, nonce);
        ulong length;
        int result;
        fixed (byte* c = destination)
        fixed (byte* m = plaintext)
        fixed (byte* a = ad)
        fixed (byte* npub = nonce)
        fixed (byte* k = key)
        {
            result = Libsodium.crypto_aead_aes256gcm_encrypt(c, &length, m, (ulong)plaintext.Length, a, (ulong)ad.Length, null, npub, k);
        }

        if (result != 0)
        {
            throw new CryptographicException("crypto_aead_aes256gcm_encrypt failed.");
        }

        return ciphertextLength;
    }

    // AESGCM nonce (§12.3): 32 bits of zeros followed by the big-endian 64-bit counter.
    private static void EncodeNonce(ulong n, Span<byte> nonce)
    {
        BinaryPrimitives.WriteUInt32BigEndian(nonce, 0);
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], n);
    }
}
