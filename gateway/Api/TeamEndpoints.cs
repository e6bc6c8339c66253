using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Api;

internal static class TeamEndpoints
{
    /// <summary>How long a revoked or expired invite stays listed before it is deleted.</summary>
    public static readonly TimeSpan DeadInviteRetention = TimeSpan.FromDays(1);

    /// <summary>The most mention candidates one GET /v1/teams/{teamId}/members answers: its limit's maximum.</summary>
    public const int MaxMentionCandidates = 100;

    private const int DefaultMentionCandidates = 20;

    /// <summary>The longest name prefix a mention search takes, in characters.</summary>
    public const int MaxMentionPrefixLength = 64;

    private const string Tag = "Teams";

    public static void Map(RouteGroupBuilder authenticated)
    {
        authenticated.MapPost("/teams", CreateTeamAsync)
            .Describe("createTeam", "Create a team, with its general channel", Tag,
                "The caller becomes the team's first owner, and the team gets a public general channel (general_channel_id) that every member joins. "
                + "name is a readable name of 1-64 characters, not unique. One person may own at most 100 teams by default (403 QUOTA_EXCEEDED).")
            .Returns<TeamCreatedResponse>(StatusCodes.Status201Created).Refuses(400, 403, 415);
        authenticated.MapGet("/teams", ListTeamsAsync)
            .Describe("listTeams", "List my teams", Tag,
                "The teams the caller is a member of, with the caller's role, mute setting, whether every member may invite and whether every "
                + "member may use @channel and @here. Paged in team id "
                + "order: limit 1-500 (default 100), and next_cursor as cursor for the next page until it is null.")
            .Returns<TeamListResponse>().Refuses(400);
        authenticated.MapPatch("/teams/{teamId}", UpdateTeamAsync)
            .Describe("updateTeam", "Rename a team or change its settings (owners and admins)", Tag,
                "name, members_can_invite and members_can_mention_channel are each optional; members_can_invite true lets every member create "
                + "invites, members_can_mention_channel false keeps @channel and @here (group_mentions on SEND) to owners and admins. Owners and admins only "
                + "(others 403 FORBIDDEN, non-members 403 NOT_A_MEMBER). Answers the team as listTeams shows it.")
            .Returns<TeamInfo>().Refuses(400, 403, 415);
        authenticated.MapDelete("/teams/{teamId}/members/{userId}", RemoveMemberAsync)
            .Describe("removeTeamMember", "Remove a member from a team and all its channels (owners and admins)", Tag,
                "The member leaves every channel of the team (each gets a member_left event, so their devices stop receiving at once) and their "
                + "invites are revoked. Admins remove members, owners remove anyone; removing yourself is 403 FORBIDDEN (use leaveTeam), and someone "
                + "not in the team is 404 NOT_FOUND.")
            .ReturnsNoContent().Refuses(400, 403, 404);
        authenticated.MapPut("/teams/{teamId}/members/{userId}/role", SetRoleAsync)
            .Describe("setTeamRole", "Make a member an owner, an admin or a member (owners)", Tag,
                "role is owner, admin or member. Only owners may (others 403 FORBIDDEN); someone not in the team is 404 NOT_FOUND, and the last "
                + "owner making themselves anything else is 403 FORBIDDEN. A member made plain loses the invites they created, unless the team lets "
                + "every member invite.")
            .ReturnsNoContent().Refuses(400, 403, 404, 415);
        authenticated.MapPost("/teams/{teamId}/invites", CreateInviteAsync)
            .Describe("createInvite", "Create an invite code to a team (owners and admins, or any member if the team allows it)", Tag,
                "expires_in_seconds is optional: 1 to 2592000 (30 days), default 7 days. Owners and admins may, or any member when the team's "
                + "members_can_invite is true (others 403 FORBIDDEN), and a team holds at most 100 active invites (403 QUOTA_EXCEEDED). invite_code "
                + "is shown only in this answer: the server keeps only its hash.")
            .Returns<InviteCreatedResponse>(StatusCodes.Status201Created).Refuses(400, 403, 415);
        authenticated.MapGet("/teams/{teamId}/invites", ListInvitesAsync)
            .Describe("listInvites", "List a team's invites (owners and admins)", Tag,
                "Every invite of the team, revoked and expired ones included (until the team's next invite is made a day after they died), "
                + "oldest first, with who created it; never the code itself. Owners and admins only (others 403 FORBIDDEN). Paged: limit 1-500 (default 100), and next_cursor as cursor for the next page until it is null.")
            .Returns<InviteListResponse>().Refuses(400, 403);
        authenticated.MapDelete("/teams/{teamId}/invites/{inviteId}", RevokeInviteAsync)
            .Describe("revokeInvite", "Revoke an invite (owners and admins)", Tag,
                "The code stops working at once. Owners and admins only (others 403 FORBIDDEN); an invite that is not the team's, or is already "
                + "revoked, is 404 NOT_FOUND.")
            .ReturnsNoContent().Refuses(400, 403, 404);
        authenticated.MapPost("/invites/{code}/join", JoinAsync)
            .Describe("joinTeam", "Join a team with an invite code", Tag,
                "The caller joins as a member, and joins the team's general channel. An unknown, expired, revoked or malformed code is "
                + "410 INVITE_INVALID; already being a member answers 200 with the same body. Throttled per address and per user (429 RATE_LIMITED "
                + "with Retry-After).")
            .Returns<TeamInfo>().Refuses(400, 410, 429);
        authenticated.MapPost("/teams/{teamId}/leave", LeaveAsync)
            .Describe("leaveTeam", "Leave a team and all its channels", Tag,
                "The caller leaves every channel of the team (each gets a member_left event) and their invites are revoked. The last owner of a team "
                + "with other members is 403 FORBIDDEN: make another member an owner first. A team whose only member leaves stays, empty.")
            .ReturnsNoContent().Refuses(400, 403);
        authenticated.MapPut("/teams/{teamId}/mute", (string teamId, HttpContext http, IDirectoryStore d, CancellationToken ct) => SetMutedAsync(teamId, true, http, d, ct))
            .Describe("muteTeam", "Mute a team (for me)", Tag,
                "For the caller only: the team's conversations carry muted: true in SYNC, so clients show their badges quietly, and no push "
                + "notification is sent for them. Muting a muted team is 204 too; a team the caller is not in is 403 NOT_A_MEMBER.")
            .ReturnsNoContent().Refuses(400, 403);
        authenticated.MapDelete("/teams/{teamId}/mute", (string teamId, HttpContext http, IDirectoryStore d, CancellationToken ct) => SetMutedAsync(teamId, false, http, d, ct))
            .Describe("unmuteTeam", "Unmute a team (for me)", Tag,
                "For the caller only: the team's conversations badge and notify normally again. Unmuting a team that is not muted is 204 too; a team "
                + "the caller is not in is 403 NOT_A_MEMBER.")
            .ReturnsNoContent().Refuses(400, 403);
        authenticated.MapGet("/teams/{teamId}/members", ListMembersAsync)
            .Describe("listTeamMembers", "Mention candidates: a team's members by name prefix", Tag,
                "A search, not a paged list: members whose username, display name, or the part of the display name after its first space starts with "
                + "prefix (case-insensitive for ASCII letters, at most 64 characters, no control characters; none lists everyone), ordered by username. limit is 1-100 "
                + "(default 20) and there is no cursor; members of the team only (403 NOT_A_MEMBER).")
            .Returns<MemberListResponse>().Refuses(400, 403);
        authenticated.MapDelete("/teams/{teamId}", DeleteTeamAsync)
            .Describe("deleteTeam", "Delete a team (owners): everyone leaves it and its channels", Tag,
                "Only owners may (others 403 FORBIDDEN). Every member leaves every channel first (a member_left event each), then the team, its "
                + "channels and invites are gone; the messages stay stored for the retention period, but nobody can read them. The channels' "
                + "attachments answer 404 NOT_FOUND from then on and are deleted by the attachment sweep; notifications still waiting are not sent. "
                + "A team of more than 1,000 members is 403 QUOTA_EXCEEDED: remove members first.")
            .ReturnsNoContent().Refuses(400, 403);
        authenticated.MapPost("/teams/{teamId}/transfer", TransferAsync)
            .Describe("transferTeam", "Hand the team to another member (they become an owner, I an admin)", Tag,
                "Only owners may (others 403 FORBIDDEN); user_id must be another member of the team (404 NOT_FOUND for someone not in it, "
                + "403 FORBIDDEN for yourself). The member becomes an owner and the caller an admin.")
            .ReturnsNoContent().Refuses(400, 403, 404, 415);
        authenticated.MapGet("/teams/{teamId}/presence", ListPresenceAsync)
            .Describe("listTeamPresence", "A team's members with their presence, a page at a time", Tag,
                "status is online, away, dnd or offline; last_seen_at is when an offline member's last device disconnected (null when online or "
                + "never seen). Paged in user id order: limit 1-500 (default 100), next_cursor as cursor; members of the team only "
                + "(403 NOT_A_MEMBER). A snapshot for a roster: for live presence of the people on screen use the protocol's PRESENCE_WATCH.")
            .Returns<TeamPresenceResponse>().Refuses(400, 403);
    }

    /// <summary>The caller's membership of the team, or NOT_A_MEMBER (also for a team that does not exist).</summary>
    public static async Task<TeamMembershipRecord> RequireMemberAsync(IDirectoryStore directory, Guid teamId, Guid userId, CancellationToken ct) =>
        await directory.GetTeamMembershipAsync(teamId, userId, ct) ?? throw Validation.NotAMember("team");

    private static async Task<IResult> CreateTeamAsync(
        CreateTeamRequest body, HttpContext http, IDirectoryStore directory, ConversationService conversations, IOptions<LimitsOptions> limits, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        var name = Validation.DisplayText("name", body.Name);
        if (await directory.CountTeamsOwnedAsync(me.UserId, ct) >= limits.Value.MaxTeamsOwnedPerUser)
        {
            throw new RequestRefusedException(ErrorCode.QuotaExceeded, $"You own {limits.Value.MaxTeamsOwnedPerUser} teams, the most one person may own.");
        }

        var now = time.GetUtcNow();
        var team = new TeamRecord(Guid.CreateVersion7(), name, me.UserId, now);
        await directory.CreateTeamAsync(team, ct);
        var general = new ConversationRecord(Guid.CreateVersion7(), ConversationKind.PublicChannel, team.Id, ConversationService.GeneralChannelName, null, me.UserId, now);
        await conversations.CreateAsync(me, general, [me.UserId], ct);
        return Results.Json(new TeamCreatedResponse(team.Id, team.Name, "owner", false, general.Id), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<TeamInfo> UpdateTeamAsync(string teamId, UpdateTeamRequest body, HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        var me = http.Identity();
        var team = Ids.Parse("team_id", teamId);
        await RequireAdminAsync(directory, team, me.UserId, ct);
        var name = body.Name is null ? null : Validation.DisplayText("name", body.Name);
        await directory.UpdateTeamAsync(team, name, body.MembersCanInvite, body.MembersCanMentionChannel, ct);
        return ToInfo(await RequireMemberAsync(directory, team, me.UserId, ct));
    }

    private static async Task<IResult> RemoveMemberAsync(string teamId, string userId, HttpContext http, ConversationService conversations, Observability.AuditLog audit, CancellationToken ct)
    {
        var (team, user) = (Ids.Parse("team_id", teamId), Ids.Parse("user_id", userId));
        await conversations.RemoveTeamMemberAsync(http.Identity(), team, user, ct);
        audit.MemberRemoved(team, user, http.Identity().UserId);
        return Results.NoContent();
    }

    private static async Task<IResult> SetRoleAsync(string teamId, string userId, SetRoleRequest body, HttpContext http, ConversationService conversations, CancellationToken ct)
    {
        var role = Validation.Required("role", body.Role) switch
        {
            "owner" => TeamRole.Owner,
            "admin" => TeamRole.Admin,
            "member" => TeamRole.Member,
            _ => throw RequestRefusedException.Validation("role", "role must be owner, admin or member."),
        };
        await conversations.SetTeamRoleAsync(http.Identity(), Ids.Parse("team_id", teamId), Ids.Parse("user_id", userId), role, ct);
        return Results.NoContent();
    }

    private static async Task<TeamListResponse> ListTeamsAsync(string? limit, string? cursor, HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        var (page, next) = Paging.Page(await directory.ListTeamsForUserAsync(http.Identity().UserId, ct), m => m.Team.Id, limit, cursor);
        return new TeamListResponse(page.Select(ToInfo).ToList(), next);
    }

    private static async Task<IResult> CreateInviteAsync(
        string teamId, CreateInviteRequest? body, HttpContext http, IDirectoryStore directory, IOptions<AuthOptions> options, IOptions<LimitsOptions> limits,
        TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        var team = Ids.Parse("team_id", teamId);
        var membership = await RequireMemberAsync(directory, team, me.UserId, ct);
        if (membership.Role < TeamRole.Admin && !membership.Team.MembersCanInvite)
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "Only the team's owners and admins may invite people to it.");
        }

        if (await directory.CountActiveInvitesAsync(team, time.GetUtcNow(), ct) >= limits.Value.MaxActiveInvitesPerTeam)
        {
            throw new RequestRefusedException(ErrorCode.QuotaExceeded, $"The team has {limits.Value.MaxActiveInvitesPerTeam} active invites, the most it may have; revoke one first.");
        }

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

        // The team's dead invites go once they are a day dead, so that making and revoking invites in a loop does not
        // grow the team's rows without bound. Here, where rows are added: nothing else needs a sweep.
        await directory.DeleteDeadInvitesAsync(team, now - DeadInviteRetention, ct);
        var invite = new InviteRecord(Guid.CreateVersion7(), team, SessionTokens.Hash(code, SessionTokens.InviteCodeBytes)!, me.UserId, now, now + lifetime, null);
        await directory.CreateInviteAsync(invite, ct);
        return Results.Json(new InviteCreatedResponse(invite.Id, code, team, invite.ExpiresAt.UtcDateTime), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<InviteListResponse> ListInvitesAsync(string teamId, string? limit, string? cursor, HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        var team = Ids.Parse("team_id", teamId);
        await RequireAdminAsync(directory, team, http.Identity().UserId, ct);
        var take = Paging.Limit(limit);
        var (page, next) = Paging.Trim(await directory.ListInvitesAsync(team, Paging.After(cursor), take + 1, ct), take, i => i.Id);
        return new InviteListResponse(page.Select(i => new InviteInfo(i.Id, i.CreatedBy, i.CreatedAt.UtcDateTime, i.ExpiresAt.UtcDateTime, i.RevokedAt is not null)).ToList(), next);
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

        // Already a member: the same answer as a join. Otherwise someone removed from the team comes back only with an
        // invite made after the removal (the removal is noted before the membership goes, so one under way counts).
        if (await directory.GetTeamMembershipAsync(invite.TeamId, me.UserId, ct) is { } already)
        {
            return ToInfo(already);
        }

        if (await directory.GetTeamRemovalAsync(invite.TeamId, me.UserId, ct) is { } removedAt && removedAt >= invite.CreatedAt)
        {
            throw new RequestRefusedException(ErrorCode.InviteInvalid, "You were removed from this team after this invite was made; ask for a new invite.");
        }

        // The team may be deleted while this runs (its invites go with it): the join then stores nothing and answers
        // as for an invite that no longer exists.
        try
        {
            await AddToTeamAsync(invite.TeamId, me, directory, conversations, now, ct);
        }
        catch (Exception ex) when (ChatWire.Storage.StoreFaults.IsMissingReference(ex))
        {
            throw TeamOfInviteGone();
        }
        catch (RequestRefusedException ex) when (ex.Code is ErrorCode.NotFound or ErrorCode.NotAMember)
        {
            // Its general channel went with it, after the membership was stored.
            if (await directory.GetTeamMembershipAsync(invite.TeamId, me.UserId, CancellationToken.None) is null)
            {
                throw TeamOfInviteGone();
            }

            throw;
        }

        var membership = await directory.GetTeamMembershipAsync(invite.TeamId, me.UserId, ct) ?? throw TeamOfInviteGone();
        return ToInfo(membership);
    }

    private static RequestRefusedException TeamOfInviteGone() => new(ErrorCode.InviteInvalid, "The team of this invite was deleted.");

    private static async Task AddToTeamAsync(Guid teamId, SessionIdentity me, IDirectoryStore directory, ConversationService conversations, DateTimeOffset now, CancellationToken ct)
    {
        if (await directory.AddTeamMemberAsync(teamId, me.UserId, TeamRole.Member, now, ct))
        {
            // The team's last owner may have left it, alone, while this join was under way. Checked at once, whatever
            // happens next, and whether or not the client waits for the answer.
            await conversations.EnsureAnOwnerAsync(teamId, CancellationToken.None);
            var general = (await directory.ListChannelsAsync(teamId, me.UserId, ct))
                .FirstOrDefault(c => c.Kind == ConversationKind.PublicChannel && c.Name == ConversationService.GeneralChannelName);
            if (general is not null)
            {
                await conversations.AddMemberAsync(me, general.Id, me.UserId, ct);
            }
        }
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
        foreach (var name in (string[])["prefix", "limit"])
        {
            if (http.Request.Query[name].Count > 1)
            {
                throw RequestRefusedException.Validation(name, $"{name} may be given once.");
            }
        }

        var take = DefaultMentionCandidates;
        if (limit is not null && (!int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out take) || take is < 1 or > MaxMentionCandidates))
        {
            throw RequestRefusedException.Validation("limit", $"limit must be an integer from 1 to {MaxMentionCandidates}.");
        }

        if (prefix is { Length: > MaxMentionPrefixLength } && prefix.EnumerateRunes().Count() > MaxMentionPrefixLength)
        {
            throw RequestRefusedException.Validation("prefix", $"prefix must be at most {MaxMentionPrefixLength} characters.");
        }

        // No name holds a control character (display names refuse them; usernames are a-z, 0-9, '.', '_', '-'), so
        // such a prefix is a client's mistake: refused, as the OpenAPI document's pattern says, not answered with [].
        if (prefix is not null && prefix.Any(char.IsControl))
        {
            throw RequestRefusedException.Validation("prefix", "prefix must not hold control characters.");
        }

        // Names are stored in NFC; a prefix typed in another form (an e and a combining accent) finds them too.
        prefix = prefix is null ? null : Conversations.UnicodeText.ToNfc(prefix)
            ?? throw RequestRefusedException.Validation("prefix", "prefix must be Unicode text without noncharacters such as U+FFFE.");
        var members = await directory.ListTeamMembersAsync(team, string.IsNullOrEmpty(prefix) ? null : prefix, take, ct);
        return new MemberListResponse(members.Select(m => new MemberInfo(m.UserId, m.Username, m.DisplayName, Validation.RoleName(m.Role))).ToList());
    }

    private static async Task<IResult> DeleteTeamAsync(string teamId, HttpContext http, ConversationService conversations, CancellationToken ct)
    {
        await conversations.DeleteTeamAsync(http.Identity(), Ids.Parse("team_id", teamId), ct);
        return Results.NoContent();
    }

    private static async Task<IResult> TransferAsync(string teamId, TransferTeamRequest body, HttpContext http, ConversationService conversations, CancellationToken ct)
    {
        var team = Ids.Parse("team_id", teamId);
        var userId = Ids.Parse("user_id", Validation.Required("user_id", body.UserId));
        await conversations.TransferOwnershipAsync(http.Identity(), team, userId, ct);
        return Results.NoContent();
    }

    // A page of members in id order with their presence: for a roster, not for live updates (a client
    // watches the users it shows with PRESENCE_WATCH).
    private static async Task<TeamPresenceResponse> ListPresenceAsync(
        string teamId, string? limit, string? cursor, HttpContext http, IDirectoryStore directory, Delivery.PresenceService presence, CancellationToken ct)
    {
        var team = Ids.Parse("team_id", teamId);
        var take = Paging.Limit(limit);
        var after = Paging.After(cursor);
        await RequireMemberAsync(directory, team, http.Identity().UserId, ct);
        var (page, next) = Paging.Trim(await directory.ListTeamMembersByIdAsync(team, after, take + 1, ct), take, m => m.UserId);
        var states = await presence.GetAsync(page.Select(m => m.UserId).ToList(), ct);
        return new TeamPresenceResponse(
            page.Select(m =>
            {
                var state = states[m.UserId];
                return new MemberPresence(
                    m.UserId, m.Username, m.DisplayName, Validation.StatusName(state.Status),
                    state.LastSeenUnixMs == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(state.LastSeenUnixMs).UtcDateTime);
            }).ToList(),
            next);
    }

    private static async Task RequireAdminAsync(IDirectoryStore directory, Guid teamId, Guid userId, CancellationToken ct)
    {
        var membership = await RequireMemberAsync(directory, teamId, userId, ct);
        if (membership.Role < TeamRole.Admin)
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "Only the team's owners and admins may do this.");
        }
    }

    private static TeamInfo ToInfo(TeamMembershipRecord m) =>
        new(m.Team.Id, m.Team.Name, Validation.RoleName(m.Role), m.Muted, m.Team.MembersCanInvite, m.Team.MembersCanMentionChannel);
}
