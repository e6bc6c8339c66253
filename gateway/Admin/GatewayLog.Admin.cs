namespace ChatWire.Gateway;

// Event ids 90-99: the operator's actions through the management API (audit lines; never a password or token).
internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 90, Level = LogLevel.Warning, Message = "Audit: operator disabled user {UserId}; {Sessions} sessions revoked")]
    public static partial void AdminUserDisabled(ILogger logger, Guid userId, int sessions);

    [LoggerMessage(EventId = 91, Level = LogLevel.Warning, Message = "Audit: operator enabled user {UserId}")]
    public static partial void AdminUserEnabled(ILogger logger, Guid userId);

    [LoggerMessage(EventId = 92, Level = LogLevel.Warning, Message = "Audit: operator deleted user {UserId}; left {Teams} teams, deleted {DeletedTeams} teams they were alone in")]
    public static partial void AdminUserDeleted(ILogger logger, Guid userId, int teams, int deletedTeams);

    [LoggerMessage(EventId = 93, Level = LogLevel.Warning, Message = "Audit: operator reset the password of user {UserId}; {Sessions} sessions revoked")]
    public static partial void AdminPasswordReset(ILogger logger, Guid userId, int sessions);

    [LoggerMessage(EventId = 94, Level = LogLevel.Warning, Message = "Audit: operator revoked {Sessions} sessions of user {UserId}")]
    public static partial void AdminSessionsRevoked(ILogger logger, Guid userId, int sessions);

    [LoggerMessage(EventId = 95, Level = LogLevel.Warning, Message = "Audit: operator deleted team {TeamId} ({Members} members)")]
    public static partial void AdminTeamDeleted(ILogger logger, Guid teamId, int members);

    [LoggerMessage(EventId = 96, Level = LogLevel.Information, Message = "Audit: operator backed up the embedded store into {Directory}: {Files} files, {Bytes} bytes")]
    public static partial void AdminBackup(ILogger logger, string directory, int files, long bytes);

    [LoggerMessage(EventId = 97, Level = LogLevel.Warning, Message = "Audit: a management API request with a missing or wrong admin token from {Client}")]
    public static partial void AdminTokenRefused(ILogger logger, string client);
}
