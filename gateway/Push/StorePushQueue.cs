using ChatWire.Storage.Push;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Push;

/// <summary>
/// The queue in the directory database (<c>Push:Queue = store</c>, the embedded mode): pending notifications
/// are rows, so a restart loses none. Due ones are dispatched through a window of <see cref="MaxInFlight"/>, one
/// notification per user at a time, each removed once sent unless another message was folded into it meanwhile
/// (that one is then due at its own time, counting only the messages after the ones just announced). A slot is
/// refilled as soon as its notification is done, so one slow receiver holds one slot, not the notifications
/// behind it; and a user with many conversations due (or receivers that never answer) waits for their own,
/// not the other users. A notification whose sending failed (the store or the presence registry unreachable)
/// stays queued and its user waits before the next try, twice as long after each failure in a row, up to five
/// minutes; after <see cref="MaxTries"/> failures in a row it is dropped (logged), so one that can never be sent does
/// not hold its user's other notifications for ever. A crash between the send and the removal sends again at the next start, which the sent record turns
/// into a no-op. One node polls one database: with several nodes use the Redis queue.
/// </summary>
internal sealed class StorePushQueue(
    IPushStore store, PushDispatcher dispatcher, IOptions<PushOptions> options, TimeProvider time, ILogger<StorePushQueue> logger)
    : BackgroundService, IPushQueue
{
    /// <summary>Notifications being sent at once, each of a different user.</summary>
    public const int MaxInFlight = 16;

    /// <summary>Tries of one notification, failing in a row, before it is dropped: about half an hour with the default poll interval.</summary>
    public const int MaxTries = 15;

    private const int BatchSize = 100;

    // Users whose last try failed, waiting for their next (at most this many; past it, a failing user retries at the next poll).
    private const int MaxBackingOff = 256;

    private static readonly TimeSpan LongestBackoff = TimeSpan.FromMinutes(5);

    // The sent record only has to outlive a notification's retries and a restart.
    private static readonly TimeSpan SentRecordLifetime = TimeSpan.FromDays(1);

    private readonly PushOptions _options = options.Value;

    // The notification being sent, by user (true when it was sent), and the users whose last try failed, with when
    // to try again and how many failed in a row. Only the loop in ExecuteAsync touches them.
    private readonly Dictionary<Guid, Task<bool>> _inFlight = [];
    private readonly Dictionary<Guid, (DateTimeOffset Next, int Failures)> _backingOff = [];

    // Set while listing, or sending, fails: each logged once per outage, not once per poll or notification.
    private bool _listFailing;
    private volatile bool _sendFailing;

    public Task EnqueueAsync(IReadOnlyList<PendingPush> pushes, CancellationToken cancellationToken) =>
        store.EnqueuePushesAsync(pushes, TimeSpan.FromMilliseconds(_options.MaxFoldMs), cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(_options.PollIntervalMs);
        var nextPrune = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            Reap(now, interval);
            try
            {
                if (now >= nextPrune)
                {
                    await store.PrunePushSentAsync(now - SentRecordLifetime, stoppingToken);
                    nextPrune = now.AddHours(1);
                }

                if (_inFlight.Count < MaxInFlight)
                {
                    var waiting = _backingOff.Where(e => e.Value.Next > now).Select(e => e.Key);
                    var due = await store.ListDuePushesAsync(now, BatchSize, [.. _inFlight.Keys, .. waiting], stoppingToken);
                    _listFailing = false;
                    foreach (var pending in due)
                    {
                        if (_inFlight.Count == MaxInFlight)
                        {
                            break;
                        }

                        // A user's other conversations come up again once this one is done.
                        if (!_inFlight.ContainsKey(pending.UserId))
                        {
                            var failed = _backingOff.TryGetValue(pending.UserId, out var backoff) ? backoff.Failures : 0;
                            _inFlight.Add(pending.UserId, SendAsync(pending, failed, stoppingToken));
                        }
                    }

                    // A full page with room left: the page held fewer users than the room, other users' may follow it.
                    if (due.Count == BatchSize && _inFlight.Count < MaxInFlight)
                    {
                        continue;
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                if (!_listFailing)
                {
                    GatewayLog.PushQueueFailed(logger, ex);
                }

                _listFailing = true;
            }

            // The next poll, or sooner when a notification is done and its slot is free.
            using var wake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            await Task.WhenAny([.. _inFlight.Values, Task.Delay(interval, time, wake.Token)]);
            await wake.CancelAsync();
        }

        // Notifications being sent see the cancellation; what is not removed is sent after the restart.
        await Task.WhenAll(_inFlight.Values);
    }

    // Notifications done are taken out of the window; a user whose try failed waits before the next, twice as
    // long after each failure in a row (from one poll interval up to LongestBackoff).
    private void Reap(DateTimeOffset now, TimeSpan interval)
    {
        foreach (var (user, task) in _inFlight.Where(e => e.Value.IsCompleted).ToList())
        {
            _inFlight.Remove(user);
            if (task.Result)
            {
                _backingOff.Remove(user);
                continue;
            }

            var failures = _backingOff.TryGetValue(user, out var backoff) ? backoff.Failures + 1 : 1;
            if (failures > 1 || _backingOff.Count < MaxBackingOff)
            {
                var wait = Doubling.After(interval, failures, LongestBackoff);
                _backingOff[user] = (now + wait, failures);
            }
        }

        // Users whose wait ended long ago are forgotten: their next failure waits from one interval again.
        foreach (var user in _backingOff.Where(e => e.Value.Next + LongestBackoff < now).Select(e => e.Key).ToList())
        {
            _backingOff.Remove(user);
        }
    }

    // True when the notification was sent (or found not to be due any more, or dropped) and removed from the queue.
    private async Task<bool> SendAsync(PendingPush pending, int failedBefore, CancellationToken stoppingToken)
    {
        // Off the polling loop: the loop goes on while this waits on the store and the providers.
        await Task.Yield();
        try
        {
            await dispatcher.DispatchAsync(pending, stoppingToken);
            await store.CompletePushAsync(pending.UserId, pending.ConversationId, pending.MessageId, pending.Count, stoppingToken);
            _sendFailing = false;
            return true;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            if (failedBefore + 1 >= MaxTries && await TryDropAsync(pending, stoppingToken))
            {
                GatewayLog.PushGivenUp(logger, pending.UserId, pending.ConversationId, MaxTries, ex);
                return true;
            }

            // Left in the queue; Reap makes its user wait before the next try.
            if (!_sendFailing)
            {
                GatewayLog.PushQueueFailed(logger, ex);
            }

            _sendFailing = true;
            return false;
        }
    }

    private async Task<bool> TryDropAsync(PendingPush pending, CancellationToken stoppingToken)
    {
        try
        {
            await store.CompletePushAsync(pending.UserId, pending.ConversationId, pending.MessageId, pending.Count, stoppingToken);
            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return false;
        }
    }
}
