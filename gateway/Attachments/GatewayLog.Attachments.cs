namespace ChatWire.Gateway;

// Event ids 40-49: attachments.
internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "Deleted {Count} attachments: uploads never completed (older than their grant and an hour), and those of deleted teams")]
    public static partial void AttachmentsSwept(ILogger logger, int count);

    [LoggerMessage(EventId = 42, Level = LogLevel.Warning, Message = "Storage:Blobs is 'local' on the Redis bus: attachments live in this node's data directory and the other nodes cannot serve them; use 's3' (docs/deploy.md)")]
    public static partial void LocalBlobsInCluster(ILogger logger);

    [LoggerMessage(EventId = 43, Level = LogLevel.Debug, Message = "A blob download from {Address} was cut off after {Sent} of {Size} bytes: its client took nothing for {TimeoutMs} ms")]
    public static partial void BlobDownloadStalled(ILogger logger, string? address, long sent, long size, int timeoutMs);

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "The attachment sweep (uploads never completed, attachments of deleted teams) failed; it runs again at its next interval")]
    public static partial void AttachmentSweepFailed(ILogger logger, Exception exception);
}
