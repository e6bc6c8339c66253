namespace ChatWire.Storage.Keys;

/// <summary>
/// The key directory port (docs/e2e.md): public keys, signed device lists, prekeys, sealed sender-chain seeds and
/// each conversation's key state. Adapters: SQLite (embedded) and MySQL (distributed), both passing
/// KeyDirectoryStoreContract. Membership changes made through the directory port move the conversations' key
/// state in the same transaction (see <see cref="ConversationKeyState"/>).
/// </summary>
public interface IKeyDirectoryStore
{
    // Account and history keys
    Task<AccountKeyRecord?> GetAccountKeyAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets the account key. Absent: stored as version 1. The same key again: nothing changes. Another key: refused
    /// (returns the stored record unchanged) unless <paramref name="reset"/>, which stores it as the next version and,
    /// in one transaction, drops the user's history keys (no longer usable; a new generation must still be above every
    /// one the user had) and device list (they were signed by the old key; a new list may start at any version), clears
    /// every device certificate's account signature (all devices pending again) and bumps the epoch of every
    /// conversation the user is in. Returns the record as stored after the call.
    /// </summary>
    Task<AccountKeyRecord> SetAccountKeyAsync(Guid userId, byte[] signingKey, bool reset, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>The user's newest history key when it is usable (see <see cref="DistributionRoster"/>); null otherwise.</summary>
    Task<HistoryKeyRecord?> GetHistoryKeyAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// The highest history key generation the user ever published, usable or not (0 for none): a new generation must
    /// be above it, which a recovering device that lost the newest generations needs to know.
    /// </summary>
    Task<int> GetHighestHistoryKeyGenerationAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds a history key generation; false (nothing stored) when its generation is not above every generation the
    /// user had. Bumps the roster version of every conversation the user is in.
    /// </summary>
    Task<bool> AddHistoryKeyAsync(HistoryKeyRecord key, CancellationToken cancellationToken = default);

    // Device keys
    /// <summary>
    /// Registers a device's public keys, once: true when stored or when the same keys were stored before; false when
    /// the device already has other keys, or its session is revoked (a registration racing the revocation).
    /// The link code is stored and matched without its dash, in upper case.
    /// </summary>
    Task<bool> SetDeviceKeysAsync(DeviceKeysRecord keys, CancellationToken cancellationToken = default);

    /// <summary>The device's keys; null when it has none or its session was revoked.</summary>
    Task<DeviceKeysRecord?> GetDeviceKeysAsync(Guid deviceId, CancellationToken cancellationToken = default);

    /// <summary>The user's device (not revoked) whose link code is <paramref name="linkCode"/>; null when none.</summary>
    Task<DeviceKeysRecord?> FindDeviceByLinkCodeAsync(Guid userId, string linkCode, CancellationToken cancellationToken = default);

    /// <summary>The user's devices that registered keys and are not revoked, oldest first.</summary>
    Task<IReadOnlyList<DeviceKeysRecord>> ListDeviceKeysAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// The user's revoked devices that had been approved (their certificate carried an account signature), newest
    /// revocation first, at most <paramref name="limit"/>: kept so that what they sent before the revocation stays
    /// readable on devices linked later. Nothing is sealed to them and they get no prekeys.
    /// </summary>
    Task<IReadOnlyList<FormerDeviceKeysRecord>> ListFormerDeviceKeysAsync(Guid userId, int limit, CancellationToken cancellationToken = default);

    /// <summary>Stores the account signature of a device's certificate; false when the device has no keys or is revoked.</summary>
    Task<bool> SetDeviceCertificateAsync(Guid deviceId, int certificateVersion, byte[] accountSignature, CancellationToken cancellationToken = default);

    // Device list
    Task<DeviceListRecord?> GetDeviceListAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the user's signed device list; false (nothing stored) when its version is not above the stored one.
    /// Bumps the roster version of every conversation the user is in.
    /// </summary>
    Task<bool> SetDeviceListAsync(DeviceListRecord list, CancellationToken cancellationToken = default);

    // Prekeys
    /// <summary>Stores the device's current signed prekey (replacing the previous one); nothing for a device without keys.</summary>
    Task SetSignedPrekeyAsync(SignedPrekeyRecord prekey, CancellationToken cancellationToken = default);

    Task<SignedPrekeyRecord?> GetSignedPrekeyAsync(Guid deviceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds one-time prekeys (an id already stored for the device is ignored; nothing for a device without keys);
    /// returns how many the device now has, or null (nothing stored) when the device's count plus
    /// <paramref name="prekeys"/> would pass <paramref name="maxHeld"/> (0 = no limit). The count and the insert
    /// are one transaction, so concurrent uploads cannot pass the limit together.
    /// </summary>
    Task<int?> AddOneTimePrekeysAsync(Guid deviceId, IReadOnlyList<OneTimePrekeyRecord> prekeys, int maxHeld = 0, CancellationToken cancellationToken = default);

    Task<int> CountOneTimePrekeysAsync(Guid deviceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes and returns one of the device's one-time prekeys (the lowest id), atomically: two callers never get the
    /// same one, also concurrently and across nodes. Null when none is left.
    /// </summary>
    Task<OneTimePrekeyRecord?> ClaimOneTimePrekeyAsync(Guid deviceId, CancellationToken cancellationToken = default);

    // Linking and recovery
    /// <summary>
    /// Stores (replacing) the sealed link payload for a new device, from one of its user's trusted devices; nothing for a
    /// device without keys (revoked meanwhile). <see cref="AccountDeletedException"/> when the device's account was
    /// deleted meanwhile.
    /// </summary>
    Task SetLinkPayloadAsync(Guid deviceId, Guid fromDeviceId, byte[] payload, DateTimeOffset at, CancellationToken cancellationToken = default);

    Task<(Guid FromDeviceId, byte[] Payload)?> GetLinkPayloadAsync(Guid deviceId, CancellationToken cancellationToken = default);

    Task<bool> DeleteLinkPayloadAsync(Guid deviceId, CancellationToken cancellationToken = default);

    /// <summary>Stores (replacing) the user's recovery backup: their private keys sealed under the recovery key.</summary>
    Task SetRecoveryBackupAsync(Guid userId, byte[] backup, DateTimeOffset at, CancellationToken cancellationToken = default);

    Task<byte[]?> GetRecoveryBackupAsync(Guid userId, CancellationToken cancellationToken = default);

    // Conversation key state
    /// <summary>The conversation's key state; a conversation never changed has epoch 1, roster version 1, history mode.</summary>
    Task<ConversationKeyState> GetConversationKeyStateAsync(Guid conversationId, CancellationToken cancellationToken = default);

    /// <summary>Sets the mode; a change bumps the epoch (and roster version). Returns the state after.</summary>
    Task<ConversationKeyState> SetConversationModeAsync(Guid conversationId, E2eMode mode, CancellationToken cancellationToken = default);

    /// <summary>
    /// Marks a device revoked for key purposes at <paramref name="at"/>, in one transaction: its keys, prekeys and
    /// pending link payload are deleted (the keys of an approved device are kept as a former device, see
    /// <see cref="ListFormerDeviceKeysAsync"/>), the user's history keys stop being usable until a newer generation is added, and every conversation
    /// the user is in gets a new epoch. The session itself is revoked through the directory port, whose
    /// RevokeDeviceSession and RevokeAllDeviceSessions do this too, in their transaction, for each revoked device that
    /// had keys or a pending link payload (one that never registered keys never held any; one epoch bump per call).
    /// </summary>
    Task RevokeDeviceKeysAsync(Guid userId, Guid deviceId, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>The state and members a complete distribution of the conversation must cover now.</summary>
    Task<DistributionRoster> GetDistributionRosterAsync(Guid conversationId, CancellationToken cancellationToken = default);

    // Distributions
    Task<DistributionRecord?> GetDistributionAsync(Guid conversationId, Guid chainId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds sealed seeds to a chain's distribution, creating it on the first upload. A chain id already used in the
    /// conversation by another sender device or for another epoch is <see cref="KeyBundleAppendOutcome.ChainConflict"/>.
    /// A recipient already sealed to is replaced by the new entry.
    /// </summary>
    Task<KeyBundleAppendOutcome> AppendKeyBundleAsync(
        Guid conversationId,
        Guid chainId,
        Guid senderUserId,
        Guid senderDeviceId,
        long epoch,
        E2eMode mode,
        IReadOnlyList<KeyBundleEntry> entries,
        DateTimeOffset at,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// What every end-to-end SEND is checked against: the conversation's key state and the chain's distribution
    /// without its recipients (null when the chain is not in the conversation; for an unknown conversation, the
    /// initial state and null). On the message path, so an adapter should answer it with one indexed read, as the
    /// SQLite and MySQL adapters do; this default makes two reads (not one snapshot) and reads every recipient too.
    /// </summary>
    async Task<(ConversationKeyState State, DistributionHead? Distribution)> GetSendStateAsync(Guid conversationId, Guid chainId, CancellationToken cancellationToken = default)
    {
        var state = await GetConversationKeyStateAsync(conversationId, cancellationToken).ConfigureAwait(false);
        var distribution = await GetDistributionAsync(conversationId, chainId, cancellationToken).ConfigureAwait(false);
        return (state, distribution is null
            ? null
            : new DistributionHead(distribution.ChainId, distribution.SenderUserId, distribution.SenderDeviceId, distribution.Epoch, distribution.CompleteForRosterVersion));
    }

    /// <summary>Records that the distribution was found complete for <paramref name="rosterVersion"/>.</summary>
    Task MarkDistributionCompleteAsync(Guid conversationId, Guid chainId, long rosterVersion, CancellationToken cancellationToken = default);

    /// <summary>
    /// The sealed seeds of the conversation addressed to the user (history mode entries) or to the device (strict mode
    /// entries), after <paramref name="afterPosition"/>, in position order, at most <paramref name="limit"/>.
    /// </summary>
    Task<IReadOnlyList<StoredKeyBundleEntry>> ListKeyBundleEntriesAsync(
        Guid conversationId,
        Guid userId,
        Guid deviceId,
        long afterPosition,
        int limit,
        CancellationToken cancellationToken = default);
}
