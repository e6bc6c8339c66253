namespace ChatWire.Client.Internal;

// Request bodies and envelopes of the key directory and attachments endpoints that the public API takes as arguments.
internal sealed record AccountKeyBody(byte[] SigningKey, bool? Reset);

internal sealed record CertificateBody(uint CertificateVersion, byte[] AccountSignature);

internal sealed record OneTimePrekeysBody(IReadOnlyList<OneTimePrekeyInfo> Prekeys);

internal sealed record RemainingPrekeys(int Remaining);

internal sealed record LinkPayloadBody(byte[] Payload);

internal sealed record RecoveryBackupBody(byte[] Backup);

internal sealed record E2eModeBody(string Mode);

internal sealed record CreateAttachmentBody(Guid ConversationId, long Size, byte[] Sha256);

// The extension members of a DISTRIBUTION_MISMATCH problem; absent lists are empty.
internal sealed record DistributionMismatchBody(
    IReadOnlyList<KeyBundleRecipient>? Missing,
    IReadOnlyList<KeyBundleRecipient>? Extra,
    IReadOnlyList<KeyBundleRecipient>? Stale);
