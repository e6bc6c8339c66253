using System.Buffers;
using System.Security.Cryptography;

namespace ChatWire.Protocol.Noise;

// The Noise SymmetricState (revision 34, §5.2) with SHA-256: chaining key ck, handshake hash h and a CipherState.
// Lives only while a handshake runs; Split hands the two transport CipherStates on and the rest is zeroed.
internal sealed class SymmetricState : IDisposable
{
    public const int HashLength = 32;

    private Key32 _chainingKey;
    private Key32 _hash;

    public SymmetricState(ReadOnlySpan<byte> protocolName)
    {
        // InitializeSymmetric: a name of at most HASHLEN bytes is zero-padded, a longer one hashed.
        if (protocolName.Length <= HashLength)
        {
            protocolName.CopyTo(_hash);
        }
        else
        {
            SHA256.HashData(protocolName, _hash);
        }

        ((ReadOnlySpan<byte>)_hash).CopyTo(_chainingKey);
    }

    public CipherState Cipher { get; } = new();

    public ReadOnlySpan<byte> HandshakeHash => _hash;

    public void MixKey(ReadOnlySpan<byte> inputKeyMaterial)
    {
        Span<byte> tempKey = stackalloc byte[HashLength];
        Hkdf(_chainingKey, inputKeyMaterial, _chainingKey, tempKey, default);
        Cipher.InitializeKey(tempKey);
        CryptographicOperations.ZeroMemory(tempKey);
    }

    public void MixHash(ReadOnlySpan<byte> data)
    {
        // h = HASH(h || data). The one-shot hash over a joined buffer keeps native hash contexts out of the handshake;
        // data is at most one handshake message (65,535 bytes), pooled when it does not fit on the stack.
        var length = HashLength + data.Length;
        byte[]? rented = null;
        var joined = length <= 1024 ? stackalloc byte[length] : (rented = ArrayPool<byte>.Shared.Rent(length)).AsSpan(0, length);
        ((ReadOnlySpan<byte>)_hash).CopyTo(joined);
        data.CopyTo(joined[HashLength..]);
        SHA256.HashData(joined, _hash);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // MixKeyAndHash (§5.2) is used only by PSK patterns, which ChatWire does not offer; kept for completeness of the
    // SymmetricState and covered by a test.
    public void MixKeyAndHash(ReadOnlySpan<byte> inputKeyMaterial)
    {
        Span<byte> tempHash = stackalloc byte[HashLength];
        Span<byte> tempKey = stackalloc byte[HashLength];
        Hkdf(_chainingKey, inputKeyMaterial, _chainingKey, tempHash, tempKey);
        MixHash(tempHash);
        Cipher.InitializeKey(tempKey);
        CryptographicOperations.ZeroMemory(tempKey);
    }

    // Writes EncryptWithAd(h, plaintext) to destination and mixes the ciphertext into h.
    public int EncryptAndHash(ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        var written = Cipher.EncryptWithAd(_hash, plaintext, destination);
        MixHash(destination[..written]);
        return written;
    }

    public int DecryptAndHash(ReadOnlySpan<byte> ciphertext, Span<byte> destination)
    {
        // h is mixed with the ciphertext after decryption, and the ciphertext may live in the caller's buffer that
        // destination overwrites; decryption never runs in place here, so the ciphertext is intact for MixHash.
        var written = Cipher.DecryptWithAd(_hash, ciphertext, destination);
        MixHash(ciphertext);
        return written;
    }

    public (CipherState First, CipherState Second) Split()
    {
        Span<byte> first = stackalloc byte[HashLength];
        Span<byte> second = stackalloc byte[HashLength];
        Hkdf(_chainingKey, default, first, second, default);
        var c1 = new CipherState();
        var c2 = new CipherState();
        c1.InitializeKey(first);
        c2.InitializeKey(second);
        CryptographicOperations.ZeroMemory(first);
        CryptographicOperations.ZeroMemory(second);
        return (c1, c2);
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_chainingKey);
        Cipher.Dispose();
    }

    // HKDF (§4.3) with HMAC-SHA256: two or three outputs of HASHLEN bytes. output3 empty = two outputs. Outputs may
    // alias chainingKey (MixKey overwrites ck with output1), so the temporary key is derived before anything is written.
    internal static void Hkdf(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> inputKeyMaterial, Span<byte> output1, Span<byte> output2, Span<byte> output3)
    {
        Span<byte> tempKey = stackalloc byte[HashLength];
        Span<byte> block = stackalloc byte[HashLength + 1];
        HMACSHA256.HashData(chainingKey, inputKeyMaterial, tempKey);

        block[0] = 0x01;
        HMACSHA256.HashData(tempKey, block[..1], output1);

        output1.CopyTo(block);
        block[HashLength] = 0x02;
        HMACSHA256.HashData(tempKey, block, output2);

        if (!output3.IsEmpty)
        {
            output2.CopyTo(block);
            block[HashLength] = 0x03;
            HMACSHA256.HashData(tempKey, block, output3);
        }

        CryptographicOperations.ZeroMemory(tempKey);
        CryptographicOperations.ZeroMemory(block);
    }
}
