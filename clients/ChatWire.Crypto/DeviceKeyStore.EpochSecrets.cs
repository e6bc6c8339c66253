namespace ChatWire.Crypto;

public sealed partial class DeviceKeyStore
{
    /// <summary>
    /// The payload of an epoch secret held here (to seal to members a distribution is missing; only the device that
    /// uploaded a distribution may add to it), or null when it is not held.
    /// </summary>
    public SeedPayload? EpochSecretSeed(Guid secretId)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            return _secrets.GetValueOrDefault(secretId)?.Seed();
        }
    }

    /// <summary>
    /// The epoch secret the next <see cref="EncryptMessage"/> in the conversation and epoch would send with, or null
    /// when none is held (it would make one): a caller fetches the secrets other members distributed first, so that
    /// it does not make a second one needlessly.
    /// </summary>
    public Guid? SendingEpochSecret(Guid conversationId, ulong epoch)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            return SendingSecret(conversationId, epoch)?.SecretId;
        }
    }

    /// <summary>
    /// Stops sending with an epoch secret (its distribution is incomplete and this device cannot complete it: another
    /// device uploaded it). The next message in its conversation uses another held secret or makes a new one. Envelopes
    /// on it still decrypt.
    /// </summary>
    public void RetireEpochSecret(Guid secretId)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            if (_secrets.TryGetValue(secretId, out var secret) && !secret.Retired)
            {
                var retired = Copy(secret);
                retired.Retired = true;
                SaveSecret(retired);
            }
        }
    }

    // The secret to send with: one this device made (it can top up that distribution), else the lowest id of those
    // received, so that devices of one conversation tend to agree; null when none is held for the epoch.
    private EpochSecretState? SendingSecret(Guid conversationId, ulong epoch) =>
        _secrets.Values
            .Where(secret => secret.ConversationId == conversationId && secret.Epoch == epoch && !secret.Retired)
            .OrderBy(secret => secret.CreatorDeviceId == DeviceId ? 0 : 1)
            .ThenBy(secret => secret.SecretId)
            .FirstOrDefault();

    private bool ImportEpochSecret(SeedPayload seed)
    {
        var incoming = EpochSecretState.FromSeed(seed);
        lock (_gate)
        {
            ThrowIfDisposed();
            if (_secrets.TryGetValue(incoming.SecretId, out var held))
            {
                return held.SameSecretAs(seed)
                    ? false
                    : throw new ChatWireCryptoException(CryptoError.WrongSender, $"A different epoch secret {incoming.SecretId} is already held.");
            }

            SaveSecret(incoming);
            return true;
        }
    }

    private void SaveSecret(EpochSecretState secret)
    {
        StoreFiles.WriteAtomically(Path.Combine(_directory, "secrets", secret.SecretId.ToString("N") + ".json"), secret, StoreJsonContext.Default.EpochSecretState);
        _secrets[secret.SecretId] = secret;
    }

    private static EpochSecretState Copy(EpochSecretState secret) =>
        System.Text.Json.JsonSerializer.Deserialize(
            System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(secret, StoreJsonContext.Default.EpochSecretState), StoreJsonContext.Default.EpochSecretState)!;
}
