using ChatWire.Storage.Push;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Push;

/// <summary>
/// The queue in the directory database (<c>Push:Queue = store</c>, the embedded mode): pending notifications
/// are rows, so a restart loses none; every poll interval the due ones are dispatched, then removed unless
/// another message was folded into them meanwhile (that one is then due at its own time, counting only the
/// messages after the ones just announced). A crash between the send and the removal sends again at the
/// next start, which the sent record turns into a no-op. One node polls one database: with several nodes use
/// the Redis queue.
/// </summary>
internal sealed class StorePushQueue(
    IPushStore store, PushDispatcher dispatcher, IOptions<PushOptions> options, TimeProvider time, ILogger<StorePushQueue> logger)
    : BackgroundService, IPushQueue
{
    private const int BatchSize = 100;

    // The sent record only has to outlive a notification's retries and a restart.
    private static readonly TimeSpan SentRecordLifetime = TimeSpan.FromDays(1);

    private readonly PushOptions _options = options.Value;

    public Task EnqueueAsync(IReadOnlyList<PendingPush> pushes, CancellationToken cancellationToken) =>
        store.EnqueuePushesAsync(pushes, TimeSpan.FromMilliseconds(_options.MaxFoldMs), cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(_options.PollIntervalMs);
        var nextPrune = DateTimeOffset.MinValue;
        var failing = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var now = time.GetUtcNow();
                if (now >= nextPrune)
                {
                    await store.PrunePushSentAsync(now - SentRecordLifetime, stoppingToken);
                    nextPrune = now.AddHours(1);
                }

                var due = await store.ListDuePushesAsync(now, BatchSize, stoppingToken);
                failing = false;
                await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = stoppingToken }, async (pending, ct) =>
                {
                    await dispatcher.DispatchAsync(pending, ct);
                    await store.CompletePushAsync(pending.UserId, pending.ConversationId, pending.MessageId, pending.Count, ct);
                });

                if (due.Count == BatchSize)
                {
                    continue;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Once per outage, not once per poll.
                if (!failing)
                {
                    GatewayLog.PushQueueFailed(logger, ex);
                }

                failing = true;
            }

            try
            {
                await Task.Delay(interval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
