using ChatWire.Routing;

namespace ChatWire.Gateway.Delivery;

/// <summary>
/// The node's bus subscriptions, reference counted per topic. <see cref="Acquire"/> and <see cref="Release"/>
/// only count and queue the topic, so the fan-out may call them under its lock; <see cref="ApplyAsync"/>,
/// called after that lock is released, brings the bus in line, one topic at a time in the order queued (a
/// subscribe and the unsubscribe that follows it are never reordered). Used with the Redis bus; the fan-out
/// takes every topic from the in-process bus instead.
/// </summary>
/// <remarks>
/// With a linger (the Redis bus: <see cref="Hosting.GatewayOptions.TopicLingerMs"/>), a topic whose last local
/// interest goes stays subscribed for at least the linger and at most twice it, and is unsubscribed only if
/// nothing acquired it again meanwhile. A device that reconnects, or a user who closes and opens the app, then
/// costs the bus no SUBSCRIBE and UNSUBSCRIBE per conversation: an account in a thousand channels connecting in
/// a loop would otherwise queue thousands of them a second ahead of every other user's. A lingering topic's
/// payloads still arrive and are dropped by the fan-out, which has no route for them.
/// </remarks>
internal sealed class TopicSubscriptions : IDisposable
{
    private readonly IMessageBus _bus;
    private readonly IBusSubscriber _subscriber;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _linger;
    private readonly ITimer? _sweep;
    private readonly Lock _lock = new();
    private readonly Dictionary<BusTopic, Entry> _entries = [];
    private readonly Queue<BusTopic> _queued = new();

    // Topics released with a linger, at most once each, in the order released (an entry released again while
    // queued here goes to the back when its turn comes).
    private readonly Queue<(BusTopic Topic, Entry Entry, long ReleasedAt)> _lingering = new();
    private TaskCompletionSource? _draining;

    public TopicSubscriptions(IMessageBus bus, IBusSubscriber subscriber, ILogger logger, TimeSpan linger = default, TimeProvider? time = null)
    {
        _bus = bus;
        _subscriber = subscriber;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _linger = linger > TimeSpan.Zero ? linger : TimeSpan.Zero;
        if (_linger > TimeSpan.Zero)
        {
            var period = _linger < TimeSpan.FromSeconds(1) ? _linger : TimeSpan.FromSeconds(1);
            _sweep = _time.CreateTimer(static state => ((TopicSubscriptions)state!).OnSweep(), this, period, period);
        }
    }

    /// <summary>Topics with a live subscription, lingering ones included (for tests and metrics).</summary>
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

    /// <summary>Topics kept subscribed with no local interest, waiting for their linger to end.</summary>
    public int LingeringCount
    {
        get
        {
            lock (_lock)
            {
                return _entries.Values.Count(e => e.Count == 0 && e.Subscription is not null);
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

            // Queued even when a lingering subscription is still in place: the drain may be unsubscribing it at
            // this moment, and brings it back if so. Otherwise the drain finds nothing to do.
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
            if (!_entries.TryGetValue(topic, out var entry) || entry.Count == 0 || --entry.Count > 0)
            {
                return;
            }

            if (_linger == TimeSpan.Zero)
            {
                _queued.Enqueue(topic);
                return;
            }

            entry.ReleasedAt = _time.GetTimestamp();
            if (!entry.Lingering)
            {
                entry.Lingering = true;
                _lingering.Enqueue((topic, entry, entry.ReleasedAt));
            }
        }
    }

    /// <summary>
    /// Queues the unsubscribe of every topic whose linger has ended with no interest taken again; returns how many.
    /// Run by a timer every second (or every linger, if shorter), followed by <see cref="ApplyAsync"/>.
    /// </summary>
    internal int SweepLingering()
    {
        var ended = 0;
        lock (_lock)
        {
            while (_lingering.TryPeek(out var head) && _time.GetElapsedTime(head.ReleasedAt) >= _linger)
            {
                _lingering.Dequeue();
                var entry = head.Entry;
                if (entry.Count > 0 || !_entries.TryGetValue(head.Topic, out var current) || current != entry)
                {
                    // Taken again, or gone without ever being subscribed: nothing to undo.
                    entry.Lingering = false;
                }
                else if (entry.ReleasedAt != head.ReleasedAt && _time.GetElapsedTime(entry.ReleasedAt) < _linger)
                {
                    // Taken and released again since: its linger counts from then.
                    _lingering.Enqueue((head.Topic, entry, entry.ReleasedAt));
                }
                else
                {
                    entry.Lingering = false;
                    _queued.Enqueue(head.Topic);
                    ended++;
                }
            }
        }

        return ended;
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

    /// <summary>Stops the linger's timer. Subscriptions are left to the bus, which closes them with the node.</summary>
    public void Dispose() => _sweep?.Dispose();

    private void OnSweep()
    {
        if (SweepLingering() > 0)
        {
            _ = ApplyAsync();
        }
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
                GatewayLog.SubscriptionFailed(_logger, topic.ToString(), ex);
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
            if (!wanted && entry.Lingering)
            {
                // Released again after the unsubscribe was queued: the sweep brings it back when the new linger ends.
                return;
            }

            if (!wanted && entry.Subscription is null)
            {
                _entries.Remove(topic);
                return;
            }
        }

        if (wanted && entry.Subscription is null)
        {
            entry.Subscription = await _bus.SubscribeAsync(topic, _subscriber);
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

        /// <summary>Whether the entry is in the linger queue.</summary>
        public bool Lingering { get; set; }

        /// <summary>When the last interest went (<see cref="TimeProvider.GetTimestamp"/>).</summary>
        public long ReleasedAt { get; set; }
    }
}
