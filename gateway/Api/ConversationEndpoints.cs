using ChatWire.Gateway.Delivery;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;

namespace ChatWire.Gateway.Api;

internal static class ConversationEndpoints
{
    /// <summary>A group DM holds at most this many people, the caller included.</summary>
    public const int MaxGroupSize = 8;

    public static void Map(RouteGroupBuilder authenticated)
    {
        authenticated.MapPost("/teams/{teamId:guid}/channels", CreateChannelAsync);
        authenticated.MapGet("/teams/{teamId:guid}/channels", ListChannelsAsync);
        authenticated.MapPost("/channels/{conversationId:guid}/join", JoinChannelAsync);
        authenticated.MapPost("/channels/{conversationId:guid}/members", AddChannelMemberAsync);
        authenticated.MapPost("/dms", OpenDirectAsync);
        authenticated.MapGet("/conversations", ListConversationsAsync);
    }

    private static async Task<IResult> CreateChannelAsync(
        Guid teamId, CreateChannelRequest body, HttpContext http, IDirectoryStore directory, DirectoryEvents events, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        await TeamEndpoints.RequireMemberAsync(directory, teamId, me.UserId, ct);
        var name = Validation.ChannelName(body.Name);
        var kind = body.Private == true ? ConversationKind.PrivateChannel : ConversationKind.PublicChannel;
        var channel = new ConversationRecord(Guid.CreateVersion7(), kind, teamId, name, null, me.UserId, time.GetUtcNow());
        try
        {
            await directory.CreateConversationAsync(channel, [me.UserId], ct);
        }
        catch (DuplicateKeyException)
        {
            throw new ApiException(ErrorCode.AlreadyExists, $"The team already has a channel named '{name}'.");
        }

        await events.ConversationJoinedAsync(me.UserId, channel.Id);
        return Results.Json(new ChannelCreatedResponse(channel.Id, teamId, name, Validation.TypeName(kind)), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<ChannelListResponse> ListChannelsAsync(Guid teamId, HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        var me = http.Identity();
        await TeamEndpoints.RequireMemberAsync(directory, teamId, me.UserId, ct);
        var mine = (await directory.ListConversationsForUserAsync(me.UserId, ct)).Select(c => c.Id).ToHashSet();
        var channels = await directory.ListChannelsAsync(teamId, me.UserId, ct);
        return new ChannelListResponse(channels
            .Select(c => new ChannelInfo(c.Id, teamId, c.Name!, Validation.TypeName(c.Kind), mine.Contains(c.Id)))
            .ToList());
    }

    private static async Task<IResult> JoinChannelAsync(
        Guid conversationId, HttpContext http, IDirectoryStore directory, DirectoryEvents events, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        var channel = await RequireChannelOfMyTeamAsync(directory, conversationId, me.UserId, ct);
        if (channel.Kind != ConversationKind.PublicChannel && !await directory.IsConversationMemberAsync(channel.Id, me.UserId, ct))
        {
            throw new ApiException(ErrorCode.Forbidden, "Private channels are joined by being added by a member.");
        }

        if (await directory.AddConversationMemberAsync(channel.Id, me.UserId, time.GetUtcNow(), ct))
        {
            await events.ConversationJoinedAsync(me.UserId, channel.Id);
        }

        return Results.NoContent();
    }

    private static async Task<IResult> AddChannelMemberAsync(
        Guid conversationId, AddChannelMemberRequest body, HttpContext http, IDirectoryStore directory, DirectoryEvents events, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        var userId = body.UserId ?? throw ApiException.Validation("user_id", "user_id is required.");
        var channel = await RequireChannelOfMyTeamAsync(directory, conversationId, me.UserId, ct);
        if (!await directory.IsConversationMemberAsync(channel.Id, me.UserId, ct))
        {
            throw Validation.NotAMember("channel");
        }

        if (await directory.GetTeamMembershipAsync(channel.TeamId!.Value, userId, ct) is null)
        {
            throw new ApiException(ErrorCode.NotFound, "That user is not a member of this channel's team.");
        }

        if (await directory.AddConversationMemberAsync(channel.Id, userId, time.GetUtcNow(), ct))
        {
            await events.ConversationJoinedAsync(userId, channel.Id);
        }

        return Results.NoContent();
    }

    private static async Task<DirectConversationResponse> OpenDirectAsync(
        OpenDirectRequest body, HttpContext http, IDirectoryStore directory, DirectoryEvents events, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        if (body.Users is not { Count: > 0 } names || names.Count >= MaxGroupSize)
        {
            throw ApiException.Validation("users", $"users must name 1-{MaxGroupSize - 1} other people.");
        }

        var members = new SortedSet<Guid> { me.UserId };
        foreach (var name in names)
        {
            var user = Guid.TryParse(name, out var id)
                ? await directory.GetUserAsync(id, ct)
                : await directory.FindUserByNameAsync((name ?? string.Empty).Trim().ToLowerInvariant(), ct);

            // Someone who shares no team with the caller is reported as not found: the directory does not leak.
            if (user is null || (user.Id != me.UserId && !await directory.ShareTeamAsync(me.UserId, user.Id, ct)))
            {
                throw new ApiException(ErrorCode.NotFound, $"No team-mate named '{name}'.");
            }

            members.Add(user.Id);
        }

        if (members.Count < 2)
        {
            throw ApiException.Validation("users", "A direct conversation needs at least one other person.");
        }

        var kind = members.Count == 2 ? ConversationKind.DirectMessage : ConversationKind.GroupMessage;
        var key = string.Join(',', members.Select(m => m.ToString("N")));
        var existing = await directory.FindDirectConversationAsync(key, ct);
        if (existing is null)
        {
            var conversation = new ConversationRecord(Guid.CreateVersion7(), kind, null, null, key, me.UserId, time.GetUtcNow());
            try
            {
                await directory.CreateConversationAsync(conversation, members, ct);
                foreach (var member in members)
                {
                    await events.ConversationJoinedAsync(member, conversation.Id);
                }

                existing = conversation;
            }
            catch (DuplicateKeyException ex)
            {
                // Another request opened the same conversation first: answer with theirs.
                existing = await directory.FindDirectConversationAsync(key, ct)
                    ?? throw new InvalidOperationException("A direct conversation's key was taken but cannot be found.", ex);
            }
        }

        return new DirectConversationResponse(existing.Id, Validation.TypeName(existing.Kind), members.ToList());
    }

    private static async Task<ConversationListResponse> ListConversationsAsync(HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        var me = http.Identity();
        var result = new List<ConversationInfo>();
        foreach (var c in await directory.ListConversationsForUserAsync(me.UserId, ct))
        {
            var isDirect = c.Kind is ConversationKind.DirectMessage or ConversationKind.GroupMessage;
            var members = isDirect ? await directory.ListConversationMembersAsync(c.Id, ct) : null;
            result.Add(new ConversationInfo(c.Id, Validation.TypeName(c.Kind), c.TeamId, c.Name, members));
        }

        return new ConversationListResponse(result);
    }

    // A channel of a team the caller belongs to; anything else (a DM, another team's channel, nothing) is
    // answered alike so ids of other teams' channels reveal nothing.
    private static async Task<ConversationRecord> RequireChannelOfMyTeamAsync(IDirectoryStore directory, Guid conversationId, Guid userId, CancellationToken ct)
    {
        var channel = await directory.GetConversationAsync(conversationId, ct);
        if (channel?.TeamId is not { } teamId || await directory.GetTeamMembershipAsync(teamId, userId, ct) is null)
        {
            throw Validation.NotAMember("channel's team");
        }

        return channel;
    }
}
