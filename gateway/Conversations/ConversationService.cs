using System.Diagnostics;
using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Hosting;
using ChatWire.Gateway.Observability;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Messages;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Conversations;

/// <summary>The answer to a SEND: the stored seq and time, or the refusal.</summary>
internal readonly record struct SendOutcome(ulong Seq, long ServerTimeUnixMs, ErrorCode? Error, string? Message, uint? RetryAfterMs = null)
{
    public static SendOutcome Refused(ErrorCode code, string message) => new(0, 0, code, message);

    /// <summary>RATE_LIMITED: nothing was stored; the same SEND passes after <paramref name="retryAfterMs"/>.</summary>
    public static SendOutcome Limited(uint retryAfterMs) =>
        new(0, 0, ErrorCode.RateLimited, "You are sending too fast; the message was not stored. Retry after retry_after_ms.", retryAfterMs);

    public static SendOutcome ConversationBusy(uint retryAfterMs) =>
        new(0, 0, ErrorCode.RateLimited, "This conversation is taking messages too fast; the message was not stored. Retry after retry_after_ms.", retryAfterMs);

    /// <summary>RATE_LIMITED: the channel is in slow mode and the member's turn has not ended.</summary>
    public static SendOutcome SlowMode(int seconds, uint retryAfterMs) =>
        new(0, 0, ErrorCode.RateLimited, $"This channel is in slow mode: one message every {seconds} s from each member; the message was not stored. Retry after retry_after_ms.", retryAfterMs);
}

/// <summary>
/// Commands into conversations, from the protocol and the HTTP API alike: send, read history, sync, and
/// the membership changes (<c>ConversationService.Membership.cs</c>). It authorizes, appends events to the
/// message store and returns outcomes; it never sees a connection. What it appends reaches devices through
/// the store's commit observer (<c>Delivery/EventPublisher</c>), not from here: commands in, committed
/// events out (docs/architecture.md).
/// </summary>
internal sealed partial class ConversationService(
    IMessageStore store,
    IDirectoryStore directory,
    MembershipCache membership,
    UserLocks userLocks,
    SendRateLimiter rateLimiter,
    ISlowModeGate slowMode,
    StorageQuota quota,
    IOptions<LimitsOptions> limits,
    Delivery.EventPublisher publisher,
    TypingThrottle typingThrottle,
    E2eSendCheck e2e,
    GatewayMetrics metrics,
    AuditLog audit,
    TimeProvider time,
    ILogger<ConversationService> logger)
{
    private const string NotAMemberMessage = "You are not a member of this conversation.";

    private const string ArchivedMessage = "This channel is archived: its history stays readable, but nothing can be sent to it.";

    private const string ReadOnlyMessage = "You no longer share a team with everyone in this conversation: its history stays readable, but nothing can be sent to it.";

    /// <summary>
    /// SEND, first stage: validates, authorizes and queues the message. The returned task completes once it
    /// is queued; a connection awaits it before reading its next frame, which is what keeps one connection's
    /// messages to a conversation in the order sent. The task it yields completes when the message is
    /// durable (or refused): that is when the SEND is answered.
    /// </summary>
    public ValueTask<Task<SendOutcome>> SubmitSendAsync(SessionIdentity actor, Send send)
    {
        if (!MediaType.IsValid(send.ContentType))
        {
            return Refuse(ErrorCode.InvalidField, "content_type must be a media type such as text/plain: type/subtype, printable ASCII, at most 128 bytes.");
        }

        if (send.MessageId.Version != 7 || send.MessageId.Variant is < 8 or > 11)
        {
            return Refuse(ErrorCode.InvalidField, "message_id must be a UUIDv7 (RFC 9562).");
        }

        if (IsBlank(send.ContentType, send.Content.Span))
        {
            return Refuse(ErrorCode.InvalidField, "content must not be empty, and text content must hold more than whitespace.");
        }

        if (send.ThreadRootId == send.MessageId)
        {
            return Refuse(ErrorCode.InvalidField, "thread_root_id must name another message: a message cannot reply to itself.");
        }

        // The stores count a mention of the nil id as one of everyone (how @channel and @here are kept), so a nil id
        // here would be an @channel that bypasses the team's rule on who may use one (step 4).
        if (MentionsNilId(send.Mentions))
        {
            return Refuse(ErrorCode.InvalidField, "mentions must name users: the nil id is not a user (@channel and @here go in group_mentions).");
        }

        if (E2eSendCheck.IsE2e(send.ContentType) && send.DistributionId.Length != E2eSendCheck.DistributionIdLength)
        {
            return Refuse(ErrorCode.InvalidField, "End-to-end content must name its distribution: distribution_id must be the 16-byte chain id the content was sealed under.");
        }

        // Before any lookup: a flood is shed as cheaply as possible.
        if (rateLimiter.TryTake(actor.UserId, actor.DeviceId, send.Content.Length) is { } retryAfterMs)
        {
            audit.RateLimited("SEND", actor.UserId);
            return ValueTask.FromResult(Task.FromResult(SendOutcome.Limited(retryAfterMs)));
        }

        return AuthorizeAndEnqueueAsync(actor, send, Stopwatch.GetTimestamp());
    }

    /// <summary>HISTORY: a page of events next to a seq, fitting in <paramref name="maxPageBytes"/>.</summary>
    /// <exception cref="RequestRefusedException">Not a member, or the store is unavailable.</exception>
    public async Task<HistoryPage> ReadHistoryAsync(SessionIdentity actor, History history, int maxPageBytes)
    {
        await RequireAccessAsync(history.ConversationId, actor.UserId, toWrite: false);
        var direction = history.Direction == HistoryDirection.After ? ReadDirection.After : ReadDirection.Before;
        IReadOnlyList<StoredEvent> events;
        IReadOnlyDictionary<Guid, MessageDetails> details;
        var thread = history.ThreadRootId == Guid.Empty ? (Guid?)null : history.ThreadRootId;
        try
        {
            // One more than asked tells whether the page has more beyond it, without a count query; the store
            // stops reading at the page's byte budget, so large contents are never read to be dropped.
            events = await store.ReadAsync(history.ConversationId, history.FromSeq, direction, (int)history.Limit + 1, maxPageBytes, thread);
            var messages = events.Where(e => e.Kind == Storage.Messages.EventKind.Message && e.DeletedAt is null).Select(e => e.EventId).ToArray();
            details = await store.GetMessageDetailsAsync(history.ConversationId, messages, actor.UserId);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.StoreFailed(logger, ex);
            metrics.StoreFailed();
            throw new RequestRefusedException(ErrorCode.StorageUnavailable, "History could not be read; retry.");
        }

        var (page, hasMore) = TakePage(events, details, (int)history.Limit, direction, maxPageBytes);
        return new HistoryPage(history.RequestId, history.ConversationId, page, hasMore);
    }

    /// <summary>SYNC: the user's conversations after a given id, each with the seq of its newest event.</summary>
    /// <exception cref="RequestRefusedException">The directory or the store is unavailable.</exception>
    public async Task<SyncPage> SyncAsync(SessionIdentity actor, Sync sync)
    {
        try
        {
            var conversations = await directory.ListConversationsForUserAsync(actor.UserId);
            var page = conversations
                .Select(c => c.Id)
                .Where(id => id.CompareTo(sync.AfterConversationId) > 0)
                .Order()
                .Take((int)sync.Limit + 1)
                .ToList();
            var hasMore = page.Count > sync.Limit;
            if (hasMore)
            {
                page.RemoveAt(page.Count - 1);
            }

            var stats = await store.GetStatsAsync(actor.UserId, page, actor.DeviceId);
            var muted = (await directory.ListTeamsForUserAsync(actor.UserId)).Where(t => t.Muted).Select(t => t.Team.Id).ToHashSet();
            var teams = conversations.ToDictionary(c => c.Id, c => c.TeamId);
            var states = page.Select(id =>
            {
                var s = stats[id];
                var isMuted = teams[id] is { } team && muted.Contains(team);
                return new ConversationState(id, s.LastSeq, s.ReadSeq, (uint)s.UnreadCount, (uint)s.MentionCount, isMuted, DeviceCursor: s.DeviceCursor);
            }).ToArray();
            return new SyncPage(sync.RequestId, states, hasMore);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.StoreFailed(logger, ex);
            metrics.StoreFailed();
            throw new RequestRefusedException(ErrorCode.StorageUnavailable, "Conversations could not be listed; retry.");
        }
    }

    /// <summary>The seq of each conversation's newest event (0 when none), for listings.</summary>
    public Task<IReadOnlyDictionary<Guid, ulong>> GetLatestSeqsAsync(IReadOnlyCollection<Guid> conversationIds) =>
        store.GetLatestSeqsAsync(conversationIds);

    // A conversation that does not exist answers like one the caller is not in: existence does not leak.
    private static SendOutcome Denied(ConversationAccess access) => access switch
    {
        ConversationAccess.ReadOnly => SendOutcome.Refused(ErrorCode.Forbidden, ReadOnlyMessage),
        ConversationAccess.Archived => SendOutcome.Refused(ErrorCode.Forbidden, ArchivedMessage),
        _ => SendOutcome.Refused(ErrorCode.NotAMember, NotAMemberMessage),
    };

    // Each step completes synchronously when its answer is cached or the queue has room, and then nothing
    // is allocated; a store or directory failure at any step is STORAGE_UNAVAILABLE.
    private async ValueTask<Task<SendOutcome>> AuthorizeAndEnqueueAsync(SessionIdentity actor, Send send, long started)
    {
        try
        {
            var access = await membership.GetAccessAsync(send.ConversationId, actor.UserId, CancellationToken.None);
            var message = new NewEvent(send.ConversationId, send.MessageId, Storage.Messages.EventKind.Message, actor.UserId, actor.DeviceId, send.ContentType, send.Content)
            {
                UsageTeamId = access.TeamId,
                ThreadRootId = send.ThreadRootId == Guid.Empty ? null : send.ThreadRootId,
                Mentions = send.Mentions.Count == 0 ? [] : send.Mentions.Distinct().ToArray(),
                GroupMentions = (Storage.Messages.GroupMentions)(byte)send.GroupMentions,
            };
            if (access.Access != ConversationAccess.Send)
            {
                // A member who may still read (a DM whose people no longer share a team, an archived channel) is
                // answered a resend's seq too; someone no longer in the conversation is not.
                return Task.FromResult(access.Access is ConversationAccess.ReadOnly or ConversationAccess.Archived
                    ? await StoredAlreadyAsync(message) ?? Denied(access.Access)
                    : Denied(access.Access));
            }

            // @channel and @here notify every member: a team may keep them to its owners and admins. One directory read,
            // only for a message that carries one.
            if (send.GroupMentions != 0 && access.TeamId is { } teamId
                && await directory.GetTeamMembershipAsync(teamId, actor.UserId) is { Team.MembersCanMentionChannel: false, Role: < TeamRole.Admin })
            {
                return Task.FromResult(await StoredAlreadyAsync(message) ?? SendOutcome.Refused(
                    ErrorCode.Forbidden, "This team lets only its owners and admins use @channel and @here; send the message without group_mentions."));
            }

            if (await quota.CheckAsync(actor.UserId, access.TeamId, send.Content.Length) is { } refusal)
            {
                return Task.FromResult(await StoredAlreadyAsync(message) ?? SendOutcome.Refused(ErrorCode.QuotaExceeded, refusal));
            }

            // End-to-end content must be sealed for the current epoch under a complete distribution: one read of the
            // key directory. Other content skips it (membership_epoch and distribution_id are not used).
            if (E2eSendCheck.IsE2e(send.ContentType)
                && await e2e.CheckSendAsync(send.ConversationId, actor.DeviceId, send.MembershipEpoch, send.DistributionId) is { } e2eRefusal)
            {
                return Task.FromResult(await StoredAlreadyAsync(message) ?? SendOutcome.Refused(e2eRefusal.Code, e2eRefusal.Message));
            }

            // Slow mode: the member's turn in the channel, taken once every check of the message has passed. The channel's
            // creator (known from the cached answer) takes none; only a refusal asks the directory whether the sender is
            // an owner or admin, who are not held either. A resend of a stored message is answered its seq, and is
            // looked up before the turn: were it to take the turn until its append came back a duplicate, the member's
            // next message, sent right behind it, would be refused for the whole period. One read per SEND, in a
            // channel that takes one message per member per period.
            SlowModeTurn? turn = null;
            if (access is { SlowModeSeconds: > 0, Creator: false })
            {
                if (await StoredAlreadyAsync(message) is { } resent)
                {
                    return Task.FromResult(resent);
                }

                var answer = await slowMode.TryTakeAsync(send.ConversationId, actor.UserId, access.SlowModeSeconds);
                if (answer.Taken)
                {
                    turn = answer.Turn;
                }
                else if (!await IsTeamAdminAsync(access.TeamId, actor.UserId))
                {
                    audit.RateLimited("SEND in slow mode", actor.UserId);
                    return Task.FromResult(await StoredAlreadyAsync(message) ?? SendOutcome.SlowMode(access.SlowModeSeconds, answer.WaitMs));
                }
            }

            // Last, once every check has passed: only the conversation's members spend its budget, and only with messages
            // that are stored. A resend of a stored message refused here is answered its seq once retried (no store read
            // per refusal: a flood is shed without one).
            if (rateLimiter.TryTakeConversation(send.ConversationId) is { } conversationWaitMs)
            {
                GiveBack(turn);
                audit.RateLimited("SEND into a busy conversation", actor.UserId);
                return Task.FromResult(SendOutcome.ConversationBusy(conversationWaitMs));
            }

            Task<AppendResult> commit;
            try
            {
                commit = await store.EnqueueAsync(message);
            }
            catch
            {
                GiveBack(send.ConversationId, turn);
                throw;
            }

            return CompleteAsync(commit, started, (actor.UserId, access.TeamId, send.Content.Length), send.ConversationId, turn);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.StoreFailed(logger, ex);
            metrics.StoreFailed();
            return Task.FromResult(Unavailable);
        }
    }

    // A resend of a message stored before (its SEND_ACK lost) is answered with the original seq even when the
    // conversation changed since in a way that refuses new messages: a member joined (a new epoch, so STALE_EPOCH),
    // the quota filled up, the channel was archived or the DM became read-only. Asked on those refusals, and before a
    // slow-mode turn; never on the way of any other message that is let through. The
    // store decides by the rule its writer follows (the same device, thread and body as first sent, even after an
    // edit or a deletion); another event under the id leaves the refusal as it is.
    private async Task<SendOutcome?> StoredAlreadyAsync(NewEvent message)
    {
        try
        {
            if (await store.FindStoredAsync(message) is { Outcome: AppendOutcome.Duplicate, Event: { } e })
            {
                return new SendOutcome(e.Seq, e.StoredAt.ToUnixTimeMilliseconds(), null, null);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The refusal stands: it is true of a new message, and the client learns of the old one on its next try.
            GatewayLog.StoreFailed(logger, ex);
            metrics.StoreFailed();
        }

        return null;
    }

    // Who may set a channel's slow mode is not held by it: the team's owners and admins (asked here, live, since roles
    // change) and the channel's creator (in the cached answer).
    private async ValueTask<bool> IsTeamAdminAsync(Guid? teamId, Guid userId) =>
        teamId is { } team && await directory.GetTeamMembershipAsync(team, userId) is { Role: >= TeamRole.Admin };

    private void GiveBack(SlowModeTurn? turn)
    {
        if (turn is { } taken)
        {
            slowMode.GiveBack(taken);
        }
    }

    // A SEND that passed the conversation's bucket and then stored nothing.
    private void GiveBack(Guid conversationId, SlowModeTurn? turn)
    {
        rateLimiter.ReturnConversation(conversationId);
        GiveBack(turn);
    }

    private async Task<SendOutcome> CompleteAsync(
        Task<AppendResult> commit, long started, (Guid User, Guid? Team, long Bytes) usage, Guid conversationId, SlowModeTurn? turn)
    {
        AppendResult result;
        try
        {
            result = await commit;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GiveBack(conversationId, turn);
            GatewayLog.StoreFailed(logger, ex);
            metrics.StoreFailed();
            return Unavailable;
        }

        // Only a message stored now spends the conversation's budget and the member's slow-mode turn (a resend was
        // counted when first stored).
        if (result.Outcome != AppendOutcome.Stored)
        {
            GiveBack(conversationId, turn);
        }

        if (result is { Outcome: AppendOutcome.Refused, Refusal: var refusal })
        {
            return refusal == AppendRefusal.RootIsReply
                ? SendOutcome.Refused(ErrorCode.InvalidField, "thread_root_id names a reply; threads are one level deep, so reply to its root.")
                : SendOutcome.Refused(ErrorCode.NotFound, "thread_root_id is not a message in this conversation (or it was deleted).");
        }

        if (result is not { Outcome: AppendOutcome.Stored or AppendOutcome.Duplicate, Event: { } stored })
        {
            return SendOutcome.Refused(ErrorCode.IdempotencyConflict, "This message id was already used in this conversation with another body or from another device.");
        }

        if (result.Outcome == AppendOutcome.Stored)
        {
            quota.Add(usage.User, usage.Team, usage.Bytes);
            if (turn is { } taken)
            {
                await slowMode.ConfirmAsync(taken);
            }
        }

        metrics.SendDuration.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        return new SendOutcome(stored.Seq, stored.StoredAt.ToUnixTimeMilliseconds(), null, null);
    }

    // By index: a foreach over the interface would allocate an enumerator on every SEND.
    private static bool MentionsNilId(IReadOnlyList<Guid> mentions)
    {
        for (var i = 0; i < mentions.Count; i++)
        {
            if (mentions[i] == Guid.Empty)
            {
                return true;
            }
        }

        return false;
    }

    // Empty content says nothing; nor does text of spaces and line breaks. Other media types are opaque
    // (an end-to-end encrypted envelope, say): only their emptiness is checked.
    private static bool IsBlank(string contentType, ReadOnlySpan<byte> content)
    {
        if (content.IsEmpty)
        {
            return true;
        }

        if (!contentType.StartsWith("text/", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        while (!content.IsEmpty)
        {
            if (System.Text.Rune.DecodeFromUtf8(content, out var rune, out var consumed) != System.Buffers.OperationStatus.Done || !System.Text.Rune.IsWhiteSpace(rune))
            {
                return false;
            }

            content = content[consumed..];
        }

        return true;
    }

    private static SendOutcome Unavailable =>
        SendOutcome.Refused(ErrorCode.StorageUnavailable, "The message could not be stored; it was not acknowledged. Retry with the same message id.");

    private static ValueTask<Task<SendOutcome>> Refuse(ErrorCode code, string message) =>
        ValueTask.FromResult(Task.FromResult(SendOutcome.Refused(code, message)));

    // A page holds at most `limit` events and fits in one frame; it keeps the events nearest the starting
    // seq (the newest for Before, the oldest for After) and lists them ascending.
    private static (ConversationEvent[] Page, bool HasMore) TakePage(
        IReadOnlyList<StoredEvent> events, IReadOnlyDictionary<Guid, MessageDetails> details, int limit, ReadDirection direction, int maxBytes)
    {
        var taken = new List<ConversationEvent>(Math.Min(events.Count, limit));
        long bytes = 0;
        long contentRead = 0;
        for (var k = 0; k < events.Count; k++)
        {
            var e = events[direction == ReadDirection.Before ? events.Count - 1 - k : k];
            contentRead += e.Content.Length;
            if (taken.Count == limit)
            {
                continue;
            }

            var detail = e.Kind == Storage.Messages.EventKind.Message ? details.GetValueOrDefault(e.EventId) : null;
            var (mapped, bound) = FitToFrame(EventMapping.ToProtocol(e, detail), maxBytes);
            bytes += bound;
            if (bytes > maxBytes && taken.Count > 0)
            {
                break;
            }

            taken.Add(mapped);
        }

        if (direction == ReadDirection.Before)
        {
            taken.Reverse();
        }

        // More exist when the store returned more than the page holds, or when it stopped at the byte
        // budget (then it did not look further). The latter may announce more where none is left: the
        // client's next page is empty, which the protocol allows.
        var hasMore = taken.Count < events.Count || contentRead >= maxBytes;
        return (taken.ToArray(), hasMore);
    }

    // A message with a body near max_content_length and 50 long reactions and 50 thread participants can come out
    // larger than a frame on its own (docs/protocol.md §4.11): its lists are shortened from the end, participants
    // first, until it fits, so a page always fits in one frame. Anything smaller is returned as it is. With the
    // bound of what is returned, which the page counts.
    internal static (ConversationEvent Event, int Bound) FitToFrame(ConversationEvent mapped, int maxBytes)
    {
        int bound;
        while ((bound = mapped.EncodedLengthBound()) > maxBytes)
        {
            if (mapped.ThreadParticipants.Count > 0)
            {
                mapped = mapped with { ThreadParticipants = mapped.ThreadParticipants.Take(mapped.ThreadParticipants.Count - 1).ToArray() };
            }
            else if (mapped.Reactions.Count > 0)
            {
                mapped = mapped with { Reactions = mapped.Reactions.Take(mapped.Reactions.Count - 1).ToArray() };
            }
            else
            {
                break;
            }
        }

        return (mapped, bound);
    }
}
