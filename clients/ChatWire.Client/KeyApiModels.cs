namespace ChatWire.Client;

// The key directory HTTP API (docs/http-api.md, "Key directory"). Byte fields travel as standard base64;
// every signature in these records is checked by the client (ChatWire.Client.Secure), never trusted because
// the server sent it.

/// <summary>A user's account signing key (<c>PUT /v1/keys/account</c>, <c>GET /v1/keys/users/{user_id}</c>).</summary>
/// <param name="SigningKey">The Ed25519 public key (32 bytes).</param>
/// <param name="Version">Its version: 1, raised by each reset.</param>
public sealed record AccountKeyInfo(byte[] SigningKey, ulong Version);

/// <summary>A user's history key generation, signed by the account key.</summary>
/// <param name="Generation">The generation (starts at 1).</param>
/// <param name="PublicKey">The X25519 public key (32 bytes).</param>
/// <param name="Signature">Ed25519 signature by the account key over <c>"CW-hk-v1" || user_id || u32 generation || public_key</c>.</param>
public sealed record HistoryKeyInfo(uint Generation, byte[] PublicKey, byte[] Signature);

/// <summary>The keys of this device (<c>PUT /v1/keys/devices/me</c>).</summary>
/// <param name="SigningKey">The device signing key, Ed25519 public (32 bytes).</param>
/// <param name="DhKey">The device DH key, X25519 public (32 bytes).</param>
/// <param name="CreatedAtMs">When the keys were made, Unix ms (part of the certificate body).</param>
/// <param name="CertificateVersion">The certificate version (part of the certificate body).</param>
/// <param name="SelfSignature">Ed25519 signature by the device signing key over the certificate body.</param>
public sealed record DeviceKeysRequest(byte[] SigningKey, byte[] DhKey, long CreatedAtMs, uint CertificateVersion, byte[] SelfSignature);

/// <summary>The answer to <c>PUT /v1/keys/devices/me</c>.</summary>
/// <param name="DeviceId">This device.</param>
/// <param name="LinkCode">Its link code, 10 base32 characters (shown <c>XXXXX-XXXXX</c>).</param>
public sealed record DeviceRegistration(Guid DeviceId, string LinkCode);

/// <summary><c>GET /v1/keys/devices/me</c>: this device's key state.</summary>
/// <param name="DeviceId">This device.</param>
/// <param name="LinkCode">Its link code.</param>
/// <param name="Approved">Whether another device (or the first-device setup) signed its certificate.</param>
/// <param name="OneTimePrekeysRemaining">One-time prekeys the server still holds for it.</param>
/// <param name="SignedPrekeyId">The id of its current signed prekey, if it uploaded one.</param>
public sealed record DeviceKeyStatus(Guid DeviceId, string LinkCode, bool Approved, int OneTimePrekeysRemaining, uint? SignedPrekeyId);

/// <summary>A signed prekey.</summary>
/// <param name="PrekeyId">Its id.</param>
/// <param name="PublicKey">The X25519 public key.</param>
/// <param name="Signature">Ed25519 signature by the device signing key over <c>"CW-spk-v1" || device_id || u32 prekey_id || public_key</c>.</param>
public sealed record SignedPrekeyInfo(uint PrekeyId, byte[] PublicKey, byte[] Signature);

/// <summary>A one-time prekey.</summary>
/// <param name="PrekeyId">Its id.</param>
/// <param name="PublicKey">The X25519 public key.</param>
public sealed record OneTimePrekeyInfo(uint PrekeyId, byte[] PublicKey);

/// <summary><c>GET /v1/keys/link/{code}</c>: a pending device of mine, waiting for approval.</summary>
/// <param name="DeviceId">The device.</param>
/// <param name="DeviceName">Its name, if it gave one.</param>
/// <param name="SigningKey">Its device signing key.</param>
/// <param name="DhKey">Its device DH key.</param>
/// <param name="CreatedAtMs">Certificate body field.</param>
/// <param name="CertificateVersion">Certificate body field.</param>
/// <param name="SelfSignature">Its signature over the certificate body.</param>
public sealed record PendingDevice(Guid DeviceId, string? DeviceName, byte[] SigningKey, byte[] DhKey, long CreatedAtMs, uint CertificateVersion, byte[] SelfSignature);

/// <summary>One device on a signed device list.</summary>
/// <param name="DeviceId">The device.</param>
/// <param name="CertificateHash">SHA-256 of its certificate body and account signature.</param>
public sealed record DeviceListEntryInfo(Guid DeviceId, byte[] CertificateHash);

/// <summary>A user's device list, signed by the account key (<c>PUT /v1/keys/device-list</c>).</summary>
/// <param name="Version">Monotonic version; clients refuse a lower one than they saw.</param>
/// <param name="Devices">The approved devices.</param>
/// <param name="Signature">Ed25519 signature by the account key over the list body.</param>
public sealed record DeviceListInfo(ulong Version, IReadOnlyList<DeviceListEntryInfo> Devices, byte[] Signature);

/// <summary>A device's public keys as the directory serves them.</summary>
/// <param name="DeviceId">The device.</param>
/// <param name="SigningKey">Device signing key.</param>
/// <param name="DhKey">Device DH key.</param>
/// <param name="CreatedAtMs">Certificate body field.</param>
/// <param name="CertificateVersion">Certificate body field.</param>
/// <param name="SelfSignature">The device's signature over the certificate body.</param>
/// <param name="AccountSignature">The account key's signature over it; <see langword="null"/> while pending.</param>
/// <param name="SignedPrekey">Its current signed prekey, if any.</param>
public sealed record DeviceKeysInfo(
    Guid DeviceId,
    byte[] SigningKey,
    byte[] DhKey,
    long CreatedAtMs,
    uint CertificateVersion,
    byte[] SelfSignature,
    byte[]? AccountSignature,
    SignedPrekeyInfo? SignedPrekey);

/// <summary><c>GET /v1/keys/users/{user_id}</c>: everything public about a user's keys.</summary>
/// <param name="UserId">The user.</param>
/// <param name="AccountKey">The account key, if they set one up.</param>
/// <param name="HistoryKey">The newest history key generation.</param>
/// <param name="DeviceList">The signed device list.</param>
/// <param name="Devices">Every device with keys registered (pending ones included).</param>
/// <param name="HighestHistoryKeyGeneration">The highest history key generation ever published, usable or not (0: none); a new one must be above it.</param>
/// <param name="FormerDevices">Revoked devices that had been approved, most recently revoked first: what they sent before the revocation stays readable.</param>
public sealed record UserKeys(
    Guid UserId,
    AccountKeyInfo? AccountKey,
    HistoryKeyInfo? HistoryKey,
    DeviceListInfo? DeviceList,
    IReadOnlyList<DeviceKeysInfo> Devices,
    int HighestHistoryKeyGeneration = 0,
    IReadOnlyList<FormerDeviceKeysInfo>? FormerDevices = null);

/// <summary>A revoked device that had been approved, as the directory keeps it (never sealed to, never given prekeys).</summary>
/// <param name="DeviceId">The device.</param>
/// <param name="SigningKey">Device signing key.</param>
/// <param name="DhKey">Device DH key.</param>
/// <param name="CreatedAtMs">Certificate body field.</param>
/// <param name="CertificateVersion">Certificate body field.</param>
/// <param name="SelfSignature">The device's signature over the certificate body.</param>
/// <param name="AccountSignature">The account key's signature over it.</param>
/// <param name="RevokedAt">When the server revoked it (the server's clock).</param>
public sealed record FormerDeviceKeysInfo(
    Guid DeviceId,
    byte[] SigningKey,
    byte[] DhKey,
    long CreatedAtMs,
    uint CertificateVersion,
    byte[] SelfSignature,
    byte[] AccountSignature,
    DateTimeOffset RevokedAt);

/// <summary><c>POST /v1/keys/users/{user_id}/devices/{device_id}/claim-prekey</c>: what X3DH to that device needs.</summary>
/// <param name="SignedPrekey">The device's signed prekey.</param>
/// <param name="OneTimePrekey">A one-time prekey, handed out once; <see langword="null"/> when none is left.</param>
public sealed record ClaimedPrekeys(SignedPrekeyInfo SignedPrekey, OneTimePrekeyInfo? OneTimePrekey);

/// <summary><c>GET /v1/keys/link-payload</c>: what the approving device sealed to this one.</summary>
/// <param name="FromDeviceId">The approving device.</param>
/// <param name="Payload">The sealed payload.</param>
public sealed record LinkPayload(Guid FromDeviceId, byte[] Payload);

/// <summary>A member of an end-to-end encrypted conversation and what to seal to.</summary>
/// <param name="UserId">The member.</param>
/// <param name="HistoryKeyGeneration">Their current history key generation; <see langword="null"/> without keys.</param>
/// <param name="Devices">Their devices on their signed list.</param>
public sealed record E2eMember(Guid UserId, uint? HistoryKeyGeneration, IReadOnlyList<Guid> Devices);

/// <summary><c>GET /v1/conversations/{id}/e2e</c>: a conversation's epoch, mode and recipients.</summary>
/// <param name="ConversationId">The conversation.</param>
/// <param name="Epoch">The membership epoch a SEND must carry.</param>
/// <param name="RosterVersion">Changes when a member's history key or device list changes.</param>
/// <param name="Mode"><c>history</c> or <c>strict</c>.</param>
/// <param name="MaxSenderChainMembers">Above this member count the conversation uses one epoch secret.</param>
/// <param name="EpochSecret">Whether it is above that count: one distribution per epoch, by any member.</param>
/// <param name="Members">Every member.</param>
public sealed record ConversationE2e(Guid ConversationId, ulong Epoch, ulong RosterVersion, string Mode, int MaxSenderChainMembers, bool EpochSecret, IReadOnlyList<E2eMember> Members);

/// <summary>One sealed chain seed of a key-bundle upload.</summary>
/// <param name="UserId">The recipient user.</param>
/// <param name="DeviceId">The recipient device (strict mode).</param>
/// <param name="HistoryKeyGeneration">The history key generation sealed to (history mode).</param>
/// <param name="Sealed">The sealed seed.</param>
public sealed record KeyBundleEntry(Guid UserId, Guid? DeviceId, uint? HistoryKeyGeneration, byte[] Sealed);

/// <summary><c>POST /v1/conversations/{id}/key-bundles</c>: one chunk (≤ 200 entries) of a chain's distribution.</summary>
/// <param name="ChainId">The chain.</param>
/// <param name="Epoch">The epoch it is for.</param>
/// <param name="Final">Whether this is the last chunk; the server then checks completeness.</param>
/// <param name="Entries">The sealed seeds.</param>
public sealed record KeyBundleUpload(Guid ChainId, ulong Epoch, bool Final, IReadOnlyList<KeyBundleEntry> Entries);

/// <summary>The answer to a key-bundle upload.</summary>
/// <param name="ChainId">The chain.</param>
/// <param name="Complete">Whether its distribution is complete (after the final chunk).</param>
/// <param name="RosterVersion">The roster version it is complete for.</param>
public sealed record KeyBundleResult(Guid ChainId, bool Complete, ulong? RosterVersion);

/// <summary>A recipient named in a <c>DISTRIBUTION_MISMATCH</c> answer.</summary>
/// <param name="UserId">The user.</param>
/// <param name="DeviceId">The device (strict mode).</param>
/// <param name="HistoryKeyGeneration">The history key generation (history mode).</param>
public sealed record KeyBundleRecipient(Guid UserId, Guid? DeviceId, uint? HistoryKeyGeneration);

/// <summary>Why the server refused a distribution (<c>409 DISTRIBUTION_MISMATCH</c>).</summary>
/// <param name="Missing">Required recipients not sealed to.</param>
/// <param name="Extra">Recipients that are not members or listed devices.</param>
/// <param name="Stale">Recipients sealed to at an old history key generation.</param>
public sealed record DistributionMismatch(IReadOnlyList<KeyBundleRecipient> Missing, IReadOnlyList<KeyBundleRecipient> Extra, IReadOnlyList<KeyBundleRecipient> Stale);

/// <summary>A sealed seed addressed to me (<c>GET /v1/conversations/{id}/key-bundles</c>).</summary>
/// <param name="Position">Its position, for <c>after</c>.</param>
/// <param name="ChainId">The chain.</param>
/// <param name="SenderUserId">Who sealed it.</param>
/// <param name="SenderDeviceId">Which device sealed it.</param>
/// <param name="Epoch">The chain's epoch.</param>
/// <param name="UserId">The recipient user (me).</param>
/// <param name="DeviceId">The recipient device (strict mode).</param>
/// <param name="HistoryKeyGeneration">The history key generation (history mode).</param>
/// <param name="Sealed">The sealed seed.</param>
/// <param name="UploadedAt">When it was uploaded.</param>
public sealed record StoredKeyBundle(
    long Position,
    Guid ChainId,
    Guid SenderUserId,
    Guid SenderDeviceId,
    ulong Epoch,
    Guid UserId,
    Guid? DeviceId,
    uint? HistoryKeyGeneration,
    byte[] Sealed,
    DateTimeOffset? UploadedAt);

/// <summary>One page of <c>GET /v1/conversations/{id}/key-bundles</c>.</summary>
/// <param name="Entries">The seeds, by position.</param>
/// <param name="NextAfter">The position to ask after for the next page; <see langword="null"/> on the last.</param>
public sealed record KeyBundlePage(IReadOnlyList<StoredKeyBundle> Entries, long? NextAfter);
