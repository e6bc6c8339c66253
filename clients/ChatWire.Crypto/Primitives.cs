using System.Security.Cryptography;
using NSec.Cryptography;

namespace ChatWire.Crypto;

/// <summary>
/// The four primitives of docs/e2e.md "Primitives and labels", over raw key bytes. NSec key objects hold locked native
/// memory and are costly to make, so each call imports what it needs and disposes it before returning; long-lived
/// state stays raw bytes that the caller persists.
/// </summary>
internal static class Primitives
{
    public const int KeySize = 32;
    public const int SignatureSize = 64;
    public const int GcmNonceSize = 12;
    public const int GcmTagSize = 16;

    /// <summary>HKDF-SHA256 extract (RFC 5869 §2.2).</summary>
    public static byte[] HkdfExtract(ReadOnlySpan<byte> salt, ReadOnlySpan<byte> inputKeyingMaterial) =>
        KeyDerivationAlgorithm.HkdfSha256.Extract(inputKeyingMaterial, salt);

    /// <summary>HKDF-SHA256 expand (RFC 5869 §2.3) into <paramref name="output"/>.</summary>
    public static void HkdfExpand(ReadOnlySpan<byte> pseudorandomKey, ReadOnlySpan<byte> info, Span<byte> output) =>
        KeyDerivationAlgorithm.HkdfSha256.Expand(pseudorandomKey, info, output);

    /// <summary>HKDF-SHA256 extract then expand.</summary>
    public static void Hkdf(ReadOnlySpan<byte> salt, ReadOnlySpan<byte> inputKeyingMaterial, ReadOnlySpan<byte> info, Span<byte> output)
    {
        Span<byte> prk = stackalloc byte[KeySize];
        try
        {
            KeyDerivationAlgorithm.HkdfSha256.Extract(inputKeyingMaterial, salt, prk);
            KeyDerivationAlgorithm.HkdfSha256.Expand(prk, info, output);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(prk);
        }
    }

    /// <summary>A fresh X25519 key pair as (private scalar, public key), 32 bytes each.</summary>
    public static KeyPair GenerateX25519() => Generate(KeyAgreementAlgorithm.X25519);

    /// <summary>A fresh Ed25519 key pair as (private seed, public key), 32 bytes each.</summary>
    public static KeyPair GenerateEd25519() => Generate(SignatureAlgorithm.Ed25519);

    /// <summary>The X25519 public key of a private scalar.</summary>
    public static byte[] X25519PublicKey(ReadOnlySpan<byte> privateKey)
    {
        using var key = Key.Import(KeyAgreementAlgorithm.X25519, privateKey, KeyBlobFormat.RawPrivateKey);
        return key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    /// <summary>The Ed25519 public key of a private seed.</summary>
    public static byte[] Ed25519PublicKey(ReadOnlySpan<byte> privateKey)
    {
        using var key = Key.Import(SignatureAlgorithm.Ed25519, privateKey, KeyBlobFormat.RawPrivateKey);
        return key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    /// <summary>
    /// X25519(privateKey, publicKey) into <paramref name="shared"/> (32 bytes). An all-zero result (the peer sent a
    /// low-order point) throws <see cref="CryptoError.AllZeroSharedSecret"/>: libsodium already refuses it, and the
    /// explicit check keeps the refusal if the library ever changes.
    /// </summary>
    public static void Agree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> publicKey, Span<byte> shared)
    {
        if (shared.Length != KeySize)
        {
            throw new ArgumentException("The shared secret is 32 bytes.", nameof(shared));
        }

        var peer = ImportPublic(KeyAgreementAlgorithm.X25519, publicKey);
        using var key = Key.Import(KeyAgreementAlgorithm.X25519, privateKey, KeyBlobFormat.RawPrivateKey);
        using var secret = KeyAgreementAlgorithm.X25519.Agree(
            key, peer, new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport })
            ?? throw new ChatWireCryptoException(CryptoError.AllZeroSharedSecret, "The X25519 agreement produced the all-zero value.");
        var raw = secret.Export(SharedSecretBlobFormat.RawSharedSecret);
        try
        {
            if (IsAllZero(raw))
            {
                throw new ChatWireCryptoException(CryptoError.AllZeroSharedSecret, "The X25519 agreement produced the all-zero value.");
            }

            raw.CopyTo(shared);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
        }
    }

    /// <summary>Ed25519 signature (64 bytes) of <paramref name="message"/> by the private seed.</summary>
    public static byte[] Sign(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> message)
    {
        using var key = Key.Import(SignatureAlgorithm.Ed25519, privateKey, KeyBlobFormat.RawPrivateKey);
        return SignatureAlgorithm.Ed25519.Sign(key, message);
    }

    /// <summary>Whether <paramref name="signature"/> is a valid Ed25519 signature of the message; a malformed key is false.</summary>
    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != SignatureSize
            || !PublicKey.TryImport(SignatureAlgorithm.Ed25519, publicKey, KeyBlobFormat.RawPublicKey, out var key)
            || key is null)
        {
            return false;
        }

        return SignatureAlgorithm.Ed25519.Verify(key, message, signature);
    }

    /// <summary>AES-256-GCM encryption: ciphertext followed by the 16-byte tag.</summary>
    public static byte[] Seal(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext)
    {
        using var aeadKey = Key.Import(AeadAlgorithm.Aes256Gcm, key, KeyBlobFormat.RawSymmetricKey);
        return AeadAlgorithm.Aes256Gcm.Encrypt(aeadKey, nonce, associatedData, plaintext);
    }

    /// <summary>AES-256-GCM decryption; null when the tag does not verify.</summary>
    public static byte[]? Open(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext)
    {
        if (ciphertext.Length < GcmTagSize)
        {
            return null;
        }

        using var aeadKey = Key.Import(AeadAlgorithm.Aes256Gcm, key, KeyBlobFormat.RawSymmetricKey);
        return AeadAlgorithm.Aes256Gcm.Decrypt(aeadKey, nonce, associatedData, ciphertext);
    }

    /// <summary>Whether every byte is zero, in time independent of the position of a non-zero byte.</summary>
    public static bool IsAllZero(ReadOnlySpan<byte> bytes)
    {
        var accumulator = 0;
        foreach (var b in bytes)
        {
            accumulator |= b;
        }

        return accumulator == 0;
    }

    /// <summary>Fills a new array with cryptographically strong random bytes.</summary>
    public static byte[] Random(int count) => RandomNumberGenerator.GetBytes(count);

    private static PublicKey ImportPublic(Algorithm algorithm, ReadOnlySpan<byte> publicKey)
    {
        if (!PublicKey.TryImport(algorithm, publicKey, KeyBlobFormat.RawPublicKey, out var key) || key is null)
        {
            throw ChatWireCryptoException.Malformed("The public key is not 32 bytes of a valid key.");
        }

        return key;
    }

    private static KeyPair Generate(Algorithm algorithm)
    {
        using var key = Key.Create(algorithm, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return new KeyPair(key.Export(KeyBlobFormat.RawPrivateKey), key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }
}

/// <summary>A key pair as raw bytes: the private key (X25519 scalar or Ed25519 seed) and the public key, 32 bytes each.</summary>
/// <param name="PrivateKey">The private key; keep it secret and zero it when dropped.</param>
/// <param name="PublicKey">The public key.</param>
public sealed record KeyPair(byte[] PrivateKey, byte[] PublicKey);
