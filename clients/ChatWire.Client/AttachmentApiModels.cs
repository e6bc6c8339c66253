namespace ChatWire.Client;

/// <summary>Where and how to upload an attachment's ciphertext.</summary>
/// <param name="Method"><c>PUT</c> (the embedded store: the body is the ciphertext) or <c>POST</c> (an S3 presigned POST form).</param>
/// <param name="Url">The upload URL; relative URLs are relative to the API listener.</param>
/// <param name="Headers">Headers to send with the upload.</param>
/// <param name="Fields">Form fields to send before the file in a presigned POST.</param>
public sealed record AttachmentUploadTarget(string Method, string Url, IReadOnlyDictionary<string, string>? Headers, IReadOnlyDictionary<string, string>? Fields);

/// <summary>The answer to <c>POST /v1/attachments</c>: an upload grant.</summary>
/// <param name="AttachmentId">The attachment.</param>
/// <param name="Upload">Where to upload.</param>
/// <param name="ExpiresAt">When the grant stops working.</param>
public sealed record AttachmentGrant(Guid AttachmentId, AttachmentUploadTarget Upload, DateTimeOffset ExpiresAt);

/// <summary>The answer to <c>POST /v1/attachments/{id}/complete</c>.</summary>
/// <param name="AttachmentId">The attachment.</param>
/// <param name="Size">Its stored size in bytes.</param>
/// <param name="Sha256">SHA-256 of the stored ciphertext.</param>
/// <param name="State"><c>ready</c>.</param>
public sealed record AttachmentReady(Guid AttachmentId, long Size, byte[] Sha256, string State);

/// <summary><c>GET /v1/attachments/{id}</c>: an attachment and where to download it.</summary>
/// <param name="AttachmentId">The attachment.</param>
/// <param name="ConversationId">The conversation it belongs to.</param>
/// <param name="Size">Its size in bytes (ciphertext).</param>
/// <param name="Sha256">SHA-256 of the ciphertext.</param>
/// <param name="DownloadUrl">Where to GET it; relative URLs are relative to the API listener.</param>
/// <param name="ExpiresAt">When the download URL stops working.</param>
public sealed record AttachmentInfo(Guid AttachmentId, Guid ConversationId, long Size, byte[] Sha256, string DownloadUrl, DateTimeOffset ExpiresAt);
