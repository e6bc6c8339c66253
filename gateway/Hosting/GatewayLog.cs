namespace ChatWire.Gateway;

internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "ChatWire {Listener} listening on {Address}")]
    public static partial void Listening(ILogger logger, string listener, string address);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Connection {ConnectionId} closed: {Code} {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, Guid connectionId, string code, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Connection refused from {Address}: {Reason} ({Count} refused since the last such line)")]
    public static partial void ConnectionRefused(ILogger logger, string? address, string reason, long count);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "The message store or the directory failed; the request was refused and nothing was acknowledged")]
    public static partial void StoreFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "Unhandled error in connection {ConnectionId}")]
    public static partial void ConnectionFault(ILogger logger, Guid connectionId, Exception exception);

    [LoggerMessage(EventId = 6, Level = LogLevel.Error, Message = "Unhandled error serving {Method} {Path}")]
    public static partial void RequestFault(ILogger logger, string method, string path, Exception exception);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "Data directory {Path}")]
    public static partial void DataDirectory(ILogger logger, string path);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "Generated a self-signed development certificate at {Path}")]
    public static partial void DevelopmentCertificateCreated(ILogger logger, string path);

    [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "Noise static public key {PublicKey} ({Action} {Path}); clients pin this key (docs/protocol.md §8)")]
    public static partial void NoiseKey(ILogger logger, string publicKey, string path, string action);

    [LoggerMessage(EventId = 23, Level = LogLevel.Information, Message = "Noise previous key {PublicKey} is still accepted from IK clients until {Until:u}")]
    public static partial void NoisePreviousKey(ILogger logger, string publicKey, DateTimeOffset until);

    [LoggerMessage(EventId = 24, Level = LogLevel.Warning, Message = "Announcing a key change ({Change}) of user {UserId} failed; their devices see it when they next read their keys")]
    public static partial void KeyChangeAnnounceFailed(ILogger logger, Guid userId, string change, Exception exception);

    [LoggerMessage(EventId = 25, Level = LogLevel.Information, Message = "{Method} {Path} wrote a row whose parent is gone (answered 404: deleted while the request ran; if no deletion can explain it, a bug)")]
    public static partial void RequestRacedDeletion(ILogger logger, string method, string path, Exception exception);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "Noise next key {PublicKey} is staged: accepted from IK clients, and current after the next --rotate-noise-key")]
    public static partial void NoiseNextKey(ILogger logger, string publicKey);

    [LoggerMessage(EventId = 9, Level = LogLevel.Information, Message = "ChatWire stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 10, Level = LogLevel.Error, Message = "The connection sweep failed; it continues with the next interval")]
    public static partial void SweepFault(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "A membership change in conversation {ConversationId} was made but its event could not be stored; devices learn of it at their next SYNC")]
    public static partial void AnnounceFailed(ILogger logger, Guid conversationId, Exception exception);

    [LoggerMessage(EventId = 108, Level = LogLevel.Warning, Message = "Channel {ConversationId} was changed but its channel_updated event could not be stored; devices see the change in the channel listing")]
    public static partial void ChannelAnnounceFailed(ILogger logger, Guid conversationId, Exception exception);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "Publishing event {Seq} of conversation {ConversationId} failed; clients fill the gap from the store")]
    public static partial void PublishFailed(ILogger logger, Guid conversationId, ulong seq, Exception exception);

    [LoggerMessage(EventId = 13, Level = LogLevel.Warning, Message = "Delivering to device {DeviceId} failed; the others still got the event")]
    public static partial void DeliveryFailed(ILogger logger, Guid deviceId, Exception exception);

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning, Message = "Changing the bus subscription of {Topic} failed; its connections catch up by seq")]
    public static partial void SubscriptionFailed(ILogger logger, string topic, Exception exception);

    [LoggerMessage(EventId = 15, Level = LogLevel.Information, Message = "ChatWire {Port} served by {Adapter}")]
    public static partial void Adapter(ILogger logger, string port, string adapter);

    [LoggerMessage(EventId = 18, Level = LogLevel.Warning, Message = "Unknown setting {Key} is ignored (docs/configuration.md lists them)")]
    public static partial void UnknownSetting(ILogger logger, string key);

    [LoggerMessage(EventId = 19, Level = LogLevel.Warning, Message = "{Path} can be read by other users of this machine; make it 0700 (a directory) or 0600 (a file): it holds password hashes and messages")]
    public static partial void DataTooOpen(ILogger logger, string path);

    [LoggerMessage(EventId = 17, Level = LogLevel.Critical, Message = "The listener on {Endpoint} stopped accepting connections; the process stops so that a supervisor restarts it")]
    public static partial void ListenerFailed(ILogger logger, string endpoint, Exception exception);

    [LoggerMessage(EventId = 16, Level = LogLevel.Critical, Message = "Delivery lane {Lane} stopped; the process exits so that a supervisor restarts it")]
    public static partial void LaneFailed(ILogger logger, int lane, Exception exception);

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "Presence could not be written to or read from Redis; it is re-synchronised at the next lease renewal")]
    public static partial void PresenceFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "The bus is back: the routes of {Users} local users were re-read, {Corrected} corrected")]
    public static partial void RoutesReconciled(ILogger logger, int users, int corrected);

    [LoggerMessage(EventId = 26, Level = LogLevel.Information, Message = "The bus is back: of {Conversations} conversations routed here, {Behind} had events this node had not heard of; {Pushed} of their newest events were pushed to its connections")]
    public static partial void CaughtUpAfterOutage(ILogger logger, int conversations, int behind, int pushed);

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Draining: {Connections} connections were asked to move to another node (GO_AWAY); the rest are closed after {DrainTimeoutMs} ms")]
    public static partial void DrainStarted(ILogger logger, int connections, int drainTimeoutMs);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Drained after {ElapsedMs} ms; {Left} connections still open were closed with SHUTTING_DOWN")]
    public static partial void DrainFinished(ILogger logger, long elapsedMs, int left);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Readiness check of {Backend} failed: {Reason}")]
    public static partial void ProbeFailed(ILogger logger, string backend, string reason);

    [LoggerMessage(EventId = 105, Level = LogLevel.Error, Message = "The MySQL primary stopped waiting for a replica (Rpl_semi_sync_master_status OFF): it replicates asynchronously, so a send acknowledged from now on is lost if the primary is lost before a replica catches up. Bring a replica back.")]
    public static partial void SemiSyncFellBack(ILogger logger);

    [LoggerMessage(EventId = 106, Level = LogLevel.Information, Message = "The MySQL primary waits for a replica again (semi-synchronous replication resumed)")]
    public static partial void SemiSyncResumed(ILogger logger);

    [LoggerMessage(EventId = 107, Level = LogLevel.Warning, Message = "Team {TeamId} had members but no owner (its last owner left as someone joined); member {UserId} is its owner now")]
    public static partial void TeamOwnerRestored(ILogger logger, Guid teamId, Guid userId);
}
