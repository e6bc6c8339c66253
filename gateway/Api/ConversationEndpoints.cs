using ChatWire.Gateway.Conversations;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;

namespace ChatWire.Gateway.Api;

// Channels, DMs and the conversation list. Membership changes go through the conversation service, which
// announces each one to every member's devices (docs/protocol.md §4.10, MEMBER_JOINED / MEMBER_LEFT).
internal static class ConversationEndpoints
{
    private const string Tag = "Conversations";

    public static void Map(RouteGroupBuilder authenticated)
    {
        authenticated.MapPost("/teams/{teamId}/channels", CreateChannelAsync)
            .Describe("createChannel", "Create a channel in a team", Tag,
                "name is 1-64 characters of a-z 0-9 _ - after trimming, upper case folded; private is optional (default false). The caller is the "
                + "first member. A public channel's name already used by another public channel is 409 ALREADY_EXISTS (private channels' names are "
                + "not unique); a team has at most 1,000 channels (403 QUOTA_EXCEEDED), and non-members get 403 NOT_A_MEMBER. A team deleted "
                + "while the channel is created is 404 NOT_FOUND (the channel went with it).")
            .Returns<ChannelCreatedResponse>(StatusCodes.Status201Created).Refuses(400, 403, 404, 409, 415);
        authenticated.MapGet("/teams/{teamId}/channels", ListChannelsAsync)
            .Describe("listChannels", "List a team's public channels and the private ones I am in", Tag,
                "member says whether the caller is in each channel, archived whether it is archived. Paged in id order: limit 1-500 (default 100), "
                + "and next_cursor as cursor for the next page until it is null. Members of the team only (403 NOT_A_MEMBER).")
            .Returns<ChannelListResponse>().Refuses(400, 403);
        authenticated.MapPost("/channels/{conversationId}/join", JoinChannelAsync)
            .Describe("joinChannel", "Join a public channel of one of my teams", Tag,
                "No body. The channel gets a member_joined event and the caller's devices learn of it at once; a channel the caller is already in "
                + "answers 204 too, unless it is archived. A private channel the caller is not in, or an archived channel, is 403 FORBIDDEN; a "
                + "channel of a team the caller is not in, or no such channel, is 403 NOT_A_MEMBER.")
            .ReturnsNoContent().Refuses(400, 403);
        authenticated.MapPost("/channels/{conversationId}/members", AddChannelMemberAsync)
            .Describe("addChannelMember", "Add a team-mate to a channel I am in", Tag,
                "For public and private channels: the caller must be in the channel (403 NOT_A_MEMBER otherwise) and user_id a member of the "
                + "channel's team (404 NOT_FOUND otherwise). The channel gets a member_joined event; someone already in it is 204 too, and an "
                + "archived channel is 403 FORBIDDEN.")
            .ReturnsNoContent().Refuses(400, 403, 404, 415);
        authenticated.MapPatch("/channels/{conversationId}", UpdateChannelAsync)
            .Describe("updateChannel", "Rename a channel, archive or unarchive it, or set its slow mode or topic", Tag,
                "Send name, archived, slow_mode_seconds, topic, or any of them together (none is 400 VALIDATION_FAILED). The channel's creator and the "
                + "team's owners and admins may (others in the team 403 FORBIDDEN, anyone outside a private channel 403 NOT_A_MEMBER); the general "
                + "channel is neither renamed nor archived (403 FORBIDDEN), though its slow mode may be set; a public channel's name taken by another "
                + "is 409 ALREADY_EXISTS. An archived channel keeps its members and history, readable, but takes no SEND, EDIT, REACT or TYPING, and "
                + "nobody joins it. slow_mode_seconds (0 to 21600; 0 turns it off) lets each member SEND one message per that many seconds in the "
                + "channel; a SEND sooner is refused RATE_LIMITED with retry_after_ms. Those who may set it (the creator, owners and admins) are "
                + "not held by it. It takes effect at once on every node. topic is a line of at most 250 characters shown at the channel's head "
                + "(no control or invisible formatting characters; trimmed and normalized to NFC); an empty one clears it. Each PATCH stores a "
                + "channel_updated event (kind 8) in the channel, naming what it set, with the settings after it, which reaches every member's "
                + "devices (docs/protocol.md 4.10). A channel's settings change at most 10 times at once, then 20 times a minute, on each "
                + "node (Limits:ChannelChangesPerMinutePerChannel); past that 429 RATE_LIMITED with Retry-After, and nothing changes.")
            .Returns<ChannelInfo>().Refuses(400, 403, 409, 415);
        authenticated.MapPost("/channels/{conversationId}/leave", LeaveChannelAsync)
            .Describe("leaveChannel", "Leave a channel (not #general)", Tag,
                "The channel gets a member_left event and the caller's devices stop receiving it at once. Not being in it is 403 NOT_A_MEMBER; the "
                + "team's general channel cannot be left (403 FORBIDDEN: leave the team instead).")
            .ReturnsNoContent().Refuses(400, 403);
        authenticated.MapGet("/channels/{conversationId}/members", ListChannelMembersAsync)
            .Describe("listChannelMembers", "A channel's members, a page at a time", Tag,
                "Any member of the team may list a public channel's members; a private channel's only its members (403 NOT_A_MEMBER otherwise). "
                + "Paged in user id order: limit 1-500 (default 100), and next_cursor as cursor for the next page until it is null.")
            .Returns<ChannelMemberListResponse>().Refuses(400, 403);
        authenticated.MapPost("/dms", OpenDirectAsync)
            .Describe("openDirect", "Open the DM or group DM with these people", Tag,
                "users names 1 to 7 other people by username or user id (the caller is in it without being listed): one makes a dm, 2 to 7 a group. "
                + "Each must share a team with the caller; anyone else, or a name nobody has, is 404 NOT_FOUND. The same set of people always gets "
                + "the same conversation: 200 whether it was created (a member_joined event per member) or already existed. A new group in which "
                + "anyone is already in Limits:MaxGroupConversationsPerUser groups (1,000 by default), or by a caller who has created "
                + "Limits:MaxGroupConversationsCreatedPerUser (100), is 403 QUOTA_EXCEEDED.")
            .Returns<DirectConversationResponse>().Refuses(400, 403, 404, 415);
        authenticated.MapGet("/conversations", ListConversationsAsync)
            .Describe("listConversations", "List every conversation I am in, with its latest seq", Tag,
                "type is public, private, dm or group; channels have team_id and name, dm and group conversations members. last_seq is the seq of "
                + "the newest event (0 for none), so a client sees what it missed without a HISTORY per conversation. Paged in id order: limit 1-500 "
                + "(default 100), and next_cursor as cursor for the next page until it is null.")
            .Returns<ConversationListResponse>().Refuses(400);
        authenticated.MapGet("/messages/{messageId}", LocateMessageAsync)
            .Describe("locateMessage", "Find the conversation (and seq) of a message of mine by its id", Tag,
                "For a client that has only a message id (to react to or edit it over TCP): the caller's conversations that hold a message with this "
                + "id, with its seq there, usually one; deleted messages are found too, as tombstones. None of the caller's conversations holding it "
                + "is 404 NOT_FOUND, whether or not it exists elsewhere.")
            .Returns<MessageLocationResponse>().Refuses(400, 404);
    }

    // A message id is unique within its conversation; clients that name a message by id alone (the CLI's
    // react, edit, reply) find its conversation here. Several places only if ids were reused on purpose.
    private static async Task<MessageLocationResponse> LocateMessageAsync(string messageId, HttpContext http, ConversationService conversations, CancellationToken ct)
    {
        var id = Ids.Parse("message_id", messageId);
        var places = await conversations.LocateMessageAsync(http.Identity(), id, ct);
        return new MessageLocationResponse(id, places.Select(p => new MessageLocation(p.ConversationId, p.Seq)).ToList());
    }

    private static async Task<IResult> CreateChannelAsync(string teamId, CreateChannelRequest body, HttpContext http, ConversationService conversations, CancellationToken ct)
    {
        var team = Ids.Parse("team_id", teamId);
        var name = Validation.ChannelName(body.Name);
        var channel = await conversations.CreateChannelAsync(http.Identity(), team, name, body.Private == true, ct);
        return Results.Json(new ChannelCreatedResponse(channel.Id, team, name, Validation.TypeName(channel.Kind)), statusCode: StatusCodes.Status201Created);
    }

    private static async Task<ChannelListResponse> ListChannelsAsync(
        string teamId, string? limit, string? cursor, HttpContext http, IDirectoryStore directory, ConversationService conversations, CancellationToken ct)
    {
        var team = Ids.Parse("team_id", teamId);
        var me = http.Identity();
        await conversations.RequireTeamMemberAsync(team, me.UserId, ct);
        var mine = (await directory.ListConversationsForUserAsync(me.UserId, ct)).Select(c => c.Id).ToHashSet();
        var (page, next) = Paging.Page(await directory.ListChannelsAsync(team, me.UserId, ct), c => c.Id, limit, cursor);
        return new ChannelListResponse(page.Select(c => new ChannelInfo(c.Id, team, c.Name!, Validation.TypeName(c.Kind), mine.Contains(c.Id), c.ArchivedAt is not null, c.SlowModeSeconds, c.Topic)).ToList(), next);
    }

    private static async Task<IResult> JoinChannelAsync(string conversationId, HttpContext http, ConversationService conversations, CancellationToken ct)
    {
        await conversations.JoinChannelAsync(http.Identity(), Ids.Parse("conversation_id", conversationId), ct);
        return Results.NoContent();
    }

    private static async Task<IResult> AddChannelMemberAsync(string conversationId, AddChannelMemberRequest body, HttpContext http, ConversationService conversations, CancellationToken ct)
    {
        var channel = Ids.Parse("conversation_id", conversationId);
        var userId = Ids.Parse("user_id", Validation.Required("user_id", body.UserId));
        await conversations.AddChannelMemberAsync(http.Identity(), channel, userId, ct);
        return Results.NoContent();
    }

    private static async Task<ChannelInfo> UpdateChannelAsync(
        string conversationId, UpdateChannelRequest body, HttpContext http, IDirectoryStore directory, ConversationService conversations, CancellationToken ct)
    {
        var id = Ids.Parse("conversation_id", conversationId);
        if (body is { Name: null, Archived: null, SlowModeSeconds: null, Topic: null })
        {
            throw new RequestRefusedException(ErrorCode.ValidationFailed, "Give a new name, archived, slow_mode_seconds, topic, or any of them together.");
        }

        if (body.SlowModeSeconds is < 0 or > ConversationRecord.MaxSlowModeSeconds)
        {
            throw RequestRefusedException.Validation("slow_mode_seconds", $"slow_mode_seconds is 0 (off) to {ConversationRecord.MaxSlowModeSeconds} (six hours).");
        }

        var name = body.Name is null ? null : Validation.ChannelName(body.Name);

        // An empty topic (or only white space) clears it.
        var topic = body.Topic switch
        {
            null => null,
            _ when string.IsNullOrWhiteSpace(body.Topic) => string.Empty,
            _ => Validation.Topic(body.Topic, ConversationRecord.MaxTopicLength),
        };
        var channel = await conversations.UpdateChannelAsync(
            http.Identity(), id, new ConversationService.ChannelChange(name, body.Archived, body.SlowModeSeconds, topic), ct);
        var member = await directory.IsConversationMemberAsync(channel.Id, http.Identity().UserId, ct);
        return new ChannelInfo(
            channel.Id, channel.TeamId!.Value, channel.Name!, Validation.TypeName(channel.Kind), member, channel.ArchivedAt is not null, channel.SlowModeSeconds, channel.Topic);
    }

    private static async Task<IResult> LeaveChannelAsync(string conversationId, HttpContext http, ConversationService conversations, CancellationToken ct)
    {
        await conversations.LeaveChannelAsync(http.Identity(), Ids.Parse("conversation_id", conversationId), ct);
        return Results.NoContent();
    }

    private static async Task<ChannelMemberListResponse> ListChannelMembersAsync(
        string conversationId, string? limit, string? cursor, HttpContext http, IDirectoryStore directory, ConversationService conversations, CancellationToken ct)
    {
        var channel = Ids.Parse("conversation_id", conversationId);
        var (page, next) = Paging.Page(await conversations.ListChannelMembersAsync(http.Identity(), channel, ct), id => id, limit, cursor);
        var members = new List<ChannelMemberInfo>(page.Count);
        foreach (var id in page)
        {
            if (await directory.GetUserAsync(id, ct) is { } user)
            {
                members.Add(new ChannelMemberInfo(user.Id, user.Username, user.DisplayName));
            }
        }

        return new ChannelMemberListResponse(members, next);
    }

    private static async Task<DirectConversationResponse> OpenDirectAsync(OpenDirectRequest body, HttpContext http, ConversationService conversations, CancellationToken ct)
    {
        var (conversation, members) = await conversations.OpenDirectAsync(http.Identity(), body.Users, ct);
        return new DirectConversationResponse(conversation.Id, Validation.TypeName(conversation.Kind), members);
    }

    private static async Task<ConversationListResponse> ListConversationsAsync(
        string? limit, string? cursor, HttpContext http, IDirectoryStore directory, ConversationService conversations, CancellationToken ct)
    {
        var me = http.Identity();
        var (mine, next) = Paging.Page(await directory.ListConversationsForUserAsync(me.UserId, ct), c => c.Id, limit, cursor);
        var latest = await conversations.GetLatestSeqsAsync(mine.Select(c => c.Id).ToList());
        var result = new List<ConversationInfo>(mine.Count);
        foreach (var c in mine)
        {
            var isDirect = c.Kind is ConversationKind.DirectMessage or ConversationKind.GroupMessage;
            var members = isDirect ? await directory.ListConversationMembersAsync(c.Id, ct) : null;
            result.Add(new ConversationInfo(c.Id, Validation.TypeName(c.Kind), c.TeamId, c.Name, members, latest.TryGetValue(c.Id, out var seq) ? seq : 0));
        }

        return new ConversationListResponse(result, next);
    }
}
