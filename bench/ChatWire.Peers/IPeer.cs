namespace ChatWire.Peers;

/// <summary>One peer server as the scenarios see it: subscribers on a topic and one publisher.</summary>
internal interface IPeer
{
    /// <summary>Opens a connection subscribed to <paramref name="topic"/>; returns once the server confirmed the subscription.</summary>
    Task<IPeerSubscription> SubscribeAsync(string topic);

    /// <summary>Opens the publisher's connection.</summary>
    Task<IPeerPublisher> ConnectPublisherAsync();
}

internal interface IPeerSubscription : IAsyncDisposable
{
    /// <summary>
    /// Receives until <paramref name="count"/> messages arrived or the connection closed, and writes the latency of
    /// the i-th (from the send time its payload starts with) to <paramref name="latencies"/>[i].
    /// </summary>
    Task ReceiveAsync(int count, float[] latencies);
}

internal interface IPeerPublisher : IAsyncDisposable
{
    /// <summary>Publishes the bodies to <paramref name="topic"/> and returns once the server confirmed all of them.</summary>
    Task PublishBatchAsync(string topic, IReadOnlyList<string> bodies);
}
