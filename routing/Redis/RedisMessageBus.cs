using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using StackExchange.Redis;

namespace ChatWire.Routing.Redis;

/// <summary>
/// The distributed mode's bus: Redis pub/sub through StackExchange.Redis, one Redis channel per topic
/// (<c>chatwire:conv:{id}</c>, <c>chatwire:user:{id}</c>).
/// </summary>
/// <remarks>
/// <para>
/// Interest: the node subscribes to a topic's Redis channel when its first local subscriber arrives and
/// unsubscribes when the last leaves (the gateway already subscribes once per topic; several local
/// subscribers of one topic still share one Redis subscription). A publish is one <c>PUBLISH</c>, whatever
/// the number of nodes or recipients: Redis hands it to each subscribed node once, and the node writes the
/// same bytes to every local recipient.
/// </para>
/// <para>
/// Local first: a publish reaches this node's own subscribers at once, in the publisher's call, as the
/// in-process bus does; the copy Redis echoes back is recognised by the node id it carries (every payload
/// on the wire is prefixed with its origin node's 16-byte id) and dropped. So a node keeps delivering to
/// its own connections while Redis is down or restarting, and a local recipient does not pay a round trip.
/// </para>
/// <para>
/// Ordering: one publisher's payloads reach a local subscriber in publish order across topics. Across
/// nodes Redis keeps one connection's publishes in order, and each topic's channel has a queue that
/// StackExchange.Redis fills in arrival order, so a remote subscriber gets one publisher's payloads in order
/// per topic; payloads on different topics from one remote publisher may be handed over in either order
/// (see <see cref="IMessageBus"/>). A subscriber never gets two calls at once: every delivery, local or
/// remote, is made under one lock.
/// </para>
/// <para>
/// Memory: a queue per subscribed channel is what keeps the order (the library's handler subscriptions are
/// called on the thread pool, one work item per message, in no promised order), but nothing reads it in a
/// loop of its own: one handler, shared by every channel, is the doorbell that drains the channel's queue
/// (0.38 KB less per subscribed topic than a loop per channel, of about 3.4 KB; docs/performance.md, "Redis
/// bus: bytes per subscribed topic").
/// </para>
/// <para>
/// Best effort, never blocking: a publish is fire-and-forget and fails fast while Redis is unreachable.
/// The node keeps its last minute of publishes (bounded: 10,000 payloads, 16 MiB) and, when the connection
/// comes back, publishes again those from shortly before the outage on, so other nodes' devices get what
/// they missed without waiting for their next event; receivers drop duplicates by seq. The store is the
/// truth either way. StackExchange.Redis re-subscribes every subscribed channel when the connection comes
/// back, and the node keeps trying the channels it could not subscribe while Redis was away;
/// <see cref="Reconnected"/> tells the gateway, so it can re-check what it may have missed.
/// </para>
/// </remarks>
public sealed class RedisMessageBus : IMessageBus, IAsyncDisposable
{
    private const string ChannelPrefix = "chatwire:";
    private const int OriginLength = 16;

    private readonly IConnectionMultiplexer _redis;
    private readonly ISubscriber _subscriber;

    // One delegate for every channel: the topic is read back from the channel's name.
    private readonly Action<RedisChannel, RedisValue> _doorbell;
    private readonly byte[] _origin = new byte[OriginLength];
    private readonly ConcurrentDictionary<BusTopic, Interest> _interests = new();
    private readonly SemaphoreSlim _subscriptionChanges = new(1, 1);
    private readonly Lock _delivery = new();
    private long _published;
    private long _received;
    private long _publishFailures;
    private long _subscribeFailures;
    private long _replayed;
    private long _failedAt = long.MaxValue;
    private readonly RecentPublishes _recent = new();

    // Topics with local subscribers whose channel is not subscribed yet (Redis was away); under _subscriptionChanges.
    private readonly HashSet<BusTopic> _unsubscribed = [];
    private readonly CancellationTokenSource _stopping = new();
    private int _retryScheduled;

    /// <param name="redis">The node's Redis connection (shared with presence).</param>
    /// <param name="nodeId">This node's id; payloads carrying it are this node's own and are not delivered twice.</param>
    public RedisMessageBus(IConnectionMultiplexer redis, Guid nodeId)
    {
        ArgumentNullException.ThrowIfNull(redis);
        _redis = redis;
        _subscriber = redis.GetSubscriber();
        _doorbell = OnDoorbell;
        nodeId.TryWriteBytes(_origin, bigEndian: true, out _);
        redis.ConnectionRestored += OnConnectionRestored;
        redis.ConnectionFailed += OnConnectionFailed;
    }

    /// <summary>Raised (on a thread-pool thread) when the connection to Redis is back after a failure.</summary>
    public event Action? Reconnected;

    /// <summary>PUBLISH commands sent.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Payloads received from other nodes through Redis.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Publishes that could not be sent (Redis unreachable).</summary>
    public long PublishFailures => Interlocked.Read(ref _publishFailures);

    /// <summary>SUBSCRIBE attempts that failed (Redis unreachable); each channel is tried again until it is subscribed.</summary>
    public long SubscribeFailures => Interlocked.Read(ref _subscribeFailures);

    /// <summary>Topics this node has local subscribers for (each with its Redis subscription, or waiting for Redis to come back).</summary>
    public int SubscribedTopics => _interests.Count;

    public ValueTask PublishAsync(BusTopic topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        if (_interests.TryGetValue(topic, out var interest))
        {
            Deliver(topic, interest, payload);
        }

        var wire = new byte[OriginLength + payload.Length];
        _origin.CopyTo(wire, 0);
        payload.Span.CopyTo(wire.AsSpan(OriginLength));
        var channel = ChannelOf(topic);
        if (ReplayAfterOutage?.Invoke(payload.Span) ?? true)
        {
            _recent.Add(topic, wire);
        }

        try
        {
            // PUBLISH goes over the interactive connection; the subscription connection is checked too, since a
            // node whose subscriptions are down is in an outage either way and replays when they are back.
            if (!_redis.IsConnected || !_subscriber.IsConnected(channel))
            {
                // A fire-and-forget command to an unreachable server is dropped without a word: count it here.
                OnPublishFailed();
                return ValueTask.CompletedTask;
            }

            _subscriber.Publish(channel, wire, CommandFlags.FireAndForget);
            Interlocked.Increment(ref _published);
        }
        catch (RedisException)
        {
            // Unreachable (fail-fast backlog policy): replayed when the connection is back.
            OnPublishFailed();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Which payloads are worth publishing again after an outage (default: all). Ephemeral ones, such as a
    /// typing indicator, are stale by then; the gateway says so here.
    /// </summary>
    public Func<ReadOnlySpan<byte>, bool>? ReplayAfterOutage { get; set; }

    /// <summary>Payloads published again after an outage.</summary>
    public long Replayed => Interlocked.Read(ref _replayed);

    public async ValueTask<IAsyncDisposable> SubscribeAsync(BusTopic topic, IBusSubscriber subscriber, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        await _subscriptionChanges.WaitAsync(cancellationToken);
        try
        {
            if (_interests.TryGetValue(topic, out var interest))
            {
                interest.Subscribers = interest.Subscribers.Add(subscriber);
            }
            else
            {
                interest = new Interest { Subscribers = [subscriber] };
                _interests[topic] = interest;
                await SubscribeChannelAsync(topic, interest);
            }
        }
        finally
        {
            _subscriptionChanges.Release();
        }

        return new Subscription(this, topic, subscriber);
    }

    // Called under _subscriptionChanges. While Redis is unreachable the interest is kept without its channel
    // (local subscribers are served all the same) and subscribed again later: at once when the subscription
    // connection is back, and every SubscribeRetryInterval until it works (a SUBSCRIBE can also fail in the
    // moment between the connection coming back and being ready, and nothing else would try again).
    private async Task<bool> SubscribeChannelAsync(BusTopic topic, Interest interest)
    {
        var channel = ChannelOf(topic);
        try
        {
            // The queue first: its SUBSCRIBE is confirmed before it returns, and from then on the library writes
            // every message of the channel into it. Then the doorbell (no second SUBSCRIBE): every message after
            // it rings it. What arrived in between, and whatever a doorbell rang before the queue was known here,
            // the drain below takes, so nothing that came after the SUBSCRIBE is left unread.
            var queue = await _subscriber.SubscribeAsync(channel);
            await _subscriber.SubscribeAsync(channel, _doorbell);
            interest.Queue = queue;
            _unsubscribed.Remove(topic);
            Drain(topic, interest);
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Interlocked.Increment(ref _subscribeFailures);
            interest.Queue = null;

            // StackExchange.Redis keeps the queue and handler of a failed SUBSCRIBE registered and subscribes
            // them again on reconnection, where nobody would read the queue (its messages would pile up
            // unread): drop them. Nothing else of this node's is on the channel, since the interest had none.
            try
            {
                _subscriber.Unsubscribe(channel, null, CommandFlags.FireAndForget);
            }
            catch (RedisException)
            {
            }

            _unsubscribed.Add(topic);
            ScheduleSubscribeRetry();
            return false;
        }
    }

    // The channels that could not be subscribed, one by one until one fails (Redis is likely away again:
    // the rest wait for the next try rather than each failing on its own).
    private async Task SubscribeMissingAsync()
    {
        try
        {
            await _subscriptionChanges.WaitAsync(_stopping.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        try
        {
            foreach (var topic in _unsubscribed.ToArray())
            {
                if (!_interests.TryGetValue(topic, out var interest) || interest.Queue is not null)
                {
                    _unsubscribed.Remove(topic);
                }
                else if (!await SubscribeChannelAsync(topic, interest))
                {
                    break;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // The connection was closed under us: the node is stopping.
        }
        finally
        {
            _subscriptionChanges.Release();
        }
    }

    private void ScheduleSubscribeRetry()
    {
        if (Interlocked.Exchange(ref _retryScheduled, 1) == 0)
        {
            _ = RetrySubscribeAsync();
        }
    }

    private async Task RetrySubscribeAsync()
    {
        try
        {
            await Task.Delay(SubscribeRetryInterval, _stopping.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        Volatile.Write(ref _retryScheduled, 0);
        await SubscribeMissingAsync();
    }

    /// <summary>How often a channel that could not be subscribed is tried again while it still fails.</summary>
    public static readonly TimeSpan SubscribeRetryInterval = TimeSpan.FromSeconds(1);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _redis.ConnectionRestored -= OnConnectionRestored;
        _redis.ConnectionFailed -= OnConnectionFailed;
        foreach (var (topic, interest) in _interests)
        {
            try
            {
                await UnsubscribeChannelAsync(topic, interest);
            }
            catch (RedisException)
            {
            }
        }

        _interests.Clear();
    }

    // StackExchange.Redis calls a handler subscription on a thread-pool work item per message, so two calls
    // may run at once and in either order (BusSubscriptionMemory's --handler-order counts how often): the
    // handler is only a doorbell. The messages themselves are read from the channel's queue, which the
    // library fills in arrival order on its reader before it queues the doorbell, and only under _delivery,
    // so they are delivered in arrival order whichever doorbell drains them.
    private void OnDoorbell(RedisChannel channel, RedisValue message)
    {
        if (TryParseTopic(channel, out var topic) && _interests.TryGetValue(topic, out var interest))
        {
            Drain(topic, interest);
        }
    }

    private void Drain(BusTopic topic, Interest interest)
    {
        lock (_delivery)
        {
            // Read under the lock: a drain that starts after the queue was set sees it.
            var queue = interest.Queue;
            while (queue is not null && queue.TryRead(out var message))
            {
                OnRemote(topic, message.Message);
            }
        }
    }

    private void OnRemote(BusTopic topic, RedisValue message)
    {
        var bytes = (byte[]?)message;
        if (bytes is null || bytes.Length < OriginLength || bytes.AsSpan(0, OriginLength).SequenceEqual(_origin))
        {
            // Our own publish, already delivered locally (or not a ChatWire payload).
            return;
        }

        Interlocked.Increment(ref _received);
        if (_interests.TryGetValue(topic, out var interest))
        {
            Deliver(topic, interest, bytes.AsMemory(OriginLength));
        }
    }

    private void Deliver(BusTopic topic, Interest interest, ReadOnlyMemory<byte> payload)
    {
        // Re-entrant: a subscriber may publish or subscribe from within its callback.
        lock (_delivery)
        {
            foreach (var subscriber in interest.Subscribers)
            {
                subscriber.OnPublished(topic, payload);
            }
        }
    }

    private async ValueTask UnsubscribeAsync(BusTopic topic, IBusSubscriber subscriber)
    {
        await _subscriptionChanges.WaitAsync();
        try
        {
            if (!_interests.TryGetValue(topic, out var interest))
            {
                return;
            }

            interest.Subscribers = interest.Subscribers.Remove(subscriber);
            if (interest.Subscribers.IsEmpty)
            {
                _interests.TryRemove(topic, out _);
                _unsubscribed.Remove(topic);
                try
                {
                    await UnsubscribeChannelAsync(topic, interest);
                }
                catch (RedisException)
                {
                    // Unreachable: the subscription died with the connection and is not restored for a
                    // channel that StackExchange.Redis no longer tracks.
                }
            }
        }
        finally
        {
            _subscriptionChanges.Release();
        }
    }

    // Both the queue and the doorbell, and the UNSUBSCRIBE, when the interest holds a subscription.
    private Task UnsubscribeChannelAsync(BusTopic topic, Interest interest) =>
        interest.Queue is null ? Task.CompletedTask : _subscriber.UnsubscribeAsync(ChannelOf(topic));

    // PUBLISH goes over the interactive connection and SUBSCRIBE over the subscription one: either may fail
    // alone. Subscriptions are restored (and the gateway told) when the subscription connection is back; the
    // replay runs once per outage, when either is back (it waits for the other nodes anyway).
    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e) =>
        _ = RestoreAsync(e.ConnectionType == ConnectionType.Subscription);

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e) => NoteFailure();

    // A publish dropped with no connection failure reported: the connection was not ready yet (the first one
    // still being established: ConnectAsync without AbortOnConnectFail returns after its timeout, connected or
    // not) or is not ready again. StackExchange.Redis raises ConnectionRestored when it becomes ready, first
    // connection included, and the replay then publishes this one too.
    private void OnPublishFailed()
    {
        Interlocked.Increment(ref _publishFailures);
        NoteFailure();
    }

    private void NoteFailure()
    {
        // The first failure of an outage: what was published from a little before it on may be lost.
        var now = Environment.TickCount64;
        var current = Interlocked.Read(ref _failedAt);
        while (now < current)
        {
            var seen = Interlocked.CompareExchange(ref _failedAt, now, current);
            if (seen == current)
            {
                break;
            }

            current = seen;
        }
    }

    private async Task RestoreAsync(bool subscriptions)
    {
        if (subscriptions)
        {
            try
            {
                await SubscribeMissingAsync();
            }
            finally
            {
                Reconnected?.Invoke();
            }
        }

        // Publish again what other nodes may have missed: from shortly before the failure was noticed (a
        // dead connection is noticed late) until now. Twice, because other nodes re-subscribe on their own
        // schedule after the same outage; receivers drop what they already have (by seq).
        var since = Interlocked.Exchange(ref _failedAt, long.MaxValue);
        if (since == long.MaxValue)
        {
            return;
        }

        since -= (long)ReplayMargin.TotalMilliseconds;
        foreach (var delay in ReplayDelays)
        {
            await Task.Delay(delay);
            foreach (var (topic, wire) in _recent.Since(since))
            {
                try
                {
                    _subscriber.Publish(ChannelOf(topic), wire, CommandFlags.FireAndForget);
                    Interlocked.Increment(ref _replayed);
                }
                catch (RedisException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>How long before a noticed connection failure publishes may already have been lost.</summary>
    public static readonly TimeSpan ReplayMargin = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan[] ReplayDelays = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)];

    /// <summary>
    /// The payloads this node published in the last minute, at most 10,000 of them and 16 MiB, for replay after
    /// an outage; older ones are dropped (their devices catch up by seq at the next event or SYNC).
    /// </summary>
    private sealed class RecentPublishes
    {
        private const int MaxCount = 10_000;
        private const long MaxBytes = 16L << 20;
        private const long MaxAgeMs = 60_000;

        private readonly Lock _lock = new();
        private readonly Queue<(long At, BusTopic Topic, byte[] Wire)> _entries = new();
        private long _bytes;

        public void Add(BusTopic topic, byte[] wire)
        {
            var now = Environment.TickCount64;
            lock (_lock)
            {
                _entries.Enqueue((now, topic, wire));
                _bytes += wire.Length;
                while (_entries.Count > MaxCount || _bytes > MaxBytes || (_entries.Count > 0 && now - _entries.Peek().At > MaxAgeMs))
                {
                    _bytes -= _entries.Dequeue().Wire.Length;
                }
            }
        }

        public List<(BusTopic Topic, byte[] Wire)> Since(long at)
        {
            lock (_lock)
            {
                return [.. _entries.Where(e => e.At >= at).Select(e => (e.Topic, e.Wire))];
            }
        }
    }

    private static RedisChannel ChannelOf(BusTopic topic) => RedisChannel.Literal(ChannelPrefix + topic.ToString());

    // The inverse of ChannelOf: "chatwire:conv:{id}" or "chatwire:user:{id}", in UTF-8.
    private static bool TryParseTopic(RedisChannel channel, out BusTopic topic)
    {
        topic = default;
        ReadOnlySpan<byte> name = (byte[]?)channel;
        if (!name.StartsWith("chatwire:"u8))
        {
            return false;
        }

        name = name[ChannelPrefix.Length..];
        BusTopicKind kind;
        if (name.StartsWith("conv:"u8))
        {
            kind = BusTopicKind.Conversation;
        }
        else if (name.StartsWith("user:"u8))
        {
            kind = BusTopicKind.User;
        }
        else
        {
            return false;
        }

        name = name["user:".Length..];
        if (!Utf8Parser.TryParse(name, out Guid id, out var consumed, 'D') || consumed != name.Length)
        {
            return false;
        }

        topic = new BusTopic(kind, id);
        return true;
    }

    private sealed class Interest
    {
        // Replaced, never mutated, so a delivery reads a consistent list without the subscription lock.
        public ImmutableArray<IBusSubscriber> Subscribers { get; set; }

        public ChannelMessageQueue? Queue { get; set; }
    }

    private sealed class Subscription(RedisMessageBus bus, BusTopic topic, IBusSubscriber subscriber) : IAsyncDisposable
    {
        private int _disposed;

        public ValueTask DisposeAsync() =>
            Interlocked.Exchange(ref _disposed, 1) == 0 ? bus.UnsubscribeAsync(topic, subscriber) : ValueTask.CompletedTask;
    }
}
