using ChatWire.Client;
using ChatWire.Protocol;

namespace ChatWire.Cli;

// docs/cli.md: a team, channel or user may be named by id or by name; an ambiguous name is an error
// (VALIDATION_FAILED) listing the candidates with their ids.
internal static class NameResolver
{
    public static async Task<TeamSummary> ResolveTeamAsync(ChatWireApiClient api, string nameOrId, CancellationToken cancellationToken)
    {
        var teams = await api.ListTeamsAsync(cancellationToken).ConfigureAwait(false);
        if (Guid.TryParse(nameOrId, out var id))
        {
            // An id needs no lookup, but a team I am in has its name to print; others go to the server as is.
            return teams.FirstOrDefault(team => team.TeamId == id) ?? new TeamSummary(id, nameOrId, string.Empty, false, false);
        }

        // Team names are free text and not unique: an exact match wins over a case-insensitive one.
        var matches = teams.Where(team => string.Equals(team.Name, nameOrId, StringComparison.Ordinal)).ToList();
        if (matches.Count == 0)
        {
            matches = teams.Where(team => string.Equals(team.Name, nameOrId, StringComparison.OrdinalIgnoreCase)).ToList();
        }

        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new CliException(ErrorCode.NotFound, $"No team named \"{nameOrId}\" among your teams."),
            _ => throw Ambiguous("team", nameOrId, matches.Select(team => new NameCandidate(team.TeamId, team.Name, null)).ToList(), "team id"),
        };
    }

    public static async Task<Guid> ResolveTeamIdAsync(ChatWireApiClient api, string nameOrId, CancellationToken cancellationToken) =>
        Guid.TryParse(nameOrId, out var id) ? id : (await ResolveTeamAsync(api, nameOrId, cancellationToken).ConfigureAwait(false)).TeamId;

    // A channel: a conversation id, a channel name (searched in every team of mine), or TEAM/CHANNEL.
    // Channel names never contain '/', so the last '/' separates a team (name or id) from the channel.
    public static async Task<Guid> ResolveChannelAsync(ChatWireApiClient api, string nameOrId, CancellationToken cancellationToken)
    {
        if (Guid.TryParse(nameOrId, out var id))
        {
            return id;
        }

        var slash = nameOrId.LastIndexOf('/');
        var channelName = (slash < 0 ? nameOrId : nameOrId[(slash + 1)..]).TrimStart('#');
        if (channelName.Length == 0)
        {
            throw new CliUsageException($"\"{nameOrId}\" names no channel.");
        }

        IReadOnlyList<TeamSummary> teams = slash < 0
            ? await api.ListTeamsAsync(cancellationToken).ConfigureAwait(false)
            : [await ResolveTeamAsync(api, nameOrId[..slash], cancellationToken).ConfigureAwait(false)];

        var matches = new List<(ChannelSummary Channel, TeamSummary Team)>();
        foreach (var team in teams)
        {
            var channels = await api.ListChannelsAsync(team.TeamId, cancellationToken).ConfigureAwait(false);
            matches.AddRange(channels
                .Where(channel => string.Equals(channel.Name, channelName, StringComparison.OrdinalIgnoreCase))
                .Select(channel => (channel, team)));
        }

        return matches.Count switch
        {
            1 => matches[0].Channel.ConversationId,
            0 => throw new CliException(ErrorCode.NotFound, $"No channel named \"{channelName}\" in your teams."),
            _ => throw Ambiguous(
                "channel",
                channelName,
                matches.Select(match => new NameCandidate(match.Channel.ConversationId, match.Channel.Name, $"team {match.Team.Name} {match.Team.TeamId:D}")).ToList(),
                "conversation id or TEAM/CHANNEL"),
        };
    }

    // A conversation: a conversation id, a channel name, or @USER (the DM with that team-mate, opened on
    // first use; @alice,bob for a group DM).
    public static async Task<Guid> ResolveConversationAsync(ChatWireApiClient api, string nameOrId, CancellationToken cancellationToken)
    {
        if (nameOrId.StartsWith('@') && nameOrId.Length > 1)
        {
            var users = nameOrId[1..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(u => u.TrimStart('@'));
            return (await api.OpenDirectConversationAsync(users, cancellationToken).ConfigureAwait(false)).ConversationId;
        }

        return await ResolveChannelAsync(api, nameOrId, cancellationToken).ConfigureAwait(false);
    }

    // A user: a user id, or a username among the members of the team (or of any team of mine).
    public static async Task<Guid> ResolveUserAsync(ChatWireApiClient api, string nameOrId, Guid? teamId, CancellationToken cancellationToken)
    {
        if (Guid.TryParse(nameOrId, out var id))
        {
            return id;
        }

        var name = nameOrId.TrimStart('@');
        IEnumerable<Guid> teams = teamId is { } only ? [only] : (await api.ListTeamsAsync(cancellationToken).ConfigureAwait(false)).Select(t => t.TeamId);
        foreach (var team in teams)
        {
            var members = await api.ListMembersAsync(team, name, 20, cancellationToken).ConfigureAwait(false);
            if (members.FirstOrDefault(m => string.Equals(m.Username, name, StringComparison.OrdinalIgnoreCase)) is { } member)
            {
                return member.UserId;
            }
        }

        throw new CliException(ErrorCode.NotFound, $"No team-mate named \"{name}\".");
    }

    // The team of a channel I am in; null for a DM or a channel I am not in.
    public static async Task<Guid?> TeamOfAsync(ChatWireApiClient api, Guid conversationId, CancellationToken cancellationToken) =>
        (await api.ListConversationsAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(c => c.ConversationId == conversationId)?.TeamId;

    public static async Task<SessionInfo> ResolveSessionAsync(ChatWireApiClient api, string nameOrId, CancellationToken cancellationToken)
    {
        var sessions = await api.ListSessionsAsync(cancellationToken).ConfigureAwait(false);
        if (Guid.TryParse(nameOrId, out var id))
        {
            return sessions.FirstOrDefault(session => session.DeviceId == id) ?? new SessionInfo(id, null, default, null, false);
        }

        var matches = sessions.Where(session => string.Equals(session.DeviceName, nameOrId, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new CliException(ErrorCode.NotFound, $"No session of yours has a device named \"{nameOrId}\"."),
            _ => throw Ambiguous("device", nameOrId, matches.Select(session => new NameCandidate(session.DeviceId, session.DeviceName ?? string.Empty, null)).ToList(), "device id"),
        };
    }

    private static CliException Ambiguous(string kind, string name, IReadOnlyList<NameCandidate> candidates, string use)
    {
        var listed = string.Join(", ", candidates.Select(candidate =>
            candidate.Detail is null ? $"{candidate.Name} ({candidate.Id:D})" : $"{candidate.Name} ({candidate.Id:D}, {candidate.Detail})"));
        return new CliException(
            ErrorCode.ValidationFailed,
            $"The {kind} name \"{name}\" is ambiguous: {listed}. Name it by {use}.",
            candidates);
    }
}
