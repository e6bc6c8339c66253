namespace ChatWire.Storage.Attachments;

/// <summary>Whether an attachment's bytes have been uploaded and checked.</summary>
public enum AttachmentState
{
    /// <summary>Granted an upload; not yet checked (counts against the owner's quota all the same).</summary>
    Pending = 0,

    /// <summary>Uploaded and checked: members may download it.</summary>
    Ready = 1,

    /// <summary>
    /// Its conversation was deleted with its team: nobody may complete or download it (an S3 URL handed out before
    /// works until it expires), and the sweep deletes its blob and row once its upload grant has been expired for
    /// the sweep's grace (it counts against the owner's quota until then).
    /// </summary>
    Orphaned = 2,
}

/// <summary>
/// One attachment's metadata. The bytes live in the blob store under a key made from <see cref="Id"/>; the
/// server knows only their size and SHA-256 (the client encrypted them).
/// </summary>
public sealed record AttachmentRecord(
    Guid Id, Guid ConversationId, Guid OwnerUserId, long Size, byte[] Sha256, AttachmentState State, DateTimeOffset CreatedAt)
{
    public bool Equals(AttachmentRecord? other) =>
        other is not null && Id == other.Id && ConversationId == other.ConversationId && OwnerUserId == other.OwnerUserId
        && Size == other.Size && Sha256.AsSpan().SequenceEqual(other.Sha256) && State == other.State && CreatedAt == other.CreatedAt;

    public override int GetHashCode() => Id.GetHashCode();
}

/// <summary>
/// The attachments' metadata, in the directory database (SQLite or MySQL; AttachmentStoreContract). The
/// per-user quota is checked and the row written in one transaction, so concurrent uploads cannot pass it together.
/// </summary>
public interface IAttachmentStore
{
    /// <summary>
    /// Stores a new attachment when the owner's attachments (pending, ready and orphaned) plus this one stay within
    /// <paramref name="quotaBytes"/> (0 = no quota) and the owner has fewer than <paramref name="maxPending"/>
    /// pending ones (0 = no limit); false (nothing stored) otherwise.
    /// </summary>
    Task<bool> CreateAttachmentAsync(AttachmentRecord attachment, long quotaBytes, int maxPending = 0, CancellationToken cancellationToken = default);

    Task<AttachmentRecord?> GetAttachmentAsync(Guid attachmentId, CancellationToken cancellationToken = default);

    /// <summary>Marks a pending attachment ready; false when there is no such pending attachment.</summary>
    Task<bool> MarkAttachmentReadyAsync(Guid attachmentId, CancellationToken cancellationToken = default);

    /// <summary>Marks the attachment orphaned (its conversation is gone); false when there is no such attachment.</summary>
    Task<bool> MarkAttachmentOrphanedAsync(Guid attachmentId, CancellationToken cancellationToken = default);

    /// <summary>Deletes the row; false when there was none.</summary>
    Task<bool> DeleteAttachmentAsync(Guid attachmentId, CancellationToken cancellationToken = default);

    /// <summary>The bytes the user's attachments (pending, ready and orphaned) take.</summary>
    Task<long> GetAttachmentBytesAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>Pending attachments created before <paramref name="createdBefore"/>, oldest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<AttachmentRecord>> ListPendingAttachmentsAsync(DateTimeOffset createdBefore, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Orphaned attachments (their team was deleted) created before <paramref name="createdBefore"/>, oldest first, at
    /// most <paramref name="limit"/>.
    /// </summary>
    Task<IReadOnlyList<AttachmentRecord>> ListOrphanedAttachmentsAsync(DateTimeOffset createdBefore, int limit, CancellationToken cancellationToken = default);
}
