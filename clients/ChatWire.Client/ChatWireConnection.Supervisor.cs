using ChatWire.Client.Internal;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client;

// The background side: one read loop and one heartbeat per link, and the reconnect cycle.
public sealed partial class ChatWireConnection
{
    // How long a fill or catch-up the server refused for now (not for good) waits before trying again.
    private static readonly TimeSpan FillRetryDelay = TimeSpan.FromSeconds(1);

    private bool IsDisposing => _lifetime.IsCancellationRequested;

    private async Task SuperviseAsync(FrameLink link)
    {
        // The first link's catch-up is run (and awaited) by ConnectAsync.
        var caughtUp = Task.CompletedTask;
        while (true)
        {
            var heartbeat = HeartbeatAsync(link);
            var acknowledging = AcknowledgeAsync(link);
            var reason = await ReadLoopAsync(link).ConfigureAwait(false);
            Unpublish(link, reason);
            await heartbeat.ConfigureAwait(false);
            await acknowledging.ConfigureAwait(false);
            await caughtUp.ConfigureAwait(false);
            await link.DisposeAsync().ConfigureAwait(false);
            if (IsDisposing)
            {
                return;
            }

            if (link.CloseCode is { } code && ChatWireException.IsTerminalCode(code))
            {
                Close(reason as ChatWireException ?? new ChatWireException(code, $"The server closed the session ({ErrorCodes.Name(code)})."));
                return;
            }

            if (!_options.Reconnect.Enabled)
            {
                Close(reason);
                return;
            }

            SetReconnecting(reason);
            if (link.MovedAway)
            {
                // The node drains: the next node in the list first, at once (MoveAwayAsync already waited its jittered delay).
                NextEndpoint();
            }

            var next = await ReconnectAsync(reason, immediately: link.MovedAway).ConfigureAwait(false);
            if (next is null)
            {
                return;
            }

            link = next;
            _streams.BeginCatchUp(link.UserId);
            caughtUp = CatchUpOnReconnectAsync(link);
        }
    }

    // Reads until the link ends; returns why it ended.
    private async Task<Exception> ReadLoopAsync(FrameLink link)
    {
        try
        {
            while (true)
            {
                var frame = await link.ReadFrameAsync(link.Lifetime).ConfigureAwait(false);
                if (frame is not { } inbound)
                {
                    return link.AbortReason ?? new IOException("The server closed the connection.");
                }

                if (!await DispatchAsync(link, inbound).ConfigureAwait(false))
                {
                    return link.AbortReason ?? new IOException("The server closed the connection.");
                }
            }
        }
        catch (Exception ex)
        {
            return link.AbortReason ?? ex;
        }
    }

    // Handles one frame; false when the server announced that it is closing the link.
    private async ValueTask<bool> DispatchAsync(FrameLink link, InboundFrame frame)
    {
        var requestId = frame.Header.RequestId;
        if (frame.DecodeError is { } decodeError)
        {
            // A malformed answer fails its request; a malformed event is skipped. The framing is intact either way.
            if (requestId != 0 && _pending.TryRemove(requestId, out var failed))
            {
                failed.TrySetException(new ChatWireException(decodeError.Code, "The server's answer could not be decoded: " + decodeError.Message, null, null, null, decodeError));
            }

            return true;
        }

        switch (frame.Payload)
        {
            case EventFrame pushed:
                if (_streams.OnLive(pushed.Event))
                {
                    // A gap: fetch what is missing while the events after it wait.
                    _ = FillAsync(link, pushed.Event.ConversationId, target: 0);
                }

                break;
            case ReadState state:
                _readSeqs.AddOrUpdate(state.ConversationId, state.ReadSeq, (_, known) => Math.Max(known, state.ReadSeq));
                _events.WriteReadState(new ReadStateChanged(state.ConversationId, state.ReadSeq, (int)state.UnreadCount, (int)state.MentionCount));
                break;
            case UserTyping typing:
                _events.WriteTyping(new TypingStarted(typing.ConversationId, typing.UserId));
                break;
            case PresenceFrame presence when requestId == 0:
                foreach (var entry in presence.Entries)
                {
                    _events.WritePresence(new PresenceChanged(entry.UserId, entry.Status, entry.LastSeenUnixMs == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(entry.LastSeenUnixMs)));
                }

                break;
            case Ping ping:
                try
                {
                    await link.WriteAsync(new Pong(ping.RequestId), link.Lifetime).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    // The link is going down; the read loop sees it next.
                }

                break;
            case KeysChanged keys when requestId == 0:
                _events.Write(new OwnKeysChanged(keys.Change, keys.DeviceId == Guid.Empty ? null : keys.DeviceId));
                SignalOwnKeys();
                break;
            case GoAway goAway when requestId == 0:
                if (!link.MovedAway)
                {
                    link.MovedAway = true;
                    _ = MoveAwayAsync(link, goAway.ReconnectWindowMs);
                }

                break;
            case ErrorFrame error when requestId == 0 && ErrorCodes.ClosesConnection(error.Code):
                link.CloseCode = error.Code;
                link.Abort(new ChatWireException(error.Code, error.Message));
                return false;
            case ErrorFrame when requestId == 0:
                // Request id 0 with a code that does not close: an answer to a frame whose id the server
                // could not read (docs/protocol.md §2.2). Nothing waits on it.
                break;
            case ErrorFrame error:
                if (_pending.TryRemove(requestId, out var refused))
                {
                    var retryAfter = error.RetryAfterMs == 0 ? (TimeSpan?)null : TimeSpan.FromMilliseconds(error.RetryAfterMs);
                    refused.TrySetException(new ChatWireException(error.Code, error.Message, name: null, httpStatus: null, retryAfter, innerException: null));
                }

                break;
            case { } answer when requestId != 0:
                if (_pending.TryRemove(requestId, out var pending))
                {
                    pending.TrySetResult(answer);
                }

                break;
            default:
                // Unknown opcodes and unsolicited frames: newer servers may send what this client does not know.
                break;
        }

        return true;
    }

    // PING after a heartbeat interval without sending; a link silent for three intervals is dead.
    private async Task HeartbeatAsync(FrameLink link)
    {
        var interval = link.HeartbeatInterval;
        if (interval <= TimeSpan.Zero || interval == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        var deadAfter = interval * 3;
        var minimumWait = TimeSpan.FromMilliseconds(10);
        try
        {
            while (!link.Lifetime.IsCancellationRequested)
            {
                var silence = link.SinceLastRead;
                if (silence >= deadAfter)
                {
                    link.Abort(new IOException($"Nothing arrived from the server for {silence.TotalSeconds:0.#} s; the link is presumed dead."));
                    return;
                }

                var idle = link.SinceLastWrite;
                if (idle >= interval)
                {
                    await link.WriteAsync(new Ping(NextRequestId()), link.Lifetime).ConfigureAwait(false);
                    idle = TimeSpan.Zero;
                }

                var wait = TimeSpan.FromTicks(Math.Min((interval - idle).Ticks, (deadAfter - silence).Ticks));
                await Task.Delay(wait < minimumWait ? minimumWait : wait, link.Lifetime).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The link ended; the read loop reports why.
        }
    }

    // Opens a new link after the policy's delay, until one authenticates, the close turns terminal,
    // the attempts run out or the connection is disposed (null in the last three cases).
    private async Task<FrameLink?> ReconnectAsync(Exception lastError, bool immediately)
    {
        var policy = _options.Reconnect;
        for (var attempt = 0; ; attempt++)
        {
            if (attempt > 0)
            {
                // A node that does not answer: the next one of the list, if there is a list.
                NextEndpoint();
            }

            if (policy.MaxAttempts is { } max && attempt >= max)
            {
                Close(new IOException($"Reconnecting gave up after {attempt} attempts.", lastError));
                return null;
            }

            try
            {
                if (!immediately || attempt > 0)
                {
                    await Task.Delay(DelayBefore(policy, attempt, lastError), _lifetime.Token).ConfigureAwait(false);
                }

                var link = await FrameLink.OpenAsync(CurrentEndpointOptions(), _noiseTrust, NextRequestId, _lifetime.Token).ConfigureAwait(false);
                if (IsDisposing)
                {
                    await link.DisposeAsync().ConfigureAwait(false);
                    return null;
                }

                Publish(link);
                return link;
            }
            catch (OperationCanceledException) when (IsDisposing)
            {
                return null;
            }
            catch (ChatWireException ex) when (ex.IsTerminal)
            {
                Close(ex);
                return null;
            }
            catch (NoiseServerKeyChangedException ex)
            {
                // Not a server that is down: one that must not get this session token until a person decides.
                Close(ex);
                return null;
            }
            catch (Exception ex)
            {
                lastError = ex;
            }
        }
    }

    // The policy's delay, or longer when the server said how long to wait (an address over its rate of connections or
    // of refused tokens is refused until then, so trying sooner only spends attempts).
    private static TimeSpan DelayBefore(ReconnectPolicy policy, int attempt, Exception? lastError)
    {
        var delay = policy.GetDelay(attempt, Random.Shared);
        return lastError is ChatWireException { RetryAfter: { } asked } && asked > delay ? asked : delay;
    }

    // ConnectAsync's first link under RetryFirstConnect: the reconnect's backoff, attempt count and endpoint
    // rotation, but what a retry cannot cure is thrown to the caller at once (as without the option), and so is the
    // last failure when the policy's attempts run out.
    private async Task<FrameLink> OpenFirstLinkRetryingAsync(CancellationToken cancellationToken)
    {
        var policy = _options.Reconnect;
        Exception? lastError = null;
        for (var attempt = 0; ; attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(DelayBefore(policy, attempt - 1, lastError), cancellationToken).ConfigureAwait(false);
            }

            try
            {
                return await FrameLink.OpenAsync(CurrentEndpointOptions(), _noiseTrust, NextRequestId, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsWorthRetrying(ex) && policy.Enabled && (policy.MaxAttempts is not { } max || attempt + 1 < max))
            {
                // Cancelled meanwhile: the next delay throws OperationCanceledException, not this attempt's error.
                lastError = ex;
                NextEndpoint();
            }
        }
    }

    // A failure to open a link that trying again may cure: the server unreachable, slow, closing, busy or failing
    // for now. Not a refused session, an untrusted certificate or Noise key, a setting that refuses plain TCP, or an
    // answer that says this client sent something wrong (it would send it again).
    private static bool IsWorthRetrying(Exception ex) => ex switch
    {
        ChatWireException chatWire => chatWire.Code is ErrorCode.RateLimited or ErrorCode.TooManyConnections or ErrorCode.ServerBusy
            or ErrorCode.ShuttingDown or ErrorCode.SlowConsumer or ErrorCode.InternalError or ErrorCode.StorageUnavailable
            or ErrorCode.AuthTimeout or ErrorCode.HeartbeatTimeout or ErrorCode.FrameTimeout,
        System.Security.Authentication.AuthenticationException or InvalidOperationException or ArgumentException => false,
        _ => true,
    };

    private async Task CatchUpOnReconnectAsync(FrameLink link)
    {
        while (true)
        {
            try
            {
                await CatchUpAsync(link, firstLink: false).ConfigureAwait(false);
                await RewatchAsync(link).ConfigureAwait(false);
                return;
            }
            catch (ChatWireException)
            {
                // The server could not answer the sync right now (e.g. STORAGE_UNAVAILABLE): try again shortly.
                // Live events of conversations without a watermark stay held meanwhile (ConversationStreams):
                // let out before SYNC says where their conversation starts, they could skip events. The retries end
                // with the link or when the server answers.
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
            {
                // The new link dropped too; the next reconnect starts over.
                return;
            }

            try
            {
                await Task.Delay(FillRetryDelay, link.Lifetime).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // Every AcknowledgeInterval, how far the app has read each conversation (not merely how far this
    // connection has received: a crash must not lose what was queued but unread) goes to the server as
    // RECEIVED, up to 500 a frame.
    // What fails to go (the link dropped) is sent by the next link, since it still differs from what was acked.
    private async Task AcknowledgeAsync(FrameLink link)
    {
        var interval = _options.AcknowledgeInterval;
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            while (!link.Lifetime.IsCancellationRequested)
            {
                await Task.Delay(interval, link.Lifetime).ConfigureAwait(false);
                var moved = _consumed.Where(w => w.Value > 0 && (!_acknowledged.TryGetValue(w.Key, out var acked) || acked < w.Value)).ToList();
                foreach (var chunk in moved.Chunk(500))
                {
                    try
                    {
                        await RequestAsync<Received, Ok>(link, requestId => new Received(requestId, [.. chunk.Select(w => (w.Key, w.Value))]), link.Lifetime).ConfigureAwait(false);
                    }
                    catch (ChatWireException)
                    {
                        // Refused for now (RATE_LIMITED, STORAGE_UNAVAILABLE): the next round sends it again.
                        break;
                    }

                    foreach (var (conversation, seq) in chunk)
                    {
                        _acknowledged[conversation] = seq;
                    }
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The link ended: the next link acknowledges what is still unacknowledged.
        }
    }

    // A watch ends with its link: the new link watches the same users again, and what changed meanwhile is
    // reported as PresenceChanged.
    private async Task RewatchAsync(FrameLink link)
    {
        var watched = Volatile.Read(ref _watched);
        if (watched.Length == 0)
        {
            return;
        }

        var answer = await RequestAsync<PresenceWatch, PresenceFrame>(link, requestId => new PresenceWatch(requestId, watched), link.Lifetime).ConfigureAwait(false);
        foreach (var entry in answer.Entries)
        {
            _events.WritePresence(new PresenceChanged(entry.UserId, entry.Status, entry.LastSeenUnixMs == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(entry.LastSeenUnixMs)));
        }
    }

    // Asks where every conversation stands (SYNC) and fetches what this connection has not delivered yet.
    // A conversation not seen before starts at its newest event on the first link (or where a resumed
    // watermark says), and replays its newest NewConversationBacklog events when it first shows up on a
    // reconnect (joined while disconnected).
    private async Task CatchUpAsync(FrameLink link, bool firstLink)
    {
        var states = await SyncAllAsync(link, link.Lifetime).ConfigureAwait(false);
        var backlog = (ulong)Math.Max(0, _options.NewConversationBacklog);
        foreach (var state in states)
        {
            // Read on another device while this one had no link: no READ_STATE reached it, so say so now.
            var known = _readSeqs.GetValueOrDefault(state.ConversationId);
            _readSeqs.AddOrUpdate(state.ConversationId, state.ReadSeq, (_, current) => Math.Max(current, state.ReadSeq));
            if (!firstLink && state.ReadSeq > known)
            {
                _events.WriteReadState(new ReadStateChanged(state.ConversationId, state.ReadSeq, (int)state.UnreadCount, (int)state.MentionCount));
            }

            var start = firstLink
                ? (_options.ResumeFromDeviceCursor && state.DeviceCursor > 0 ? state.DeviceCursor : state.LastSeq)
                : state.LastSeq - Math.Min(state.LastSeq, backlog);
            _streams.Start(state.ConversationId, start);
        }

        // SYNC lists exactly my conversations: one I had a watermark for and it no longer lists, I left unseen.
        _streams.EndMembership(states.Select(state => state.ConversationId).ToHashSet());

        // Conversations SYNC did not list but an event arrived for meanwhile start at that event.
        var gapped = _streams.EndCatchUp();
        foreach (var state in states)
        {
            await FillAsync(link, state.ConversationId, state.LastSeq, detachWhenFull: true).ConfigureAwait(false);
        }

        foreach (var conversationId in gapped)
        {
            await FillAsync(link, conversationId, target: 0, detachWhenFull: true).ConfigureAwait(false);
        }
    }

    // Pages HISTORY After the conversation's watermark until nothing is missing up to target (and nothing
    // is held behind a gap). One fill per conversation at a time; a fill already running takes the target.
    // Only a final refusal (no longer a member) lets held events out across a gap; any other failure keeps
    // them held and tries again shortly, on this link while it lasts, else on the next one's catch-up.
    // Each page waits for room in the event buffer (the app reading what came before); a catch-up's fill
    // (detachWhenFull) goes on in the background instead of waiting, since ConnectAsync awaits the catch-up and
    // the app cannot read before it returns.
    private async Task FillAsync(FrameLink link, Guid conversationId, ulong target, bool detachWhenFull = false)
    {
        if (!_streams.TryBeginFill(conversationId, target, out var from, out var generation))
        {
            return;
        }

        await PageFillAsync(link, conversationId, target, from, generation, detachWhenFull).ConfigureAwait(false);
    }

    // The claimed fill of FillAsync, from where it stands.
    private async Task PageFillAsync(FrameLink link, Guid conversationId, ulong target, ulong from, int generation, bool detachWhenFull)
    {
        var pageSize = Math.Min(Math.Min(link.Limits.MaxHistoryLimit, ProtocolLimits.Default.MaxHistoryLimit), _options.EventBufferCapacity);
        var finished = false;
        var retry = false;
        try
        {
            while (true)
            {
                if (!_events.TryReserve(pageSize))
                {
                    if (detachWhenFull)
                    {
                        // The fill stays claimed and goes on without the caller.
                        finished = true;
                        _ = PageFillAsync(link, conversationId, target, from, generation, detachWhenFull: false);
                        return;
                    }

                    await _events.ReserveAsync(pageSize, link.Lifetime).ConfigureAwait(false);
                }

                try
                {
                    var page = await RequestAsync<History, HistoryPage>(
                        link,
                        requestId => new History(requestId, conversationId, from, HistoryDirection.After, (uint)pageSize),
                        link.Lifetime).ConfigureAwait(false);
                    foreach (var e in page.Events)
                    {
                        _streams.OnFetched(e);
                    }

                    if (!_streams.ContinueFill(conversationId, pageWasEmpty: page.Events.Count == 0, out from))
                    {
                        finished = true;
                        return;
                    }
                }
                finally
                {
                    _events.Release(pageSize);
                }
            }
        }
        catch (ChatWireException ex) when (ex.Code == ErrorCode.NotAMember)
        {
            // Left the conversation: nothing more to fetch there; what was held comes out as it is, then ConversationLeft.
            // Unless the refusal may predate my joining again: then the gap is asked for once more.
            retry = _streams.AbandonFill(conversationId, notAMember: true, generation);
            finished = true;
        }
        catch (ChatWireException)
        {
            // A transient refusal (storage unavailable, rate limited, …): the gap stays, and is tried again.
            retry = true;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The link dropped; the next link's catch-up fetches it again.
        }
        finally
        {
            if (!finished)
            {
                _streams.AbandonFill(conversationId, notAMember: false);
            }
        }

        if (retry)
        {
            await RetryFillLaterAsync(link, conversationId, target, detachWhenFull).ConfigureAwait(false);
        }
    }

    // The retry of a catch-up's fill detaches when the buffer is full, as the first try does.
    private async Task RetryFillLaterAsync(FrameLink link, Guid conversationId, ulong target, bool detachWhenFull)
    {
        try
        {
            await Task.Delay(FillRetryDelay, link.Lifetime).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        await FillAsync(link, conversationId, target, detachWhenFull).ConfigureAwait(false);
    }

    // Every conversation of the user, SYNC page by page.
    private async Task<List<ConversationState>> SyncAllAsync(FrameLink? link, CancellationToken cancellationToken, bool timed = false)
    {
        var states = new List<ConversationState>();
        var after = Guid.Empty;
        var pageSize = (uint)ProtocolLimits.Default.MaxSyncLimit;
        while (true)
        {
            var page = await RequestAsync<Sync, SyncPage>(link, requestId => new Sync(requestId, after, pageSize), cancellationToken, timed).ConfigureAwait(false);
            states.AddRange(page.Conversations);
            if (!page.HasMore || page.Conversations.Count == 0)
            {
                return states;
            }

            after = page.Conversations[^1].ConversationId;
        }
    }
}
