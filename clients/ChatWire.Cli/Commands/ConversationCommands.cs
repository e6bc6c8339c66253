using System.Globalization;
using System.Text.Json.Nodes;

namespace ChatWire.Cli.Commands;

internal static class ConversationCommands
{
    public static async Task<int> CreateChannelAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var teamId = await NameResolver.ResolveTeamIdAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var channel = await api.CreateChannelAsync(teamId, context.Arguments[1], context.Flag("--private"), context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject
            {
                ["conversation_id"] = channel.ConversationId.ToString("D"),
                ["team_id"] = channel.TeamId.ToString("D"),
                ["name"] = channel.Name,
                ["type"] = channel.Type,
            },
            $"Created {channel.Type} channel {channel.Name} (conversation_id {channel.ConversationId:D}).").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> ListChannelsAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var teamId = await NameResolver.ResolveTeamIdAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var channelList = await api.ListChannelsAsync(teamId, context.Cancellation).ConfigureAwait(false);
        if (channelList.Count == 0 && !context.Output.Json)
        {
            await context.Io.Stdout.WriteLineAsync("No channels you can see.").ConfigureAwait(false);
        }

        foreach (var channel in channelList)
        {
            await context.Output.WriteAsync(
                new JsonObject
                {
                    ["conversation_id"] = channel.ConversationId.ToString("D"),
                    ["team_id"] = channel.TeamId.ToString("D"),
                    ["name"] = channel.Name,
                    ["type"] = channel.Type,
                    ["member"] = channel.Member,
                    ["archived"] = channel.Archived,
                    ["slow_mode_seconds"] = channel.SlowModeSeconds,
                    ["topic"] = channel.Topic,
                },
                $"{channel.ConversationId:D}  {channel.Name}  {channel.Type}{(channel.Member ? "  (member)" : string.Empty)}{(channel.Archived ? "  (archived)" : string.Empty)}").ConfigureAwait(false);
        }

        return 0;
    }

    public static async Task<int> JoinChannelAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var conversationId = await NameResolver.ResolveChannelAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        await api.JoinChannelAsync(conversationId, context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject { ["conversation_id"] = conversationId.ToString("D"), ["joined"] = true },
            $"Joined channel {conversationId:D}.").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> ListConversationsAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var conversationList = await api.ListConversationsAsync(context.Cancellation).ConfigureAwait(false);
        if (conversationList.Count == 0 && !context.Output.Json)
        {
            await context.Io.Stdout.WriteLineAsync("No conversations yet.").ConfigureAwait(false);
        }

        // People read names: the members' usernames (an id only for someone no team is shared with any more).
        var names = new NameBook(api, Guid.Empty);
        if (!context.Output.Json)
        {
            await names.LearnUsersAsync(conversationList.SelectMany(c => c.Members ?? []), context.Cancellation).ConfigureAwait(false);
        }

        foreach (var conversation in conversationList)
        {
            var members = conversation.Members is { } ids ? new JsonArray([.. ids.Select(id => (JsonNode?)id.ToString("D"))]) : null;
            var label = conversation.Name ?? string.Join(", ", conversation.Members?.Select(names.User) ?? []);
            await context.Output.WriteAsync(
                new JsonObject
                {
                    ["conversation_id"] = conversation.ConversationId.ToString("D"),
                    ["type"] = conversation.Type,
                    ["team_id"] = conversation.TeamId?.ToString("D"),
                    ["name"] = conversation.Name,
                    ["members"] = members,
                },
                $"{conversation.ConversationId:D}  {conversation.Type}  {label}").ConfigureAwait(false);
        }

        return 0;
    }

    public static async Task<int> OpenDirectAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var conversation = await api.OpenDirectConversationAsync(context.Arguments, context.Cancellation).ConfigureAwait(false);
        var members = conversation.Members ?? [];
        await context.Output.WriteAsync(
            new JsonObject
            {
                ["conversation_id"] = conversation.ConversationId.ToString("D"),
                ["type"] = conversation.Type,
                ["members"] = new JsonArray([.. members.Select(id => (JsonNode?)id.ToString("D"))]),
            },
            $"Conversation {conversation.ConversationId:D} ({conversation.Type}, {members.Count} members).").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> LeaveChannelAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var channel = await NameResolver.ResolveChannelAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        await api.LeaveChannelAsync(channel, context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject { ["conversation_id"] = channel.ToString("D"), ["left"] = true },
            $"Left {context.Arguments[0]}.").ConfigureAwait(false);
        return 0;
    }

    // channel add CHANNEL USER: a member of the channel adds a team-mate (public or private channel).
    public static async Task<int> AddChannelMemberAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var channel = await NameResolver.ResolveChannelAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var team = await NameResolver.TeamOfAsync(api, channel, context.Cancellation).ConfigureAwait(false);
        var user = await NameResolver.ResolveUserAsync(api, context.Arguments[1], team, context.Cancellation).ConfigureAwait(false);
        await api.AddChannelMemberAsync(channel, user, context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject { ["conversation_id"] = channel.ToString("D"), ["user_id"] = user.ToString("D"), ["added"] = true },
            $"Added {context.Arguments[1]} to {context.Arguments[0]}.").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> ChannelMembersAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var channel = await NameResolver.ResolveChannelAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        foreach (var member in await api.ListChannelMembersAsync(channel, context.Cancellation).ConfigureAwait(false))
        {
            await context.Output.WriteAsync(
                new JsonObject
                {
                    ["user_id"] = member.UserId.ToString("D"),
                    ["username"] = member.Username,
                    ["display_name"] = member.DisplayName,
                },
                member.DisplayName == member.Username ? member.Username : $"{member.Username} ({member.DisplayName})").ConfigureAwait(false);
        }

        return 0;
    }

    public static async Task<int> RenameChannelAsync(CommandContext context)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var id = await NameResolver.ResolveChannelAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var channel = await api.UpdateChannelAsync(id, name: context.Arguments[1], cancellationToken: context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(ChannelJson(channel), $"Renamed {context.Arguments[0]} to {channel.Name}.").ConfigureAwait(false);
        return 0;
    }

    public static Task<int> ArchiveChannelAsync(CommandContext context) => SetArchivedAsync(context, archived: true);

    public static Task<int> UnarchiveChannelAsync(CommandContext context) => SetArchivedAsync(context, archived: false);

    private static async Task<int> SetArchivedAsync(CommandContext context, bool archived)
    {
        using var api = context.CreateApi(context.RequireLogin());
        var id = await NameResolver.ResolveChannelAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var channel = await api.UpdateChannelAsync(id, archived: archived, cancellationToken: context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            ChannelJson(channel),
            archived ? $"Archived {channel.Name}: its history stays readable; nothing more can be sent to it." : $"Unarchived {channel.Name}.").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> SetSlowModeAsync(CommandContext context)
    {
        // The server's bounds: 0 (off) to six hours.
        if (!int.TryParse(context.Arguments[1], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > 21_600)
        {
            throw new CliUsageException($"SECONDS must be a whole number from 0 (off) to 21600 (six hours); got \"{context.Arguments[1]}\".");
        }

        using var api = context.CreateApi(context.RequireLogin());
        var id = await NameResolver.ResolveChannelAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var channel = await api.UpdateChannelAsync(id, slowModeSeconds: seconds, cancellationToken: context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            ChannelJson(channel),
            channel.SlowModeSeconds == 0
                ? $"Slow mode is off in {channel.Name}."
                : $"Slow mode in {channel.Name}: each member may send one message every {channel.SlowModeSeconds} s.").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> SetTopicAsync(CommandContext context)
    {
        var topic = string.Join(' ', context.Arguments.Skip(1));
        using var api = context.CreateApi(context.RequireLogin());
        var id = await NameResolver.ResolveChannelAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var channel = await api.UpdateChannelAsync(id, topic: topic, cancellationToken: context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            ChannelJson(channel),
            channel.Topic.Length == 0 ? $"{channel.Name} has no topic now." : $"Topic of {channel.Name}: {channel.Topic}").ConfigureAwait(false);
        return 0;
    }

    private static JsonObject ChannelJson(ChatWire.Client.ChannelSummary channel) => new()
    {
        ["conversation_id"] = channel.ConversationId.ToString("D"),
        ["team_id"] = channel.TeamId.ToString("D"),
        ["name"] = channel.Name,
        ["type"] = channel.Type,
        ["archived"] = channel.Archived,
        ["slow_mode_seconds"] = channel.SlowModeSeconds,
        ["topic"] = channel.Topic,
    };
}
