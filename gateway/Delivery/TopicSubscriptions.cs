using ChatWire.Routing;

namespace ChatWire.Gateway.Delivery;

/// <summary>
/// The node's bus subscriptions, reference counted per topic. <see cref="Acquire"/> and <see cref="Release"/>
/// only count and queue the topic, so the fan-out may call them under its lock; <see cref="ApplyAsync"/>,
/// called after that lock is released, brings the bus in line, one topic at a time in the order queued (a
/// subscribe and the unsubscribe that follows it are never reordered). With the in-process bus everything
/// completes synchronously inside the call.
/// </summary>
internal sealed class TopicSubscriptions(IMessageBus bus, IBusSubscriber subscriber, ILogger logger)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<BusTopic, Entry> _entries = [];
    private readonly Queue<BusTopic> _queued = new();
    private TaskCompletionSource? _draining;

    /// <summary>Topics with a live subscription (for tests and metrics).</summary>
    public int ActiveCount
    {
        get
        {
            lock (_lock)
            {
                return _entries.Values.Count(e => e.Subscription is not null);
            }
        }
    }

    public void Acquire(BusTopic topic)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(topic, out var entry))
            {
                entry = new Entry();
                _entries[topic] = entry;
            }

            if (entry.Count++ == 0)
            {
                _queued.Enqueue(topic);
            }
        }
    }

    public void Release(BusTopic topic)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(topic, out var entry) && entry.Count > 0 && --entry.Count == 0)
            {
                _queued.Enqueue(topic);
            }
        }
    }

    /// <summary>
    /// Applies every queued change; the task completes when the changes queued before this call (and any
    /// queued meanwhile) are in effect: a topic acquired before it is subscribed when it completes.
    /// </summary>
    public Task ApplyAsync()
    {
        TaskCompletionSource draining;
        lock (_lock)
        {
            if (_draining is { } running)
            {
                // The running drain takes what was queued before this call, too.
                return running.Task;
            }

            if (_queued.Count == 0)
            {
                return Task.CompletedTask;
            }

            draining = _draining = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        _ = DrainAsync(draining);
        return draining.Task;
    }

    private async Task DrainAsync(TaskCompletionSource draining)
    {
        while (true)
        {
            BusTopic topic;
            lock (_lock)
            {
                if (!_queued.TryDequeue(out topic))
                {
                    _draining = null;
                    break;
                }
            }

            try
            {
                await ReconcileAsync(topic);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The store is the truth: a topic that could not be (un)subscribed costs its connections
                // real-time delivery until the next change, never a message (they catch up by seq).
                GatewayLog.SubscriptionFailed(logger, topic.ToString(), ex);
            }
        }

        draining.TrySetResult();
    }

    // Only the drain changes subscriptions, one topic at a time, so Entry.Subscription needs no other guard.
    private async Task ReconcileAsync(BusTopic topic)
    {
        Entry? entry;
        bool wanted;
        lock (_lock)
        {
            if (!_entries.TryGetValue(topic, out entry))
            {
                return;
            }

            wanted = entry.Count > 0;
            if (!wanted && entry.Subscription is null)
            {
                _entries.Remove(topic);
                return;
            }
        }

        if (wanted && entry.Subscription is null)
        {
            entry.Subscription = await bus.SubscribeAsync(topic, subscriber);
            return;
        }

        if (!wanted && entry.Subscription is { } subscription)
        {
            entry.Subscription = null;
            lock (_lock)
            {
                if (entry.Count == 0)
                {
                    _entries.Remove(topic);
                }
            }

            await subscription.DisposeAsync();
        }
    }

    private sealed class Entry
    {
        public int Count { get; set; }

        public IAsyncDisposable? Subscription { get; set; }
    }
}
