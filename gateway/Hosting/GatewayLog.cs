namespace ChatWire.Gateway;

internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "ChatWire {Listener} listening on {Address}")]
    public static partial void Listening(ILogger logger, string listener, string address);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Connection {ConnectionId} closed: {Code} {Reason}")]
    public static partial void SessionClosed(ILogger logger, Guid connectionId, string code, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Connection refused from {Address}: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, string? address, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "SEND failed in storage; nothing was acknowledged")]
    public static partial void SendFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "Unhandled error in session {ConnectionId}")]
    public static partial void SessionFault(ILogger logger, Guid connectionId, Exception exception);

    [LoggerMessage(EventId = 6, Level = LogLevel.Error, Message = "Unhandled error serving {Method} {Path}")]
    public static partial void RequestFault(ILogger logger, string method, string path, Exception exception);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "Data directory {Path}")]
    public static partial void DataDirectory(ILogger logger, string path);

    [LoggerMessage(EventId = 10, Level = LogLevel.Error, Message = "The connection sweep failed; it continues with the next interval")]
    public static partial void SweepFault(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 9, Level = LogLevel.Information, Message = "ChatWire stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "Generated a self-signed development certificate at {Path}")]
    public static partial void DevelopmentCertificateCreated(ILogger logger, string path);
}
