namespace ChatWire.Gateway.Api;

// Request and response bodies of the key directory (docs/http-api.md, "Key directory"). Keys, signatures and
// sealed blobs are standard base64 with padding; request fields are nullable so that a missing one is a
// VALIDATION_FAILED answer naming it.
internal sealed record SetAccountKeyRequest(string? SigningKey, bool? Reset = null);

internal sealed record AccountKeyInfo(string SigningKey, int Version);

internal sealed record AddHistoryKeyRequest(int? Generation, string? PublicKey, string? Signature);

internal sealed record HistoryKeyInfo(int Generation, string PublicKey, string Signature);

internal sealed record RegisterDeviceKeysRequest(string? SigningKey, string? DhKey, long? CreatedAtMs, int? CertificateVersion, string? SelfSignature);

internal sealed record DeviceKeysRegisteredResponse(Guid DeviceId, string LinkCode);

internal sealed record MyDeviceKeysResponse(Guid DeviceId, string LinkCode, bool Approved, int OneTimePrekeysRemaining, int? SignedPrekeyId);

internal sealed record SignedPrekeyRequest(int? PrekeyId, string? PublicKey, string? Signature);

internal sealed record SignedPrekeyInfo(int PrekeyId, string PublicKey, string Signature);

internal sealed record OneTimePrekeyItem(int? PrekeyId, string? PublicKey);

internal sealed record OneTimePrekeysRequest(IReadOnlyList<OneTimePrekeyItem?>? Prekeys);

internal sealed record OneTimePrekeyInfo(int PrekeyId, string PublicKey);

internal sealed record PrekeysRemainingResponse(int Remaining);

internal sealed record PendingDeviceResponse(Guid DeviceId, string DeviceName, string SigningKey, string DhKey, long CreatedAtMs, int CertificateVersion, string SelfSignature);

internal sealed record DeviceCertificateRequest(int? CertificateVersion, string? AccountSignature);

internal sealed record DeviceListItem(string? DeviceId, string? CertificateHash);

internal sealed record SetDeviceListRequest(long? Version, IReadOnlyList<DeviceListItem?>? Devices, string? Signature);

internal sealed record DeviceListEntryInfo(Guid DeviceId, string CertificateHash);

internal sealed record DeviceListInfo(long Version, IReadOnlyList<DeviceListEntryInfo> Devices, string Signature);

internal sealed record LinkPayloadRequest(string? Payload);

internal sealed record LinkPayloadResponse(Guid FromDeviceId, string Payload);

internal sealed record RecoveryBackupRequest(string? Backup);

internal sealed record RecoveryBackupResponse(string Backup);

internal sealed record DeviceKeysInfo(
    Guid DeviceId,
    string SigningKey,
    string DhKey,
    long CreatedAtMs,
    int CertificateVersion,
    string SelfSignature,
    string? AccountSignature,
    SignedPrekeyInfo? SignedPrekey);

// A revoked device that had been approved: its certificate, for reading what it sent before the revocation.
internal sealed record FormerDeviceKeysInfo(
    Guid DeviceId,
    string SigningKey,
    string DhKey,
    long CreatedAtMs,
    int CertificateVersion,
    string SelfSignature,
    string AccountSignature,
    DateTime RevokedAt);

internal sealed record UserKeysResponse(
    Guid UserId,
    AccountKeyInfo? AccountKey,
    HistoryKeyInfo? HistoryKey,
    int HighestHistoryKeyGeneration,
    DeviceListInfo? DeviceList,
    IReadOnlyList<DeviceKeysInfo> Devices,
    IReadOnlyList<FormerDeviceKeysInfo> FormerDevices);

internal sealed record ClaimedPrekeysResponse(SignedPrekeyInfo SignedPrekey, OneTimePrekeyInfo? OneTimePrekey);

internal sealed record E2eMemberInfo(Guid UserId, int? HistoryKeyGeneration, IReadOnlyList<Guid> Devices);

internal sealed record ConversationE2eResponse(
    Guid ConversationId,
    long Epoch,
    long RosterVersion,
    string Mode,
    int MaxSenderChainMembers,
    bool EpochSecret,
    IReadOnlyList<E2eMemberInfo> Members);

internal sealed record SetE2eModeRequest(string? Mode);

/// <summary>One sealed key in an upload: <c>device_id</c> in device mode, <c>history_key_generation</c> in history mode.</summary>
internal sealed record KeyBundleEntryItem(string? UserId, string? Sealed, string? DeviceId = null, int? HistoryKeyGeneration = null);

internal sealed record UploadKeyBundleRequest(string? ChainId, long? Epoch, IReadOnlyList<KeyBundleEntryItem?>? Entries, bool? Final = null);

internal sealed record KeyBundleUploadResponse(Guid ChainId, bool Complete, long RosterVersion);

/// <summary>A recipient in a DISTRIBUTION_MISMATCH problem's <c>missing</c>, <c>extra</c> and <c>stale</c> lists.</summary>
internal sealed record KeyRecipientInfo(Guid UserId, Guid? DeviceId = null, int? HistoryKeyGeneration = null);

internal sealed record StoredKeyBundleInfo(
    long Position,
    Guid ChainId,
    Guid SenderUserId,
    Guid SenderDeviceId,
    long Epoch,
    Guid UserId,
    Guid? DeviceId,
    int? HistoryKeyGeneration,
    string Sealed,
    DateTime UploadedAt);

internal sealed record KeyBundleListResponse(IReadOnlyList<StoredKeyBundleInfo> Entries, long? NextAfter);
