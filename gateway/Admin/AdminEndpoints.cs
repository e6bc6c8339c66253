using System.Security.Cryptography;
using System.Text;
using ChatWire.Gateway.Api;
using ChatWire.Gateway.Observability;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Admin;

/// <summary>
/// The operator's management API under <c>/admin/v1/</c> on the management listener only, never the public API
/// listener (docs/deploy.md, "Administration"). Every request carries <c>Authorization: Bearer</c> with
/// <c>Admin:Token</c>; without a configured token the paths do not exist (404).
/// </summary>
internal static class AdminEndpoints
{
    private const int DefaultLimit = 100;
    private const int MaxLimit = 1000;

    public static void Map(WebApplication app)
    {
        // A middleware, not an endpoint filter: the token is checked before routing answers anything (an unknown
        // path's 404, a wrong method's 405, a body's 413), so nobody without it learns which routes exist.
        app.Use(RequireTokenAsync);
        var group = app.MapGroup("/admin/v1").ExcludeFromDescription();
        group.MapGet("/users", ListUsersAsync);
        group.MapGet("/users/{user}", GetUserAsync);
        group.MapPost("/users/{user}/disable", DisableAsync);
        group.MapPost("/users/{user}/enable", EnableAsync);
        group.MapPost("/users/{user}/password", ResetPasswordAsync);
        group.MapPost("/users/{user}/revoke-sessions", RevokeSessionsAsync);
        group.MapDelete("/users/{user}", DeleteUserAsync);
        group.MapGet("/teams", ListTeamsAsync);
        group.MapDelete("/teams/{teamId}", DeleteTeamAsync);
        group.MapPost("/backup", BackupAsync);
    }

    // Compared as SHA-256 digests in constant time: neither the token's length nor a prefix leaks through timing.
    private static Task RequireTokenAsync(HttpContext http, RequestDelegate next)
    {
        if (!http.Request.Path.StartsWithSegments("/admin"))
        {
            return next(http);
        }

        var configured = http.RequestServices.GetRequiredService<IOptions<AdminOptions>>().Value.Token;
        if (string.IsNullOrEmpty(configured))
        {
            throw new RequestRefusedException(ErrorCode.NotFound, "The management API is off: set Admin:Token to turn it on.");
        }

        var header = http.Request.Headers.Authorization.ToString();
        var presented = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : null;
        if (presented is null || !CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(configured))))
        {
            http.RequestServices.GetRequiredService<AuditLog>().AdminTokenRefused(http.Connection.RemoteIpAddress?.ToString());
            throw new RequestRefusedException(presented is null ? ErrorCode.NotAuthenticated : ErrorCode.InvalidToken, "The management API needs Authorization: Bearer with the server's Admin:Token.");
        }

        return next(http);
    }

    private static async Task<AdminUserListResponse> ListUsersAsync(string? after, string? limit, IAccountAdminStore admin, CancellationToken ct)
    {
        var count = Limit(limit);
        var users = await admin.ListUsersAsync(after, count + 1, ct);
        var page = users.Take(count).Select(ToInfo).ToList();
        return new AdminUserListResponse(page, users.Count > count ? page[^1].Username : null);
    }

    private static async Task<AdminUserInfo> GetUserAsync(string user, AdminService service, CancellationToken ct) =>
        ToInfo(await service.ResolveUserAsync(user, ct));

    private static async Task<AdminUserInfo> DisableAsync(string user, HttpContext http, AdminService service, IAccountAdminStore admin, AuditLog audit, CancellationToken ct)
    {
        var found = await service.ResolveUserAsync(user, ct);
        await service.DisableAsync(found, ct);
        audit.AdminAction("disable-user", found.User.Id.ToString(), http.ClientAddress());
        return ToInfo((await admin.GetUserAdminAsync(found.User.Id, ct))!);
    }

    private static async Task<AdminUserInfo> EnableAsync(string user, HttpContext http, AdminService service, IAccountAdminStore admin, AuditLog audit, CancellationToken ct)
    {
        var found = await service.ResolveUserAsync(user, ct);
        await service.EnableAsync(found, ct);
        audit.AdminAction("enable-user", found.User.Id.ToString(), http.ClientAddress());
        return ToInfo((await admin.GetUserAdminAsync(found.User.Id, ct))!);
    }

    private static async Task<AdminSessionsRevokedResponse> ResetPasswordAsync(string user, AdminPasswordRequest body, HttpContext http, AdminService service, AuditLog audit, CancellationToken ct)
    {
        var found = await service.ResolveUserAsync(user, ct);
        var revoked = await service.ResetPasswordAsync(found, body.Password, http.ClientKey(), ct);
        audit.AdminAction("reset-password", found.User.Id.ToString(), http.ClientAddress());
        return new AdminSessionsRevokedResponse(revoked);
    }

    private static async Task<AdminSessionsRevokedResponse> RevokeSessionsAsync(string user, HttpContext http, AdminService service, AuditLog audit, CancellationToken ct)
    {
        var found = await service.ResolveUserAsync(user, ct);
        var revoked = await service.RevokeSessionsAsync(found, ct);
        audit.AdminAction("revoke-sessions", found.User.Id.ToString(), http.ClientAddress());
        return new AdminSessionsRevokedResponse(revoked);
    }

    private static async Task<AdminUserDeletedResponse> DeleteUserAsync(string user, HttpContext http, AdminService service, AuditLog audit, CancellationToken ct)
    {
        var found = await service.ResolveUserAsync(user, ct);
        var deleted = await service.DeleteUserAsync(found, ct);
        audit.AdminAction("delete-user", found.User.Id.ToString(), http.ClientAddress());
        return deleted;
    }

    private static async Task<AdminTeamListResponse> ListTeamsAsync(string? after, string? limit, IAccountAdminStore admin, CancellationToken ct)
    {
        var count = Limit(limit);
        var teams = await admin.ListTeamsAsync(after is null ? null : Ids.Parse("after", after), count + 1, ct);
        var page = teams.Take(count).Select(t => new AdminTeamInfo(t.Team.Id, t.Team.Name, t.Team.CreatedBy, t.Team.CreatedAt, t.Members)).ToList();
        return new AdminTeamListResponse(page, teams.Count > count ? page[^1].TeamId : null);
    }

    private static async Task<AdminTeamDeletedResponse> DeleteTeamAsync(string teamId, HttpContext http, AdminService service, AuditLog audit, CancellationToken ct)
    {
        var deleted = await service.DeleteTeamAsync(Ids.Parse("team_id", teamId), ct);
        audit.AdminAction("delete-team", deleted.TeamId.ToString(), http.ClientAddress());
        return deleted;
    }

    private static async Task<AdminBackupResponse> BackupAsync(AdminBackupRequest body, HttpContext http, EmbeddedBackup backup, AuditLog audit, CancellationToken ct)
    {
        var result = await backup.RunAsync(body.Directory, ct);
        audit.AdminAction("backup", result.Directory, http.ClientAddress());
        return result;
    }

    private static int Limit(string? limit) =>
        limit is null ? DefaultLimit
        : int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) && value is >= 1 and <= MaxLimit ? value
        : throw RequestRefusedException.Validation("limit", $"limit must be 1 to {MaxLimit}.");

    private static AdminUserInfo ToInfo(UserAdminRecord user) => new(
        user.User.Id,
        user.User.Username,
        user.User.DisplayName,
        user.User.CreatedAt,
        user.DisabledAt is not null,
        user.DisabledAt,
        user.DeletedAt is not null,
        user.DeletedAt,
        user.ActiveSessions);
}
