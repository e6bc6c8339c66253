using System.Security.Cryptography;

namespace ChatWire.Protocol.Noise;

/// <summary>
/// A Curve25519 key pair as raw bytes in managed memory: a server's static key (one per process, shared by every
/// handshake) or a client's. <see cref="Dispose"/> zeroes the private key.
/// </summary>
public sealed class NoiseKeyPair : IDisposable
{
    /// <summary>Size of a private or public key in bytes.</summary>
    public const int KeySize = X25519.KeySize;

    private Key32 _privateKey;
    private Key32 _publicKey;
    private bool _disposed;

    private NoiseKeyPair()
    {
    }

    /// <summary>A new random key pair.</summary>
    public static NoiseKeyPair Generate()
    {
        var pair = new NoiseKeyPair();
        RandomNumberGenerator.Fill(pair._privateKey);
        X25519.PublicKey(pair._privateKey, pair._publicKey);
        return pair;
    }

    /// <summary>The key pair of a stored 32-byte private key (the public key is derived from it).</summary>
    public static NoiseKeyPair FromPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != KeySize)
        {
            throw new ArgumentException($"A Curve25519 private key is {KeySize} bytes.", nameof(privateKey));
        }

        var pair = new NoiseKeyPair();
        privateKey.CopyTo(pair._privateKey);
        X25519.PublicKey(pair._privateKey, pair._publicKey);
        return pair;
    }

    /// <summary>The 32-byte public key (what a server publishes and a client pins).</summary>
    public ReadOnlySpan<byte> PublicKey => _publicKey;

    /// <summary>The 32-byte private key, for storing it; throws once disposed.</summary>
    public ReadOnlySpan<byte> PrivateKey
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _privateKey;
        }
    }

    /// <summary>Zeroes the private key.</summary>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_privateKey);
        _disposed = true;
    }
}
