using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatWire.Client.Internal;

// docs/http-api.md "Conventions": snake_case keys both ways; absent optional fields are omitted, not null.
internal static class ApiJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

// Request bodies that take primitive arguments in the public API, and the list envelopes.
internal sealed record ChangePasswordBody(string CurrentPassword, string NewPassword);

internal sealed record CreateTeamBody(string Name);

internal sealed record CreateInviteBody(long? ExpiresInSeconds);

internal sealed record CreateChannelBody(string Name, bool Private);

internal sealed record AddChannelMemberBody(Guid UserId);

internal sealed record OpenDirectConversationBody(IReadOnlyList<string> Users);

internal sealed record SessionList(IReadOnlyList<SessionInfo> Sessions);

internal sealed record TeamList(IReadOnlyList<TeamSummary> Teams);

internal sealed record InviteList(IReadOnlyList<InviteInfo> Invites);

internal sealed record MemberList(IReadOnlyList<TeamMember> Members);

internal sealed record ChannelList(IReadOnlyList<ChannelSummary> Channels);

internal sealed record ConversationList(IReadOnlyList<ConversationSummary> Conversations);
