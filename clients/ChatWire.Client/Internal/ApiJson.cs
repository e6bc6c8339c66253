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

internal sealed record UpdateTeamBody(string? Name, bool? MembersCanInvite, bool? MembersCanMentionChannel);

internal sealed record SetRoleBody(string Role);

/// <summary>One page of a list endpoint: its items and the cursor of the next page (null on the last).</summary>
internal interface IPage<out T>
{
    IReadOnlyList<T>? Items { get; }

    string? NextCursor { get; }
}

internal sealed record CreateChannelBody(string Name, bool Private);

internal sealed record AddChannelMemberBody(Guid UserId);

internal sealed record OpenDirectConversationBody(IReadOnlyList<string> Users);

internal sealed record SessionList(IReadOnlyList<SessionInfo> Sessions, string? NextCursor) : IPage<SessionInfo>
{
    public IReadOnlyList<SessionInfo>? Items => Sessions;
}

internal sealed record TeamList(IReadOnlyList<TeamSummary> Teams, string? NextCursor) : IPage<TeamSummary>
{
    public IReadOnlyList<TeamSummary>? Items => Teams;
}

internal sealed record InviteList(IReadOnlyList<InviteInfo> Invites, string? NextCursor) : IPage<InviteInfo>
{
    public IReadOnlyList<InviteInfo>? Items => Invites;
}

internal sealed record MemberList(IReadOnlyList<TeamMember> Members);

internal sealed record ChannelList(IReadOnlyList<ChannelSummary> Channels, string? NextCursor) : IPage<ChannelSummary>
{
    public IReadOnlyList<ChannelSummary>? Items => Channels;
}

internal sealed record ConversationList(IReadOnlyList<ConversationSummary> Conversations, string? NextCursor) : IPage<ConversationSummary>
{
    public IReadOnlyList<ConversationSummary>? Items => Conversations;
}

internal sealed record MessageLocations(Guid MessageId, IReadOnlyList<MessageLocation> Locations);

internal sealed record PresenceList(IReadOnlyList<MemberPresence> Members, string? NextCursor) : IPage<MemberPresence>
{
    public IReadOnlyList<MemberPresence>? Items => Members;
}

internal sealed record ChannelMemberList(IReadOnlyList<ChannelMember> Members, string? NextCursor) : IPage<ChannelMember>
{
    public IReadOnlyList<ChannelMember>? Items => Members;
}

internal sealed record UserNameList(IReadOnlyList<UserName> Users);

internal sealed record UpdateChannelBody(string? Name, bool? Archived, int? SlowModeSeconds, string? Topic);

internal sealed record TransferTeamBody(Guid UserId);
