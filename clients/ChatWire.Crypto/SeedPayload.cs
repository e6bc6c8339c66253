namespace ChatWire.Crypto;

/// <summary>
/// A sender chain's seed, what is distributed to the members (sealed to each user's history key, or to each device by
/// X3DH in strict mode): conversation_id || u64 epoch || sender_user_id || sender_device_id || chain_id ||
/// u32 start_iteration || CK_start(32) || SigK_pub(32), 140 bytes.
/// </summary>
/// <param name="ConversationId">The conversation the chain encrypts for.</param>
/// <param name="Epoch">The membership epoch the chain belongs to.</param>
/// <param name="SenderUserId">The sending user.</param>
/// <param name="SenderDeviceId">The sending device (a chain is never shared between devices).</param>
/// <param name="ChainId">The chain id (16 random bytes); SEND's distribution_id.</param>
/// <param name="StartIteration">The iteration <paramref name="ChainKey"/> is the chain key of.</param>
/// <param name="ChainKey">CK at <paramref name="StartIteration"/> (32 bytes). Secret.</param>
/// <param name="SigningPublicKey">The chain's Ed25519 public key SigK_pub (32 bytes) that signs every envelope.</param>
public sealed record SeedPayload(
    Guid ConversationId,
    ulong Epoch,
    Guid SenderUserId,
    Guid SenderDeviceId,
    Guid ChainId,
    uint StartIteration,
    byte[] ChainKey,
    byte[] SigningPublicKey)
{
    /// <summary>The encoded size in bytes.</summary>
    public const int Size = 16 + 8 + 16 + 16 + 16 + 4 + 32 + 32;

    /// <summary>
    /// Whether this payload carries a conversation epoch secret rather than a sender chain's seed (docs/e2e.md "Large
    /// conversations"): then <see cref="ChainId"/> is the secret id, <see cref="ChainKey"/> the secret, the sender is
    /// the device that made it, and <see cref="SigningPublicKey"/> is 32 zero bytes (no Ed25519 key of a real chain
    /// is, and an epoch secret has no SigK: its senders sign with their device keys).
    /// </summary>
    public bool IsEpochSecret => SigningPublicKey.Length == 32 && !SigningPublicKey.AsSpan().ContainsAnyExcept((byte)0);

    /// <summary>The payload that distributes an epoch secret: chain_id = secret_id, start_iteration = 0, CK_start = the secret, SigK_pub = 32 zero bytes.</summary>
    public static SeedPayload ForEpochSecret(Guid conversationId, ulong epoch, Guid creatorUserId, Guid creatorDeviceId, Guid secretId, byte[] secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        return new SeedPayload(conversationId, epoch, creatorUserId, creatorDeviceId, secretId, 0, secret.ToArray(), new byte[32]);
    }

    /// <summary>The 140-byte encoding.</summary>
    public byte[] Encode()
    {
        if (ChainKey.Length != 32 || SigningPublicKey.Length != 32)
        {
            throw ChatWireCryptoException.Malformed("A seed's chain key and signing key are 32 bytes each.");
        }

        return new ByteWriter(Size)
            .Id(ConversationId).U64(Epoch).Id(SenderUserId).Id(SenderDeviceId).Id(ChainId).U32(StartIteration)
            .Bytes(ChainKey).Bytes(SigningPublicKey)
            .ToArray();
    }

    /// <summary>Decodes the 140-byte encoding; anything else is <see cref="CryptoError.Malformed"/>.</summary>
    public static SeedPayload Decode(ReadOnlySpan<byte> bytes)
    {
        var reader = new ByteReader(bytes);
        var seed = new SeedPayload(
            reader.Id(), reader.U64(), reader.Id(), reader.Id(), reader.Id(), reader.U32(), reader.Bytes(32).ToArray(), reader.Bytes(32).ToArray());
        reader.EnsureEnd("A seed payload");
        return seed;
    }
}
