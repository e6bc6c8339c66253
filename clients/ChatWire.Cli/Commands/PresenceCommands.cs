using System.Globalization;
using System.Text.Json.Nodes;
using ChatWire.Client;
using ChatWire.Protocol.Frames;

namespace ChatWire.Cli.Commands;

// Who is around: a team's presence, my status, and "typing…".
internal static class PresenceCommands
{
    // Every member of the team with their presence, online ones first.
    public static async Task<int> PresenceAsync(CommandContext context)
    {
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        var team = await NameResolver.ResolveTeamAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var members = await api.ListTeamPresenceAsync(team.TeamId, context.Cancellation).ConfigureAwait(false);
        foreach (var member in members.OrderBy(m => m.Status == "offline").ThenBy(m => m.Username, StringComparer.OrdinalIgnoreCase))
        {
            var json = new JsonObject
            {
                ["user_id"] = member.UserId.ToString("D"),
                ["username"] = member.Username,
                ["display_name"] = member.DisplayName,
                ["status"] = member.Status,
                ["last_seen_at"] = member.LastSeenAt is { } seen ? CliOutput.Time(seen) : null,
            };
            var human = member.Status == "offline"
                ? $"{member.Username}: offline{(member.LastSeenAt is { } at ? ", last seen " + CliOutput.Time(at) : string.Empty)}"
                : $"{member.Username}: {member.Status}";
            await context.Output.WriteAsync(json, human).ConfigureAwait(false);
        }

        return 0;
    }

    // online | away | dnd: kept while any device of mine stays connected (a running listen, say).
    public static async Task<int> StatusAsync(CommandContext context)
    {
        var status = context.Arguments[0].ToLowerInvariant() switch
        {
            "online" => PresenceStatus.Online,
            "away" => PresenceStatus.Away,
            "dnd" => PresenceStatus.DoNotDisturb,
            var other => throw new CliUsageException($"STATUS must be online, away or dnd; got \"{other}\"."),
        };
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        var (connection, _) = await context.ConnectAsync(api, profile, reconnect: false).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await connection.SetStatusAsync(status, context.Cancellation).ConfigureAwait(false);
        }

        var name = context.Arguments[0].ToLowerInvariant();
        await context.Output.WriteAsync(
            new JsonObject { ["status"] = name },
            $"Status set to {name} while any device of yours is connected (a running listen keeps it).").ConfigureAwait(false);
        return 0;
    }

    // One "typing" notice: the others see it for a few seconds.
    public static async Task<int> TypingAsync(CommandContext context)
    {
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        var conversationId = await NameResolver.ResolveConversationAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var (connection, _) = await context.ConnectAsync(api, profile, reconnect: false).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await connection.TypingAsync(conversationId, context.Cancellation).ConfigureAwait(false);
        }

        await context.Output.WriteAsync(
            new JsonObject { ["conversation_id"] = conversationId.ToString("D") },
            $"Told {conversationId:D} you are typing.").ConfigureAwait(false);
        return 0;
    }

    public static JsonObject TypingJson(TypingStarted typing) => new()
    {
        ["type"] = "typing",
        ["conversation_id"] = typing.ConversationId.ToString("D"),
        ["user_id"] = typing.UserId.ToString("D"),
    };

    public static JsonObject PresenceJson(PresenceChanged change) => new()
    {
        ["type"] = "presence",
        ["user_id"] = change.UserId.ToString("D"),
        ["status"] = StatusName(change.Status),
        ["last_seen_at"] = change.LastSeen is { } seen ? CliOutput.Time(seen) : null,
    };

    public static string PresenceHuman(PresenceChanged change, string name) =>
        $"{name} is {StatusName(change.Status)}{(change.LastSeen is { } seen ? " (last seen " + CliOutput.Time(seen) + ")" : string.Empty)}";

    private static string StatusName(PresenceStatus status) => status switch
    {
        PresenceStatus.Online => "online",
        PresenceStatus.Away => "away",
        PresenceStatus.DoNotDisturb => "dnd",
        PresenceStatus.Offline => "offline",
        _ => ((int)status).ToString(CultureInfo.InvariantCulture),
    };
}
