namespace ChatWire.Crypto;

/// <summary>
/// A conversation epoch secret this device holds (docs/e2e.md "Large conversations"): made here or received in a
/// seed payload. Every member device derives its sending chains from it; receivers derive those chains from it too.
/// </summary>
internal sealed class EpochSecretState
{
    public required Guid SecretId { get; init; }
    public required Guid ConversationId { get; init; }
    public required ulong Epoch { get; init; }
    public required Guid CreatorUserId { get; init; }
    public required Guid CreatorDeviceId { get; init; }

    /// <summary>The 32-byte secret. Secret.</summary>
    public required byte[] Secret { get; init; }

    /// <summary>Set when this device must not send with the secret any more (its distribution cannot be completed).</summary>
    public bool Retired { get; set; }

    public static EpochSecretState Create(Guid conversationId, ulong epoch, Guid userId, Guid deviceId) => new()
    {
        SecretId = new Guid(Primitives.Random(16), bigEndian: true),
        ConversationId = conversationId,
        Epoch = epoch,
        CreatorUserId = userId,
        CreatorDeviceId = deviceId,
        Secret = Primitives.Random(32),
    };

    public static EpochSecretState FromSeed(SeedPayload seed)
    {
        if (!seed.IsEpochSecret || seed.StartIteration != 0 || seed.ChainKey.Length != 32)
        {
            throw ChatWireCryptoException.Malformed("An epoch secret's payload has start iteration 0, a 32-byte secret and a zero signing key.");
        }

        return new EpochSecretState
        {
            SecretId = seed.ChainId,
            ConversationId = seed.ConversationId,
            Epoch = seed.Epoch,
            CreatorUserId = seed.SenderUserId,
            CreatorDeviceId = seed.SenderDeviceId,
            Secret = seed.ChainKey.ToArray(),
        };
    }

    public SeedPayload Seed() => SeedPayload.ForEpochSecret(ConversationId, Epoch, CreatorUserId, CreatorDeviceId, SecretId, Secret);

    public bool SameSecretAs(SeedPayload seed) =>
        seed.ChainId == SecretId && seed.ConversationId == ConversationId && seed.Epoch == Epoch && seed.SenderUserId == CreatorUserId
        && seed.SenderDeviceId == CreatorDeviceId && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(seed.ChainKey, Secret);
}
