using System.Security.Cryptography;

namespace ChatWire.Crypto;

/// <summary>The sender-chain key schedule (docs/e2e.md "Sender chains").</summary>
internal static class ChainKdf
{
    public const int MessageKeyMaterialSize = 44;

    /// <summary>okm = HKDF-Expand(PRK = CK_i, "CW-sk-msg-v1", 44): key = okm[0..32], nonce = okm[32..44].</summary>
    public static void MessageKey(ReadOnlySpan<byte> chainKey, Span<byte> okm) => Primitives.HkdfExpand(chainKey, Labels.MessageKey, okm[..MessageKeyMaterialSize]);

    /// <summary>CK_{i+1} = HKDF-Expand(PRK = CK_i, "CW-sk-chain-v1", 32).</summary>
    public static void Next(ReadOnlySpan<byte> chainKey, Span<byte> next) => Primitives.HkdfExpand(chainKey, Labels.ChainKey, next[..32]);

    /// <summary>
    /// CK_0 of a sender chain in an epoch-secret conversation: HKDF-Expand(PRK = epoch_secret, "CW-sender" ||
    /// sender_device_id || sender_chain_id, 32). The secret is 32 uniformly random bytes, so it is a PRK as it stands
    /// (RFC 5869 §3.3), like a chain key; the device and chain ids make every sender's chain distinct.
    /// </summary>
    public static byte[] FromEpochSecret(ReadOnlySpan<byte> epochSecret, Guid senderDeviceId, Guid chainId)
    {
        var info = new ByteWriter(41).Bytes(Labels.EpochSecretSender).Id(senderDeviceId).Id(chainId).ToArray();
        var chainKey = new byte[32];
        Primitives.HkdfExpand(epochSecret, info, chainKey);
        return chainKey;
    }
}

/// <summary>This device's sending chain in one conversation and epoch. Mutable; the key store persists it before use.</summary>
internal sealed class OutboundChain
{
    public const int MaxMessages = 1000;
    public static readonly TimeSpan MaxAge = TimeSpan.FromDays(7);

    public required Guid ConversationId { get; init; }
    public required ulong Epoch { get; init; }
    public required Guid SenderUserId { get; init; }
    public required Guid SenderDeviceId { get; init; }
    public required Guid ChainId { get; init; }

    /// <summary>The epoch secret the chain derives from, or null for a chain with its own random CK_0 and SigK.</summary>
    public Guid? EpochSecretId { get; init; }

    /// <summary>SigK (empty on an epoch-secret chain: its envelopes are signed with the device signing key).</summary>
    public required byte[] SigningPrivateKey { get; init; }
    public required byte[] SigningPublicKey { get; init; }
    public required long CreatedAtMs { get; init; }

    /// <summary>The next iteration to encrypt with; <see cref="ChainKey"/> is its chain key.</summary>
    public required uint Iteration { get; set; }

    public required byte[] ChainKey { get; set; }

    /// <summary>Set on every load from disk: a chain read back may have been restored or cloned, so it is never resumed.</summary>
    public bool DoNotResume { get; set; }

    public static OutboundChain Start(Guid conversationId, ulong epoch, Guid senderUserId, Guid senderDeviceId, long nowMs)
    {
        var signing = Primitives.GenerateEd25519();
        return new OutboundChain
        {
            ConversationId = conversationId,
            Epoch = epoch,
            SenderUserId = senderUserId,
            SenderDeviceId = senderDeviceId,
            ChainId = new Guid(Primitives.Random(16), bigEndian: true),
            SigningPrivateKey = signing.PrivateKey,
            SigningPublicKey = signing.PublicKey,
            CreatedAtMs = nowMs,
            Iteration = 0,
            ChainKey = Primitives.Random(32),
        };
    }

    /// <summary>
    /// Starts a chain derived from an epoch secret: a fresh random chain id, so a restored or cloned device that starts
    /// again derives a new chain (never a chain key it may already have used). No SigK: the device key signs.
    /// </summary>
    public static OutboundChain StartFromEpochSecret(EpochSecretState secret, Guid senderUserId, Guid senderDeviceId, long nowMs)
    {
        var chainId = new Guid(Primitives.Random(16), bigEndian: true);
        return new OutboundChain
        {
            ConversationId = secret.ConversationId,
            Epoch = secret.Epoch,
            SenderUserId = senderUserId,
            SenderDeviceId = senderDeviceId,
            ChainId = chainId,
            EpochSecretId = secret.SecretId,
            SigningPrivateKey = [],
            SigningPublicKey = [],
            CreatedAtMs = nowMs,
            Iteration = 0,
            ChainKey = ChainKdf.FromEpochSecret(secret.Secret, senderDeviceId, chainId),
        };
    }

    /// <summary>Whether the next message must start a new chain: epoch change, 1000 messages, 7 days, or read back from disk.</summary>
    public bool NeedsRotation(ulong epoch, long nowMs) =>
        DoNotResume || epoch != Epoch || Iteration >= MaxMessages || nowMs - CreatedAtMs >= (long)MaxAge.TotalMilliseconds || nowMs < CreatedAtMs;

    public SeedPayload Seed() => new(ConversationId, Epoch, SenderUserId, SenderDeviceId, ChainId, Iteration, ChainKey.ToArray(), SigningPublicKey);

    /// <summary>
    /// Takes the message key material of the current iteration and moves the chain one step; the old chain key is zeroed.
    /// The caller must persist this chain before the ciphertext leaves (write-ahead).
    /// </summary>
    public uint Advance(Span<byte> okm)
    {
        var used = Iteration;
        ChainKdf.MessageKey(ChainKey, okm);
        var next = new byte[32];
        ChainKdf.Next(ChainKey, next);
        CryptographicOperations.ZeroMemory(ChainKey);
        ChainKey = next;
        Iteration = checked(used + 1);
        return used;
    }
}
