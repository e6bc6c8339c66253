using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Api;

internal static class TeamEndpoints
{
    public const string GeneralChannel = "general";

    private const string Tag = "Teams";

    public static void Map(RouteGroupBuilder authenticated)
    {
        authenticated.MapPost("/teams", CreateTeamAsync)
            .Describe("createTeam", "Create a team, with its general channel", Tag)
            .Returns<TeamCreatedResponse>(StatusCodes.Status201Created).Refuses(400, 415);
        authenticated.MapGet("/teams", ListTeamsAsync)
            .Describe("listTeams", "List my teams", Tag)
            .Returns<TeamListResponse>();
        authenticated.MapPost("/teams/{teamId}/invites", CreateInviteAsync)
            .Describe("createInvite", "Create an invite code to a team", Tag)
            .Returns<InviteCreatedResponse>(StatusCodes.Status201Created).Refuses(400, 403, 415);
        authenticated.MapGet("/teams/{teamId}/invites", ListInvitesAsync)
            .Describe("listInvites", "List a team's invites (owners and admins)", Tag)
            .Returns<InviteListResponse>().Refuses(400, 403);
        authenticated.MapDelete("/teams/{teamId}/invites/{inviteId}", RevokeInviteAsync)
            .Describe("revokeInvite", "Revoke an invite (owners and admins)", Tag)
            .ReturnsNoContent().Refuses(400, 403, 404);
        authenticated.MapPost("/invites/{code}/join", JoinAsync)
            .Describe("joinTeam", "Join a team with an invite code", Tag)
            .Returns<TeamInfo>().Refuses(400, 410, 429);
        authenticated.MapPost("/teams/{teamId}/leave", LeaveAsync)
            .Describe("leaveTeam", "Leave a team and all its channels", Tag)
            .ReturnsNoContent().Refuses(400, 403);
        authenticated.MapPut("/teams/{teamId}/mute", (string teamId, HttpContext http, IDirectoryStore d, CancellationToken ct) => SetMutedAsync(teamId, true, http, d, ct))
            .Describe("muteTeam", "Mute a team (for me)", Tag)
            .ReturnsNoContent().Refuses(400, 403);
        authenticated.MapDelete("/teams/{teamId}/mute", (string teamId, HttpContext http, IDirectoryStore d, CancellationToken ct) => SetMutedAsync(teamId, false, http, d, ct))
            .Describe("unmuteTeam", "Unmute a team (for me)", Tag)
            .ReturnsNoContent().Refuses(400, 403);
        authenticated.MapGet("/teams/{teamId}/members", ListMembersAsync)
            .Describe("listTeamMembers", "Mention candidates: a team's members by name prefix", Tag)
            .Returns<MemberListResponse>().Refuses(400, 403);
    }

    /// <summary>The caller's membership of the team, or NOT_A_MEMBER (also for a team that does not exist).</summary>
    public static async Task<TeamMembershipRecord> RequireMemberAsync(IDirectoryStore directory, Guid teamId, Guid userId, CancellationToken ct) =>
        await directory.GetTeamMembershipAsync(teamId, userId, ct) ?? throw Validation.NotAMember("team");

    private static async Task<IResult> CreateTeamAsync(
        CreateTeamRequest body, HttpContext http, IDirectoryStore directory, ConversationService conversations, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        var name = Validation.DisplayText("name", body.Name);
        var now = time.GetUtcNow();
        var team = new TeamRecord(Guid.CreateVersion7(), name, me.UserId, now);
        await directory.CreateTeamAsync(team, ct);
        var general = new ConversationRecord(Guid.CreateVersion7(), ConversationKind.PublicChannel, team.Id, GeneralChannel, null, me.UserId, now);
        await conversations.CreateAsync(me, general, [me.UserId], ct);
        return Results.Json(new TeamCreatedResponse(team.Id, team.Name, "owner", false, general.Id), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<TeamListResponse> ListTeamsAsync(HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        var teams = await directory.ListTeamsForUserAsync(http.Identity().UserId, ct);
        return new TeamListResponse(teams.Select(ToInfo).ToList());
    }

    private static async Task<IResult> CreateInviteAsync(
        string teamId, CreateInviteRequest? body, HttpContext http, IDirectoryStore directory, IOptions<AuthOptions> options, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        var team = Ids.Parse("team_id", teamId);
        await RequireMemberAsync(directory, team, me.UserId, ct);
        var o = options.Value;
        var lifetime = o.InviteDefaultLifetime;
        if (body?.ExpiresInSeconds is { } seconds)
        {
            if (seconds <= 0 || seconds > o.InviteMaxLifetime.TotalSeconds)
            {
                throw RequestRefusedException.Validation("expires_in_seconds", $"expires_in_seconds must be 1-{(long)o.InviteMaxLifetime.TotalSeconds}.");
            }

            lifetime = TimeSpan.FromSeconds(seconds);
        }

        var code = SessionTokens.NewInviteCode();
        var now = time.GetUtcNow();
        var invite = new InviteRecord(Guid.CreateVersion7(), team, SessionTokens.Hash(code, SessionTokens.InviteCodeBytes)!, me.UserId, now, now + lifetime, null);
        await directory.CreateInviteAsync(invite, ct);
        return Results.Json(new InviteCreatedResponse(invite.Id, code, team, invite.ExpiresAt.UtcDateTime), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<InviteListResponse> ListInvitesAsync(string teamId, HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        var team = Ids.Parse("team_id", teamId);
        await RequireAdminAsync(directory, team, http.Identity().UserId, ct);
        var invites = await directory.ListInvitesAsync(team, ct);
        return new InviteListResponse(invites.Select(i => new InviteInfo(i.Id, i.CreatedAt.UtcDateTime, i.ExpiresAt.UtcDateTime, i.RevokedAt is not null)).ToList());
    }

    private static async Task<IResult> RevokeInviteAsync(string teamId, string inviteId, HttpContext http, IDirectoryStore directory, TimeProvider time, CancellationToken ct)
    {
        var team = Ids.Parse("team_id", teamId);
        var invite = Ids.Parse("invite_id", inviteId);
        await RequireAdminAsync(directory, team, http.Identity().UserId, ct);
        if (!await directory.RevokeInviteAsync(team, invite, time.GetUtcNow(), ct))
        {
            throw Validation.NotFound("invite");
        }

        return Results.NoContent();
    }

    private static async Task<TeamInfo> JoinAsync(
        string code, HttpContext http, IDirectoryStore directory, AttemptThrottle throttle, ConversationService conversations, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        throttle.Check("join", http.ClientAddress(), me.UserId.ToString());
        var hash = SessionTokens.Hash(code, SessionTokens.InviteCodeBytes);
        var invite = hash is null ? null : await directory.FindInviteByCodeHashAsync(hash, ct);
        var now = time.GetUtcNow();
        if (invite is null || invite.RevokedAt is not null || invite.ExpiresAt <= now)
        {
            throw new RequestRefusedException(ErrorCode.InviteInvalid, "This invite code is unknown, expired or revoked.");
        }

        if (await directory.AddTeamMemberAsync(invite.TeamId, me.UserId, TeamRole.Member, now, ct))
        {
            var general = (await directory.ListChannelsAsync(invite.TeamId, me.UserId, ct))
                .FirstOrDefault(c => c.Kind == ConversationKind.PublicChannel && c.Name == GeneralChannel);
            if (general is not null)
            {
                await conversations.AddMemberAsync(me, general.Id, me.UserId, ct);
            }
        }

        var membership = await directory.GetTeamMembershipAsync(invite.TeamId, me.UserId, ct) ?? throw Validation.NotFound("team");
        return ToInfo(membership);
    }

    private static async Task<IResult> LeaveAsync(string teamId, HttpContext http, ConversationService conversations, CancellationToken ct)
    {
        await conversations.LeaveTeamAsync(http.Identity(), Ids.Parse("team_id", teamId), ct);
        return Results.NoContent();
    }

    private static async Task<IResult> SetMutedAsync(string teamId, bool muted, HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        if (!await directory.SetTeamMutedAsync(Ids.Parse("team_id", teamId), http.Identity().UserId, muted, ct))
        {
            throw Validation.NotAMember("team");
        }

        return Results.NoContent();
    }

    private static async Task<MemberListResponse> ListMembersAsync(string teamId, string? prefix, string? limit, HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        var team = Ids.Parse("team_id", teamId);
        await RequireMemberAsync(directory, team, http.Identity().UserId, ct);
        var take = 20;
        if (limit is not null && (!int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out take) || take is < 1 or > 100))
        {
            throw RequestRefusedException.Validation("limit", "limit must be an integer from 1 to 100.");
        }

        if (prefix is { Length: > 64 })
        {
            throw RequestRefusedException.Validation("prefix", "prefix must be at most 64 characters.");
        }

        var members = await directory.ListTeamMembersAsync(team, string.IsNullOrEmpty(prefix) ? null : prefix, take, ct);
        return new MemberListResponse(members.Select(m => new MemberInfo(m.UserId, m.Username, m.DisplayName, Validation.RoleName(m.Role))).ToList());
    }

    private static async Task RequireAdminAsync(IDirectoryStore directory, Guid teamId, Guid userId, CancellationToken ct)
    {
        var membership = await RequireMemberAsync(directory, teamId, userId, ct);
        if (membership.Role < TeamRole.Admin)
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "Only the team's owners and admins may do this.");
        }
    }

    private static TeamInfo ToInfo(TeamMembershipRecord m) => new(m.Team.Id, m.Team.Name, Validation.RoleName(m.Role), m.Muted);
}
