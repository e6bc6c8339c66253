namespace ChatWire.Gateway.Admin;

internal sealed record AdminUserInfo(
    Guid UserId, string Username, string DisplayName, DateTimeOffset CreatedAt, bool Disabled, DateTimeOffset? DisabledAt, bool Deleted, DateTimeOffset? DeletedAt, int ActiveSessions);

internal sealed record AdminUserListResponse(IReadOnlyList<AdminUserInfo> Users, string? NextAfter);

internal sealed record AdminTeamInfo(Guid TeamId, string Name, Guid CreatedBy, DateTimeOffset CreatedAt, int Members);

internal sealed record AdminTeamListResponse(IReadOnlyList<AdminTeamInfo> Teams, Guid? NextAfter);

internal sealed record AdminPasswordRequest(string? Password);

internal sealed record AdminSessionsRevokedResponse(int Revoked);

internal sealed record AdminUserDeletedResponse(Guid UserId, int TeamsLeft, int TeamsDeleted);

internal sealed record AdminTeamDeletedResponse(Guid TeamId, int Members);

internal sealed record AdminBackupRequest(string? Directory);

internal sealed record AdminBackupFile(string Name, long Bytes);

internal sealed record AdminBackupResponse(string Directory, DateTimeOffset CreatedAt, IReadOnlyList<AdminBackupFile> Files, IReadOnlyList<string> NotIncluded);
