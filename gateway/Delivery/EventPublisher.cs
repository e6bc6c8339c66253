using System.Buffers;
using System.Threading.Channels;
using ChatWire.Gateway.Conversations;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Routing;
using ChatWire.Storage.Messages;

namespace ChatWire.Gateway.Delivery;

/// <summary>
/// The node's one publisher (docs/architecture.md, "How a SEND flows"). The message store hands it every
/// committed batch, in commit order; it encodes each event's EVENT frame once and publishes it on the
/// conversation's topic, and a membership change also on the subject user's topic (so the nodes holding
/// that user's connections start or stop routing the conversation). One loop publishes everything, in
/// order: the bus keeps one publisher's order, so each conversation's events reach every connection in
/// seq order. Nothing here runs on a sender's continuation: a SEND's ACK never waits for the fan-out.
/// </summary>
internal sealed class EventPublisher : BackgroundService, ICommitObserver
{
    private readonly IMessageBus _bus;
    private readonly DeliveryFanout _fanout;
    private readonly ILogger<EventPublisher> _logger;
    private readonly IDisposable _observation;

    // Committed batches not yet published, bounded in events and bytes (see WaitForRoom): when fan-out falls
    // behind, the store's writer waits before its next commit, so SENDs slow to the pace of delivery (their
    // queue is bounded too) and memory stays flat, instead of a backlog growing here and every delivery
    // coming later and later.
    private readonly Channel<IReadOnlyList<StoredEvent>> _batches = Channel.CreateUnbounded<IReadOnlyList<StoredEvent>>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    private readonly ManualResetEventSlim _room = new(initialState: true);
    private long _pendingEvents;
    private long _pendingBytes;
    private volatile bool _stopping;

    private readonly ArrayBufferWriter<byte> _scratch = new(1024);

    public EventPublisher(IMessageStore store, IMessageBus bus, DeliveryFanout fanout, ILogger<EventPublisher> logger)
    {
        _bus = bus;
        _fanout = fanout;
        _logger = logger;
        _observation = store.ObserveCommits(this);
    }

    /// <summary>
    /// Committed events the publisher may hold before the store's writer waits for it, while this node's
    /// deliveries keep up: one whole writer batch (the stores' default MaxBatchSize, 256), so the publisher
    /// works through one batch while the next commits, instead of the writer stopping after every batch until
    /// all of it is published (with 64, the writer spent about a tenth of its time in that wait under a durable
    /// SEND load). A batch is taken whole, then the writer waits before its next commit.
    /// </summary>
    public const int MaxEventsPending = 256;

    /// <summary>
    /// The bound while the delivery lanes are behind (<see cref="DeliveryFanout.IsBehind"/>): the backlog of a
    /// large fan-out is held in the lanes, counted in deliveries, and a long queue here as well would only add
    /// its length to every delivery's wait.
    /// </summary>
    public const int MaxEventsPendingWhileDeliveryBehind = 64;

    /// <summary>Content bytes the publisher may hold before the store's writer waits for it.</summary>
    public const long MaxBytesPending = 8L * 1024 * 1024;

    // On the store's writer thread, before the batch's SEND_ACKs: takes the batch whole and returns.
    public void OnCommitted(IReadOnlyList<StoredEvent> events)
    {
        if (_stopping)
        {
            return;
        }

        Interlocked.Add(ref _pendingEvents, events.Count);
        Interlocked.Add(ref _pendingBytes, ContentBytes(events));
        _batches.Writer.TryWrite(events);
    }

    // On the store's writer thread, which exists to wait, after the batch's SEND_ACKs and before its next
    // commit: blocking it is the backpressure. The wait is in short steps, so a stopping publisher never
    // holds it for long.
    public void WaitForRoom()
    {
        while (!_stopping && IsFull())
        {
            _room.Reset();
            if (IsFull())
            {
                _room.Wait(50);
            }
        }
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        // Nothing may wait on a publisher that has stopped reading.
        _stopping = true;
        _batches.Writer.TryComplete();
        _room.Set();
        return base.StopAsync(cancellationToken);
    }

    /// <summary>
    /// Writes <paramref name="frame"/> (a pushed frame such as READ_STATE) to every connection of the user, on
    /// whichever nodes hold them. Not stored: a connection that is not open misses it and learns the same
    /// from SYNC.
    /// </summary>
    public ValueTask PublishToUserAsync<T>(Guid userId, in T frame)
        where T : struct, IFrame<T>
    {
        var encoded = new ArrayBufferWriter<byte>(64);
        FrameCodec.Write(encoded, frame);
        return _bus.PublishAsync(BusTopic.User(userId), BusEnvelope.ForUserFrame(encoded.WrittenSpan));
    }

    /// <summary>
    /// Writes <paramref name="frame"/> (an ephemeral frame such as USER_TYPING) to the connections of every
    /// member of the conversation but <paramref name="exceptUserId"/>, on whichever nodes hold them. Not
    /// stored, and dropped rather than queued behind a backlog.
    /// </summary>
    public ValueTask PublishToConversationAsync<T>(Guid conversationId, Guid exceptUserId, in T frame)
        where T : struct, IFrame<T>
    {
        var encoded = new ArrayBufferWriter<byte>(64);
        FrameCodec.Write(encoded, frame);
        return _bus.PublishAsync(BusTopic.Conversation(conversationId), BusEnvelope.ForConversationFrame(conversationId, exceptUserId, encoded.WrittenSpan));
    }

    /// <summary>Tells every node holding a connection of the device's user to close it (SESSION_REVOKED).</summary>
    public ValueTask PublishRevocationAsync(Guid userId, Guid deviceId) =>
        _bus.PublishAsync(BusTopic.User(userId), BusEnvelope.ForRevocation(deviceId));

    public override void Dispose()
    {
        _observation.Dispose();
        _stopping = true;
        _batches.Writer.TryComplete();
        _room.Set();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var publishing = new List<Task>();
        try
        {
            await foreach (var batch in _batches.Reader.ReadAllAsync(stoppingToken))
            {
                foreach (var stored in batch)
                {
                    try
                    {
                        Publish(stored, publishing);
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        // A lost publish costs latency, never a message: clients fill gaps from the store.
                        GatewayLog.PublishFailed(_logger, stored.ConversationId, stored.Seq, ex);
                    }
                }

                // Published in order without waiting for each; the bus keeps the order. Waiting per batch
                // keeps the number of publishes in flight bounded.
                await AwaitAllAsync(publishing);
                Interlocked.Add(ref _pendingEvents, -batch.Count);
                Interlocked.Add(ref _pendingBytes, -ContentBytes(batch));
                if (!IsFull())
                {
                    _room.Set();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            // However the loop ended, the writer must never wait for it again.
            _stopping = true;
            _room.Set();
        }
    }

    private bool IsFull() =>
        Interlocked.Read(ref _pendingEvents) > (_fanout.IsBehind ? MaxEventsPendingWhileDeliveryBehind : MaxEventsPending)
        || Interlocked.Read(ref _pendingBytes) > MaxBytesPending;

    private static long ContentBytes(IReadOnlyList<StoredEvent> events)
    {
        long bytes = 0;
        foreach (var e in events)
        {
            bytes += e.Content.Length;
        }

        return bytes;
    }

    private void Publish(StoredEvent stored, List<Task> publishing)
    {
        _scratch.ResetWrittenCount();
        FrameCodec.Write(_scratch, new EventFrame(EventMapping.ToProtocol(stored)));
        var payload = BusEnvelope.ForEvent(stored, _scratch.WrittenSpan);
        Track(_bus.PublishAsync(BusTopic.Conversation(stored.ConversationId), payload), publishing);
        if (stored.Kind is Storage.Messages.EventKind.MemberJoined or Storage.Messages.EventKind.MemberLeft && stored.SubjectId is { } subject)
        {
            Track(_bus.PublishAsync(BusTopic.User(subject), payload), publishing);
        }
    }

    private static void Track(ValueTask publish, List<Task> publishing)
    {
        if (!publish.IsCompletedSuccessfully)
        {
            publishing.Add(publish.AsTask());
        }
    }

    private async Task AwaitAllAsync(List<Task> publishing)
    {
        foreach (var publish in publishing)
        {
            try
            {
                await publish;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                GatewayLog.PublishFailed(_logger, Guid.Empty, 0, ex);
            }
        }

        publishing.Clear();
    }
}
