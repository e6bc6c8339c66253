namespace ChatWire.Crypto;

/// <summary>A message to encrypt: the header fields the caller decides, and the plaintext.</summary>
/// <param name="ConversationId">The conversation.</param>
/// <param name="Epoch">The conversation's current membership epoch (GET /v1/conversations/{id}/e2e).</param>
/// <param name="MessageId">The client-generated message id (UUIDv7).</param>
/// <param name="ContentType">What the envelope carries.</param>
/// <param name="Plaintext">The message body (padded here before encryption).</param>
public sealed record OutgoingMessage(Guid ConversationId, ulong Epoch, Guid MessageId, EnvelopeContentType ContentType, byte[] Plaintext)
{
    /// <summary>The thread root, for a reply in a thread.</summary>
    public Guid? ThreadRootId { get; init; }

    /// <summary>The message an edit, deletion or reaction refers to.</summary>
    public Guid? TargetMessageId { get; init; }

    /// <summary>Mentioned users.</summary>
    public IReadOnlyList<Guid> Mentions { get; init; } = [];

    /// <summary>Whether it mentions @channel.</summary>
    public bool MentionsChannel { get; init; }

    /// <summary>Whether it mentions @here.</summary>
    public bool MentionsHere { get; init; }

    /// <summary>The client timestamp to put in the header; null means now.</summary>
    public long? ClientTimestampMs { get; init; }

    /// <summary>
    /// Whether the conversation uses an epoch secret (GET /v1/conversations/{id}/e2e says <c>epoch_secret: true</c>):
    /// the chain is then derived from the epoch secret, made here when none usable is held.
    /// </summary>
    public bool EpochSecret { get; init; }
}

/// <summary>An encrypted message, ready for SEND once its chain's distribution is complete.</summary>
/// <param name="Envelope">The envelope bytes (SEND content, content type application/vnd.chatwire.e2e).</param>
/// <param name="ChainId">The chain it was encrypted on: SEND's distribution_id (16 bytes, <c>TryWriteBytes(…, bigEndian: true)</c>).</param>
/// <param name="NewChainSeed">When this message started a new chain: its seed, to seal to every recipient and upload with
/// POST /v1/conversations/{id}/key-bundles before the SEND. Null when the chain was already distributed. Keep it until the
/// distribution is complete: a recipient the server reports missing needs the seed from the chain's start to read this
/// message (<see cref="DeviceKeyStore.CurrentOutboundSeed"/> starts at the next message).</param>
public sealed record EncryptedMessage(byte[] Envelope, Guid ChainId, SeedPayload? NewChainSeed)
{
    /// <summary>The epoch secret the chain derives from, when the conversation uses one; then it is SEND's distribution_id.</summary>
    public Guid? EpochSecretId { get; init; }

    /// <summary>
    /// When this message made a new epoch secret: its payload, to seal to every member (like a chain seed, with chain_id =
    /// the secret id) before the SEND. Null when the secret was already held.
    /// </summary>
    public SeedPayload? NewEpochSecret { get; init; }

    /// <summary>SEND's distribution_id: the epoch secret id in an epoch-secret conversation, else the chain id.</summary>
    public Guid DistributionId => EpochSecretId ?? ChainId;
}

public sealed partial class DeviceKeyStore
{
    /// <summary>
    /// Encrypts a message on this device's chain for the conversation, starting a new chain when the epoch changed, the
    /// chain is 1000 messages or 7 days old, or it was read back from disk. The advanced chain is on disk before this
    /// returns. A new chain's seed is also kept as a receiving chain, so this device can read its own messages.
    /// </summary>
    public EncryptedMessage EncryptMessage(OutgoingMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        lock (_gate)
        {
            var identity = Identity();
            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            SeedPayload? newSeed = null;
            EpochSecretState? newSecret = null;
            var secret = message.EpochSecret ? SendingSecret(message.ConversationId, message.Epoch) : null;
            if (message.EpochSecret && secret is null)
            {
                // Written before any chain uses it: a secret lost in a crash must not leave envelopes nobody can read.
                newSecret = secret = EpochSecretState.Create(message.ConversationId, message.Epoch, identity.UserId, identity.DeviceId);
                SaveSecret(secret);
            }

            if (!_outbound.TryGetValue(message.ConversationId, out var chain) || chain.NeedsRotation(message.Epoch, now)
                || chain.EpochSecretId != secret?.SecretId)
            {
                if (secret is null)
                {
                    chain = OutboundChain.Start(message.ConversationId, message.Epoch, identity.UserId, identity.DeviceId, now);
                    newSeed = chain.Seed();
                    SaveInbound(InboundChain.FromSeed(newSeed));
                }
                else
                {
                    chain = OutboundChain.StartFromEpochSecret(secret, identity.UserId, identity.DeviceId, now);
                    SaveInbound(InboundChain.FromEpochSecret(secret, identity.UserId, identity.DeviceId, chain.ChainId));
                }

                _outbound[message.ConversationId] = chain;
            }

            var template = new EnvelopeHeader
            {
                ContentType = message.ContentType,
                ConversationId = message.ConversationId,
                MessageId = message.MessageId,
                SenderUserId = identity.UserId,
                SenderDeviceId = identity.DeviceId,
                Epoch = chain.Epoch,
                ChainId = chain.ChainId,
                Iteration = chain.Iteration,
                ClientTimestampMs = message.ClientTimestampMs ?? now,
                ThreadRootId = message.ThreadRootId,
                TargetMessageId = message.TargetMessageId,
                Mentions = message.Mentions,
                MentionsChannel = message.MentionsChannel,
                MentionsHere = message.MentionsHere,
                Nonce = new byte[Primitives.GcmNonceSize],
            };
            try
            {
                var envelope = MessageCipher.Encrypt(chain, template, message.Plaintext, identity.DeviceSigningPrivateKey);
                StoreFiles.WriteAtomically(OutboundPath(chain.ConversationId), chain, StoreJsonContext.Default.OutboundChain);
                return new EncryptedMessage(envelope, chain.ChainId, newSeed) { EpochSecretId = chain.EpochSecretId, NewEpochSecret = newSecret?.Seed() };
            }
            catch
            {
                // The chain may have moved in memory without reaching disk: never use it again.
                chain.DoNotResume = true;
                throw;
            }
        }
    }

    /// <summary>
    /// The seed of this device's sending chain in the conversation from its next iteration (for a member who joined
    /// after the chain started: no access to earlier messages), or null when there is no usable chain.
    /// </summary>
    public SeedPayload? CurrentOutboundSeed(Guid conversationId)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            return _outbound.TryGetValue(conversationId, out var chain) && !chain.DoNotResume && chain.EpochSecretId is null ? chain.Seed() : null;
        }
    }

    /// <summary>Makes the next message in the conversation start a new chain (after a distribution that cannot be completed, say).</summary>
    public void RetireOutboundChain(Guid conversationId)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            if (_outbound.Remove(conversationId))
            {
                StoreFiles.Delete(OutboundPath(conversationId));
            }
        }
    }

    /// <summary>
    /// Keeps a received chain seed so envelopes on that chain can be decrypted. A seed for a chain already held is
    /// accepted only with the same signing key; one starting earlier adds the earlier iterations. A payload carrying an
    /// epoch secret (<see cref="SeedPayload.IsEpochSecret"/>) is kept as the secret. Returns whether anything changed.
    /// </summary>
    public bool ImportSeed(SeedPayload seed)
    {
        ArgumentNullException.ThrowIfNull(seed);
        if (seed.IsEpochSecret)
        {
            return ImportEpochSecret(seed);
        }

        lock (_gate)
        {
            ThrowIfDisposed();
            var existing = LoadInbound(seed.ChainId);
            if (existing is null)
            {
                SaveInbound(InboundChain.FromSeed(seed));
                return true;
            }

            if (!existing.SameChainAs(seed))
            {
                throw new ChatWireCryptoException(CryptoError.WrongSender, $"A different seed for chain {seed.ChainId} is already held.");
            }

            var copy = Clone(existing);
            if (!copy.Backfill(seed))
            {
                return false;
            }

            SaveInbound(copy);
            return true;
        }
    }

    /// <summary>
    /// Opens a history-mode sealed seed from a key-bundle entry with this user's history key of <paramref name="generation"/>
    /// and keeps it (<see cref="ImportSeed"/>). <paramref name="senderSigningKey"/> is the sender device's DSK from its verified certificate.
    /// </summary>
    public SeedPayload OpenHistorySeal(
        ReadOnlySpan<byte> sealedBlob, uint generation, Guid conversationId, ulong epoch, Guid chainId, Guid senderUserId, Guid senderDeviceId, ReadOnlySpan<byte> senderSigningKey)
    {
        var historyKey = HistoryKeys.FirstOrDefault(key => key.Generation == generation)
            ?? throw new ChatWireCryptoException(CryptoError.NoKeyForChain, $"History key generation {generation} is not held on this device.");
        var seed = SeedSeal.OpenFromHistoryKey(sealedBlob, UserId, historyKey, conversationId, epoch, chainId, senderUserId, senderDeviceId, senderSigningKey);
        ImportSeed(seed);
        return seed;
    }

    /// <summary>Seals a seed to generation <paramref name="generation"/> of a member's history key, signed by this device.</summary>
    public byte[] SealSeedToHistoryKey(SeedPayload seed, Guid recipientUserId, uint generation, ReadOnlySpan<byte> historyPublicKey) =>
        SeedSeal.SealToHistoryKey(seed, recipientUserId, generation, historyPublicKey, DeviceKeys);

    /// <summary>Seals a seed to one device (strict mode), after checking its signed prekey.</summary>
    public byte[] SealSeedToDevice(SeedPayload seed, PrekeyBundle recipient) => SeedSeal.SealToDevice(seed, DeviceKeys, recipient);

    /// <summary>
    /// Opens a strict-mode seed sealed to this device by X3DH and keeps it. The one-time prekey it used is deleted.
    /// <paramref name="senderDhKey"/> is the sender device's DDK from its verified certificate.
    /// </summary>
    public SeedPayload OpenDeviceSeal(ReadOnlySpan<byte> sealedBlob, Guid conversationId, ulong epoch, Guid chainId, Guid senderUserId, Guid senderDeviceId, ReadOnlySpan<byte> senderDhKey)
    {
        var plaintext = OpenX3dh(sealedBlob, senderUserId, senderDeviceId, senderDhKey);
        var seed = SeedPayload.Decode(plaintext);
        SeedSeal.CheckNames(seed, conversationId, epoch, chainId, senderUserId, senderDeviceId);
        ImportSeed(seed);
        return seed;
    }

    /// <summary>
    /// Decrypts an envelope delivered in <paramref name="conversationId"/> (by <paramref name="deliveredSenderUserId"/>,
    /// when the delivery says). On failure the result says why; the receiving state changes only on success.
    /// </summary>
    public DecryptResult TryDecrypt(ReadOnlySpan<byte> envelope, Guid conversationId, Guid? deliveredSenderUserId = null) =>
        TryDecrypt(envelope, conversationId, deliveredSenderUserId, senderSigningKey: null);

    /// <summary>
    /// Decrypts an envelope as <see cref="TryDecrypt(ReadOnlySpan{byte}, Guid, Guid?)"/> does; an envelope on an
    /// epoch-secret chain is verified with <paramref name="senderSigningKey"/>(user, device): the sender device's DSK_pub
    /// from a certificate the caller verified up to the user's account key and found on the user's signed device list,
    /// or null when it has none (<see cref="CryptoError.UnknownSenderDevice"/>: fetch the list and try again). This
    /// device's own key needs no lookup.
    /// </summary>
    public DecryptResult TryDecrypt(ReadOnlySpan<byte> envelope, Guid conversationId, Guid? deliveredSenderUserId, Func<Guid, Guid, byte[]?>? senderSigningKey)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            var identity = _identity;
            var epochSecrets = new EpochSecretKeys(
                id => _secrets.GetValueOrDefault(id),
                (user, device) => identity is not null && user == identity.UserId && device == identity.DeviceId
                    ? Primitives.Ed25519PublicKey(identity.DeviceSigningPrivateKey)
                    : senderSigningKey?.Invoke(user, device));
            var result = MessageCipher.Decrypt(
                envelope,
                conversationId,
                deliveredSenderUserId,
                chainId => LoadInbound(chainId) is { } chain ? Clone(chain) : null,
                header => _inbound.Values.Any(chain => chain.ChainId != header.ChainId && chain.SenderDeviceId == header.SenderDeviceId
                    && chain.ConversationId == header.ConversationId && chain.SeenMessageIds.Contains(header.MessageId)),
                out var changed,
                epochSecrets);
            if (changed is not null)
            {
                SaveInbound(changed);
            }

            return result;
        }
    }

    private string OutboundPath(Guid conversationId) => Path.Combine(_directory, "outbound", conversationId.ToString("N") + ".json");

    private string InboundPath(Guid chainId) => Path.Combine(_directory, "inbound", chainId.ToString("N") + ".json");

    // Receiving chains load on first use: a long history holds far more chains than one session reads.
    private InboundChain? LoadInbound(Guid chainId)
    {
        if (_inbound.TryGetValue(chainId, out var chain))
        {
            return chain;
        }

        chain = StoreFiles.Read(InboundPath(chainId), StoreJsonContext.Default.InboundChain);
        if (chain is not null)
        {
            _inbound[chainId] = chain;
        }

        return chain;
    }

    private void SaveInbound(InboundChain chain)
    {
        StoreFiles.WriteAtomically(InboundPath(chain.ChainId), chain, StoreJsonContext.Default.InboundChain);
        _inbound[chain.ChainId] = chain;
    }

    // Decryption works on a copy so a failure, or a write that does not reach disk, leaves the held state as it was.
    private static InboundChain Clone(InboundChain chain) =>
        System.Text.Json.JsonSerializer.Deserialize(
            System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(chain, StoreJsonContext.Default.InboundChain), StoreJsonContext.Default.InboundChain)!;
}
