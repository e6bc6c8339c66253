namespace ChatWire.Routing;

/// <summary>What a topic is about: a conversation's events, or what concerns one user.</summary>
public enum BusTopicKind : byte
{
    Conversation = 1,
    User = 2,
}

/// <summary>A bus topic: <c>conv:{id}</c> carries a conversation's events, <c>user:{id}</c> what concerns one user.</summary>
public readonly record struct BusTopic(BusTopicKind Kind, Guid Id)
{
    public static BusTopic Conversation(Guid conversationId) => new(BusTopicKind.Conversation, conversationId);

    public static BusTopic User(Guid userId) => new(BusTopicKind.User, userId);

    public override string ToString() => Kind == BusTopicKind.Conversation ? $"conv:{Id:D}" : $"user:{Id:D}";
}

/// <summary>
/// Receives what is published on the topics it subscribed to. Called on the publisher's or the bus's thread:
/// return quickly. The payload is valid only during the call.
/// </summary>
public interface IBusSubscriber
{
    void OnPublished(BusTopic topic, ReadOnlyMemory<byte> payload);
}

/// <summary>
/// The routing port between gateway nodes: opaque payloads on topics. A node subscribes once per topic (the
/// gateway reference-counts its local interest); the payload is serialized once by the publisher.
/// </summary>
/// <remarks>
/// Ordering, which every adapter keeps and the gateway relies on: payloads one publisher publishes (in the
/// order of its <see cref="PublishAsync"/> calls, whether or not it awaited the previous one) reach each
/// subscriber of a topic in that order; a subscriber on the publisher's own node gets them in that order
/// across topics too; and a subscriber gets one <see cref="IBusSubscriber.OnPublished"/> call at a time,
/// never two at once. Payloads from different publishers (other nodes) may interleave, and a remote
/// node may get one publisher's payloads on two topics in either order (Redis pub/sub keeps each
/// channel's messages in order, not one node's across channels). Delivery is best effort: the store is the truth and clients catch up by seq, so a lost or
/// late payload costs latency, never a message. Adapters: in-process (embedded), Redis pub/sub
/// (distributed, <c>Redis/RedisMessageBus</c>).
/// </remarks>
public interface IMessageBus
{
    ValueTask PublishAsync(BusTopic topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default);

    /// <summary>
    /// Subscribes <paramref name="subscriber"/> to <paramref name="topic"/>; payloads published after the returned
    /// task completes reach it, until the returned handle is disposed. May take a network round trip.
    /// </summary>
    ValueTask<IAsyncDisposable> SubscribeAsync(BusTopic topic, IBusSubscriber subscriber, CancellationToken cancellationToken = default);

    /// <summary>
    /// Raised (on any thread) when payloads from other nodes may have been lost: the link between nodes broke
    /// and is back. A subscriber that keeps state from payloads (routes, caches) should re-check it. The
    /// in-process bus never raises it.
    /// </summary>
    event Action? Reconnected;
}
