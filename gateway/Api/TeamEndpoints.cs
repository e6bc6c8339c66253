using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Delivery;
using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Api;

internal static class TeamEndpoints
{
    public const string GeneralChannel = "general";

    public static void Map(RouteGroupBuilder authenticated)
    {
        authenticated.MapPost("/teams", CreateTeamAsync);
        authenticated.MapGet("/teams", ListTeamsAsync);
        authenticated.MapPost("/teams/{teamId:guid}/invites", CreateInviteAsync);
        authenticated.MapGet("/teams/{teamId:guid}/invites", ListInvitesAsync);
        authenticated.MapDelete("/teams/{teamId:guid}/invites/{inviteId:guid}", RevokeInviteAsync);
        authenticated.MapPost("/invites/{code}/join", JoinAsync);
        authenticated.MapPost("/teams/{teamId:guid}/leave", LeaveAsync);
        authenticated.MapPut("/teams/{teamId:guid}/mute", (Guid teamId, HttpContext http, IDirectoryStore d, CancellationToken ct) => SetMutedAsync(teamId, true, http, d, ct));
        authenticated.MapDelete("/teams/{teamId:guid}/mute", (Guid teamId, HttpContext http, IDirectoryStore d, CancellationToken ct) => SetMutedAsync(teamId, false, http, d, ct));
        authenticated.MapGet("/teams/{teamId:guid}/members", ListMembersAsync);
    }

    /// <summary>The caller's membership of the team, or NOT_A_MEMBER (also for a team that does not exist).</summary>
    public static async Task<TeamMembershipRecord> RequireMemberAsync(IDirectoryStore directory, Guid teamId, Guid userId, CancellationToken ct) =>
        await directory.GetTeamMembershipAsync(teamId, userId, ct) ?? throw Validation.NotAMember("team");

    private static async Task<IResult> CreateTeamAsync(
        CreateTeamRequest body, HttpContext http, IDirectoryStore directory, DirectoryEvents events, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        var name = Validation.DisplayText("name", body.Name);
        var now = time.GetUtcNow();
        var team = new TeamRecord(Guid.CreateVersion7(), name, me.UserId, now);
        await directory.CreateTeamAsync(team, ct);
        var general = new ConversationRecord(Guid.CreateVersion7(), ConversationKind.PublicChannel, team.Id, GeneralChannel, null, me.UserId, now);
        await directory.CreateConversationAsync(general, [me.UserId], ct);
        await events.ConversationJoinedAsync(me.UserId, general.Id);
        return Results.Json(new TeamCreatedResponse(team.Id, team.Name, "owner", false, general.Id), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<TeamListResponse> ListTeamsAsync(HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        var teams = await directory.ListTeamsForUserAsync(http.Identity().UserId, ct);
        return new TeamListResponse(teams.Select(ToInfo).ToList());
    }

    private static async Task<IResult> CreateInviteAsync(
        Guid teamId, CreateInviteRequest? body, HttpContext http, IDirectoryStore directory, IOptions<AuthOptions> options, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        await RequireMemberAsync(directory, teamId, me.UserId, ct);
        var o = options.Value;
        var lifetime = o.InviteDefaultLifetime;
        if (body?.ExpiresInSeconds is { } seconds)
        {
            if (seconds <= 0 || seconds > o.InviteMaxLifetime.TotalSeconds)
            {
                throw ApiException.Validation("expires_in_seconds", $"expires_in_seconds must be 1-{(long)o.InviteMaxLifetime.TotalSeconds}.");
            }

            lifetime = TimeSpan.FromSeconds(seconds);
        }

        var code = SessionTokens.NewInviteCode();
        var now = time.GetUtcNow();
        var invite = new InviteRecord(Guid.CreateVersion7(), teamId, SessionTokens.Hash(code, SessionTokens.InviteCodeBytes)!, me.UserId, now, now + lifetime, null);
        await directory.CreateInviteAsync(invite, ct);
        return Results.Json(new InviteCreatedResponse(invite.Id, code, teamId, invite.ExpiresAt.UtcDateTime), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<InviteListResponse> ListInvitesAsync(Guid teamId, HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        await RequireAdminAsync(directory, teamId, http.Identity().UserId, ct);
        var invites = await directory.ListInvitesAsync(teamId, ct);
        return new InviteListResponse(invites.Select(i => new InviteInfo(i.Id, i.CreatedAt.UtcDateTime, i.ExpiresAt.UtcDateTime, i.RevokedAt is not null)).ToList());
    }

    private static async Task<IResult> RevokeInviteAsync(Guid teamId, Guid inviteId, HttpContext http, IDirectoryStore directory, TimeProvider time, CancellationToken ct)
    {
        await RequireAdminAsync(directory, teamId, http.Identity().UserId, ct);
        if (!await directory.RevokeInviteAsync(teamId, inviteId, time.GetUtcNow(), ct))
        {
            throw Validation.NotFound("invite");
        }

        return Results.NoContent();
    }

    private static async Task<TeamInfo> JoinAsync(
        string code, HttpContext http, IDirectoryStore directory, AttemptThrottle throttle, DirectoryEvents events, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        throttle.Check("join", http.ClientAddress(), me.UserId.ToString());
        var hash = SessionTokens.Hash(code, SessionTokens.InviteCodeBytes);
        var invite = hash is null ? null : await directory.FindInviteByCodeHashAsync(hash, ct);
        var now = time.GetUtcNow();
        if (invite is null || invite.RevokedAt is not null || invite.ExpiresAt <= now)
        {
            throw new ApiException(ErrorCode.InviteInvalid, "This invite code is unknown, expired or revoked.");
        }

        if (await directory.AddTeamMemberAsync(invite.TeamId, me.UserId, TeamRole.Member, now, ct))
        {
            var general = (await directory.ListChannelsAsync(invite.TeamId, me.UserId, ct))
                .FirstOrDefault(c => c.Kind == ConversationKind.PublicChannel && c.Name == GeneralChannel);
            if (general is not null && await directory.AddConversationMemberAsync(general.Id, me.UserId, now, ct))
            {
                await events.ConversationJoinedAsync(me.UserId, general.Id);
            }
        }

        var membership = await directory.GetTeamMembershipAsync(invite.TeamId, me.UserId, ct) ?? throw Validation.NotFound("team");
        return ToInfo(membership);
    }

    private static async Task<IResult> LeaveAsync(Guid teamId, HttpContext http, IDirectoryStore directory, DirectoryEvents events, CancellationToken ct)
    {
        var me = http.Identity();
        await RequireMemberAsync(directory, teamId, me.UserId, ct);
        var channels = (await directory.ListConversationsForUserAsync(me.UserId, ct)).Where(c => c.TeamId == teamId).ToList();
        await directory.RemoveTeamMemberAsync(teamId, me.UserId, ct);
        foreach (var channel in channels)
        {
            await events.ConversationLeftAsync(me.UserId, channel.Id);
        }

        return Results.NoContent();
    }

    private static async Task<IResult> SetMutedAsync(Guid teamId, bool muted, HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        if (!await directory.SetTeamMutedAsync(teamId, http.Identity().UserId, muted, ct))
        {
            throw Validation.NotAMember("team");
        }

        return Results.NoContent();
    }

    private static async Task<MemberListResponse> ListMembersAsync(Guid teamId, string? prefix, int? limit, HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        await RequireMemberAsync(directory, teamId, http.Identity().UserId, ct);
        var take = limit ?? 20;
        if (take is < 1 or > 100)
        {
            throw ApiException.Validation("limit", "limit must be 1-100.");
        }

        if (prefix is { Length: > 64 })
        {
            throw ApiException.Validation("prefix", "prefix must be at most 64 characters.");
        }

        var members = await directory.ListTeamMembersAsync(teamId, string.IsNullOrEmpty(prefix) ? null : prefix, take, ct);
        return new MemberListResponse(members.Select(m => new MemberInfo(m.UserId, m.Username, m.DisplayName, Validation.RoleName(m.Role))).ToList());
    }

    private static async Task RequireAdminAsync(IDirectoryStore directory, Guid teamId, Guid userId, CancellationToken ct)
    {
        var membership = await RequireMemberAsync(directory, teamId, userId, ct);
        if (membership.Role < TeamRole.Admin)
        {
            throw new ApiException(ErrorCode.Forbidden, "Only the team's owners and admins may do this.");
        }
    }

    private static TeamInfo ToInfo(TeamMembershipRecord m) => new(m.Team.Id, m.Team.Name, Validation.RoleName(m.Role), m.Muted);
}
