using System.Globalization;
using ChatWire.Routing.Presence;
using StackExchange.Redis;

namespace ChatWire.Routing.Redis;

/// <summary>
/// The distributed mode's presence: N gateway nodes share one Redis, each under a lease, so a dead node's users
/// go offline when its lease expires, without anyone having to notice the death.
/// </summary>
/// <remarks>
/// <para>Layout, every key under <see cref="RedisPresenceOptions.KeyPrefix"/> (P):</para>
/// <list type="bullet">
/// <item><c>P leases</c>: ZSET, member a node id, score its lease expiry (Unix ms on Redis's clock). Each node
/// refreshes its own every <see cref="RedisPresenceOptions.LeaseRefresh"/> to now + <see cref="RedisPresenceOptions.LeaseTtl"/>.</item>
/// <item><c>P user:{id}</c>: HASH per user: <c>n:{node}</c> = 1 for each node holding a device of the user;
/// <c>s</c> the status the user chose (absent = online; one status for all their devices, §4.23);
/// <c>p</c> the status last published; <c>seen</c> last seen (ms) while offline. Expires
/// <see cref="RedisPresenceOptions.OfflineRetention"/> after the user went offline.</item>
/// <item><c>P node:{node}</c>: SET of the users the node holds, for reaping it.</item>
/// <item><c>P reaping</c>: ZSET of dead nodes being reaped, score the reaper's claim expiry.</item>
/// <item>Channel <c>P{userId}</c>: "status:last_seen_ms" each time the user's cluster-wide presence changes.</item>
/// </list>
/// <para>A node field counts only while its node's lease is live; the status is the user's chosen one while
/// any live node holds them, else offline. Every write is a Lua script that updates the hash, recomputes the
/// status and publishes it when it differs from the last published one (<c>p</c>), atomically: the channel
/// carries each change once, in order. This node subscribes to a user's channel only while a local
/// connection watches them (reference-counted). StackExchange.Redis fills one <see cref="ChannelMessageQueue"/>
/// per watched user in arrival order; one handler shared by every channel (the library calls handlers on the
/// thread pool, in no promised order) is only the doorbell that drains the user's queue, under the user's watch,
/// so the observer hears a user's changes one at a time, in order, without a reading loop per user.</para>
/// <para>Every node runs the same two loops, each every refresh period: one refreshes the lease, the other
/// reaps, so that reaping a large dead node (a round trip per user) never holds up this node's own refresh.
/// Reaping claims expired leases atomically (moved into <c>P reaping</c>, so exactly one node reaps each; a
/// reaper that dies leaves a claim that expires and is claimed again; a node never claims its own lease, since
/// it is alive if it is reaping), then removes the dead node's field from each of its users,
/// publishing those who thereby go offline and reporting them through <see cref="IPresenceObserver.WentOffline"/>
/// so that node records last seen. A node that comes back (lease found missing or expired on refresh), whose
/// Redis restarted or lost its data, or whose write failed, re-writes its local truth: what this node holds
/// in memory (present users, their last status set here) is written again, and users Redis has for this node
/// but memory does not are removed.</para>
/// <para>The multiplexer must not have a channel prefix configured: the scripts publish on the literal channel.</para>
/// </remarks>
public sealed partial class RedisPresenceRegistry : IPresenceRegistry, IAsyncDisposable
{
    private const int ClaimBatch = 16;
    private const int ResyncChunk = 256;

    private readonly IConnectionMultiplexer _redis;
    private readonly IDatabase _db;
    private readonly ISubscriber _subscriber;
    private readonly string _node;
    private readonly RedisPresenceOptions _options;
    private readonly RedisKey _leases;
    private readonly RedisKey _reaping;
    private readonly RedisKey _nodeUsers;
    private readonly RedisValue _retentionMs;
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, UserStatus> _local = [];

    // When each user who left this node did, until Redis has it: a re-sync after an outage that swallowed the write
    // then gives them the "last seen" of their leave, not the moment Redis came back.
    private readonly Dictionary<Guid, long> _leftAt = [];
    private readonly Dictionary<Guid, Watch> _watches = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _lease;
    private readonly Task _reaper;

    // One delegate for every watched user's channel: the user is read back from the channel's name.
    private readonly Action<RedisChannel, RedisValue> _doorbell;
    private IPresenceObserver? _observer;
    private int _resyncNeeded;
    private int _disposed;

    /// <param name="redis">The node's multiplexer (may be shared with the message bus).</param>
    /// <param name="nodeId">This node's id, unique in the cluster and new at each start (e.g. host name + a GUID).</param>
    /// <param name="options">Key prefix, lease length and refresh period.</param>
    public RedisPresenceRegistry(IConnectionMultiplexer redis, string nodeId, RedisPresenceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        _options = options ?? new RedisPresenceOptions();
        if (_options.LeaseRefresh <= TimeSpan.Zero || _options.LeaseRefresh >= _options.LeaseTtl)
        {
            throw new ArgumentException("LeaseRefresh must be positive and shorter than LeaseTtl.", nameof(options));
        }

        _redis = redis;
        _doorbell = OnDoorbell;
        _db = redis.GetDatabase();
        _subscriber = redis.GetSubscriber();
        _node = nodeId;
        _leases = _options.KeyPrefix + "leases";
        _reaping = _options.KeyPrefix + "reaping";
        _nodeUsers = NodeUsersKey(nodeId);
        _retentionMs = (long)_options.OfflineRetention.TotalMilliseconds;
        _redis.ConnectionRestored += OnConnectionRestored;

        // The first refresh is sent from here, before any other command of this node: the lease is in place
        // before the node's first user is written.
        _lease = RunLeaseAsync(_stop.Token);
        _reaper = RunReaperAsync(_stop.Token);
    }

    /// <summary>This node's id in the lease set.</summary>
    public string NodeId => _node;

    public void Observe(IPresenceObserver observer) => _observer = observer;

    public void MarkPresent(Guid userId)
    {
        lock (_lock)
        {
            if (_local.TryAdd(userId, UserStatus.Online))
            {
                _leftAt.Remove(userId);
                Issue(static (self, user, _) => self.SendPresentAsync(user, UserStatus.Online), userId, 0);
            }
        }
    }

    public void MarkAbsent(Guid userId, long atUnixMs)
    {
        lock (_lock)
        {
            if (_local.Remove(userId))
            {
                _leftAt[userId] = atUnixMs;
                Issue(static (self, user, at) => self.SendAbsentAsync(user, at), userId, atUnixMs);
            }
        }
    }

    public void SetStatus(Guid userId, UserStatus status)
    {
        ArgumentOutOfRangeException.ThrowIfEqual(status, UserStatus.Offline);
        lock (_lock)
        {
            if (_local.TryGetValue(userId, out var current) && current != status)
            {
                _local[userId] = status;
                Issue(static (self, user, status) => self._db.ScriptEvaluateAsync(
                    StatusScript,
                    [self.UserKey(user), self._leases],
                    [self._node, status, self.ChannelName(user), self._retentionMs]), userId, (long)status);
            }
        }
    }

    public async ValueTask<IReadOnlyDictionary<Guid, UserPresence>> ReadAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken)
    {
        var users = userIds.ToArray();
        var entries = new Dictionary<Guid, UserPresence>(users.Length);
        if (users.Length == 0)
        {
            return entries;
        }

        var keys = new RedisKey[users.Length + 1];
        keys[0] = _leases;
        for (var i = 0; i < users.Length; i++)
        {
            keys[i + 1] = UserKey(users[i]);
        }

        var result = (RedisResult[])(await _db.ScriptEvaluateAsync(ReadScript, keys).WaitAsync(cancellationToken))!;
        for (var i = 0; i < users.Length; i++)
        {
            entries[users[i]] = new UserPresence(users[i], (UserStatus)(int)result[2 * i], (long)result[(2 * i) + 1]);
        }

        return entries;
    }

    public async ValueTask WatchAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken)
    {
        var pending = new List<Task>(userIds.Count);
        lock (_lock)
        {
            foreach (var user in userIds)
            {
                if (!_watches.TryGetValue(user, out var watch))
                {
                    _watches[user] = watch = new Watch();
                    watch.Subscribing = SubscribeAsync(user, watch);
                }
                else if (watch.Subscribing.IsFaulted || watch.Subscribing.IsCanceled)
                {
                    // A subscription that failed (Redis was away) is tried again by the next watcher.
                    watch.Subscribing = SubscribeAsync(user, watch);
                }

                watch.Count++;
                pending.Add(watch.Subscribing);
            }
        }

        await Task.WhenAll(pending).WaitAsync(cancellationToken);
        lock (_lock)
        {
            // A finished subscription's task (its method's state) is not kept for the watch's life.
            foreach (var user in userIds)
            {
                if (_watches.TryGetValue(user, out var watch) && watch.Subscribing.IsCompletedSuccessfully)
                {
                    watch.Subscribing = Task.CompletedTask;
                }
            }
        }
    }

    public void Unwatch(IReadOnlyCollection<Guid> userIds)
    {
        lock (_lock)
        {
            foreach (var user in userIds)
            {
                if (_watches.TryGetValue(user, out var watch) && --watch.Count == 0)
                {
                    _watches.Remove(user);
                    _ = UnsubscribeAsync(user, watch);
                }
            }
        }
    }

    /// <summary>
    /// Leaves cleanly: stops refreshing, takes this node's users out (publishing those who go offline) and
    /// drops the lease, so nobody waits for it to expire. Failures are reported, not thrown: the lease expires anyway.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _redis.ConnectionRestored -= OnConnectionRestored;
        await _stop.CancelAsync();
        await Task.WhenAll(_lease, _reaper).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            Task[] leaving;
            lock (_lock)
            {
                leaving = [.. _local.Keys.Select(user => SendAbsentAsync(user, now))];
                _local.Clear();
            }

            await Task.WhenAll(leaving).WaitAsync(TimeSpan.FromSeconds(5));
            await _db.SortedSetRemoveAsync(_leases, _node).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _options.OnError?.Invoke(ex);
        }

        _stop.Dispose();
    }

    private RedisKey UserKey(Guid userId) => _options.KeyPrefix + "user:" + userId.ToString("D");

    private RedisKey NodeUsersKey(string node) => _options.KeyPrefix + "node:" + node;

    private string ChannelName(Guid userId) => _options.KeyPrefix + userId.ToString("D");

    // Called under _lock, so commands reach Redis in the order the gateway made the changes.
    private Task<RedisResult> SendPresentAsync(Guid userId, UserStatus status) => _db.ScriptEvaluateAsync(
        PresentScript,
        [UserKey(userId), _nodeUsers, _leases],
        [_node, userId.ToString("D"), ChannelName(userId), (int)status, _retentionMs]);

    private async Task SendAbsentAsync(Guid userId, long atUnixMs)
    {
        var result = await _db.ScriptEvaluateAsync(
            AbsentScript,
            [UserKey(userId), _nodeUsers, _leases],
            [_node, userId.ToString("D"), ChannelName(userId), atUnixMs, _retentionMs]);
        lock (_lock)
        {
            if (_leftAt.TryGetValue(userId, out var leftAt) && leftAt == atUnixMs)
            {
                _leftAt.Remove(userId);
            }
        }

        if ((int)result == (int)UserStatus.Offline)
        {
            _observer?.WentOffline(userId, atUnixMs);
        }
    }

    // Called under _lock. A write that failed leaves Redis behind this node's memory: the next refresh
    // re-writes everything. It may fail at once (a disposed multiplexer throws): never into the gateway.
    private void Issue(Func<RedisPresenceRegistry, Guid, long, Task> write, Guid userId, long argument)
    {
        try
        {
            Track(write(this, userId, argument));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Volatile.Write(ref _resyncNeeded, 1);
            _options.OnError?.Invoke(ex);
        }
    }

    private void Track(Task write) => write.ContinueWith(
        static (task, state) =>
        {
            var self = (RedisPresenceRegistry)state!;
            Volatile.Write(ref self._resyncNeeded, 1);
            self._options.OnError?.Invoke(task.Exception!.GetBaseException());
        },
        this,
        CancellationToken.None,
        TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
        TaskScheduler.Default);

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e) => Volatile.Write(ref _resyncNeeded, 1);

    // The queue first: from its confirmed SUBSCRIBE on, the library writes every message of the channel into it.
    // Then the doorbell (no second SUBSCRIBE), which every later message rings. What arrived in between, and
    // whatever a doorbell rang before the queue was known here, the drain at the end takes.
    private async Task SubscribeAsync(Guid userId, Watch watch)
    {
        var channel = RedisChannel.Literal(ChannelName(userId));
        ChannelMessageQueue? queue = null;
        try
        {
            queue = await _subscriber.SubscribeAsync(channel);
            await _subscriber.SubscribeAsync(channel, _doorbell);
        }
        catch
        {
            // The queue, if this attempt got it, comes out again (another watch's of the same user, if any, stays).
            // The doorbell is added only once the queue's SUBSCRIBE is confirmed, and adding it sends no command.
            try
            {
                await (queue?.UnsubscribeAsync() ?? Task.CompletedTask);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _options.OnError?.Invoke(ex);
            }

            throw;
        }

        lock (watch)
        {
            watch.Queue = queue;
        }

        Drain(userId, watch);
    }

    private async Task UnsubscribeAsync(Guid userId, Watch watch)
    {
        try
        {
            await watch.Subscribing;
            ChannelMessageQueue? queue;
            lock (watch)
            {
                queue = watch.Queue;
                watch.Queue = null;
            }

            // This watch's queue and one doorbell: a new watch of the same user made meanwhile keeps its own.
            await (queue?.UnsubscribeAsync() ?? Task.CompletedTask);
            await _subscriber.UnsubscribeAsync(RedisChannel.Literal(ChannelName(userId)), _doorbell);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The subscription never came, or the connection is gone (and its subscriptions with it).
            _options.OnError?.Invoke(ex);
        }
    }

    private void OnDoorbell(RedisChannel channel, RedisValue message)
    {
        var name = channel.ToString();
        if (!name.StartsWith(_options.KeyPrefix, StringComparison.Ordinal)
            || !Guid.TryParseExact(name.AsSpan(_options.KeyPrefix.Length), "D", out var userId))
        {
            return;
        }

        Watch? watch;
        lock (_lock)
        {
            _watches.TryGetValue(userId, out watch);
        }

        if (watch is not null)
        {
            Drain(userId, watch);
        }
    }

    // Under the watch, so one user's changes reach the observer one at a time and in the queue's (arrival) order.
    private void Drain(Guid userId, Watch watch)
    {
        lock (watch)
        {
            while (watch.Queue is { } queue && queue.TryRead(out var message))
            {
                OnChanged(userId, message.Message);
            }
        }
    }

    private void OnChanged(Guid userId, RedisValue message)
    {
        if ((string?)message is not { } text || text.IndexOf(':', StringComparison.Ordinal) is var colon && colon <= 0
            || !byte.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var status)
            || !long.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var seen))
        {
            return;
        }

        try
        {
            _observer?.PresenceChanged(new UserPresence(userId, (UserStatus)status, seen));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _options.OnError?.Invoke(ex);
        }
    }

    private sealed class Watch
    {
        public int Count { get; set; }

        public Task Subscribing { get; set; } = Task.CompletedTask;

        // Set once subscribed; read and changed under the watch itself.
        public ChannelMessageQueue? Queue { get; set; }
    }
}
