using ChatWire.Gateway.Accounts;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Messages;
using Wire = ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Conversations;

// Membership commands: the one place membership changes are made and announced; the HTTP endpoints only
// call them. A MEMBER_JOINED or MEMBER_LEFT event goes to the conversation, which the publisher delivers to
// every member and to the subject's own devices (and which routes the conversation to them or stops it).
// The changes of one user are serialized (UserLocks), and each fails safe:
// - a join changes the directory first, then appends MEMBER_JOINED: if the event cannot be stored the
//   join stands and the user's devices find the conversation at their next SYNC;
// - a leave appends MEMBER_LEFT first, then changes the directory: if the event cannot be stored nothing
//   changed and the request fails, so a former member is never left routed to a conversation.
internal sealed partial class ConversationService
{
    /// <summary>A group DM holds at most this many people, the caller included.</summary>
    public const int MaxGroupSize = 8;

    /// <summary>Creates a conversation with its first members; each gets a MEMBER_JOINED event, the actor's first.</summary>
    /// <exception cref="DuplicateKeyException">The name (channels) or the member set (DMs) is taken.</exception>
    public async Task CreateAsync(SessionIdentity actor, ConversationRecord conversation, IReadOnlyCollection<Guid> members, CancellationToken ct)
    {
        await directory.CreateConversationAsync(conversation, members, ct);
        foreach (var member in members.OrderBy(m => m != actor.UserId))
        {
            await AnnounceJoinAsync(conversation.Id, member, actor);
        }
    }

    /// <summary>A channel in a team the actor belongs to, the actor its first member.</summary>
    public async Task<ConversationRecord> CreateChannelAsync(SessionIdentity actor, Guid teamId, string name, bool isPrivate, CancellationToken ct)
    {
        await RequireTeamMemberAsync(teamId, actor.UserId, ct);
        var cap = limits.Value.MaxChannelsPerTeam;
        if (await directory.CountChannelsAsync(teamId, ct) >= cap)
        {
            throw new RequestRefusedException(ErrorCode.QuotaExceeded, $"The team has {cap} channels, the most it may have.");
        }
        var kind = isPrivate ? ConversationKind.PrivateChannel : ConversationKind.PublicChannel;
        var channel = new ConversationRecord(Guid.CreateVersion7(), kind, teamId, name, null, actor.UserId, time.GetUtcNow());
        try
        {
            await CreateAsync(actor, channel, [actor.UserId], ct);
        }
        catch (DuplicateKeyException)
        {
            throw new RequestRefusedException(ErrorCode.AlreadyExists, $"The team already has a channel named '{name}'.");
        }

        // The team's deletion may have taken the channel with it between the store's insert and now (it deletes the
        // team's channels as they are when it runs): a 201 would name a channel that is not there.
        if (await directory.GetConversationAsync(channel.Id, ct) is null)
        {
            throw new RequestRefusedException(ErrorCode.NotFound, "The team was deleted while the channel was created; nothing is left of either.");
        }

        return channel;
    }

    /// <summary>The actor joins a public channel of one of their teams (a no-op when already in it).</summary>
    public async Task JoinChannelAsync(SessionIdentity actor, Guid conversationId, CancellationToken ct)
    {
        var channel = await RequireChannelOfMyTeamAsync(conversationId, actor.UserId, ct);
        if (channel.Kind != ConversationKind.PublicChannel && !await directory.IsConversationMemberAsync(channel.Id, actor.UserId, ct))
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "Private channels are joined by being added by a member.");
        }

        if (channel.ArchivedAt is not null)
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "This channel is archived; nobody joins it any more.");
        }

        await AddMemberAsync(actor, channel.Id, actor.UserId, ct);
    }

    /// <summary>A member of a channel adds a team-mate to it (a no-op when already in it).</summary>
    public async Task AddChannelMemberAsync(SessionIdentity actor, Guid conversationId, Guid userId, CancellationToken ct)
    {
        var channel = await RequireChannelOfMyTeamAsync(conversationId, actor.UserId, ct);
        if (!await directory.IsConversationMemberAsync(channel.Id, actor.UserId, ct))
        {
            throw NotAChannelMember();
        }

        if (await directory.GetTeamMembershipAsync(channel.TeamId!.Value, userId, ct) is null)
        {
            throw new RequestRefusedException(ErrorCode.NotFound, "That user is not a member of this channel's team.");
        }

        if (channel.ArchivedAt is not null)
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "This channel is archived; nobody joins it any more.");
        }

        await AddMemberAsync(actor, channel.Id, userId, ct);
    }

    /// <summary>
    /// The actor leaves a channel of their team (not the team's #general, which every member of the team is
    /// in): MEMBER_LEFT, then the directory, as a team leave does for each channel.
    /// </summary>
    public async Task LeaveChannelAsync(SessionIdentity actor, Guid conversationId, CancellationToken ct)
    {
        var channel = await RequireChannelOfMyTeamAsync(conversationId, actor.UserId, ct);
        if (channel.Kind == ConversationKind.PublicChannel && string.Equals(channel.Name, GeneralChannelName, StringComparison.Ordinal))
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "Everyone in the team is in #general; to leave it, leave the team.");
        }

        using (await userLocks.LockAsync(actor.UserId, ct))
        {
            if (!await directory.IsConversationMemberAsync(channel.Id, actor.UserId, ct))
            {
                throw NotAChannelMember();
            }

            await AppendLeaveAsync(channel.Id, actor.UserId, actor);
            await directory.RemoveConversationMemberAsync(channel.Id, actor.UserId, ct);
            membership.Forget(channel.Id, actor.UserId);
        }
    }

    /// <summary>The members of a channel, for someone who may see it: a member of a private one, any team-mate for a public one.</summary>
    public async Task<IReadOnlyList<Guid>> ListChannelMembersAsync(SessionIdentity actor, Guid conversationId, CancellationToken ct)
    {
        var channel = await RequireChannelOfMyTeamAsync(conversationId, actor.UserId, ct);
        var members = await directory.ListConversationMembersAsync(channel.Id, ct);
        if (channel.Kind != ConversationKind.PublicChannel && !members.Contains(actor.UserId))
        {
            throw NotAChannelMember();
        }

        return members;
    }

    /// <summary>
    /// Renames a channel, archives (or unarchives) it and sets its slow mode and topic, each when given: its team's admins
    /// and owners, and whoever created it, may. The team's #general is neither renamed nor archived; its slow mode and
    /// topic may be set.
    /// </summary>
    public async Task<ConversationRecord> UpdateChannelAsync(SessionIdentity actor, Guid conversationId, ChannelChange change, CancellationToken ct)
    {
        var (name, archived, slowModeSeconds, topic) = change;
        var channel = await RequireChannelOfMyTeamAsync(conversationId, actor.UserId, ct);
        var role = (await RequireTeamMemberAsync(channel.TeamId!.Value, actor.UserId, ct)).Role;

        // First: anyone outside a private channel, whatever their role, gets the one answer, which tells nothing more.
        if (channel.Kind != ConversationKind.PublicChannel && !await directory.IsConversationMemberAsync(channel.Id, actor.UserId, ct))
        {
            throw NotAChannelMember();
        }

        if (role < TeamRole.Admin && channel.CreatedBy != actor.UserId)
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "Only the channel's creator and the team's admins and owners may rename or archive it, or set its slow mode or topic.");
        }

        if ((name is not null || archived is not null)
            && channel.Kind == ConversationKind.PublicChannel && string.Equals(channel.Name, GeneralChannelName, StringComparison.Ordinal))
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "The team's #general is neither renamed nor archived.");
        }

        // Last, once the caller may: only those who may change the settings spend the channel's budget for changes.
        if (rateLimiter.TryTakeChannelChange(channel.Id) is { } waitMs)
        {
            audit.RateLimited("channel settings changed too often", actor.UserId);
            throw new RequestRefusedException(
                ErrorCode.RateLimited,
                "This channel's settings are being changed too often; nothing was changed. Retry after the seconds in Retry-After.",
                retryAfterSeconds: (int)Math.Ceiling(waitMs / 1000.0))
            {
                RetryAfterMs = waitMs,
            };
        }

        DateTimeOffset? archivedAt = archived switch
        {
            true when channel.ArchivedAt is null => time.GetUtcNow(),
            false => DateTimeOffset.MinValue,
            _ => null,
        };
        try
        {
            await directory.UpdateChannelAsync(channel.Id, name, archivedAt, slowModeSeconds, topic, ct);
        }
        catch (DuplicateKeyException)
        {
            rateLimiter.ReturnChannelChange(channel.Id);
            throw new RequestRefusedException(ErrorCode.AlreadyExists, $"The team already has a channel named '{name}'.");
        }
        catch
        {
            rateLimiter.ReturnChannelChange(channel.Id);
            throw;
        }

        // Who may send, and how often, changes with the archive flag and the slow mode: every node forgets what it
        // cached of the channel's members at once, with one broadcast (the backplane; otherwise within the cache's
        // lifetime). Whenever asked, not only when it differs from what was read: a concurrent PATCH may have changed
        // it meanwhile. From here on the change is stored: a caller who has gone does not cancel what follows it.
        if (archivedAt is not null || slowModeSeconds is not null)
        {
            membership.ForgetConversation(channel.Id, await directory.ListConversationMembersAsync(channel.Id, CancellationToken.None));
        }

        var updated = await directory.GetConversationAsync(channel.Id, CancellationToken.None) ?? channel;
        var asked = (name is null ? 0 : Wire.ChannelChanges.Name)
            | (topic is null ? 0 : Wire.ChannelChanges.Topic)
            | (slowModeSeconds is null ? 0 : Wire.ChannelChanges.SlowMode)
            | (archived is null ? 0 : Wire.ChannelChanges.Archived);
        await AnnounceChannelChangeAsync(updated, asked, actor);
        return updated;
    }

    // Members learn of a change from a channel_updated event in the channel (docs/protocol.md §4.10): one per request,
    // its changed bits what the request set, with the settings as read after the write. Two PATCHes of one channel
    // at once (on two nodes) may store their events in the other order than they wrote: so every request that wrote
    // reads the settings again after its event, and while they differ from it appends a restatement (changed bits
    // none). Since every write is followed by its writer's event and check, the channel's newest such event holds
    // its settings. The directory holds the change already, so a caller that is gone does not cancel this; an event
    // that cannot be stored is logged, and the request still succeeds (the listing shows it).
    private async Task AnnounceChannelChangeAsync(ConversationRecord after, Wire.ChannelChanges asked, SessionIdentity actor)
    {
        const int MaxAnnouncements = 3;
        var changed = asked;
        for (var i = 0; i < MaxAnnouncements; i++)
        {
            var content = new Wire.ChannelUpdate(
                changed, after.Name ?? string.Empty, after.Topic, (uint)after.SlowModeSeconds, after.ArchivedAt?.ToUnixTimeMilliseconds() ?? 0).Encode();
            try
            {
                await store.AppendAsync(NewEvent.ChannelUpdated(after.Id, actor.UserId, actor.DeviceId, content), CancellationToken.None);
                var now = await directory.GetConversationAsync(after.Id, CancellationToken.None) ?? after;
                if (SameSettings(after, now))
                {
                    return;
                }

                after = now;
                changed = Wire.ChannelChanges.None;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                GatewayLog.ChannelAnnounceFailed(logger, after.Id, ex);
                return;
            }
        }
    }

    // The settings a channel_updated event carries, alike in both.
    private static bool SameSettings(ConversationRecord a, ConversationRecord b) =>
        string.Equals(a.Name, b.Name, StringComparison.Ordinal) && string.Equals(a.Topic, b.Topic, StringComparison.Ordinal)
        && a.SlowModeSeconds == b.SlowModeSeconds && a.ArchivedAt == b.ArchivedAt;

    /// <summary>What PATCH /v1/channels/{id} changes: each part when not null.</summary>
    /// <param name="Name">The new name, validated by the caller.</param>
    /// <param name="Archived">True archives, false unarchives.</param>
    /// <param name="SlowModeSeconds">0 (off) to <see cref="ConversationRecord.MaxSlowModeSeconds"/>, checked by the caller.</param>
    /// <param name="Topic">The new topic, checked by the caller; empty clears it.</param>
    public sealed record ChannelChange(string? Name, bool? Archived, int? SlowModeSeconds, string? Topic = null);

    /// <summary>The name of the public channel every team has and every member of it is in.</summary>
    public const string GeneralChannelName = "general";

    /// <summary>Adds <paramref name="userId"/> to the conversation and announces it; false when already a member.</summary>
    public async Task<bool> AddMemberAsync(SessionIdentity actor, Guid conversationId, Guid userId, CancellationToken ct)
    {
        using (await userLocks.LockAsync(userId, ct))
        {
            if (!await directory.AddConversationMemberAsync(conversationId, userId, time.GetUtcNow(), ct))
            {
                return false;
            }

            // Every node drops what it kept of the conversation's members (the push planner's roster).
            membership.Forget(conversationId, userId);
            await AnnounceJoinAsync(conversationId, userId, actor);
            return true;
        }
    }

    // Each person's list read whole: a new group is rare next to the reads of those lists (every AUTH and push), and the
    // caps keep them short. Two groups opened at the same moment may both pass; the caps are bounds, not exact counts.
    // A group DM cannot be left, so a person at the cap stays there: the cap on groups each person creates keeps one
    // hostile team-mate from putting others at it alone. Who is at a cap is said only of the caller.
    private async Task RequireRoomForAnotherGroupAsync(Guid actorId, SortedSet<Guid> members, CancellationToken ct)
    {
        var cap = limits.Value.MaxGroupConversationsPerUser;
        var createCap = limits.Value.MaxGroupConversationsCreatedPerUser;
        foreach (var member in members)
        {
            var groups = (await directory.ListConversationsForUserAsync(member, ct)).Where(c => c.Kind == ConversationKind.GroupMessage).ToList();
            if (member == actorId && groups.Count(g => g.CreatedBy == actorId) >= createCap)
            {
                throw new RequestRefusedException(ErrorCode.QuotaExceeded, $"You have created {createCap} group conversations, the most one person may create.");
            }

            if (groups.Count >= cap)
            {
                throw new RequestRefusedException(ErrorCode.QuotaExceeded, member == actorId
                    ? $"You are in {cap} group conversations, the most one person may be in."
                    : $"Someone in this group is in {cap} group conversations, the most one person may be in.");
            }
        }
    }

    /// <summary>
    /// The DM or group DM of the actor and <paramref name="users"/> (names or ids of team-mates), created on
    /// first use; the same set of people always gets the same conversation.
    /// </summary>
    public async Task<(ConversationRecord Conversation, IReadOnlyList<Guid> Members)> OpenDirectAsync(SessionIdentity actor, IReadOnlyList<string?>? users, CancellationToken ct)
    {
        // Before any lookup: the list's length bounds the work below.
        if (users is not { Count: > 0 })
        {
            throw RequestRefusedException.Validation("users", $"users must name 1-{MaxGroupSize - 1} other people.");
        }

        if (users.Count >= MaxGroupSize)
        {
            throw RequestRefusedException.Validation("users", $"users may name at most {MaxGroupSize - 1} other people.");
        }

        if (users.Any(string.IsNullOrWhiteSpace))
        {
            throw RequestRefusedException.Validation("users", "Each of users must be a username or a user id, not null or blank.");
        }

        // As long as a login's username may be: no name or id is longer, and a refusal quotes the entry.
        if (users.Any(u => u!.Length > Api.Validation.MaxLoginUsernameLength && u.EnumerateRunes().Count() > Api.Validation.MaxLoginUsernameLength))
        {
            throw RequestRefusedException.Validation("users", $"Each of users must be a username or a user id of at most {Api.Validation.MaxLoginUsernameLength} characters.");
        }

        var members = new SortedSet<Guid> { actor.UserId };
        foreach (var name in users)
        {
            // An id only in its canonical form; anything else, trimmed, is a username.
            var text = name!.Trim();
            var user = name.Length == 36 && Guid.TryParseExact(name, "D", out var id)
                ? await directory.GetUserAsync(id, ct)
                : await directory.FindUserByNameAsync(text.ToLowerInvariant(), ct);

            // Someone who shares no team with the caller is reported as not found: the directory does not leak.
            if (user is null || (user.Id != actor.UserId && !await directory.ShareTeamAsync(actor.UserId, user.Id, ct)))
            {
                throw new RequestRefusedException(ErrorCode.NotFound, $"No team-mate named '{text}'.");
            }

            members.Add(user.Id);
        }

        if (members.Count < 2)
        {
            throw RequestRefusedException.Validation("users", "A direct conversation needs at least one other person.");
        }

        if (members.Count > MaxGroupSize)
        {
            throw RequestRefusedException.Validation("users", $"A group conversation holds at most {MaxGroupSize} people, you included.");
        }

        var kind = members.Count == 2 ? ConversationKind.DirectMessage : ConversationKind.GroupMessage;
        var key = string.Join(',', members.Select(m => m.ToString("N")));
        var existing = await directory.FindDirectConversationAsync(key, ct);
        if (existing is null)
        {
            if (kind == ConversationKind.GroupMessage)
            {
                await RequireRoomForAnotherGroupAsync(actor.UserId, members, ct);
            }

            var conversation = new ConversationRecord(Guid.CreateVersion7(), kind, null, null, key, actor.UserId, time.GetUtcNow());
            try
            {
                await CreateAsync(actor, conversation, members, ct);
                existing = conversation;
            }
            catch (DuplicateKeyException ex)
            {
                // Another request opened the same conversation first: answer with theirs.
                existing = await directory.FindDirectConversationAsync(key, ct)
                    ?? throw new InvalidOperationException("A direct conversation's key was taken but cannot be found.", ex);
            }
        }

        return (existing, members.ToList());
    }

    /// <summary>
    /// The actor leaves a team and with it every channel of the team they are in; their invites to it are
    /// revoked. The last owner of a team that has other members cannot leave: ownership passes first.
    /// </summary>
    public async Task LeaveTeamAsync(SessionIdentity actor, Guid teamId, CancellationToken ct)
    {
        using (await userLocks.LockAsync(actor.UserId, ct))
        {
            var mine = await RequireTeamMemberAsync(teamId, actor.UserId, ct);
            await RemoveFromTeamAsync(teamId, actor.UserId, mine.Role, actor, keepAnOwner: true, ct);
        }
    }

    /// <summary>
    /// Gives a team that has members but no owner an owner: the first member the directory lists. Only a race
    /// leaves a team so: its last owner, alone in it, leaves (which needs no successor) while someone joins with an
    /// invite read a moment before. Both sides check once their own change is stored, so the check of whichever was
    /// stored second sees both changes and repairs the team.
    /// </summary>
    public async Task EnsureAnOwnerAsync(Guid teamId, CancellationToken ct)
    {
        var (members, owners) = await directory.CountTeamMembersAsync(teamId, ct);
        if (members == 0 || owners > 0)
        {
            return;
        }

        // The longest-standing admin, else the longest-standing member. From the primary, like the count: a replica a
        // moment behind could still list the owner who left.
        if (await directory.FindTeamHeirAsync(teamId, ct) is { } heir
            && await directory.SetTeamRoleAsync(teamId, heir, TeamRole.Owner, requiredOwner: null, ct) == TeamRoleChange.Changed)
        {
            GatewayLog.TeamOwnerRestored(logger, teamId, heir);
        }
    }

    /// <summary>
    /// An owner or admin removes a member from the team: every channel of the team gets MEMBER_LEFT, so
    /// every member and each of the removed member's devices learn of it at once, and the removed member's
    /// invites are revoked. Admins remove members; owners remove anyone. Nobody removes themselves (leave).
    /// </summary>
    public async Task RemoveTeamMemberAsync(SessionIdentity actor, Guid teamId, Guid userId, CancellationToken ct)
    {
        var mine = await RequireTeamMemberAsync(teamId, actor.UserId, ct);
        if (mine.Role < TeamRole.Admin)
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "Only the team's owners and admins may remove members.");
        }

        if (userId == actor.UserId)
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "To leave the team yourself, use leave.");
        }

        using (await userLocks.LockAsync(userId, ct))
        {
            var theirs = await directory.GetTeamMembershipAsync(teamId, userId, ct)
                ?? throw new RequestRefusedException(ErrorCode.NotFound, "That user is not a member of this team.");
            if (mine.Role != TeamRole.Owner && theirs.Role >= mine.Role)
            {
                throw new RequestRefusedException(ErrorCode.Forbidden, "Admins remove members; only owners remove admins and owners.");
            }

            await RemoveFromTeamAsync(teamId, userId, theirs.Role, actor, keepAnOwner: true, ct, noteRemoval: true);
        }
    }

    /// <summary>An owner makes a member an owner, an admin or a plain member; the last owner cannot step down.</summary>
    public async Task SetTeamRoleAsync(SessionIdentity actor, Guid teamId, Guid userId, TeamRole role, CancellationToken ct)
    {
        var mine = await RequireTeamMemberAsync(teamId, actor.UserId, ct);
        if (mine.Role != TeamRole.Owner)
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "Only the team's owners may change roles.");
        }

        using (await userLocks.LockAsync(userId, ct))
        {
            // The store checks, in the same step as the change, that the caller is still an owner and that the team
            // keeps one: two owners stepping down (or demoting each other) at once leave one of them an owner.
            ThrowIfRefused(
                await directory.SetTeamRoleAsync(teamId, userId, role, requiredOwner: actor.UserId, ct),
                "Only the team's owners may change roles.",
                userId == actor.UserId ? "You are this team's last owner: make another member an owner first." : "That would leave the team without an owner: make another member an owner first.");

            // A member made plain loses the right to invite, unless the team gives it to everyone.
            if (role == TeamRole.Member && !mine.Team.MembersCanInvite)
            {
                await directory.RevokeInvitesCreatedByAsync(teamId, userId, time.GetUtcNow(), ct);
            }
        }
    }

    /// <summary>Teams with more members than this are not deleted in one request: remove members first.</summary>
    public const int MaxMembersToDelete = 1_000;

    /// <summary>
    /// An owner deletes the team: every member leaves every channel (MEMBER_LEFT, so each device stops
    /// receiving at once), then the team, its channels and invites go from the directory. The channels'
    /// history stays stored (the retention period applies) but nobody can read it any more.
    /// </summary>
    public async Task DeleteTeamAsync(SessionIdentity actor, Guid teamId, CancellationToken ct)
    {
        var mine = await RequireTeamMemberAsync(teamId, actor.UserId, ct);
        if (mine.Role != TeamRole.Owner)
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "Only the team's owners may delete it.");
        }

        var (count, _) = await directory.CountTeamMembersAsync(teamId, ct);
        if (count > MaxMembersToDelete)
        {
            throw new RequestRefusedException(ErrorCode.QuotaExceeded, $"The team has {count} members; a team with more than {MaxMembersToDelete} is deleted after its members are removed.");
        }

        // Everyone else first, the owner who deletes it last.
        foreach (var member in (await directory.ListTeamMembersAsync(teamId, null, MaxMembersToDelete + 1, ct)).OrderBy(m => m.UserId == actor.UserId))
        {
            using (await userLocks.LockAsync(member.UserId, ct))
            {
                await RemoveFromTeamAsync(teamId, member.UserId, member.Role, actor, keepAnOwner: false, ct);
            }
        }

        await directory.DeleteTeamAsync(teamId, ct);
    }

    /// <summary>An owner hands the team to another member: they become an owner, the caller an admin.</summary>
    public async Task TransferOwnershipAsync(SessionIdentity actor, Guid teamId, Guid userId, CancellationToken ct)
    {
        if (userId == actor.UserId)
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "You own the team already: name another member.");
        }

        await SetTeamRoleAsync(actor, teamId, userId, TeamRole.Owner, ct);
        await SetTeamRoleAsync(actor, teamId, actor.UserId, TeamRole.Admin, ct);
    }

    // Under the subject's user lock. MEMBER_LEFT in each of the team's channels first, then the directory. With
    // keepAnOwner, an owner who goes while others stay first steps down to admin through the store's atomic check,
    // which refuses the last owner: the last-owner rule holds however many owners leave, remove each other or step
    // down at the same moment, on any nodes. Should the removal then fail, the role is given back.
    // With noteRemoval (someone else removes the subject), the removal is noted once the checks have passed and
    // before the membership goes: from then on no invite made earlier lets them back in (the one they joined with, a
    // multi-use code still in the team's chat), so the removal does not end at their next request.
    private async Task RemoveFromTeamAsync(Guid teamId, Guid subject, TeamRole subjectRole, SessionIdentity actor, bool keepAnOwner, CancellationToken ct, bool noteRemoval = false)
    {
        var steppedDown = false;
        if (keepAnOwner && subjectRole == TeamRole.Owner && (await directory.CountTeamMembersAsync(teamId, ct)).Members > 1)
        {
            // Removing another owner needs the remover to be an owner still (two owners removing each other).
            var requiredOwner = subject == actor.UserId || actor.UserId == Operator.UserId ? (Guid?)null : actor.UserId;
            ThrowIfRefused(
                await directory.SetTeamRoleAsync(teamId, subject, TeamRole.Admin, requiredOwner, ct),
                "Admins remove members; only owners remove admins and owners.",
                subject == actor.UserId
                    ? "You are this team's last owner: make another member an owner before you leave."
                    : "That is this team's last owner: make another member an owner first.");

            steppedDown = true;
        }

        try
        {
            if (noteRemoval)
            {
                await directory.RecordTeamRemovalAsync(teamId, subject, time.GetUtcNow(), ct);
            }

            await LeaveTeamChannelsAndDirectoryAsync(teamId, subject, actor, ct);
        }
        catch (Exception) when (steppedDown)
        {
            try
            {
                await directory.SetTeamRoleAsync(teamId, subject, TeamRole.Owner, requiredOwner: null, CancellationToken.None);
            }
            catch (Exception restore) when (restore is not OutOfMemoryException)
            {
                // The removal's own failure is the one to report; the owner stays an admin (an owner can make them one again).
                GatewayLog.StoreFailed(logger, restore);
            }

            throw;
        }

        // Where the team must keep an owner, a lone owner's leave racing a join can still leave it without one (see
        // EnsureAnOwnerAsync). With CancellationToken.None: the removal is stored, and a caller gone now must not skip it.
        if (keepAnOwner)
        {
            await EnsureAnOwnerAsync(teamId, CancellationToken.None);
        }
    }

    // A role change the store refused, as the caller's answer: 404 for a non-member, 403 for the other two.
    private static void ThrowIfRefused(TeamRoleChange change, string notAnOwner, string lastOwner)
    {
        switch (change)
        {
            case TeamRoleChange.NotAMember:
                throw new RequestRefusedException(ErrorCode.NotFound, "That user is not a member of this team.");
            case TeamRoleChange.NotAnOwner:
                throw new RequestRefusedException(ErrorCode.Forbidden, notAnOwner);
            case TeamRoleChange.LastOwner:
                throw new RequestRefusedException(ErrorCode.Forbidden, lastOwner);
        }
    }

    private async Task LeaveTeamChannelsAndDirectoryAsync(Guid teamId, Guid subject, SessionIdentity actor, CancellationToken ct)
    {
        var conversations = await directory.ListConversationsForUserAsync(subject, ct);
        var channels = conversations.Where(c => c.TeamId == teamId).ToList();
        foreach (var channel in channels)
        {
            await AppendLeaveAsync(channel.Id, subject, actor);
        }

        await directory.RemoveTeamMemberAsync(teamId, subject, ct);
        await directory.RevokeInvitesCreatedByAsync(teamId, subject, time.GetUtcNow(), ct);

        // After the directory change, so no lookup re-caches the user (the cache's generation guards one
        // that began before): this node refuses their SENDs from here, other nodes when MEMBER_LEFT arrives.
        foreach (var channel in channels)
        {
            membership.Forget(channel.Id, subject);
        }

        // DMs may have become read-only for the subject and the people in them (they may share no team now).
        foreach (var direct in conversations.Where(c => c.TeamId is null))
        {
            foreach (var person in await directory.ListConversationMembersAsync(direct.Id, ct))
            {
                membership.Forget(direct.Id, person);
            }
        }
    }

    /// <summary>The caller's membership of the team, or NOT_A_MEMBER (also for a team that does not exist).</summary>
    public async Task<TeamMembershipRecord> RequireTeamMemberAsync(Guid teamId, Guid userId, CancellationToken ct) =>
        await directory.GetTeamMembershipAsync(teamId, userId, ct)
        ?? throw new RequestRefusedException(ErrorCode.NotAMember, "You are not a member of this team.");

    // One answer, word for word, for a channel I am not in, one of a team I am not in, and none at all: a team-mate
    // must not learn from the sentence that a private channel exists.
    private static RequestRefusedException NotAChannelMember() =>
        new(ErrorCode.NotAMember, "You are not a member of this channel (or of its team).");

    // A channel of a team the caller belongs to; anything else (a DM, another team's channel, nothing) is
    // answered alike so ids of other teams' channels reveal nothing.
    private async Task<ConversationRecord> RequireChannelOfMyTeamAsync(Guid conversationId, Guid userId, CancellationToken ct)
    {
        var channel = await directory.GetConversationAsync(conversationId, ct);
        if (channel?.TeamId is not { } teamId || await directory.GetTeamMembershipAsync(teamId, userId, ct) is null)
        {
            throw NotAChannelMember();
        }

        return channel;
    }

    // Before the directory change: if the event cannot be stored, nothing changed and the request fails.
    private async Task AppendLeaveAsync(Guid conversationId, Guid subject, SessionIdentity actor)
    {
        try
        {
            await store.AppendAsync(NewEvent.Membership(conversationId, EventKind.MemberLeft, subject, actor.UserId, actor.DeviceId));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.StoreFailed(logger, ex);
            metrics.StoreFailed();
            throw new RequestRefusedException(ErrorCode.StorageUnavailable, "The change could not be stored; nothing changed. Retry shortly.");
        }
    }

    // The directory already holds the join: if the event cannot be stored, the join stands and devices
    // learn of it at their next SYNC, so the request still succeeds. A new member has read everything up to
    // their own member_joined: what was said before they came is history to them, not unread messages, and an
    // @channel sent then was meant for the members of that time.
    private async Task AnnounceJoinAsync(Guid conversationId, Guid subject, SessionIdentity actor)
    {
        try
        {
            var joined = await store.AppendAsync(NewEvent.Membership(conversationId, EventKind.MemberJoined, subject, actor.UserId, actor.DeviceId));
            if (joined.Event is { } stored)
            {
                await store.MarkReadAsync(subject, conversationId, stored.Seq);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.AnnounceFailed(logger, conversationId, ex);
        }
    }
}
