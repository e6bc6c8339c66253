namespace ChatWire.Gateway.Observability;

/// <summary>
/// Audit lines for what an operator or a security review needs to reconstruct: sign-ups, logins and failed
/// logins, session revocations, requests refused for their rate, members removed from teams. All under the
/// log category <c>ChatWire.Audit</c> (route or filter it on its own: <c>Logging:LogLevel:ChatWire.Audit</c>)
/// with fixed event ids from 200 (docs/operations.md, "Logs"). They name users, devices, teams and client
/// addresses by id, never a message's content, a password or a token; a failed login for a name that is no
/// user does not log the name (it may be a password typed into the wrong field).
/// </summary>
internal sealed partial class AuditLog(ILoggerFactory loggerFactory, TimeProvider time)
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("ChatWire.Audit");
    private readonly Lock _rateLock = new();
    private long _rateLimitedSince;
    private long _lastRateLimitedLine = long.MinValue;

    public void SignedUp(Guid userId, Guid deviceId, string? clientAddress) => SignedUpLine(_logger, userId, deviceId, clientAddress ?? "?");

    public void LoggedIn(Guid userId, Guid deviceId, string? clientAddress) => LoggedInLine(_logger, userId, deviceId, clientAddress ?? "?");

    public void LoginFailed(Guid? userId, string? clientAddress)
    {
        if (userId is { } known)
        {
            WrongPasswordLine(_logger, known, clientAddress ?? "?");
        }
        else
        {
            UnknownUserLine(_logger, clientAddress ?? "?");
        }
    }

    public void SessionRevoked(Guid userId, Guid deviceId, string reason, Guid byDeviceId, string? clientAddress) =>
        SessionRevokedLine(_logger, userId, deviceId, reason, byDeviceId, clientAddress ?? "?");

    public void PasswordChanged(Guid userId, Guid byDeviceId, string? clientAddress) => PasswordChangedLine(_logger, userId, byDeviceId, clientAddress ?? "?");

    public void MemberRemoved(Guid teamId, Guid userId, Guid byUserId) => MemberRemovedLine(_logger, teamId, userId, byUserId);

    /// <summary>
    /// An operator's action through the management credential (the admin commands): <paramref name="action"/>
    /// is a fixed verb (<c>disable-user</c>, <c>delete-team</c>, …), the subject an id, never a secret.
    /// </summary>
    public void AdminAction(string action, string subject, string? clientAddress) => AdminActionLine(_logger, action, subject, clientAddress ?? "?");

    /// <summary>A management API request refused for its token: none, or not the configured one.</summary>
    public void AdminTokenRefused(string? clientAddress) => AdminTokenRefusedLine(_logger, clientAddress ?? "?");

    /// <summary>
    /// A request answered RATE_LIMITED. A flood must not become a log flood: at most one line a second,
    /// carrying how many refusals it stands for.
    /// </summary>
    public void RateLimited(string route, string? clientAddress)
    {
        if (TakeRateLimitedLine(out var count))
        {
            RateLimitedLine(_logger, route, clientAddress ?? "?", count);
        }
    }

    /// <summary>A protocol frame (SEND, EDIT, …) refused as RATE_LIMITED; throttled together with the HTTP ones.</summary>
    public void RateLimited(string frame, Guid userId)
    {
        if (TakeRateLimitedLine(out var count))
        {
            FrameRateLimitedLine(_logger, frame, userId, count);
        }
    }

    // At most one rate-limit line a second; count: the refusals it stands for.
    private bool TakeRateLimitedLine(out long count)
    {
        lock (_rateLock)
        {
            _rateLimitedSince++;
            count = 0;
            var now = time.GetTimestamp();
            if (_lastRateLimitedLine != long.MinValue && time.GetElapsedTime(_lastRateLimitedLine, now) < TimeSpan.FromSeconds(1))
            {
                return false;
            }

            _lastRateLimitedLine = now;
            count = _rateLimitedSince;
            _rateLimitedSince = 0;
            return true;
        }
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Audit: sign-up of user {UserId}, device {DeviceId}, from {ClientAddress}")]
    private static partial void SignedUpLine(ILogger logger, Guid userId, Guid deviceId, string clientAddress);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Audit: login of user {UserId}, new device session {DeviceId}, from {ClientAddress}")]
    private static partial void LoggedInLine(ILogger logger, Guid userId, Guid deviceId, string clientAddress);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "Audit: failed login for user {UserId} (wrong password) from {ClientAddress}")]
    private static partial void WrongPasswordLine(ILogger logger, Guid userId, string clientAddress);

    [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "Audit: failed login for a name that is no user from {ClientAddress}")]
    private static partial void UnknownUserLine(ILogger logger, string clientAddress);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "Audit: session of user {UserId} on device {DeviceId} revoked ({Reason}) by device {ByDeviceId} from {ClientAddress}")]
    private static partial void SessionRevokedLine(ILogger logger, Guid userId, Guid deviceId, string reason, Guid byDeviceId, string clientAddress);

    [LoggerMessage(EventId = 205, Level = LogLevel.Information, Message = "Audit: password of user {UserId} changed by device {ByDeviceId} from {ClientAddress}")]
    private static partial void PasswordChangedLine(ILogger logger, Guid userId, Guid byDeviceId, string clientAddress);

    [LoggerMessage(EventId = 206, Level = LogLevel.Warning, Message = "Audit: request to {Route} from {ClientAddress} refused as RATE_LIMITED ({Count} refusals since the last such line)")]
    private static partial void RateLimitedLine(ILogger logger, string route, string clientAddress, long count);

    [LoggerMessage(EventId = 207, Level = LogLevel.Information, Message = "Audit: user {UserId} removed from team {TeamId} by user {ByUserId}")]
    private static partial void MemberRemovedLine(ILogger logger, Guid teamId, Guid userId, Guid byUserId);

    [LoggerMessage(EventId = 208, Level = LogLevel.Warning, Message = "Audit: admin {Action} of {Subject} from {ClientAddress}")]
    private static partial void AdminActionLine(ILogger logger, string action, string subject, string clientAddress);

    [LoggerMessage(EventId = 210, Level = LogLevel.Warning, Message = "Audit: management API request with a missing or wrong admin token from {ClientAddress}")]
    private static partial void AdminTokenRefusedLine(ILogger logger, string clientAddress);

    [LoggerMessage(EventId = 209, Level = LogLevel.Warning, Message = "Audit: {Frame} of user {UserId} over the protocol refused as RATE_LIMITED ({Count} refusals since the last such line)")]
    private static partial void FrameRateLimitedLine(ILogger logger, string frame, Guid userId, long count);
}
