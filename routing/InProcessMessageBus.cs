using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace ChatWire.Routing;

/// <summary>
/// The embedded-mode bus: one process; a publish calls each subscriber of the topic directly, on the
/// publisher's thread, so one publisher's payloads arrive in its order. Calls from concurrent publishers
/// are serialized, so a subscriber never gets two at once.
/// </summary>
public sealed class InProcessMessageBus : IMessageBus
{
    private readonly ConcurrentDictionary<BusTopic, ImmutableArray<IBusSubscriber>> _subscribers = new();
    private readonly Lock _delivery = new();

    /// <summary>Never raised: nothing lies between publisher and subscriber.</summary>
    public event Action? Reconnected
    {
        add { }
        remove { }
    }

    public ValueTask PublishAsync(BusTopic topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        if (_subscribers.TryGetValue(topic, out var subscribers))
        {
            // Re-entrant: a subscriber may publish or subscribe from within its callback.
            lock (_delivery)
            {
                foreach (var subscriber in subscribers)
                {
                    subscriber.OnPublished(topic, payload);
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<IAsyncDisposable> SubscribeAsync(BusTopic topic, IBusSubscriber subscriber, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        _subscribers.AddOrUpdate(topic, static (_, s) => [s], static (_, existing, s) => existing.Add(s), subscriber);
        return ValueTask.FromResult<IAsyncDisposable>(new Subscription(this, topic, subscriber));
    }

    private void Unsubscribe(BusTopic topic, IBusSubscriber subscriber)
    {
        while (_subscribers.TryGetValue(topic, out var existing))
        {
            var updated = existing.Remove(subscriber);
            if (updated.IsEmpty
                ? _subscribers.TryRemove(new KeyValuePair<BusTopic, ImmutableArray<IBusSubscriber>>(topic, existing))
                : _subscribers.TryUpdate(topic, updated, existing))
            {
                return;
            }
        }
    }

    private sealed class Subscription(InProcessMessageBus bus, BusTopic topic, IBusSubscriber subscriber) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                bus.Unsubscribe(topic, subscriber);
            }

            return ValueTask.CompletedTask;
        }
    }
}
