using System.Security.Cryptography;

namespace ChatWire.Crypto;

/// <summary>
/// A sender chain this device receives on: the seed's identity, the chain key of the next unread iteration, message
/// keys of iterations skipped over (at most <see cref="MaxSkip"/>), and what was already accepted (replay detection).
/// </summary>
internal sealed class InboundChain
{
    /// <summary>How far ahead of the chain an envelope may be, and how many skipped keys are kept (libsignal keeps 2000 per chain).</summary>
    public const int MaxSkip = 2000;

    public required Guid ConversationId { get; init; }
    public required ulong Epoch { get; init; }
    public required Guid SenderUserId { get; init; }
    public required Guid SenderDeviceId { get; init; }
    public required Guid ChainId { get; init; }

    /// <summary>The epoch secret the chain is derived from, or null for a chain received as a seed (with its SigK).</summary>
    public Guid? EpochSecretId { get; init; }

    /// <summary>SigK_pub; empty on an epoch-secret chain, whose envelopes the sender's device key signs.</summary>
    public required byte[] SigningPublicKey { get; init; }

    /// <summary>The next iteration not yet derived; <see cref="ChainKey"/> is its chain key.</summary>
    public required uint NextIteration { get; set; }

    public required byte[] ChainKey { get; set; }

    /// <summary>Message key material (44 bytes) of iterations below <see cref="NextIteration"/> not yet used.</summary>
    public SortedDictionary<uint, byte[]> Skipped { get; init; } = [];

    /// <summary>Iterations already decrypted.</summary>
    public HashSet<uint> SeenIterations { get; init; } = [];

    /// <summary>Message ids already decrypted on this chain.</summary>
    public HashSet<Guid> SeenMessageIds { get; init; } = [];

    public static InboundChain FromSeed(SeedPayload seed) => new()
    {
        ConversationId = seed.ConversationId,
        Epoch = seed.Epoch,
        SenderUserId = seed.SenderUserId,
        SenderDeviceId = seed.SenderDeviceId,
        ChainId = seed.ChainId,
        SigningPublicKey = seed.SigningPublicKey.ToArray(),
        NextIteration = seed.StartIteration,
        ChainKey = seed.ChainKey.ToArray(),
    };

    /// <summary>The receiving state of a sender's chain derived from an epoch secret, at iteration 0.</summary>
    public static InboundChain FromEpochSecret(EpochSecretState secret, Guid senderUserId, Guid senderDeviceId, Guid chainId) => new()
    {
        ConversationId = secret.ConversationId,
        Epoch = secret.Epoch,
        SenderUserId = senderUserId,
        SenderDeviceId = senderDeviceId,
        ChainId = chainId,
        EpochSecretId = secret.SecretId,
        SigningPublicKey = [],
        NextIteration = 0,
        ChainKey = ChainKdf.FromEpochSecret(secret.Secret, senderDeviceId, chainId),
    };

    /// <summary>Whether <paramref name="seed"/> describes this chain (same ids, epoch and signing key).</summary>
    public bool SameChainAs(SeedPayload seed) =>
        EpochSecretId is null && seed.ChainId == ChainId && seed.ConversationId == ConversationId && seed.Epoch == Epoch
        && seed.SenderUserId == SenderUserId && seed.SenderDeviceId == SenderDeviceId
        && CryptographicOperations.FixedTimeEquals(seed.SigningPublicKey, SigningPublicKey);

    /// <summary>
    /// Adds the iterations a seed starting earlier than this state reaches (a full seed arriving after a "from the current
    /// iteration" one) as skipped keys, when ratcheting the seed forward lands on this state's chain key. Returns whether
    /// anything changed.
    /// </summary>
    public bool Backfill(SeedPayload seed)
    {
        if (!SameChainAs(seed) || seed.StartIteration >= NextIteration || NextIteration - seed.StartIteration > MaxSkip)
        {
            return false;
        }

        var keys = new List<(uint Iteration, byte[] Okm)>();
        var chainKey = seed.ChainKey.ToArray();
        for (var i = seed.StartIteration; i < NextIteration; i++)
        {
            var okm = new byte[ChainKdf.MessageKeyMaterialSize];
            ChainKdf.MessageKey(chainKey, okm);
            keys.Add((i, okm));
            var next = new byte[32];
            ChainKdf.Next(chainKey, next);
            CryptographicOperations.ZeroMemory(chainKey);
            chainKey = next;
        }

        var lands = CryptographicOperations.FixedTimeEquals(chainKey, ChainKey);
        CryptographicOperations.ZeroMemory(chainKey);
        if (!lands)
        {
            return false;
        }

        var changed = false;
        foreach (var (iteration, okm) in keys)
        {
            if (!SeenIterations.Contains(iteration) && Skipped.TryAdd(iteration, okm))
            {
                changed = true;
            }
        }

        TrimSkipped();
        return changed;
    }

    /// <summary>
    /// The message key material of <paramref name="iteration"/> without changing any state (an envelope is checked
    /// before the chain moves), or the reason there is none.
    /// </summary>
    public InboundStep? Prepare(uint iteration, out CryptoError error)
    {
        error = default;
        if (SeenIterations.Contains(iteration))
        {
            error = CryptoError.Replay;
            return null;
        }

        if (iteration < NextIteration)
        {
            if (Skipped.TryGetValue(iteration, out var skipped))
            {
                return new InboundStep(iteration, skipped.ToArray(), null, []);
            }

            error = CryptoError.OutOfWindow;
            return null;
        }

        if (iteration - NextIteration > MaxSkip)
        {
            error = CryptoError.OutOfWindow;
            return null;
        }

        var newlySkipped = new List<(uint, byte[])>();
        var chainKey = ChainKey.ToArray();
        for (var i = NextIteration; ; i++)
        {
            var okm = new byte[ChainKdf.MessageKeyMaterialSize];
            ChainKdf.MessageKey(chainKey, okm);
            var next = new byte[32];
            ChainKdf.Next(chainKey, next);
            CryptographicOperations.ZeroMemory(chainKey);
            chainKey = next;
            if (i == iteration)
            {
                return new InboundStep(iteration, okm, chainKey, newlySkipped);
            }

            newlySkipped.Add((i, okm));
        }
    }

    /// <summary>Applies a prepared step once its envelope has decrypted: the key is used up, the chain moves past it.</summary>
    public void Commit(InboundStep step, Guid messageId)
    {
        if (step.NextChainKey is { } nextChainKey)
        {
            CryptographicOperations.ZeroMemory(ChainKey);
            ChainKey = nextChainKey;
            NextIteration = checked(step.Iteration + 1);
            foreach (var (iteration, okm) in step.NewlySkipped)
            {
                Skipped[iteration] = okm;
            }

            TrimSkipped();
        }
        else if (Skipped.Remove(step.Iteration, out var used))
        {
            CryptographicOperations.ZeroMemory(used);
        }

        CryptographicOperations.ZeroMemory(step.MessageKeyMaterial);
        SeenIterations.Add(step.Iteration);
        SeenMessageIds.Add(messageId);
    }

    // The oldest skipped keys go first: a message that far behind is most likely lost for good.
    private void TrimSkipped()
    {
        while (Skipped.Count > MaxSkip)
        {
            var oldest = Skipped.First();
            CryptographicOperations.ZeroMemory(oldest.Value);
            Skipped.Remove(oldest.Key);
        }
    }
}

/// <summary>The outcome of <see cref="InboundChain.Prepare"/>: the key material and what committing it changes.</summary>
internal sealed record InboundStep(uint Iteration, byte[] MessageKeyMaterial, byte[]? NextChainKey, List<(uint Iteration, byte[] Okm)> NewlySkipped);
