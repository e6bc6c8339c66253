using ChatWire.Client.Internal;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client;

// The background side: one read loop and one heartbeat per link, and the reconnect cycle.
public sealed partial class ChatWireConnection
{
    private bool IsDisposing => _lifetime.IsCancellationRequested;

    private async Task SuperviseAsync(FrameLink link, bool catchUp)
    {
        while (true)
        {
            var heartbeat = HeartbeatAsync(link);
            var caughtUp = catchUp ? CatchUpAsync(link) : Task.CompletedTask;
            var reason = await ReadLoopAsync(link).ConfigureAwait(false);
            Unpublish(link, reason);
            await heartbeat.ConfigureAwait(false);
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
            var next = await ReconnectAsync(reason).ConfigureAwait(false);
            if (next is null)
            {
                return;
            }

            link = next;
            catchUp = true;
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
            case MessageEvent pushed:
                _delivery.DeliverLive(pushed.Message);
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
            case ErrorFrame error when requestId == 0:
                link.CloseCode = error.Code;
                link.Abort(new ChatWireException(error.Code, error.Message));
                return false;
            case ErrorFrame error:
                if (_pending.TryRemove(requestId, out var refused))
                {
                    refused.TrySetException(new ChatWireException(error.Code, error.Message));
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
    private async Task<FrameLink?> ReconnectAsync(Exception lastError)
    {
        var policy = _options.Reconnect;
        for (var attempt = 0; ; attempt++)
        {
            if (policy.MaxAttempts is { } max && attempt >= max)
            {
                Close(new IOException($"Reconnecting gave up after {attempt} attempts.", lastError));
                return null;
            }

            try
            {
                await Task.Delay(policy.GetDelay(attempt, Random.Shared), _lifetime.Token).ConfigureAwait(false);
                var link = await FrameLink.OpenAsync(_options, NextRequestId, _lifetime.Token).ConfigureAwait(false);
                if (IsDisposing)
                {
                    await link.DisposeAsync().ConfigureAwait(false);
                    return null;
                }

                // Hold live messages before the link goes live, so the catch-up's come out first.
                _delivery.BeginHold();
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
            catch (Exception ex)
            {
                lastError = ex;
            }
        }
    }

    // Pages HISTORY after the highest seq seen in each conversation and emits what was missed; then
    // releases the live messages held meanwhile. A conversation whose catch-up did not finish keeps its
    // held messages out: the next reconnect pages them again.
    private async Task CatchUpAsync(FrameLink link)
    {
        // The hold began before the link was published; calling again only reads where each conversation stands.
        var targets = _delivery.BeginHold();
        var finished = new HashSet<Guid>();
        var pageSize = (uint)Math.Min(link.Limits.MaxHistoryLimit, ProtocolLimits.Default.MaxHistoryLimit);
        try
        {
            foreach (var (conversationId, highestSeq) in targets)
            {
                var from = highestSeq;
                while (true)
                {
                    HistoryPage page;
                    try
                    {
                        page = await RequestAsync<History, HistoryPage>(
                            link,
                            requestId => new History(requestId, conversationId, from, HistoryDirection.After, pageSize),
                            link.Lifetime).ConfigureAwait(false);
                    }
                    catch (ChatWireException)
                    {
                        // E.g. no longer a member: nothing to catch up there.
                        break;
                    }

                    foreach (var message in page.Messages)
                    {
                        _delivery.DeliverMissed(message);
                    }

                    if (!page.HasMore || page.Messages.Count == 0)
                    {
                        break;
                    }

                    from = page.Messages[^1].Seq;
                }

                finished.Add(conversationId);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The new link dropped too; the next reconnect starts over from what was emitted.
        }
        finally
        {
            var known = targets.Select(pair => pair.Key).ToHashSet();
            _delivery.EndHold(conversationId => !known.Contains(conversationId) || finished.Contains(conversationId));
        }
    }
}
