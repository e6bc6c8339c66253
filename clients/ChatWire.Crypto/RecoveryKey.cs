using System.Security.Cryptography;

namespace ChatWire.Crypto;

/// <summary>
/// The recovery key: 32 random bytes the user writes down, shown as 52 base32 characters in 13 groups of 4. It seals
/// the account signing key and the history keys into the recovery backup the server stores.
/// </summary>
public sealed class RecoveryKey
{
    private const int Size = 32;
    private const int GroupSize = 4;

    private RecoveryKey(byte[] bytes)
    {
        Bytes = bytes;
    }

    /// <summary>The 32 key bytes. Secret.</summary>
    public byte[] Bytes { get; }

    /// <summary>A new random recovery key.</summary>
    public static RecoveryKey Generate() => new(Primitives.Random(Size));

    /// <summary>The key for 32 bytes.</summary>
    public static RecoveryKey FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw ChatWireCryptoException.Malformed("A recovery key is 32 bytes.");
        }

        return new RecoveryKey(bytes.ToArray());
    }

    /// <summary>Reads a key as the user typed it: case, spaces and dashes ignored; null if it is not a recovery key.</summary>
    public static RecoveryKey? TryParse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var compact = new string(text.Where(c => c is not (' ' or '-' or '\t' or '\r' or '\n')).ToArray());
        return Base32.TryDecode(compact, Size, out var bytes) ? new RecoveryKey(bytes) : null;
    }

    /// <summary>The key as shown to the user: "ABCD-EFGH-…", 13 groups of 4 characters.</summary>
    public string Format()
    {
        var text = Base32.Encode(Bytes);
        return string.Join('-', Enumerable.Range(0, (text.Length + GroupSize - 1) / GroupSize)
            .Select(group => text.Substring(group * GroupSize, Math.Min(GroupSize, text.Length - (group * GroupSize)))));
    }

    /// <summary>Never prints the key; use <see cref="Format"/> deliberately.</summary>
    public override string ToString() => "RecoveryKey(…)";
}

/// <summary>
/// The recovery backup: the account signing key and every history key generation, sealed under the recovery key.
/// backup = u8 version(1) || nonce(12) || AES-256-GCM(key, nonce, plaintext, AAD = "CW-recovery-v1" || user_id || u8 version),
/// key = HKDF(salt = empty, ikm = recovery key, info = "CW-recovery-v1" || user_id, 32),
/// plaintext = ASK private(32) || u16 count || count × (u32 generation || HK private(32)).
/// </summary>
public static class RecoveryBackup
{
    private const byte Version = 1;

    /// <summary>Seals the keys of <paramref name="userId"/> under <paramref name="recoveryKey"/>.</summary>
    public static byte[] Seal(RecoveryKey recoveryKey, Guid userId, AccountSigningKey accountKey, IReadOnlyCollection<HistoryKey> historyKeys)
    {
        ArgumentNullException.ThrowIfNull(recoveryKey);
        ArgumentNullException.ThrowIfNull(accountKey);
        ArgumentNullException.ThrowIfNull(historyKeys);
        var plaintext = KeyBundleCodec.Encode(accountKey, historyKeys);
        var key = DeriveKey(recoveryKey, userId);
        var nonce = Primitives.Random(Primitives.GcmNonceSize);
        try
        {
            var ciphertext = Primitives.Seal(key, nonce, AssociatedData(userId), plaintext);
            return [Version, .. nonce, .. ciphertext];
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>Opens a backup; a wrong recovery key or user is <see cref="CryptoError.DecryptionFailed"/>.</summary>
    public static (AccountSigningKey AccountKey, IReadOnlyList<HistoryKey> HistoryKeys) Open(RecoveryKey recoveryKey, Guid userId, ReadOnlySpan<byte> backup)
    {
        ArgumentNullException.ThrowIfNull(recoveryKey);
        if (backup.Length < 1 + Primitives.GcmNonceSize + Primitives.GcmTagSize || backup[0] != Version)
        {
            throw ChatWireCryptoException.Malformed("Not a recovery backup of a known version.");
        }

        var key = DeriveKey(recoveryKey, userId);
        byte[]? plaintext = null;
        try
        {
            plaintext = Primitives.Open(key, backup.Slice(1, Primitives.GcmNonceSize), AssociatedData(userId), backup[(1 + Primitives.GcmNonceSize)..])
                ?? throw new ChatWireCryptoException(CryptoError.DecryptionFailed, "The recovery backup does not open with this recovery key.");
            return KeyBundleCodec.Decode(plaintext);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            if (plaintext is not null)
            {
                CryptographicOperations.ZeroMemory(plaintext);
            }
        }
    }

    private static byte[] DeriveKey(RecoveryKey recoveryKey, Guid userId)
    {
        var key = new byte[32];
        Primitives.Hkdf([], recoveryKey.Bytes, new ByteWriter(32).Bytes(Labels.Recovery).Id(userId).WrittenSpan, key);
        return key;
    }

    private static byte[] AssociatedData(Guid userId) => new ByteWriter(32).Bytes(Labels.Recovery).Id(userId).U8(Version).ToArray();
}
