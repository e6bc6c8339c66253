using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace ChatWire.Routing;

/// <summary>
/// The embedded-mode bus: one process; a publish calls each subscriber of the topic directly, on the
/// publisher's thread, so one publisher's payloads arrive in its order. Calls from concurrent publishers
/// are serialized, so a subscriber never gets two at once.
/// </summary>
/// <remarks>
/// A subscriber that keeps its own routes (the gateway's fan-out) takes every topic at once with
/// <see cref="SubscribeEveryTopic"/> and drops what it has no route for: a subscription per topic would cost
/// it a few hundred bytes per connected user and conversation for nothing, since nothing lies between
/// publisher and subscriber here to filter.
/// </remarks>
public sealed class InProcessMessageBus : IMessageBus
{
    private readonly ConcurrentDictionary<BusTopic, ImmutableArray<IBusSubscriber>> _subscribers = new();
    private readonly Lock _delivery = new();
    private ImmutableArray<IBusSubscriber> _everyTopic = [];

    /// <summary>Never raised: nothing lies between publisher and subscriber.</summary>
    public event Action? Reconnected
    {
        add { }
        remove { }
    }

    public ValueTask PublishAsync(BusTopic topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        var everyTopic = _everyTopic;
        if (_subscribers.TryGetValue(topic, out var subscribers) || !everyTopic.IsEmpty)
        {
            // Re-entrant: a subscriber may publish or subscribe from within its callback.
            lock (_delivery)
            {
                foreach (var subscriber in everyTopic)
                {
                    subscriber.OnPublished(topic, payload);
                }

                foreach (var subscriber in subscribers.IsDefault ? [] : subscribers)
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

    /// <summary>
    /// Subscribes <paramref name="subscriber"/> to every topic: it gets each payload published from now on, in the
    /// same order and under the same lock as the subscribers of the payload's topic, until the handle is disposed.
    /// </summary>
    public IDisposable SubscribeEveryTopic(IBusSubscriber subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        ImmutableInterlocked.Update(ref _everyTopic, static (all, s) => all.Add(s), subscriber);
        return new EveryTopic(this, subscriber);
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

    private sealed class EveryTopic(InProcessMessageBus bus, IBusSubscriber subscriber) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                ImmutableInterlocked.Update(ref bus._everyTopic, static (all, s) => all.Remove(s), subscriber);
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
