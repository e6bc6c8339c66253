using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using ChatWire.Storage.Attachments;
using ChatWire.Storage.Blobs;
using ChatWire.Storage.Directory;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Attachments;

/// <summary>
/// Encrypted attachments (docs/http-api.md, "Attachments"): who may upload and read them, the size limit and
/// the per-user quota, and the check of what was uploaded. The bytes are the client's ciphertext: the server
/// never reads them except, on the local store, to compare their SHA-256 with the declared one.
/// </summary>
internal sealed class AttachmentService(
    IAttachmentStore attachments, IBlobStore blobs, IDirectoryStore directory, IOptions<AttachmentsOptions> options, TimeProvider time)
{
    /// <summary>How long after its grant expired an upload never completed is deleted.</summary>
    public static readonly TimeSpan SweepGrace = TimeSpan.FromHours(1);

    /// <summary>
    /// Uploads one user may have declared and not completed. The byte quota alone would let a user declare a
    /// billion 1-byte attachments (a row each); a client sends a few files at a time and completes them.
    /// </summary>
    public const int MaxPendingUploads = 100;

    private readonly AttachmentsOptions _options = options.Value;

    /// <summary>The blob store key of an attachment: its id, as in the API.</summary>
    public static string KeyOf(Guid attachmentId) => attachmentId.ToString("D");

    private TimeSpan UploadLifetime => TimeSpan.FromSeconds(_options.UploadExpirySeconds);

    /// <summary>When <paramref name="attachment"/>'s upload grant expires (it is given at creation).</summary>
    public DateTimeOffset GrantExpiry(AttachmentRecord attachment) => attachment.CreatedAt + UploadLifetime;

    public async Task<(AttachmentRecord Attachment, BlobUploadGrant Grant)> CreateAsync(Guid userId, Guid conversationId, long size, byte[] sha256, CancellationToken ct)
    {
        await RequireMemberAsync(conversationId, userId, ct);
        if (size > _options.MaxBytes)
        {
            throw new RequestRefusedException(ErrorCode.ContentTooLarge, $"An attachment may have at most {_options.MaxBytes} bytes.");
        }

        // Millisecond precision: what the stores keep.
        var now = DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds());
        var attachment = new AttachmentRecord(Guid.CreateVersion7(now), conversationId, userId, size, sha256, AttachmentState.Pending, now);
        if (!await attachments.CreateAttachmentAsync(attachment, _options.QuotaBytes, MaxPendingUploads, ct))
        {
            throw new RequestRefusedException(
                ErrorCode.QuotaExceeded,
                $"Your attachments would take more than {_options.QuotaBytes} bytes, or you have {MaxPendingUploads} uploads not completed; uploads not completed count until an hour after their grant expired.");
        }

        var grant = await blobs.CreateUploadGrantAsync(KeyOf(attachment.Id), size, GrantExpiry(attachment), ct);
        return (attachment, grant);
    }

    /// <summary>
    /// Checks the uploaded object against the declared size (and, on the local store, SHA-256) and marks the
    /// attachment ready. A wrong upload is deleted with its attachment: UPLOAD_MISMATCH, start again.
    /// </summary>
    public async Task<AttachmentRecord> CompleteAsync(Guid userId, Guid attachmentId, CancellationToken ct)
    {
        var attachment = await attachments.GetAttachmentAsync(attachmentId, ct);
        if (attachment is null || attachment.OwnerUserId != userId || attachment.State == AttachmentState.Orphaned)
        {
            throw NotFound();
        }

        if (attachment.State == AttachmentState.Ready)
        {
            return attachment;
        }

        var key = KeyOf(attachment.Id);
        var check = await BlobUploads.CheckAsync(blobs, key, attachment.Size, GrantExpiry(attachment), ct);
        if (check == BlobUploadCheck.Missing)
        {
            // Kept: the client may still upload until the grant expires (the sweep deletes it after that).
            throw new RequestRefusedException(ErrorCode.UploadMismatch, "Nothing was uploaded for this attachment; upload it with its grant, then complete it.");
        }

        var mismatch = check switch
        {
            BlobUploadCheck.WrongSize => "The uploaded blob is not the declared size",
            BlobUploadCheck.Late => "The blob was uploaded after its grant expired",
            _ => null,
        };

        // The local store can afford to read the bytes back; on S3 the receivers check the hash (it is in the message).
        if (mismatch is null && blobs is LocalBlobStore local && await local.ComputeSha256Async(key, ct) is { } actual && !actual.AsSpan().SequenceEqual(attachment.Sha256))
        {
            mismatch = "The uploaded blob's SHA-256 is not the declared one";
        }
        if (mismatch is not null)
        {
            await blobs.DeleteAsync(key, ct);
            await attachments.DeleteAttachmentAsync(attachment.Id, ct);
            throw new RequestRefusedException(ErrorCode.UploadMismatch, mismatch + "; it was deleted. Create the attachment again.");
        }

        // Not marked: a completion racing this one did it (the same answer), or the team's deletion orphaned it
        // meanwhile. A conversation gone after it was marked ready: it was declared after the deletion had orphaned
        // the others, so it is orphaned now, for the sweep (which waits until its grant cannot be used any more).
        if (!await attachments.MarkAttachmentReadyAsync(attachment.Id, ct)
            && (await attachments.GetAttachmentAsync(attachment.Id, ct))?.State != AttachmentState.Ready)
        {
            throw NotFound();
        }

        if (await directory.GetConversationAsync(attachment.ConversationId, ct) is null)
        {
            await attachments.MarkAttachmentOrphanedAsync(attachment.Id, ct);
            throw NotFound();
        }

        return attachment with { State = AttachmentState.Ready };
    }

    /// <summary>A ready attachment of a conversation the user is in, with a download URL; NOT_FOUND otherwise.</summary>
    public async Task<(AttachmentRecord Attachment, Uri DownloadUrl, DateTimeOffset ExpiresAt)> GetAsync(Guid userId, Guid attachmentId, CancellationToken ct)
    {
        var attachment = await attachments.GetAttachmentAsync(attachmentId, ct);
        if (attachment is null || attachment.State != AttachmentState.Ready || !await directory.IsConversationMemberAsync(attachment.ConversationId, userId, ct))
        {
            throw NotFound();
        }

        var expiresAt = time.GetUtcNow() + TimeSpan.FromSeconds(_options.DownloadExpirySeconds);
        return (attachment, await blobs.CreateDownloadUrlAsync(KeyOf(attachment.Id), expiresAt, ct), expiresAt);
    }

    /// <summary>
    /// Whether the attachment exists and was not orphaned by its team's deletion: its blob may be served to a holder
    /// of a valid download token (handed out for ready attachments only), and bytes uploaded for it are kept.
    /// </summary>
    public async Task<bool> IsLiveAsync(Guid attachmentId, CancellationToken ct) =>
        await attachments.GetAttachmentAsync(attachmentId, ct) is { State: not AttachmentState.Orphaned };

    /// <summary>Who created the attachment, while it awaits its upload; null once it is complete, or when there is none.</summary>
    public async Task<Guid?> AwaitingUploadByAsync(Guid attachmentId, CancellationToken ct) =>
        await attachments.GetAttachmentAsync(attachmentId, ct) is { State: AttachmentState.Pending } attachment ? attachment.OwnerUserId : null;

    /// <summary>
    /// Deletes, blob then row, the uploads never completed and the attachments of deleted teams' channels (orphaned by
    /// the team's deletion), once their grant expired over <see cref="SweepGrace"/> before <paramref name="now"/>. Not
    /// sooner: an upload grant still usable (a presigned S3 POST can be replayed until it expires, and a local upload
    /// under way finishes its file) would store bytes no row counts against a quota.
    /// </summary>
    public async Task<int> SweepAsync(DateTimeOffset now, CancellationToken ct)
    {
        var cutoff = now - UploadLifetime - SweepGrace;
        return await SweepAsync(limit => attachments.ListPendingAttachmentsAsync(cutoff, limit, ct), ct)
            + await SweepAsync(limit => attachments.ListOrphanedAttachmentsAsync(cutoff, limit, ct), ct);
    }

    private async Task<int> SweepAsync(Func<int, Task<IReadOnlyList<AttachmentRecord>>> list, CancellationToken ct)
    {
        const int Batch = 100;
        var deleted = 0;
        while (true)
        {
            var batch = await list(Batch);
            foreach (var attachment in batch)
            {
                await blobs.DeleteAsync(KeyOf(attachment.Id), ct);
                await attachments.DeleteAttachmentAsync(attachment.Id, ct);
                deleted++;
            }

            if (batch.Count < Batch)
            {
                return deleted;
            }
        }
    }

    private async Task RequireMemberAsync(Guid conversationId, Guid userId, CancellationToken ct)
    {
        if (!await directory.IsConversationMemberAsync(conversationId, userId, ct))
        {
            throw NotFound();
        }
    }

    // Not a member and no such thing answer alike: ids of conversations and attachments one cannot see stay unknown.
    private static RequestRefusedException NotFound() => new(ErrorCode.NotFound, "No such attachment or conversation (or you are not a member of it).");
}
