namespace ChatWire.Gateway;

// Push notifications: event ids 70–89. No token, URL or content is ever logged, only ids and outcomes.
internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 70, Level = LogLevel.Warning, Message = "Planning notifications for message {MessageId} of conversation {ConversationId} failed; they are not sent")]
    public static partial void PushPlanFailed(ILogger logger, Guid conversationId, Guid messageId, Exception exception);

    [LoggerMessage(EventId = 71, Level = LogLevel.Warning, Message = "The push queue failed; it tries again (logged again only after it worked)")]
    public static partial void PushQueueFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 72, Level = LogLevel.Warning, Message = "A {Provider} notification to device {DeviceId} failed after {Attempts} attempts: {Detail}")]
    public static partial void PushFailed(ILogger logger, string provider, Guid deviceId, int attempts, string detail);

    [LoggerMessage(EventId = 73, Level = LogLevel.Information, Message = "The {Provider} registration of device {DeviceId} was removed: the provider called it dead ({Detail})")]
    public static partial void PushTokenRemoved(ILogger logger, string provider, Guid deviceId, string detail);

    [LoggerMessage(EventId = 74, Level = LogLevel.Warning, Message = "A notification was dropped: the planning queue is full ({Capacity} messages)")]
    public static partial void PushPlanDropped(ILogger logger, int capacity);

    [LoggerMessage(EventId = 75, Level = LogLevel.Information, Message = "Claimed {Count} pending notifications from a consumer that stopped answering")]
    public static partial void PushClaimed(ILogger logger, int count);

    [LoggerMessage(EventId = 76, Level = LogLevel.Warning, Message = "The notification of user {UserId} in conversation {ConversationId} was dropped: sending it failed {Tries} times in a row")]
    public static partial void PushGivenUp(ILogger logger, Guid userId, Guid conversationId, int tries, Exception exception);
}
