using System.Diagnostics;
using ChatWire.Storage.Messages;
using Prometheus;

namespace ChatWire.Gateway.Observability;

/// <summary>
/// The message store with each read and update timed (<c>chatwire_store_operation_duration_seconds</c>) and
/// each failure counted (<c>chatwire_store_errors_total</c>). Appends pass straight through: the writer's
/// batches are measured where they are committed (<see cref="ICommitObserver.OnBatchWritten"/>).
/// </summary>
internal sealed class TimedMessageStore : IMessageStore
{
    private readonly IMessageStore _inner;
    private readonly Operation _read;
    private readonly Operation _details;
    private readonly Operation _locate;
    private readonly Operation _findStored;
    private readonly Operation _markRead;
    private readonly Operation _stats;
    private readonly Operation _cursors;
    private readonly Operation _furthestCursor;
    private readonly Operation _latest;
    private readonly Operation _usage;

    public TimedMessageStore(IMessageStore inner, GatewayMetrics metrics)
    {
        _inner = inner;
        _read = new Operation(metrics, "read");
        _details = new Operation(metrics, "message_details");
        _locate = new Operation(metrics, "locate_message");
        _findStored = new Operation(metrics, "find_stored");
        _markRead = new Operation(metrics, "mark_read");
        _stats = new Operation(metrics, "stats");
        _cursors = new Operation(metrics, "set_device_cursors");
        _furthestCursor = new Operation(metrics, "furthest_device_cursor");
        _latest = new Operation(metrics, "latest_seqs");
        _usage = new Operation(metrics, "usage");
    }

    public ValueTask<Task<AppendResult>> EnqueueAsync(NewEvent newEvent, CancellationToken cancellationToken = default) =>
        _inner.EnqueueAsync(newEvent, cancellationToken);

    public Task<IReadOnlyList<StoredEvent>> ReadAsync(Guid conversationId, ulong fromSeq, ReadDirection direction, int limit, long maxContentBytes = long.MaxValue, Guid? threadRootId = null, CancellationToken cancellationToken = default) =>
        _read.TimeAsync(Stopwatch.GetTimestamp(), _inner.ReadAsync(conversationId, fromSeq, direction, limit, maxContentBytes, threadRootId, cancellationToken));

    public Task<IReadOnlyDictionary<Guid, MessageDetails>> GetMessageDetailsAsync(Guid conversationId, IReadOnlyCollection<Guid> messageIds, Guid readerUserId, CancellationToken cancellationToken = default) =>
        _details.TimeAsync(Stopwatch.GetTimestamp(), _inner.GetMessageDetailsAsync(conversationId, messageIds, readerUserId, cancellationToken));

    public Task<IReadOnlyList<(Guid ConversationId, ulong Seq)>> LocateMessageAsync(Guid messageId, CancellationToken cancellationToken = default) =>
        _locate.TimeAsync(Stopwatch.GetTimestamp(), _inner.LocateMessageAsync(messageId, cancellationToken));

    public Task<AppendResult?> FindStoredAsync(NewEvent newEvent, CancellationToken cancellationToken = default) =>
        _findStored.TimeAsync(Stopwatch.GetTimestamp(), _inner.FindStoredAsync(newEvent, cancellationToken));

    public Task<ConversationStats> MarkReadAsync(Guid userId, Guid conversationId, ulong seq, CancellationToken cancellationToken = default) =>
        _markRead.TimeAsync(Stopwatch.GetTimestamp(), _inner.MarkReadAsync(userId, conversationId, seq, cancellationToken));

    public Task<IReadOnlyDictionary<Guid, ConversationStats>> GetStatsAsync(Guid userId, IReadOnlyCollection<Guid> conversationIds, Guid? deviceId = null, CancellationToken cancellationToken = default) =>
        _stats.TimeAsync(Stopwatch.GetTimestamp(), _inner.GetStatsAsync(userId, conversationIds, deviceId, cancellationToken));

    public Task<ulong> GetFurthestDeviceCursorAsync(Guid conversationId, IReadOnlyCollection<Guid> deviceIds, CancellationToken cancellationToken = default) =>
        _furthestCursor.TimeAsync(Stopwatch.GetTimestamp(), _inner.GetFurthestDeviceCursorAsync(conversationId, deviceIds, cancellationToken));

    public Task SetDeviceCursorsAsync(Guid deviceId, IReadOnlyCollection<(Guid ConversationId, ulong Seq)> cursors, CancellationToken cancellationToken = default) =>
        _cursors.TimeAsync(Stopwatch.GetTimestamp(), _inner.SetDeviceCursorsAsync(deviceId, cursors, cancellationToken));

    public Task<IReadOnlyDictionary<Guid, ulong>> GetLatestSeqsAsync(IReadOnlyCollection<Guid> conversationIds, CancellationToken cancellationToken = default) =>
        _latest.TimeAsync(Stopwatch.GetTimestamp(), _inner.GetLatestSeqsAsync(conversationIds, cancellationToken));

    public IDisposable ObserveCommits(ICommitObserver observer) => _inner.ObserveCommits(observer);

    public Task<IReadOnlyDictionary<Guid, long>> GetUsageAsync(IReadOnlyCollection<Guid> ownerIds, CancellationToken cancellationToken = default) =>
        _usage.TimeAsync(Stopwatch.GetTimestamp(), _inner.GetUsageAsync(ownerIds, cancellationToken));

    // One operation's timer and error counter, their labelled children made once. The start is taken before
    // the store is called, so the synchronous part of the call (opening a connection, say) is counted too.
    private sealed class Operation(GatewayMetrics metrics, string name)
    {
        private readonly Histogram.Child _duration = metrics.StoreOperation(name);
        private readonly Counter.Child _errors = metrics.StoreErrors(name);

        public async Task<T> TimeAsync<T>(long started, Task<T> operation)
        {
            try
            {
                return await operation.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _errors.Inc();
                throw;
            }
            finally
            {
                _duration.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
        }

        public async Task TimeAsync(long started, Task operation)
        {
            try
            {
                await operation.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _errors.Inc();
                throw;
            }
            finally
            {
                _duration.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }
        }
    }
}
