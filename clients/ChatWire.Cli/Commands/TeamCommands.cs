using System.Text.Json.Nodes;
using ChatWire.Client;

namespace ChatWire.Cli.Commands;

internal static class TeamCommands
{
    // team create NAME: the team, then an invite to share, so one command sets up what others need to join.
    public static async Task<int> CreateAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var team = await api.CreateTeamAsync(context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var invite = await api.CreateInviteAsync(team.TeamId, expiresIn: null, context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject
            {
                ["team_id"] = team.TeamId.ToString("D"),
                ["name"] = team.Name,
                ["role"] = team.Role,
                ["general_channel_id"] = team.GeneralChannelId.ToString("D"),
                ["invite_code"] = invite.InviteCode,
                ["invite_id"] = invite.InviteId.ToString("D"),
                ["expires_at"] = CliOutput.Time(invite.ExpiresAt),
            },
            $"Created team {team.Name} (team_id {team.TeamId:D}).{Environment.NewLine}Invite code: {invite.InviteCode} (expires {CliOutput.Time(invite.ExpiresAt)})")
            .ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> JoinAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var team = await api.JoinTeamAsync(context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(TeamJson(team), $"Joined team {team.Name} (team_id {team.TeamId:D}) as {team.Role}.").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> ListAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var teamList = await api.ListTeamsAsync(context.Cancellation).ConfigureAwait(false);
        if (teamList.Count == 0 && !context.Output.Json)
        {
            await context.Io.Stdout.WriteLineAsync("No teams yet: team create NAME makes one, team join INVITE joins one.").ConfigureAwait(false);
        }

        foreach (var team in teamList)
        {
            await context.Output.WriteAsync(TeamJson(team), $"{team.TeamId:D}  {team.Name}  {team.Role}{(team.Muted ? "  (muted)" : string.Empty)}").ConfigureAwait(false);
        }

        return 0;
    }

    public static async Task<int> InviteAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var teamId = await NameResolver.ResolveTeamIdAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var invite = await api.CreateInviteAsync(teamId, expiresIn: null, context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject
            {
                ["team_id"] = invite.TeamId.ToString("D"),
                ["invite_code"] = invite.InviteCode,
                ["invite_id"] = invite.InviteId.ToString("D"),
                ["expires_at"] = CliOutput.Time(invite.ExpiresAt),
            },
            $"Invite code: {invite.InviteCode} (expires {CliOutput.Time(invite.ExpiresAt)})").ConfigureAwait(false);
        return 0;
    }

    public static Task<int> MuteAsync(CommandContext context) => SetMutedAsync(context, muted: true);

    public static Task<int> UnmuteAsync(CommandContext context) => SetMutedAsync(context, muted: false);

    public static async Task<int> LeaveAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var team = await NameResolver.ResolveTeamAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        await api.LeaveTeamAsync(team.TeamId, context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(new JsonObject { ["team_id"] = team.TeamId.ToString("D"), ["left"] = true }, $"Left team {team.Name}.").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> MembersAsync(CommandContext context)
    {
        var limit = context.IntOption("--limit", 1, 100);
        using var api = context.CreateApi(context.RequireLogin());
        var teamId = await NameResolver.ResolveTeamIdAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var memberList = await api.ListMembersAsync(teamId, context.Option("--prefix"), limit, context.Cancellation).ConfigureAwait(false);
        if (memberList.Count == 0 && !context.Output.Json)
        {
            await context.Io.Stdout.WriteLineAsync("No member matches.").ConfigureAwait(false);
        }

        foreach (var member in memberList)
        {
            await context.Output.WriteAsync(
                new JsonObject
                {
                    ["user_id"] = member.UserId.ToString("D"),
                    ["username"] = member.Username,
                    ["display_name"] = member.DisplayName,
                    ["role"] = member.Role,
                },
                $"{member.UserId:D}  {member.Username}  {member.DisplayName}  {member.Role}").ConfigureAwait(false);
        }

        return 0;
    }

    private static async Task<int> SetMutedAsync(CommandContext context, bool muted)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var team = await NameResolver.ResolveTeamAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var teamId = team.TeamId;
        if (muted)
        {
            await api.MuteTeamAsync(teamId, context.Cancellation).ConfigureAwait(false);
        }
        else
        {
            await api.UnmuteTeamAsync(teamId, context.Cancellation).ConfigureAwait(false);
        }

        // What muting does, said where it is done: the server flags the team's conversations as muted in SYNC.
        await context.Output.WriteAsync(
            new JsonObject { ["team_id"] = teamId.ToString("D"), ["muted"] = muted },
            muted
                ? $"Muted {team.Name}: its conversations still count unread messages, quietly; unread marks them muted and notifications skip them."
                : $"Unmuted {team.Name}.").ConfigureAwait(false);
        return 0;
    }

    private static JsonObject TeamJson(TeamSummary team) => new()
    {
        ["team_id"] = team.TeamId.ToString("D"),
        ["name"] = team.Name,
        ["role"] = team.Role,
        ["muted"] = team.Muted,
    };

    public static async Task<int> InvitesAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var teamId = await NameResolver.ResolveTeamIdAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var invites = await api.ListInvitesAsync(teamId, context.Cancellation).ConfigureAwait(false);
        foreach (var invite in invites)
        {
            await context.Output.WriteAsync(
                new JsonObject
                {
                    ["invite_id"] = invite.InviteId.ToString("D"),
                    ["created_by"] = invite.CreatedBy.ToString("D"),
                    ["created_at"] = CliOutput.Time(invite.CreatedAt),
                    ["expires_at"] = CliOutput.Time(invite.ExpiresAt),
                    ["revoked"] = invite.Revoked,
                },
                $"{invite.InviteId:D}  expires {CliOutput.Time(invite.ExpiresAt)}{(invite.Revoked ? "  (revoked)" : string.Empty)}").ConfigureAwait(false);
        }

        if (invites.Count == 0 && !context.Output.Json)
        {
            await context.Io.Stdout.WriteLineAsync("No invites.").ConfigureAwait(false);
        }

        return 0;
    }

    // team invite revoke TEAM INVITE_ID
    public static async Task<int> RevokeInviteAsync(CommandContext context)
    {
        if (!Guid.TryParse(context.Arguments[1], out var inviteId))
        {
            throw new CliUsageException($"INVITE must be an invite id (team invites lists them); got \"{context.Arguments[1]}\".");
        }

        using var api = context.CreateApi(context.RequireLogin());
        var teamId = await NameResolver.ResolveTeamIdAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        await api.RevokeInviteAsync(teamId, inviteId, context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject { ["team_id"] = teamId.ToString("D"), ["invite_id"] = inviteId.ToString("D"), ["revoked"] = true },
            $"Revoked invite {inviteId:D}.").ConfigureAwait(false);
        return 0;
    }

    public static Task<int> PromoteAsync(CommandContext context) => SetRoleAsync(context, "admin");

    public static Task<int> DemoteAsync(CommandContext context) => SetRoleAsync(context, "member");

    private static async Task<int> SetRoleAsync(CommandContext context, string role)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var team = await NameResolver.ResolveTeamAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var user = await NameResolver.ResolveUserAsync(api, context.Arguments[1], team.TeamId, context.Cancellation).ConfigureAwait(false);
        await api.SetTeamRoleAsync(team.TeamId, user, role, context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject { ["team_id"] = team.TeamId.ToString("D"), ["user_id"] = user.ToString("D"), ["role"] = role },
            $"{context.Arguments[1]} is now {(role == "admin" ? "an admin" : "a member")} of {team.Name}.").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> TransferAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var team = await NameResolver.ResolveTeamAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var user = await NameResolver.ResolveUserAsync(api, context.Arguments[1], team.TeamId, context.Cancellation).ConfigureAwait(false);
        await api.TransferTeamAsync(team.TeamId, user, context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject { ["team_id"] = team.TeamId.ToString("D"), ["owner"] = user.ToString("D"), ["role"] = "admin" },
            $"{context.Arguments[1]} now owns {team.Name}; you are an admin.").ConfigureAwait(false);
        return 0;
    }

    // team delete TEAM --yes: the confirmation flag, because there is no undo.
    public static async Task<int> DeleteAsync(CommandContext context)
    {
        if (!context.Flag("--yes"))
        {
            throw new CliUsageException("team delete removes everyone from the team and its channels, for good: add --yes to confirm.");
        }

        using var api = context.CreateApi(context.RequireLogin());
        var team = await NameResolver.ResolveTeamAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        await api.DeleteTeamAsync(team.TeamId, context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(new JsonObject { ["team_id"] = team.TeamId.ToString("D"), ["deleted"] = true }, $"Deleted team {team.Name}.").ConfigureAwait(false);
        return 0;
    }
}
