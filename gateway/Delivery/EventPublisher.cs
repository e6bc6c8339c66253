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
    private readonly ILogger<EventPublisher> _logger;
    private readonly IDisposable _observation;

    // Unbounded, but fed only by the store's writer, whose queue is bounded: a burst waits there, not here.
    private readonly Channel<IReadOnlyList<StoredEvent>> _batches = Channel.CreateUnbounded<IReadOnlyList<StoredEvent>>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    private readonly ArrayBufferWriter<byte> _scratch = new(1024);

    public EventPublisher(IMessageStore store, IMessageBus bus, ILogger<EventPublisher> logger)
    {
        _bus = bus;
        _logger = logger;
        _observation = store.ObserveCommits(this);
    }

    public void OnCommitted(IReadOnlyList<StoredEvent> events) => _batches.Writer.TryWrite(events);

    /// <summary>Tells every node holding a connection of the device's user to close it (SESSION_REVOKED).</summary>
    public ValueTask PublishRevocationAsync(Guid userId, Guid deviceId) =>
        _bus.PublishAsync(BusTopic.User(userId), BusEnvelope.ForRevocation(deviceId));

    public override void Dispose()
    {
        _observation.Dispose();
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
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
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
