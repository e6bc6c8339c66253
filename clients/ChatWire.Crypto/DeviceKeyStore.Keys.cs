using System.Security.Cryptography;

namespace ChatWire.Crypto;

public sealed partial class DeviceKeyStore
{
    /// <summary>
    /// Makes a new signed prekey for upload. The previous ones stay for a while (the newest three are kept) so that a
    /// message sealed to one just before the rotation can still be opened.
    /// </summary>
    public SignedPrekey RotateSignedPrekey()
    {
        SignedPrekey? created = null;
        var keys = DeviceKeys;
        Update(identity =>
        {
            var id = identity.NextPrekeyId++;
            created = SignedPrekey.Generate(keys, identity.DeviceId, id, out var privateKey);
            identity.SignedPrekeys.Add(new SignedPrekeyState(id, privateKey, created.PublicKey, created.Signature, _time.GetUtcNow().ToUnixTimeMilliseconds()));
            while (identity.SignedPrekeys.Count > KeptSignedPrekeys)
            {
                CryptographicOperations.ZeroMemory(identity.SignedPrekeys[0].PrivateKey);
                identity.SignedPrekeys.RemoveAt(0);
            }
        });
        return created!;
    }

    /// <summary>The newest signed prekey, or null before the first <see cref="RotateSignedPrekey"/>.</summary>
    public SignedPrekey? CurrentSignedPrekey =>
        Identity().SignedPrekeys.LastOrDefault() is { } newest ? new SignedPrekey(newest.PrekeyId, newest.PublicKey, newest.Signature) : null;

    /// <summary>Makes <paramref name="count"/> one-time prekeys for upload (batches of <see cref="OneTimePrekey.BatchSize"/>).</summary>
    public IReadOnlyList<OneTimePrekey> GenerateOneTimePrekeys(int count = OneTimePrekey.BatchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var created = new List<OneTimePrekey>(count);
        Update(identity =>
        {
            for (var i = 0; i < count; i++)
            {
                var pair = Primitives.GenerateX25519();
                var id = identity.NextPrekeyId++;
                identity.OneTimePrekeys.Add(new OneTimePrekeyState(id, pair.PrivateKey));
                created.Add(new OneTimePrekey(id, pair.PublicKey));
            }
        });
        return created;
    }

    /// <summary>
    /// Seals this device's account key and history keys to a new device of the same user (the device-link payload),
    /// after checking its signed prekey. The new device's certificate must already be verified by the caller.
    /// </summary>
    public byte[] SealLinkPayload(PrekeyBundle newDevice)
    {
        ArgumentNullException.ThrowIfNull(newDevice);
        if (newDevice.UserId != UserId)
        {
            throw new ArgumentException("A link payload goes only to a device of the same user.", nameof(newDevice));
        }

        var accountKey = AccountKey ?? throw new InvalidOperationException("Only a device holding the account key can link another.");
        var plaintext = KeyBundleCodec.Encode(accountKey, HistoryKeys);
        try
        {
            return X3dh.Seal(UserId, DeviceId, DeviceKeys, newDevice, plaintext);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>
    /// Opens a link payload from another device of this user and keeps the account key and history keys in it.
    /// <paramref name="fromDhKey"/> is the sending device's DDK from its certificate, verified against
    /// <paramref name="publishedAccountKey"/>, the account key the directory serves for this user: the payload's account
    /// key must be that one (<see cref="CryptoError.BadSignature"/> otherwise), and nothing is kept unless it is.
    /// </summary>
    public void OpenLinkPayload(ReadOnlySpan<byte> payload, Guid fromDeviceId, ReadOnlySpan<byte> fromDhKey, ReadOnlySpan<byte> publishedAccountKey)
    {
        var plaintext = OpenX3dh(payload, UserId, fromDeviceId, fromDhKey);
        try
        {
            var (accountKey, historyKeys) = KeyBundleCodec.Decode(plaintext);
            if (!CryptographicOperations.FixedTimeEquals(accountKey.PublicKey, publishedAccountKey))
            {
                throw new ChatWireCryptoException(CryptoError.BadSignature, "The link payload's account key is not the published one.");
            }

            ImportAccountKey(accountKey);
            ImportHistoryKeys(historyKeys);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>Seals the account key and every history key under <paramref name="recoveryKey"/> (PUT /v1/keys/recovery-backup).</summary>
    public byte[] CreateRecoveryBackup(RecoveryKey recoveryKey)
    {
        var accountKey = AccountKey ?? throw new InvalidOperationException("Only a device holding the account key can make a recovery backup.");
        return RecoveryBackup.Seal(recoveryKey, UserId, accountKey, HistoryKeys.ToList());
    }

    /// <summary>
    /// Seals the account key and every history key held anew to the backup key of <paramref name="previous"/> (the
    /// stored backup), without the recovery key; <see cref="CryptoError.BadSignature"/> when that backup's key is not
    /// signed by my account key.
    /// </summary>
    public byte[] RefreshRecoveryBackup(ReadOnlySpan<byte> previous)
    {
        var accountKey = AccountKey ?? throw new InvalidOperationException("Only a device holding the account key can refresh the recovery backup.");
        return RecoveryBackup.Reseal(previous, UserId, accountKey, HistoryKeys.ToList());
    }

    /// <summary>Opens a recovery backup and keeps its account key and history keys.</summary>
    public void RestoreFromRecoveryBackup(RecoveryKey recoveryKey, ReadOnlySpan<byte> backup)
    {
        var (accountKey, historyKeys) = RecoveryBackup.Open(recoveryKey, UserId, backup);
        ImportAccountKey(accountKey);
        ImportHistoryKeys(historyKeys);
    }

    // Finds the prekeys the message names, opens it, then deletes the one-time prekey (it is single-use).
    private byte[] OpenX3dh(ReadOnlySpan<byte> message, Guid senderUserId, Guid senderDeviceId, ReadOnlySpan<byte> senderDhKey)
    {
        var identity = Identity();
        var (signedId, oneTimeId) = X3dh.ReadPrekeyIds(message);
        var signed = identity.SignedPrekeys.FirstOrDefault(key => key.PrekeyId == signedId)
            ?? throw new ChatWireCryptoException(CryptoError.NoKeyForChain, $"Signed prekey {signedId} is no longer held.");
        var oneTime = oneTimeId == 0 ? null : identity.OneTimePrekeys.FirstOrDefault(key => key.PrekeyId == oneTimeId)
            ?? throw new ChatWireCryptoException(CryptoError.NoKeyForChain, $"One-time prekey {oneTimeId} is not held (already used?).");
        var plaintext = X3dh.Open(
            identity.UserId, identity.DeviceId, DeviceKeys, signed.PrivateKey, oneTime?.PrivateKey ?? [], senderUserId, senderDeviceId, senderDhKey, message);
        if (oneTime is not null)
        {
            Update(state => state.OneTimePrekeys.RemoveAll(key => key.PrekeyId == oneTime.PrekeyId));
        }

        return plaintext;
    }
}

/// <summary>The account key and history keys as one plaintext: ASK private(32) || u16 count || count × (u32 generation || HK private(32)).</summary>
internal static class KeyBundleCodec
{
    public static byte[] Encode(AccountSigningKey accountKey, IReadOnlyCollection<HistoryKey> historyKeys)
    {
        var writer = new ByteWriter(40 + (historyKeys.Count * 36)).Bytes(accountKey.PrivateKey).U16(checked((ushort)historyKeys.Count));
        foreach (var historyKey in historyKeys.OrderBy(key => key.Generation))
        {
            writer.U32(historyKey.Generation).Bytes(historyKey.PrivateKey);
        }

        return writer.ToArray();
    }

    public static (AccountSigningKey AccountKey, IReadOnlyList<HistoryKey> HistoryKeys) Decode(ReadOnlySpan<byte> plaintext)
    {
        var reader = new ByteReader(plaintext);
        var accountKey = AccountSigningKey.FromPrivateKey(reader.Bytes(32));
        var count = reader.U16();
        var historyKeys = new List<HistoryKey>(count);
        for (var i = 0; i < count; i++)
        {
            var generation = reader.U32();
            historyKeys.Add(HistoryKey.FromPrivateKey(generation, reader.Bytes(32)));
        }

        reader.EnsureEnd("The key bundle");
        return (accountKey, historyKeys);
    }
}
