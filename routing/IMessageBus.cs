namespace ChatWire.Routing;

/// <summary>What a topic is about: a conversation's events, or a user's control messages.</summary>
public enum BusTopicKind : byte
{
    Conversation = 1,
    User = 2,
}

/// <summary>A bus topic: <c>conv:{id}</c> carries a conversation's events, <c>user:{id}</c> a user's control messages.</summary>
public readonly record struct BusTopic(BusTopicKind Kind, Guid Id)
{
    public static BusTopic Conversation(Guid conversationId) => new(BusTopicKind.Conversation, conversationId);

    public static BusTopic User(Guid userId) => new(BusTopicKind.User, userId);

    public override string ToString() => Kind == BusTopicKind.Conversation ? $"conv:{Id:D}" : $"user:{Id:D}";
}

/// <summary>Receives what is published on the topics it subscribed to. Called on the publisher's or the bus's thread: return quickly.</summary>
public interface IBusSubscriber
{
    void OnPublished(BusTopic topic, ReadOnlyMemory<byte> payload);
}

/// <summary>
/// The routing port between gateway nodes: opaque payloads on topics. A node subscribes once per topic
/// (the gateway reference-counts its local sessions); the payload is serialized once by the publisher.
/// Delivery is best effort: the store is the truth and clients catch up by seq, so a lost publish costs
/// latency, never a message (DESIGN §4). Adapters: in-process (embedded), Redis pub/sub (distributed).
/// </summary>
public interface IMessageBus
{
    ValueTask PublishAsync(BusTopic topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default);

    /// <summary>Subscribes until the returned handle is disposed.</summary>
    IDisposable Subscribe(BusTopic topic, IBusSubscriber subscriber);
}
