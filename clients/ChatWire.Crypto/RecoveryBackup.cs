using System.Security.Cryptography;

namespace ChatWire.Crypto;

/// <summary>
/// The recovery backup: the account signing key and every history key generation, sealed to a key pair derived from
/// the recovery key. The public half sits in the backup's header, signed by the account key, so every device of the
/// user can seal a fresh backup after a revocation or a new history key without ever holding the recovery key; only
/// the recovery key opens one.
/// <code>
/// backup       = header || ephemeral_public(32) || AES-256-GCM(key, nonce, plaintext, AAD = "CW-recovery-v2" || user_id || header)
/// header       = u8 version(2) || backup_public(32) || Sign_ASK("CW-recovery-pk-v1" || user_id || backup_public)(64)
/// backup_private = HKDF(salt = empty, ikm = recovery key, info = "CW-recovery-v2" || user_id, 32), an X25519 scalar
/// key || nonce = HKDF(salt = empty, ikm = X25519(ephemeral_private, backup_public), info = "CW-recovery-v2" || user_id || ephemeral_public || backup_public, 44)
/// plaintext    = ASK private(32) || u16 count || count × (u32 generation || HK private(32))
/// </code>
/// </summary>
public static class RecoveryBackup
{
    private const byte Version = 2;
    private const int HeaderSize = 1 + 32 + 64;
    private const int MinimumSize = HeaderSize + 32 + Primitives.GcmTagSize;

    /// <summary>Seals the keys of <paramref name="userId"/> to the backup key pair of <paramref name="recoveryKey"/>.</summary>
    public static byte[] Seal(RecoveryKey recoveryKey, Guid userId, AccountSigningKey accountKey, IReadOnlyCollection<HistoryKey> historyKeys) =>
        SealWith(recoveryKey, userId, accountKey, historyKeys, Primitives.GenerateX25519());

    // With a given ephemeral key (whose private half is wiped): the test vectors' backups, byte for byte.
    internal static byte[] SealWith(RecoveryKey recoveryKey, Guid userId, AccountSigningKey accountKey, IReadOnlyCollection<HistoryKey> historyKeys, KeyPair ephemeral)
    {
        ArgumentNullException.ThrowIfNull(recoveryKey);
        ArgumentNullException.ThrowIfNull(accountKey);
        var backupPrivate = DerivePrivateKey(recoveryKey, userId);
        try
        {
            var backupPublic = Primitives.X25519PublicKey(backupPrivate);
            var header = new ByteWriter(HeaderSize).U8(Version).Bytes(backupPublic).Bytes(accountKey.Sign(PublicKeyBody(userId, backupPublic))).ToArray();
            return SealBody(header, userId, accountKey, historyKeys, ephemeral);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(backupPrivate);
        }
    }

    /// <summary>
    /// Seals the keys anew to the backup key of <paramref name="previous"/>, without the recovery key: for a device that
    /// made a new history key generation. The previous header must be signed by <paramref name="accountKey"/>
    /// (<see cref="CryptoError.BadSignature"/> otherwise: a server cannot slip in a key pair of its own).
    /// </summary>
    public static byte[] Reseal(ReadOnlySpan<byte> previous, Guid userId, AccountSigningKey accountKey, IReadOnlyCollection<HistoryKey> historyKeys)
    {
        ArgumentNullException.ThrowIfNull(accountKey);
        var header = Header(previous);
        if (!Primitives.Verify(accountKey.PublicKey, PublicKeyBody(userId, header.Slice(1, 32)), header.Slice(33, 64)))
        {
            throw new ChatWireCryptoException(CryptoError.BadSignature, "The recovery backup's key is not signed by my account key.");
        }

        return SealBody(header.ToArray(), userId, accountKey, historyKeys, Primitives.GenerateX25519());
    }

    /// <summary>
    /// Opens a backup: a recovery key whose key pair is not the backup's is <see cref="CryptoError.DecryptionFailed"/>, as
    /// is a tampered body; a header whose signature is not by the account key inside is <see cref="CryptoError.BadSignature"/>.
    /// </summary>
    public static (AccountSigningKey AccountKey, IReadOnlyList<HistoryKey> HistoryKeys) Open(RecoveryKey recoveryKey, Guid userId, ReadOnlySpan<byte> backup)
    {
        ArgumentNullException.ThrowIfNull(recoveryKey);
        var header = Header(backup);
        var backupPrivate = DerivePrivateKey(recoveryKey, userId);
        byte[]? plaintext = null;
        try
        {
            var backupPublic = header.Slice(1, 32);
            if (!CryptographicOperations.FixedTimeEquals(Primitives.X25519PublicKey(backupPrivate), backupPublic))
            {
                throw new ChatWireCryptoException(CryptoError.DecryptionFailed, "The recovery backup does not open with this recovery key.");
            }

            var ephemeralPublic = backup.Slice(HeaderSize, 32);
            var (key, nonce) = DeriveBodyKey(backupPrivate, ephemeralPublic, ephemeralPublic, backupPublic, userId);
            plaintext = Primitives.Open(key, nonce, AssociatedData(userId, header), backup[(HeaderSize + 32)..])
                ?? throw new ChatWireCryptoException(CryptoError.DecryptionFailed, "The recovery backup does not open with this recovery key.");
            CryptographicOperations.ZeroMemory(key);
            var (accountKey, historyKeys) = KeyBundleCodec.Decode(plaintext);
            if (!Primitives.Verify(accountKey.PublicKey, PublicKeyBody(userId, backupPublic), header.Slice(33, 64)))
            {
                throw new ChatWireCryptoException(CryptoError.BadSignature, "The recovery backup's key is not signed by the account key it holds.");
            }

            return (accountKey, historyKeys);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(backupPrivate);
            if (plaintext is not null)
            {
                CryptographicOperations.ZeroMemory(plaintext);
            }
        }
    }

    private static byte[] SealBody(byte[] header, Guid userId, AccountSigningKey accountKey, IReadOnlyCollection<HistoryKey> historyKeys, KeyPair ephemeral)
    {
        ArgumentNullException.ThrowIfNull(historyKeys);
        var plaintext = KeyBundleCodec.Encode(accountKey, historyKeys);
        var (key, nonce) = DeriveBodyKey(ephemeral.PrivateKey, header.AsSpan(1, 32), ephemeral.PublicKey, header.AsSpan(1, 32), userId);
        try
        {
            var ciphertext = Primitives.Seal(key, nonce, AssociatedData(userId, header), plaintext);
            return [.. header, .. ephemeral.PublicKey, .. ciphertext];
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(ephemeral.PrivateKey);
        }
    }

    private static ReadOnlySpan<byte> Header(ReadOnlySpan<byte> backup) =>
        backup.Length >= MinimumSize && backup[0] == Version
            ? backup[..HeaderSize]
            : throw ChatWireCryptoException.Malformed("Not a recovery backup of a known version.");

    private static byte[] DerivePrivateKey(RecoveryKey recoveryKey, Guid userId)
    {
        var key = new byte[32];
        Primitives.Hkdf([], recoveryKey.Bytes, new ByteWriter(32).Bytes(Labels.Recovery).Id(userId).WrittenSpan, key);
        return key;
    }

    // One ephemeral key per backup, so the key and nonce are used once. Sealing: the ephemeral private key and the
    // backup public key; opening: the backup private key and the ephemeral public key.
    private static (byte[] Key, byte[] Nonce) DeriveBodyKey(
        ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> peerPublic, ReadOnlySpan<byte> ephemeralPublic, ReadOnlySpan<byte> backupPublic, Guid userId)
    {
        Span<byte> shared = stackalloc byte[32];
        Span<byte> output = stackalloc byte[32 + Primitives.GcmNonceSize];
        try
        {
            Primitives.Agree(privateKey, peerPublic, shared);
            Primitives.Hkdf([], shared, new ByteWriter(96).Bytes(Labels.Recovery).Id(userId).Bytes(ephemeralPublic).Bytes(backupPublic).WrittenSpan, output);
            return (output[..32].ToArray(), output[32..].ToArray());
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
            CryptographicOperations.ZeroMemory(output);
        }
    }

    private static byte[] PublicKeyBody(Guid userId, ReadOnlySpan<byte> backupPublic) =>
        new ByteWriter(64).Bytes(Labels.RecoveryPublicKey).Id(userId).Bytes(backupPublic).ToArray();

    private static byte[] AssociatedData(Guid userId, ReadOnlySpan<byte> header) =>
        new ByteWriter(128).Bytes(Labels.Recovery).Id(userId).Bytes(header).ToArray();
}
