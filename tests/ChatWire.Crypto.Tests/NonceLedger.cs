namespace ChatWire.Crypto.Tests;

/// <summary>
/// Records every envelope a sender produced and the (AES-GCM key, nonce) pair that really encrypted it, re-derived
/// independently from the chain seeds the sender reported (docs/e2e.md "Sender chains"), and reports any pair or any
/// (chain_id, iteration) seen twice. An envelope whose derived key does not open its ciphertext is reported too, so
/// the pair recorded is the one actually used, not merely the one the header claims.
/// </summary>
internal sealed class NonceLedger
{
    public const string DuplicateKeyNonce = "duplicate (key, nonce)";
    public const string DuplicateChainIteration = "duplicate (chain_id, iteration)";

    private readonly Dictionary<Guid, SeedPayload> _seeds = [];
    private readonly Dictionary<Guid, SeedPayload> _epochSecrets = [];
    private readonly Dictionary<Guid, (uint Iteration, byte[] ChainKey)> _cursors = [];
    private readonly HashSet<string> _keyNonces = [];
    private readonly HashSet<(Guid ChainId, uint Iteration)> _chainIterations = [];

    /// <summary>Envelopes checked so far (controls included once they are fed in).</summary>
    public int Checked { get; private set; }

    /// <summary>Keeps a seed the sender reported; a second, different seed under one chain id is itself a fault.</summary>
    public void AddSeed(SeedPayload seed)
    {
        if (_seeds.TryGetValue(seed.ChainId, out var held))
        {
            Assert.True(held.ChainKey.AsSpan().SequenceEqual(seed.ChainKey) && held.StartIteration == seed.StartIteration, $"chain {seed.ChainId} reported twice with different seeds");
            return;
        }

        _seeds[seed.ChainId] = seed;
    }

    /// <summary>Keeps an epoch secret the sender holds; chains derived from it are added as their envelopes arrive.</summary>
    public void AddEpochSecret(SeedPayload secret)
    {
        Assert.True(secret.IsEpochSecret);
        if (_epochSecrets.TryGetValue(secret.ChainId, out var held))
        {
            Assert.True(held.ChainKey.AsSpan().SequenceEqual(secret.ChainKey), $"epoch secret {secret.ChainId} reported twice with different secrets");
            return;
        }

        _epochSecrets[secret.ChainId] = secret;
    }

    /// <summary>Checks one envelope and records its pairs; returns the problems found (empty when all is well).</summary>
    public List<string> Check(byte[] envelope)
    {
        Checked++;
        var problems = new List<string>();
        var parsed = Envelope.Parse(envelope);
        var header = parsed.Header;
        if (!_seeds.ContainsKey(header.ChainId) && header.EpochSecretId is { } secretId && _epochSecrets.TryGetValue(secretId, out var secret))
        {
            // CK_0 = HKDF-Expand(ES, "CW-sender" || sender_device_id || chain_id), derived here without the library's ChainKdf.
            var info = new byte[41];
            "CW-sender"u8.CopyTo(info);
            header.SenderDeviceId.TryWriteBytes(info.AsSpan(9), bigEndian: true, out _);
            header.ChainId.TryWriteBytes(info.AsSpan(25), bigEndian: true, out _);
            var chainKey = new byte[32];
            Primitives.HkdfExpand(secret.ChainKey, info, chainKey);
            _seeds[header.ChainId] = new SeedPayload(secret.ConversationId, secret.Epoch, header.SenderUserId, header.SenderDeviceId, header.ChainId, 0, chainKey, new byte[32]);
        }

        if (!_seeds.TryGetValue(header.ChainId, out var seed))
        {
            problems.Add($"no seed was reported for chain {header.ChainId}");
            return problems;
        }

        if (seed.ConversationId != header.ConversationId || seed.Epoch != header.Epoch || seed.SenderDeviceId != header.SenderDeviceId)
        {
            problems.Add($"chain {header.ChainId} is used outside the conversation, epoch or device of its seed");
        }

        if (header.Iteration < seed.StartIteration)
        {
            problems.Add($"iteration {header.Iteration} is before the seed's start {seed.StartIteration}");
            return problems;
        }

        var okm = new byte[ChainKdf.MessageKeyMaterialSize];
        ChainKdf.MessageKey(ChainKeyAt(header.ChainId, header.Iteration), okm);
        var key = okm[..32];
        var nonce = okm[32..44];
        if (!nonce.AsSpan().SequenceEqual(header.Nonce))
        {
            problems.Add($"header nonce of chain {header.ChainId} iteration {header.Iteration} is not the derived one");
        }

        var ciphertext = envelope.AsSpan(parsed.CiphertextStart, parsed.CiphertextLength);
        if (Primitives.Open(key, nonce, Envelope.AssociatedData(envelope.AsSpan(0, parsed.HeaderLength)), ciphertext) is null)
        {
            problems.Add($"the derived key of chain {header.ChainId} iteration {header.Iteration} does not open the envelope");
        }

        if (!_keyNonces.Add(Convert.ToHexString(key) + Convert.ToHexString(nonce)))
        {
            problems.Add(DuplicateKeyNonce);
        }

        if (!_chainIterations.Add((header.ChainId, header.Iteration)))
        {
            problems.Add(DuplicateChainIteration);
        }

        return problems;
    }

    /// <summary>CK at <paramref name="iteration"/> of a reported chain, stepped on from the seed (or from the last one derived).</summary>
    public byte[] ChainKeyAt(Guid chainId, uint iteration)
    {
        var seed = _seeds[chainId];
        var (at, chainKey) = _cursors.TryGetValue(chainId, out var cursor) && cursor.Iteration <= iteration
            ? cursor
            : (seed.StartIteration, seed.ChainKey.ToArray());
        for (; at < iteration; at++)
        {
            var next = new byte[32];
            ChainKdf.Next(chainKey, next);
            chainKey = next;
        }

        _cursors[chainId] = (at, chainKey);
        return chainKey.ToArray();
    }
}
