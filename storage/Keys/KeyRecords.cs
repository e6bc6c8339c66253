namespace ChatWire.Storage.Keys;

// Records of the key directory (docs/e2e.md, "The key directory"). Everything here is public key material
// or sealed (encrypted) data the server cannot open; the server stores it, checks versions and membership,
// and serves it. Byte arrays are exact lengths: public keys 32 bytes, signatures 64 bytes.

/// <summary>How a conversation's messages are keyed (docs/e2e.md, "Modes").</summary>
public enum E2eMode
{
    /// <summary>Sender-chain seeds are sealed to each member user's history key: every device of a member reads history.</summary>
    History = 0,

    /// <summary>Seeds are sealed to each member device pairwise: a device added later reads nothing from before it.</summary>
    Strict = 1,
}

/// <summary>A user's account signing key (Ed25519 public key). <see cref="Version"/> grows by one on each account reset.</summary>
public sealed record AccountKeyRecord(Guid UserId, byte[] SigningKey, int Version, DateTimeOffset UpdatedAt);

/// <summary>One generation of a user's history key (X25519 public key), signed by the account key.</summary>
public sealed record HistoryKeyRecord(Guid UserId, int Generation, byte[] PublicKey, byte[] Signature, DateTimeOffset CreatedAt);

/// <summary>
/// A device's public keys as the device registered them, and its certificate once a trusted device of the same
/// user signed it. <see cref="AccountSignature"/> null: the device is pending (not yet approved).
/// <see cref="LinkCode"/> is derived from the public keys (docs/e2e.md, "Linking a device") so that the approving
/// device can check that the keys the server shows are the ones the new device displays.
/// </summary>
public sealed record DeviceKeysRecord(
    Guid DeviceId,
    Guid UserId,
    byte[] SigningKey,
    byte[] DhKey,
    long CreatedAtMs,
    byte[] SelfSignature,
    string LinkCode,
    int CertificateVersion,
    byte[]? AccountSignature);

/// <summary>A revoked device's keys as they were when it was revoked (always approved: <c>AccountSignature</c> is set).</summary>
public sealed record FormerDeviceKeysRecord(DeviceKeysRecord Keys, DateTimeOffset RevokedAt);

/// <summary>One device of a signed device list and the SHA-256 of its certificate.</summary>
public sealed record DeviceListEntry(Guid DeviceId, byte[] CertificateHash);

/// <summary>A user's signed device list; <see cref="Version"/> only grows (a lower or equal version is a rollback).</summary>
public sealed record DeviceListRecord(Guid UserId, long Version, IReadOnlyList<DeviceListEntry> Entries, byte[] Signature, DateTimeOffset UpdatedAt);

/// <summary>A device's signed prekey (X25519), signed by the device signing key.</summary>
public sealed record SignedPrekeyRecord(Guid DeviceId, int PrekeyId, byte[] PublicKey, byte[] Signature, DateTimeOffset CreatedAt);

/// <summary>A one-time prekey (X25519); handed out at most once.</summary>
public sealed record OneTimePrekeyRecord(int PrekeyId, byte[] PublicKey);

/// <summary>
/// A conversation's key state. <see cref="Epoch"/> grows when a member leaves or is removed, when a member's device
/// is revoked or account reset, and when the mode changes: a send must be sealed for the current epoch.
/// <see cref="RosterVersion"/> grows on every change of who (or which keys) a distribution must cover: each epoch
/// change, a member joining, a member's history key or device list changing. A conversation starts at epoch 1,
/// roster version 1 with the members it was created with; its state is deleted with it.
/// </summary>
public sealed record ConversationKeyState(Guid ConversationId, long Epoch, long RosterVersion, E2eMode Mode);

/// <summary>
/// Whom a sender-chain seed is sealed to: a user at a history-key generation (history mode, <see cref="DeviceId"/>
/// is <see cref="Guid.Empty"/>) or one device (strict mode, <see cref="HistoryKeyGeneration"/> is 0).
/// </summary>
public readonly record struct KeyRecipient(Guid UserId, Guid DeviceId, int HistoryKeyGeneration);

/// <summary>One sealed seed of an upload.</summary>
public sealed record KeyBundleEntry(KeyRecipient Recipient, byte[] Sealed);

/// <summary>A stored sealed seed, as a recipient downloads it; <see cref="Position"/> orders and pages them.</summary>
public sealed record StoredKeyBundleEntry(
    long Position,
    Guid ConversationId,
    Guid ChainId,
    Guid SenderUserId,
    Guid SenderDeviceId,
    long Epoch,
    KeyRecipient Recipient,
    byte[] Sealed,
    DateTimeOffset UploadedAt);

/// <summary>
/// A sender chain's distribution in one conversation: who sent it, for which epoch, every recipient sealed to so
/// far, and the roster version it was last found complete for (0: never).
/// </summary>
public sealed record DistributionRecord(
    Guid ConversationId,
    Guid ChainId,
    Guid SenderUserId,
    Guid SenderDeviceId,
    long Epoch,
    E2eMode Mode,
    IReadOnlySet<KeyRecipient> Recipients,
    long CompleteForRosterVersion);

/// <summary>A distribution without its recipients: what an end-to-end SEND is checked against.</summary>
public sealed record DistributionHead(Guid ChainId, Guid SenderUserId, Guid SenderDeviceId, long Epoch, long CompleteForRosterVersion);

/// <summary>
/// What a complete distribution in a conversation must cover now: the key state and, per member, the current
/// history-key generation (null while the member has none usable: no keys yet, or a device was revoked and no new
/// generation was published) and the devices on the member's signed device list.
/// </summary>
public sealed record DistributionRoster(ConversationKeyState State, IReadOnlyList<RosterMember> Members);

/// <summary>One member of a <see cref="DistributionRoster"/>.</summary>
public sealed record RosterMember(Guid UserId, int? HistoryKeyGeneration, IReadOnlyList<Guid> ListedDevices);

/// <summary>The outcome of appending to a distribution.</summary>
public enum KeyBundleAppendOutcome
{
    Appended = 0,

    /// <summary>The chain id exists in this conversation with another sender device or epoch: nothing was stored.</summary>
    ChainConflict = 1,
}
