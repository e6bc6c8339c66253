using System.Security.Cryptography;

namespace ChatWire.Protocol.Noise;

// The Noise DH functions for Curve25519 (spec §12.1): GENERATE_KEYPAIR, DH and the public key of a private key.
internal static unsafe class X25519
{
    public const int KeySize = 32;

    public static void PublicKey(ReadOnlySpan<byte> privateKey, Span<byte> publicKey)
    {
        Libsodium.EnsureInitialized();
        CheckLength(privateKey, nameof(privateKey));
        CheckLength(publicKey, nameof(publicKey));
        fixed (byte* q = publicKey)
        fixed (byte* n = privateKey)
        {
            if (Libsodium.crypto_scalarmult_base(q, n) != 0)
            {
                throw new CryptographicException("crypto_scalarmult_base failed.");
            }
        }
    }

    // DH(privateKey, publicKey): refuses an all-zero result (a low-order peer key), as Noise §12.1 allows and the
    // ChatWire transport requires, so a peer cannot force a known shared secret.
    public static void Agree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> publicKey, Span<byte> sharedSecret)
    {
        Libsodium.EnsureInitialized();
        CheckLength(privateKey, nameof(privateKey));
        CheckLength(publicKey, nameof(publicKey));
        CheckLength(sharedSecret, nameof(sharedSecret));
        int result;
        fixed (byte* q = sharedSecret)
        fixed (byte* n = privateKey)
        fixed (byte* p = publicKey)
        {
            // libsodium itself returns -1 for an all-zero output; the explicit check below does not rely on that.
            result = Libsodium.crypto_scalarmult(q, n, p);
        }

        if (result != 0 || IsAllZero(sharedSecret))
        {
            CryptographicOperations.ZeroMemory(sharedSecret);
            throw new NoiseException(NoiseError.InvalidPublicKey, "The peer's public key gives an all-zero shared secret.");
        }
    }

    private static bool IsAllZero(ReadOnlySpan<byte> value)
    {
        // Constant time: the comparison must not reveal how much of a secret is zero.
        var accumulator = 0;
        foreach (var b in value)
        {
            accumulator |= b;
        }

        return accumulator == 0;
    }

    private static void CheckLength(ReadOnlySpan<byte> value, string name)
    {
        if (value.Length != KeySize)
        {
            throw new ArgumentException($"An X25519 key is {KeySize} bytes.", name);
        }
    }
}
