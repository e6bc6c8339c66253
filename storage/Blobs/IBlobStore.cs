namespace ChatWire.Storage.Blobs;

/// <summary>
/// Where attachment bytes live (docs/e2e.md, attachments): the client uploads and downloads them directly with
/// what this port hands out, and the server only checks the result. Keys are ids the server made, never a
/// client's path. Adapters: <see cref="LocalBlobStore"/> (files in the data directory, served by the gateway's
/// <c>/v1/blobs</c> endpoints) and <see cref="S3BlobStore"/> (presigned S3 requests). Both pass BlobStoreContract.
/// The bytes are stored exactly as uploaded: clients encrypt, the store never transforms.
/// </summary>
public interface IBlobStore
{
    /// <summary>
    /// What a client needs to upload exactly <paramref name="size"/> bytes to <paramref name="key"/> until
    /// <paramref name="expiresAt"/>. The URL may be relative (the local store's, resolved against the API's base address).
    /// </summary>
    Task<BlobUploadGrant> CreateUploadGrantAsync(string key, long size, DateTimeOffset expiresAt, CancellationToken cancellationToken = default);

    /// <summary>The stored object's size and when it was written (S3: a HEAD request); null when there is none.</summary>
    Task<BlobInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>A URL that reads the object until <paramref name="expiresAt"/> (relative for the local store).</summary>
    Task<Uri> CreateDownloadUrlAsync(string key, DateTimeOffset expiresAt, CancellationToken cancellationToken = default);

    /// <summary>Deletes the object; nothing happens when there is none.</summary>
    Task DeleteAsync(string key, CancellationToken cancellationToken = default);
}

/// <summary>
/// How to upload: <see cref="Method"/> to <see cref="Url"/> with <see cref="Headers"/>; for a form upload
/// (<c>POST</c>, multipart/form-data) the <see cref="Fields"/> come first, then the bytes as the field <c>file</c>.
/// </summary>
public sealed record BlobUploadGrant(string Method, Uri Url, IReadOnlyDictionary<string, string> Headers, IReadOnlyDictionary<string, string> Fields, DateTimeOffset ExpiresAt);

/// <summary>What the store holds under a key.</summary>
public sealed record BlobInfo(long Size, DateTimeOffset WrittenAt);

/// <summary>The verdict on an upload, as the server checks it after the client says it is done.</summary>
public enum BlobUploadCheck
{
    /// <summary>The object is there, of the granted size, written while the grant was valid.</summary>
    Accepted,

    /// <summary>Nothing was uploaded.</summary>
    Missing,

    /// <summary>The object is not the granted size.</summary>
    WrongSize,

    /// <summary>The object was written after the grant expired (a store that does not enforce the expiry itself).</summary>
    Late,
}

/// <summary>The one check every adapter's upload goes through, whatever the store enforced on its own.</summary>
public static class BlobUploads
{
    /// <summary>
    /// How long after its grant expired an object may have been written and still pass. A store checks the expiry
    /// when the upload starts and records the write time when it ends, so a large upload begun in time ends
    /// later; a store that never checks lets later uploads through, and those are refused.
    /// </summary>
    public static readonly TimeSpan LateWriteTolerance = TimeSpan.FromMinutes(5);

    /// <summary>Reads the object under <paramref name="key"/> and judges it against the grant it was given (size and expiry).</summary>
    public static async Task<BlobUploadCheck> CheckAsync(IBlobStore store, string key, long size, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var info = await store.GetInfoAsync(key, cancellationToken);
        return info is null ? BlobUploadCheck.Missing
            : info.Size != size ? BlobUploadCheck.WrongSize
            : info.WrittenAt > expiresAt + LateWriteTolerance ? BlobUploadCheck.Late
            : BlobUploadCheck.Accepted;
    }

    /// <summary>
    /// Whether <paramref name="key"/> has the shape of a key the server makes: 1 to 128 ASCII letters, digits, '-'
    /// or '_'. No '/', '.' or anything else a path could be made of: the local store uses the key as a file name.
    /// </summary>
    public static bool IsValidKey(string? key) =>
        !string.IsNullOrEmpty(key) && key.Length <= 128
        && key.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_');
}
