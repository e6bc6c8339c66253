using System.Security.Cryptography;

namespace ChatWire.Crypto;

/// <summary>
/// The account signing key (ASK): one Ed25519 key per user. It signs history keys, device certificates and the signed
/// device list; its public half is what safety numbers cover.
/// </summary>
public sealed class AccountSigningKey
{
    private AccountSigningKey(byte[] privateKey, byte[] publicKey)
    {
        PrivateKey = privateKey;
        PublicKey = publicKey;
    }

    /// <summary>The Ed25519 private seed (32 bytes). Secret: persist only in the key store or the recovery backup.</summary>
    public byte[] PrivateKey { get; }

    /// <summary>The Ed25519 public key (32 bytes) registered with PUT /v1/keys/account.</summary>
    public byte[] PublicKey { get; }

    /// <summary>A new random account signing key.</summary>
    public static AccountSigningKey Generate()
    {
        var pair = Primitives.GenerateEd25519();
        return new AccountSigningKey(pair.PrivateKey, pair.PublicKey);
    }

    /// <summary>The key for a private seed held earlier (key store, device link, recovery backup).</summary>
    public static AccountSigningKey FromPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != Primitives.KeySize)
        {
            throw ChatWireCryptoException.Malformed("An account signing key is 32 bytes.");
        }

        return new AccountSigningKey(privateKey.ToArray(), Primitives.Ed25519PublicKey(privateKey));
    }

    /// <summary>Signs history key generation <paramref name="historyKey"/> of <paramref name="userId"/>.</summary>
    public SignedHistoryKey SignHistoryKey(Guid userId, HistoryKey historyKey)
    {
        ArgumentNullException.ThrowIfNull(historyKey);
        var signature = Primitives.Sign(PrivateKey, SignedHistoryKey.Body(userId, historyKey.Generation, historyKey.PublicKey));
        return new SignedHistoryKey(historyKey.Generation, historyKey.PublicKey, signature);
    }

    internal byte[] Sign(ReadOnlySpan<byte> body) => Primitives.Sign(PrivateKey, body);
}

/// <summary>
/// A history key (HK): one X25519 key pair per user and generation (from 1). Sender-chain seeds of history-mode
/// conversations are sealed to it, so every device of the user that holds it can read the history.
/// </summary>
public sealed class HistoryKey
{
    private HistoryKey(uint generation, byte[] privateKey, byte[] publicKey)
    {
        Generation = generation;
        PrivateKey = privateKey;
        PublicKey = publicKey;
    }

    /// <summary>The generation (1 for the first key; a device revocation makes the next).</summary>
    public uint Generation { get; }

    /// <summary>The X25519 private key (32 bytes). Secret.</summary>
    public byte[] PrivateKey { get; }

    /// <summary>The X25519 public key (32 bytes).</summary>
    public byte[] PublicKey { get; }

    /// <summary>A new random history key of <paramref name="generation"/>.</summary>
    public static HistoryKey Generate(uint generation)
    {
        if (generation == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(generation), "History key generations start at 1.");
        }

        var pair = Primitives.GenerateX25519();
        return new HistoryKey(generation, pair.PrivateKey, pair.PublicKey);
    }

    /// <summary>The key for a private key held earlier.</summary>
    public static HistoryKey FromPrivateKey(uint generation, ReadOnlySpan<byte> privateKey)
    {
        if (generation == 0 || privateKey.Length != Primitives.KeySize)
        {
            throw ChatWireCryptoException.Malformed("A history key is generation 1 or above and 32 bytes.");
        }

        return new HistoryKey(generation, privateKey.ToArray(), Primitives.X25519PublicKey(privateKey));
    }
}

/// <summary>The public, ASK-signed form of a history key, as PUT /v1/keys/history-key carries it.</summary>
/// <param name="Generation">The generation.</param>
/// <param name="PublicKey">The X25519 public key (32 bytes).</param>
/// <param name="Signature">Sign_ASK("CW-hk-v1" || user_id || u32 generation || HK_pub).</param>
public sealed record SignedHistoryKey(uint Generation, byte[] PublicKey, byte[] Signature)
{
    /// <summary>Whether the signature is the account key's over this generation of <paramref name="userId"/>'s history key.</summary>
    public bool Verify(Guid userId, ReadOnlySpan<byte> accountSigningPublicKey) =>
        PublicKey.Length == Primitives.KeySize
        && Primitives.Verify(accountSigningPublicKey, Body(userId, Generation, PublicKey), Signature);

    internal static byte[] Body(Guid userId, uint generation, ReadOnlySpan<byte> publicKey) =>
        new ByteWriter(64).Bytes(Labels.HistoryKey).Id(userId).U32(generation).Bytes(publicKey).ToArray();
}

/// <summary>A device's own long-term keys: the Ed25519 device signing key (DSK) and the X25519 device DH key (DDK).</summary>
public sealed class DeviceKeys
{
    private DeviceKeys(KeyPair signing, KeyPair dh)
    {
        Signing = signing;
        Dh = dh;
    }

    /// <summary>The device signing key (Ed25519).</summary>
    public KeyPair Signing { get; }

    /// <summary>The device DH key (X25519).</summary>
    public KeyPair Dh { get; }

    /// <summary>New random device keys.</summary>
    public static DeviceKeys Generate() => new(Primitives.GenerateEd25519(), Primitives.GenerateX25519());

    /// <summary>The keys for private keys held earlier.</summary>
    public static DeviceKeys FromPrivateKeys(ReadOnlySpan<byte> signingPrivateKey, ReadOnlySpan<byte> dhPrivateKey)
    {
        if (signingPrivateKey.Length != Primitives.KeySize || dhPrivateKey.Length != Primitives.KeySize)
        {
            throw ChatWireCryptoException.Malformed("Device private keys are 32 bytes each.");
        }

        return new DeviceKeys(
            new KeyPair(signingPrivateKey.ToArray(), Primitives.Ed25519PublicKey(signingPrivateKey)),
            new KeyPair(dhPrivateKey.ToArray(), Primitives.X25519PublicKey(dhPrivateKey)));
    }

    internal byte[] Sign(ReadOnlySpan<byte> body) => Primitives.Sign(Signing.PrivateKey, body);

    internal static bool KeyEquals(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => CryptographicOperations.FixedTimeEquals(a, b);
}
