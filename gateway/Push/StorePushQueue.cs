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
/// not the other users. A crash between the send and the removal sends again at the next start, which the
/// sent record turns into a no-op. One node polls one database: with several nodes use the Redis queue.
/// </summary>
internal sealed class StorePushQueue(
    IPushStore store, PushDispatcher dispatcher, IOptions<PushOptions> options, TimeProvider time, ILogger<StorePushQueue> logger)
    : BackgroundService, IPushQueue
{
    /// <summary>Notifications being sent at once, each of a different user.</summary>
    public const int MaxInFlight = 16;

    private const int BatchSize = 100;

    // The sent record only has to outlive a notification's retries and a restart.
    private static readonly TimeSpan SentRecordLifetime = TimeSpan.FromDays(1);

    private readonly PushOptions _options = options.Value;

    // The notification being sent, by user; only the loop in ExecuteAsync touches it.
    private readonly Dictionary<Guid, Task> _inFlight = [];

    // Set while dispatching or listing fails: logged once per outage, not once per notification.
    private volatile bool _failing;

    public Task EnqueueAsync(IReadOnlyList<PendingPush> pushes, CancellationToken cancellationToken) =>
        store.EnqueuePushesAsync(pushes, TimeSpan.FromMilliseconds(_options.MaxFoldMs), cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(_options.PollIntervalMs);
        var nextPrune = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            foreach (var user in _inFlight.Where(e => e.Value.IsCompleted).Select(e => e.Key).ToList())
            {
                _inFlight.Remove(user);
            }

            try
            {
                var now = time.GetUtcNow();
                if (now >= nextPrune)
                {
                    await store.PrunePushSentAsync(now - SentRecordLifetime, stoppingToken);
                    nextPrune = now.AddHours(1);
                }

                if (_inFlight.Count < MaxInFlight)
                {
                    var due = await store.ListDuePushesAsync(now, BatchSize, [.. _inFlight.Keys], stoppingToken);
                    foreach (var pending in due)
                    {
                        if (_inFlight.Count == MaxInFlight)
                        {
                            break;
                        }

                        // A user's other conversations come up again once this one is done.
                        if (!_inFlight.ContainsKey(pending.UserId))
                        {
                            _inFlight.Add(pending.UserId, SendAsync(pending, stoppingToken));
                        }
                    }

                    // A full page with room left: the page was one user's, other users' may follow it.
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
                Failed(ex);
            }

            // The next poll, or sooner when a notification is done and its slot is free.
            try
            {
                await Task.WhenAny([.. _inFlight.Values, Task.Delay(interval, time, stoppingToken)]);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        // Notifications being sent see the cancellation; what is not removed is sent after the restart.
        await Task.WhenAll(_inFlight.Values);
    }

    private async Task SendAsync(PendingPush pending, CancellationToken stoppingToken)
    {
        // Off the polling loop: the loop goes on while this waits on the store and the providers.
        await Task.Yield();
        try
        {
            await dispatcher.DispatchAsync(pending, stoppingToken);
            await store.CompletePushAsync(pending.UserId, pending.ConversationId, pending.MessageId, pending.Count, stoppingToken);
            _failing = false;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Left in the queue: due again at once, so the user's slot stays taken for a poll interval first.
            Failed(ex);
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(_options.PollIntervalMs), time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private void Failed(Exception ex)
    {
        if (!_failing)
        {
            GatewayLog.PushQueueFailed(logger, ex);
        }

        _failing = true;
    }
}
