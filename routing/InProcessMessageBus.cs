using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace ChatWire.Routing;

/// <summary>The embedded-mode bus: one process, publish calls each subscriber of the topic directly.</summary>
public sealed class InProcessMessageBus : IMessageBus
{
    private readonly ConcurrentDictionary<BusTopic, ImmutableArray<IBusSubscriber>> _subscribers = new();

    public ValueTask PublishAsync(BusTopic topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        if (_subscribers.TryGetValue(topic, out var subscribers))
        {
            foreach (var subscriber in subscribers)
            {
                subscriber.OnPublished(topic, payload);
            }
        }

        return ValueTask.CompletedTask;
    }

    public IDisposable Subscribe(BusTopic topic, IBusSubscriber subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        _subscribers.AddOrUpdate(topic, static (_, s) => [s], static (_, existing, s) => existing.Add(s), subscriber);
        return new Subscription(this, topic, subscriber);
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

    private sealed class Subscription(InProcessMessageBus bus, BusTopic topic, IBusSubscriber subscriber) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                bus.Unsubscribe(topic, subscriber);
            }
        }
    }
}
