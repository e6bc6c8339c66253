using System.Globalization;
using System.Text;
using ChatWire.Gateway.Accounts;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Messages;
using StoredKind = ChatWire.Storage.Messages.EventKind;

namespace ChatWire.Gateway.Conversations;

/// <summary>What a change (EDIT, DELETE, REACT, READ) came to: the seq stored (0 when nothing was) and when.</summary>
internal readonly record struct ChangeOutcome(ulong Seq, long ServerTimeUnixMs);

/// <summary>
/// Changes to messages and to the user's place in a conversation: edit, delete, react, mark read. Each
/// message change is an event appended like a message, checked against its target inside the store's
/// write (<see cref="AppendRefusal"/>), and delivered by the one publisher; a read position is the user's
/// own and is pushed to their connections as READ_STATE.
/// </summary>
internal sealed partial class ConversationService
{
    // The answer to a change that stores nothing (a TYPING), made once.
    private static readonly Task<ChangeOutcome> NothingStored = Task.FromResult(default(ChangeOutcome));

    /// <summary>EDIT: the author replaces a message's content.</summary>
    /// <exception cref="RequestRefusedException">Why it was refused.</exception>
    public async Task<ChangeOutcome> EditAsync(SessionIdentity actor, Edit edit)
    {
        if (!MediaType.IsValid(edit.ContentType))
        {
            throw new RequestRefusedException(ErrorCode.InvalidField, "content_type must be a media type such as text/plain: type/subtype, printable ASCII, at most 128 bytes.");
        }

        if (IsBlank(edit.ContentType, edit.Content.Span))
        {
            throw new RequestRefusedException(ErrorCode.InvalidField, "content must not be empty, and text content must hold more than whitespace; to remove a message, DELETE it.");
        }

        TakeRate(actor, edit.Content.Length);
        var access = await RequireAccessAsync(edit.ConversationId, actor.UserId, toWrite: true);
        if (await quota.CheckAsync(actor.UserId, access.TeamId, edit.Content.Length) is { } refusal)
        {
            throw new RequestRefusedException(ErrorCode.QuotaExceeded, refusal);
        }

        await RequireSameEncryptionAsync(edit.ConversationId, edit.MessageId, E2eSendCheck.IsE2e(edit.ContentType));

        var change = NewEvent.Change(edit.ConversationId, StoredKind.MessageEdited, edit.MessageId, actor.UserId, actor.DeviceId, edit.ContentType, edit.Content) with
        {
            UsageTeamId = access.TeamId,
        };
        var outcome = await AppendChangeAsync(change);
        if (outcome.Seq != 0)
        {
            quota.Add(actor.UserId, access.TeamId, edit.Content.Length);
        }

        return outcome;
    }

    /// <summary>DELETE: the author, or an admin or owner of the channel's team, erases a message.</summary>
    /// <exception cref="RequestRefusedException">Why it was refused.</exception>
    public async Task<ChangeOutcome> DeleteAsync(SessionIdentity actor, Delete delete)
    {
        TakeRate(actor, 0);

        // A member may delete their own messages even where they can no longer send (a DM without a shared team).
        var access = await RequireAccessAsync(delete.ConversationId, actor.UserId, toWrite: false);
        var moderates = false;
        if (access.TeamId is { } teamId)
        {
            var role = await ReadDirectoryAsync(() => directory.GetTeamMembershipAsync(teamId, actor.UserId));
            moderates = role is { Role: TeamRole.Admin or TeamRole.Owner };
        }

        var change = NewEvent.Change(delete.ConversationId, StoredKind.MessageDeleted, delete.MessageId, actor.UserId, actor.DeviceId, string.Empty, ReadOnlyMemory<byte>.Empty) with
        {
            ActorModerates = moderates,
        };
        return await AppendChangeAsync(change);
    }

    /// <summary>REACT: adds or removes the user's reaction with one emoji; a no-op when already so.</summary>
    /// <exception cref="RequestRefusedException">Why it was refused.</exception>
    public async Task<ChangeOutcome> ReactAsync(SessionIdentity actor, React react)
    {
        // Checked as stored: NFC can lengthen a string, and what is stored must fit every reader's limit.
        var normalized = UnicodeText.ToNfc(react.Emoji);
        if (normalized is null || !IsEmoji(normalized))
        {
            throw new RequestRefusedException(ErrorCode.InvalidField, "emoji must be 1 to 64 bytes of UTF-8 without white space or control characters, such as 👍 or :shipit:.");
        }

        TakeRate(actor, 0);
        await RequireAccessAsync(react.ConversationId, actor.UserId, toWrite: true);
        var kind = react.Remove ? StoredKind.ReactionRemoved : StoredKind.ReactionAdded;
        var emoji = Encoding.UTF8.GetBytes(normalized);
        return await AppendChangeAsync(NewEvent.Change(react.ConversationId, kind, react.MessageId, actor.UserId, actor.DeviceId, string.Empty, emoji));
    }

    /// <summary>
    /// READ: moves the user's read position forward, tells every connection of the user (READ_STATE, so
    /// each device clears the same badge) and returns the position in force.
    /// </summary>
    /// <exception cref="RequestRefusedException">Why it was refused.</exception>
    public async Task<ChangeOutcome> MarkReadAsync(SessionIdentity actor, MarkRead read)
    {
        TakeRate(actor, 0);
        await RequireAccessAsync(read.ConversationId, actor.UserId, toWrite: false);
        ConversationStats stats;
        try
        {
            stats = await store.MarkReadAsync(actor.UserId, read.ConversationId, read.Seq);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.StoreFailed(logger, ex);
            metrics.StoreFailed();
            throw new RequestRefusedException(ErrorCode.StorageUnavailable, "The read position could not be stored; retry.");
        }

        try
        {
            await publisher.PublishToUserAsync(actor.UserId, new ReadState(read.ConversationId, stats.ReadSeq, (uint)stats.UnreadCount, (uint)stats.MentionCount));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The position is stored; the other devices see it at their next SYNC.
            GatewayLog.PublishFailed(logger, read.ConversationId, stats.ReadSeq, ex);
        }

        return new ChangeOutcome(stats.ReadSeq, time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    /// <summary>
    /// RECEIVED: the device's delivery cursors. Conversations the user is not in are passed over (a leave may
    /// have crossed the frame); one frame of up to 500 cursors counts once against the sending rate.
    /// </summary>
    /// <exception cref="RequestRefusedException">RATE_LIMITED, or the store is unavailable.</exception>
    public async Task<ChangeOutcome> MarkReceivedAsync(SessionIdentity actor, Received received)
    {
        TakeRate(actor, 0);
        try
        {
            // A few cursors (the usual frame: the conversations that moved in the last seconds) go through the
            // membership cache, which answers them from memory; a large frame is checked against one read of the
            // user's conversation list, so no frame costs more than a bounded number of directory reads.
            var mine = new List<(Guid, ulong)>(received.Cursors.Count);
            if (received.Cursors.Count <= CursorsCheckedOneByOne)
            {
                foreach (var cursor in received.Cursors)
                {
                    if (await membership.IsMemberAsync(cursor.ConversationId, actor.UserId, CancellationToken.None))
                    {
                        mine.Add(cursor);
                    }
                }
            }
            else
            {
                var member = (await directory.ListConversationsForUserAsync(actor.UserId)).Select(c => c.Id).ToHashSet();
                mine.AddRange(received.Cursors.Where(c => member.Contains(c.ConversationId)));
            }

            await store.SetDeviceCursorsAsync(actor.DeviceId, mine);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.StoreFailed(logger, ex);
            metrics.StoreFailed();
            throw new RequestRefusedException(ErrorCode.StorageUnavailable, "The cursors could not be stored; retry.");
        }

        return default;
    }

    /// <summary>
    /// TYPING: tells the other members' connections that the actor types. Not stored. One notice per device
    /// and conversation per <see cref="TypingInterval"/> goes out; more often is answered the same and dropped.
    /// </summary>
    /// <exception cref="RequestRefusedException">Not a member who may send, or the store is unavailable.</exception>
    public Task<ChangeOutcome> TypingAsync(SessionIdentity actor, Typing typing)
    {
        // A notice every keystroke or so: with the membership cached and the notice throttled, nothing is allocated
        // (no task is made for a check or an answer that completed at once).
        var access = RequireAccessAsync(typing.ConversationId, actor.UserId, toWrite: true);
        if (!access.IsCompletedSuccessfully)
        {
            return TypingAfterAccessAsync(access, actor, typing);
        }

        _ = access.Result;
        return AnnounceTyping(actor, typing);
    }

    private async Task<ChangeOutcome> TypingAfterAccessAsync(ValueTask<MemberAccess> access, SessionIdentity actor, Typing typing)
    {
        await access;
        return await AnnounceTyping(actor, typing);
    }

    private Task<ChangeOutcome> AnnounceTyping(SessionIdentity actor, Typing typing)
    {
        if (!typingThrottle.TryPass(actor.DeviceId, typing.ConversationId, Environment.TickCount64))
        {
            metrics.EphemeralDropped();
            return NothingStored;
        }

        return PublishTypingAsync(actor, typing);
    }

    private async Task<ChangeOutcome> PublishTypingAsync(SessionIdentity actor, Typing typing)
    {
        try
        {
            await publisher.PublishToConversationAsync(typing.ConversationId, actor.UserId, new UserTyping(typing.ConversationId, actor.UserId));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Ephemeral: a lost notice costs nothing.
            GatewayLog.PublishFailed(logger, typing.ConversationId, 0, ex);
        }

        return default;
    }

    // RECEIVED frames with at most this many cursors check each against the membership cache.
    private const int CursorsCheckedOneByOne = 16;

    /// <summary>How often one device's typing in one conversation reaches the others.</summary>
    public static readonly TimeSpan TypingInterval = TimeSpan.FromSeconds(2);

    /// <summary>Where a message id names a message in one of the actor's conversations (usually one place).</summary>
    /// <exception cref="RequestRefusedException">NOT_FOUND when none of the actor's conversations holds it.</exception>
    public async Task<IReadOnlyList<(Guid ConversationId, ulong Seq)>> LocateMessageAsync(SessionIdentity actor, Guid messageId, CancellationToken ct)
    {
        IReadOnlyList<(Guid ConversationId, ulong Seq)> places;
        try
        {
            places = await store.LocateMessageAsync(messageId, ct);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
        {
            GatewayLog.StoreFailed(logger, ex);
            metrics.StoreFailed();
            throw new RequestRefusedException(ErrorCode.StorageUnavailable, "Messages could not be searched; retry.");
        }

        var visible = new List<(Guid, ulong)>(places.Count);
        foreach (var place in places)
        {
            if (await membership.IsMemberAsync(place.ConversationId, actor.UserId, ct))
            {
                visible.Add(place);
            }
        }

        return visible.Count > 0
            ? visible
            : throw new RequestRefusedException(ErrorCode.NotFound, "No conversation of yours holds a message with this id.");
    }

    /// <summary>
    /// Counts one request that changes something against the actor's sending rate (SEND's limiter, §3.2 of
    /// docs/protocol.md), with <paramref name="bytes"/> of content.
    /// </summary>
    /// <exception cref="RequestRefusedException">RATE_LIMITED, with the delay after which the request passes.</exception>
    public void TakeRate(SessionIdentity actor, long bytes)
    {
        if (rateLimiter.TryTake(actor.UserId, actor.DeviceId, bytes) is { } retryAfterMs)
        {
            audit.RateLimited("EDIT, DELETE or REACT", actor.UserId);
            throw new RequestRefusedException(ErrorCode.RateLimited, "You are making changes too fast; nothing was changed. Retry after retry_after_ms.")
            {
                RetryAfterMs = retryAfterMs,
            };
        }
    }

    // Members read; only members who may send (in a DM: who still share a team with everyone) write.
    private async ValueTask<MemberAccess> RequireAccessAsync(Guid conversationId, Guid userId, bool toWrite)
    {
        MemberAccess access;
        try
        {
            access = await membership.GetAccessAsync(conversationId, userId, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.StoreFailed(logger, ex);
            metrics.StoreFailed();
            throw new RequestRefusedException(ErrorCode.StorageUnavailable, "Membership could not be checked; retry.");
        }

        if (access.Access == ConversationAccess.None || (toWrite && access.Access != ConversationAccess.Send))
        {
            var denied = Denied(access.Access);
            throw new RequestRefusedException(denied.Error!.Value, denied.Message!);
        }

        return access;
    }

    // EDIT carries no epoch fields, so an edit is checked only for what it replaces: end-to-end content replaces
    // only an end-to-end message (whose readers hold the author's chain seeds), and plaintext only a plaintext
    // one, so the server never stores a readable edit of an encrypted message (it costs a read per edit, and edits
    // are rare). That the editor may still send there was checked before. A message not found is left to the
    // append, which answers NOT_FOUND.
    private async Task RequireSameEncryptionAsync(Guid conversationId, Guid messageId, bool e2e)
    {
        StoredEvent? target;
        try
        {
            var places = await store.LocateMessageAsync(messageId);
            var seq = places.FirstOrDefault(p => p.ConversationId == conversationId).Seq;
            var events = seq == 0 ? [] : await store.ReadAsync(conversationId, seq - 1, ReadDirection.After, 1);
            target = events.FirstOrDefault(e => e.EventId == messageId);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.StoreFailed(logger, ex);
            metrics.StoreFailed();
            throw new RequestRefusedException(ErrorCode.StorageUnavailable, "The message could not be read; nothing was changed. Retry.");
        }

        if (target is { DeletedAt: null } && E2eSendCheck.IsE2e(target.ContentType) != e2e)
        {
            throw new RequestRefusedException(
                ErrorCode.InvalidField,
                e2e
                    ? "Only an end-to-end encrypted message can be edited with end-to-end content (content_type application/vnd.chatwire.e2e)."
                    : "An end-to-end encrypted message is edited only with end-to-end content (content_type application/vnd.chatwire.e2e), never in plaintext.");
        }
    }

    private async Task<T> ReadDirectoryAsync<T>(Func<Task<T>> read)
    {
        try
        {
            return await read();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.StoreFailed(logger, ex);
            metrics.StoreFailed();
            throw new RequestRefusedException(ErrorCode.StorageUnavailable, "The directory could not be read; retry.");
        }
    }

    // Called once the actor's access to the conversation is checked: only members spend its budget, and only with
    // changes that are stored (a refusal or a change to nothing gives it back).
    private async Task<ChangeOutcome> AppendChangeAsync(NewEvent change)
    {
        if (rateLimiter.TryTakeConversation(change.ConversationId) is { } retryAfterMs)
        {
            audit.RateLimited("EDIT, DELETE or REACT in a busy conversation", change.SenderUserId);
            throw new RequestRefusedException(ErrorCode.RateLimited, "This conversation is taking changes too fast; nothing was changed. Retry after retry_after_ms.")
            {
                RetryAfterMs = retryAfterMs,
            };
        }

        AppendResult result;
        try
        {
            result = await store.AppendAsync(change);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            rateLimiter.ReturnConversation(change.ConversationId);
            GatewayLog.StoreFailed(logger, ex);
            metrics.StoreFailed();
            throw new RequestRefusedException(ErrorCode.StorageUnavailable, "The change could not be stored; nothing was changed. Retry.");
        }

        if (result.Outcome != AppendOutcome.Stored)
        {
            rateLimiter.ReturnConversation(change.ConversationId);
        }

        return result switch
        {
            { Outcome: AppendOutcome.Stored, Event: { } stored } => new ChangeOutcome(stored.Seq, stored.StoredAt.ToUnixTimeMilliseconds()),
            { Outcome: AppendOutcome.Unchanged } => new ChangeOutcome(0, 0),
            { Refusal: AppendRefusal.NotAuthor } => throw new RequestRefusedException(ErrorCode.Forbidden, change.Kind == StoredKind.MessageEdited
                ? "Only its author can edit a message."
                : "Only its author, or an admin or owner of the channel's team, can delete a message."),
            { Refusal: AppendRefusal.TooManyReactions } => throw new RequestRefusedException(ErrorCode.QuotaExceeded, string.Create(
                CultureInfo.InvariantCulture, $"A message holds at most {EventMapping.MaxListed} different emoji, and at most 20 reactions from one person.")),
            _ => throw new RequestRefusedException(ErrorCode.NotFound, "There is no such message in this conversation (or it was deleted)."),
        };
    }

    // An emoji is a short token shown as is: a Unicode emoji sequence or a :name:. White space and control
    // or format characters are refused so one cannot spoof another; the zero-width joiner only inside a sequence
    // (between two characters that are not joiners themselves), and no combining mark first: an emoji that
    // looks like another must not count apart from it.
    private static bool IsEmoji(string emoji)
    {
        if (emoji.Length == 0 || Encoding.UTF8.GetByteCount(emoji) > 64)
        {
            return false;
        }

        const int Zwj = 0x200D;
        var previous = -1;
        foreach (var rune in emoji.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (Rune.IsWhiteSpace(rune) || Rune.IsControl(rune)
                || (category == UnicodeCategory.Format && rune.Value != Zwj)
                || category is UnicodeCategory.Surrogate or UnicodeCategory.OtherNotAssigned or UnicodeCategory.PrivateUse
                || (previous == -1 && (rune.Value == Zwj || category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark))
                || (rune.Value == Zwj && previous == Zwj))
            {
                return false;
            }

            previous = rune.Value;
        }

        return previous != Zwj;
    }
}
