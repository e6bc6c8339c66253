namespace ChatWire.Gateway.Api;

// Bodies of the attachments endpoints (docs/http-api.md, "Attachments"). Header and field names in the upload
// instructions are passed through as the blob store gave them (dictionary keys take no naming policy).
internal sealed record CreateAttachmentRequest(string? ConversationId, long? Size, string? Sha256);

/// <summary>How to upload: PUT the bytes, or POST multipart/form-data with the fields first and the bytes as the field <c>file</c>.</summary>
internal sealed record UploadInstructions(string Method, string Url, IReadOnlyDictionary<string, string> Headers, IReadOnlyDictionary<string, string> Fields);

internal sealed record AttachmentCreatedResponse(Guid AttachmentId, UploadInstructions Upload, DateTime ExpiresAt);

internal sealed record AttachmentCompletedResponse(Guid AttachmentId, long Size, string Sha256, string State);

internal sealed record AttachmentResponse(Guid AttachmentId, Guid ConversationId, long Size, string Sha256, string DownloadUrl, DateTime ExpiresAt);
