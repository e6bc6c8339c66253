using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using ChatWire.Routing.Presence;
using ChatWire.Routing.Redis;
using ChatWire.Tests.Shared;
using StackExchange.Redis;

namespace ChatWire.Routing.Tests;

/// <summary>
/// The Redis presence adapter against the real Redis, each registry a "node" with a multiplexer of its own.
/// A fresh key prefix per test keeps tests apart, and stands for a cluster of its own: "Redis lost its data"
/// deletes that prefix's keys, not FLUSHALL, which would pull the data from under the other test assemblies
/// that test.sh runs in parallel against the same Redis.
/// </summary>
public sealed class RedisPresenceRegistryTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    private readonly string _prefix = $"cwtest:presence:{Guid.NewGuid():N}:";
    private readonly List<Node> _nodes = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task Read_UserPresentOnAnotherNode_IsOnlineThere_AndOfflineWithLastSeenAfter()
    {
        var a = await StartAsync();
        var b = await StartAsync();
        var user = Guid.NewGuid();

        b.Registry.MarkPresent(user);
        await EventuallyAsync(async () => (await ReadAsync(a, user)).Status == UserStatus.Online);

        b.Registry.MarkAbsent(user, 1_700_000_000_123);
        await EventuallyAsync(async () => await ReadAsync(a, user) == new UserPresence(user, UserStatus.Offline, 1_700_000_000_123));
        await EventuallyAsync(() => Task.FromResult(b.Observer.Offline.Contains((user, 1_700_000_000_123))));
        Assert.Empty(a.Observer.Offline);
    }

    [Fact]
    public async Task Read_NeverSeenUser_IsOfflineWithoutLastSeen()
    {
        var a = await StartAsync();
        var user = Guid.NewGuid();

        Assert.Equal(new UserPresence(user, UserStatus.Offline, 0), await ReadAsync(a, user));
    }

    [Fact]
    public async Task SetStatus_IsTheUsersOnEveryNode_AndBackToOnlineAfterOffline()
    {
        var a = await StartAsync();
        var b = await StartAsync();
        var user = Guid.NewGuid();
        a.Registry.MarkPresent(user);
        b.Registry.MarkPresent(user);

        b.Registry.SetStatus(user, UserStatus.Away);
        await EventuallyAsync(async () => (await ReadAsync(a, user)).Status == UserStatus.Away);

        // One status for all the user's devices (§4.23): the last one set, on whichever node.
        a.Registry.SetStatus(user, UserStatus.DoNotDisturb);
        await EventuallyAsync(async () => (await ReadAsync(b, user)).Status == UserStatus.DoNotDisturb);

        // Still connected through A when B's device leaves: the status stays.
        b.Registry.MarkAbsent(user, 1);
        await EventuallyAsync(async () => (await ReadAsync(a, user)).Status == UserStatus.DoNotDisturb && !await IsHeldByAsync(b, user));

        a.Registry.MarkAbsent(user, 2);
        await EventuallyAsync(async () => (await ReadAsync(b, user)).Status == UserStatus.Offline);
        a.Registry.MarkPresent(user);
        await EventuallyAsync(async () => (await ReadAsync(b, user)).Status == UserStatus.Online);
    }

    [Fact]
    public async Task SetStatus_ByANodeNotHoldingTheUser_ChangesNothing()
    {
        var a = await StartAsync();
        var b = await StartAsync();
        var user = Guid.NewGuid();
        await a.Registry.WatchAsync([user], CancellationToken.None);
        b.Registry.MarkPresent(user);
        await EventuallyAsync(async () => (await ReadAsync(a, user)).Status == UserStatus.Online);

        a.Registry.SetStatus(user, UserStatus.Away);
        b.Registry.SetStatus(user, UserStatus.DoNotDisturb);

        await EventuallyAsync(() => Task.FromResult(a.Observer.ChangesOf(user).Length >= 2));
        Assert.Equal([new(user, UserStatus.Online, 0), new(user, UserStatus.DoNotDisturb, 0)], a.Observer.ChangesOf(user));
    }

    [Fact]
    public async Task Watch_ChangesOnAnotherNode_ReachTheWatcherInOrder()
    {
        var a = await StartAsync();
        var b = await StartAsync();
        var user = Guid.NewGuid();
        await a.Registry.WatchAsync([user], CancellationToken.None);

        b.Registry.MarkPresent(user);
        b.Registry.SetStatus(user, UserStatus.Away);
        b.Registry.SetStatus(user, UserStatus.DoNotDisturb);
        b.Registry.MarkAbsent(user, 1_700_000_000_456);

        UserPresence[] expected =
        [
            new(user, UserStatus.Online, 0),
            new(user, UserStatus.Away, 0),
            new(user, UserStatus.DoNotDisturb, 0),
            new(user, UserStatus.Offline, 1_700_000_000_456),
        ];
        await EventuallyAsync(() => Task.FromResult(a.Observer.ChangesOf(user).Length >= expected.Length));
        Assert.Equal(expected, a.Observer.ChangesOf(user));
    }

    [Fact]
    public async Task Watch_ManyUsersChangingAtOnceOnAnotherNode_EachUsersChangesReachTheWatcherInOrder()
    {
        // The library hands a channel's messages to handlers on the thread pool in no promised order; the
        // watcher must still hear each user's changes in the order they were made.
        var a = await StartAsync();
        var b = await StartAsync();
        var users = Enumerable.Range(0, 16).Select(_ => Guid.NewGuid()).ToArray();
        await a.Registry.WatchAsync(users, CancellationToken.None);
        UserStatus[] cycle = [UserStatus.Away, UserStatus.DoNotDisturb, UserStatus.Online];
        const int Rounds = 60;

        foreach (var user in users)
        {
            b.Registry.MarkPresent(user);
        }

        for (var round = 0; round < Rounds; round++)
        {
            foreach (var user in users)
            {
                b.Registry.SetStatus(user, cycle[round % cycle.Length]);
            }
        }

        UserStatus[] expected = [UserStatus.Online, .. Enumerable.Range(0, Rounds).Select(round => cycle[round % cycle.Length])];
        await EventuallyAsync(() => Task.FromResult(users.All(user => a.Observer.ChangesOf(user).Length >= expected.Length)));
        foreach (var user in users)
        {
            Assert.Equal(expected, a.Observer.ChangesOf(user).Select(change => change.Status));
        }
    }

    [Fact]
    public async Task Watch_SecondDeviceOnAnotherNode_IsNoChange()
    {
        var a = await StartAsync();
        var b = await StartAsync();
        var user = Guid.NewGuid();
        await b.Registry.WatchAsync([user], CancellationToken.None);

        a.Registry.MarkPresent(user);
        b.Registry.MarkPresent(user);

        // Two nodes write on two connections: A's leaving could overtake B's arrival unless B's is in first.
        await EventuallyAsync(() => IsHeldByAsync(b, user));
        a.Registry.MarkAbsent(user, 5);
        b.Registry.SetStatus(user, UserStatus.Away);

        // The status change after them shows that the second device's arrival and the first one's leaving
        // published nothing.
        await EventuallyAsync(() => Task.FromResult(b.Observer.ChangesOf(user).Length >= 2));
        Assert.Equal([new(user, UserStatus.Online, 0), new(user, UserStatus.Away, 0)], b.Observer.ChangesOf(user));
        Assert.Empty(a.Observer.Offline);
    }

    [Fact]
    public async Task Unwatch_LastWatcher_StopsListening_WhileAnotherWatcherKeepsIt()
    {
        var a = await StartAsync();
        var b = await StartAsync();
        var user = Guid.NewGuid();
        var marker = Guid.NewGuid();
        await a.Registry.WatchAsync([user], CancellationToken.None);
        await a.Registry.WatchAsync([user, marker], CancellationToken.None);

        a.Registry.Unwatch([user, marker]);
        b.Registry.MarkPresent(user);
        await EventuallyAsync(() => Task.FromResult(a.Observer.ChangesOf(user).Length == 1));

        a.Registry.Unwatch([user]);
        await EventuallyAsync(async () => await SubscribersAsync(a, user) == 0);
        b.Registry.SetStatus(user, UserStatus.Away);
        await EventuallyAsync(async () => (await ReadAsync(a, user)).Status == UserStatus.Away);
        Assert.Single(a.Observer.ChangesOf(user));
    }

    [Fact]
    public async Task Lease_NodeKilled_ItsUsersGoOfflineWhenItExpires_AndAReaperTellsTheWatchers()
    {
        var options = ShortLease();
        var a = await StartAsync(options);
        var b = await StartAsync(options);
        var user = Guid.NewGuid();
        var elsewhere = Guid.NewGuid();
        await a.Registry.WatchAsync([user, elsewhere], CancellationToken.None);
        b.Registry.MarkPresent(user);
        b.Registry.MarkPresent(elsewhere);
        a.Registry.MarkPresent(elsewhere);
        await EventuallyAsync(() => Task.FromResult(a.Observer.ChangesOf(user).Length == 1 && a.Observer.ChangesOf(elsewhere).Length == 1));

        // kill -9: B's connection to Redis is gone without a word; its lease is left to expire.
        b.Kill();

        await EventuallyAsync(async () => (await ReadAsync(a, user)).Status == UserStatus.Offline);
        await EventuallyAsync(() => Task.FromResult(a.Observer.ChangesOf(user).Length == 2));
        var offline = a.Observer.ChangesOf(user)[1];
        Assert.Equal(UserStatus.Offline, offline.Status);
        Assert.True(offline.LastSeenUnixMs > 0);
        await EventuallyAsync(() => Task.FromResult(a.Observer.Offline.Contains((user, offline.LastSeenUnixMs))));

        // A user A still holds stays online through B's death.
        Assert.Equal(UserStatus.Online, (await ReadAsync(a, elsewhere)).Status);
        Assert.Single(a.Observer.ChangesOf(elsewhere));
        await EventuallyAsync(async () => !await a.Database.KeyExistsAsync(_prefix + "node:" + b.Registry.NodeId));
    }

    [Fact]
    public async Task Lease_OwnLeaseLapsed_NodeRenewsItAndNeverReapsItself()
    {
        // A node whose refresh came late (a stalled process) finds its lease expired while its reaper runs: it is
        // alive, so it must renew the lease, not reap its own users and report them gone.
        var options = ShortLease();
        var a = await StartAsync(options);
        var user = Guid.NewGuid();
        await a.Registry.WatchAsync([user], CancellationToken.None);
        a.Registry.MarkPresent(user);
        await EventuallyAsync(() => Task.FromResult(a.Observer.ChangesOf(user).Length == 1));

        // The lease is expired again right after each refresh, so the node's reaper finds it expired nearly
        // every time it looks, for several reaper periods.
        var until = DateTime.UtcNow + (options.LeaseRefresh * 16);
        while (DateTime.UtcNow < until)
        {
            await a.Database.SortedSetAddAsync(_prefix + "leases", a.Registry.NodeId, 1);
            await Task.Delay(20);
        }

        // While the lease is expired the user reads (and may be published) offline: that is the lease at work.
        // What must not happen is the node reaping itself: taking its own user out and reporting them gone.
        await EventuallyAsync(async () => (await ReadAsync(a, user)).Status == UserStatus.Online && await IsHeldByAsync(a, user));
        Assert.Empty(a.Observer.Offline);
    }

    [Fact]
    public async Task Lease_DeadNodeReapedOnce_WhenSeveralNodesReap()
    {
        var options = ShortLease();
        var reapers = new[] { await StartAsync(options), await StartAsync(options), await StartAsync(options) };
        var dying = await StartAsync(options);
        var users = Enumerable.Range(0, 20).Select(_ => Guid.NewGuid()).ToArray();
        foreach (var user in users)
        {
            dying.Registry.MarkPresent(user);
        }

        await EventuallyAsync(async () => (await reapers[0].Registry.ReadAsync(users, CancellationToken.None)).Values.All(p => p.Status == UserStatus.Online));
        dying.Kill();

        await EventuallyAsync(() => Task.FromResult(reapers.Sum(r => r.Observer.Offline.Count) >= users.Length));
        await Task.Delay(options.LeaseRefresh * 3);
        Assert.Equal(users.Order(), reapers.SelectMany(r => r.Observer.Offline).Select(o => o.UserId).Order());
    }

    [Fact]
    public async Task DataLost_NodesRegisterAndWriteTheirUsersAgain()
    {
        var options = ShortLease();
        var a = await StartAsync(options);
        var b = await StartAsync(options);
        var user = Guid.NewGuid();
        b.Registry.MarkPresent(user);
        b.Registry.SetStatus(user, UserStatus.Away);
        await EventuallyAsync(async () => (await ReadAsync(a, user)).Status == UserStatus.Away);

        var server = a.Multiplexer.GetServer(a.Multiplexer.GetEndPoints()[0]);
        var keys = await server.KeysAsync(pattern: _prefix + "*").ToArrayAsync();
        Assert.NotEmpty(keys);
        // What was lost is not read back here: with the short lease a node may already have written its users again
        // by the time a read would run (a test that asserted "offline" in between failed that way once).
        Assert.True(await a.Database.KeyDeleteAsync(keys) > 0);

        await EventuallyAsync(async () => (await ReadAsync(a, user)).Status == UserStatus.Away);
        await EventuallyAsync(async () =>
            await a.Database.SortedSetScoreAsync(_prefix + "leases", a.Registry.NodeId) is not null
            && await a.Database.SortedSetScoreAsync(_prefix + "leases", b.Registry.NodeId) is not null);
    }

    // A leave whose write Redis never got (the link was refused until the write gave up) is written when the link is
    // back, with the moment the user left as their last seen, not the moment the link came back.
    [Fact]
    public async Task LeaveDuringAnOutage_IsWrittenAfterIt_WithTheLeavesOwnLastSeen()
    {
        var a = await StartAsync();
        await using var link = LinkProxy.Start(System.Net.IPEndPoint.Parse(BackingServices.Redis));
        var b = await StartAsync(configuration: $"{link.Endpoint},asyncTimeout=1000,connectTimeout=1000");
        var user = Guid.NewGuid();
        b.Registry.MarkPresent(user);
        await EventuallyAsync(async () => (await ReadAsync(a, user)).Status == UserStatus.Online);

        link.Refuse();
        var leftAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000;
        b.Registry.MarkAbsent(user, leftAt);

        // Long enough for the write, queued by the client while it reconnects, to give up: a shorter outage would pass
        // without the fix, the queued write reaching Redis after it. The client fails queued commands past asyncTimeout
        // (1 s) at its next check, which a busy machine may delay: wait for the first failure it reports (the leave's
        // write or the lease's renewal, whichever gives up first), then 2 s more, for the leave's to have given up too.
        await EventuallyAsync(() => Task.FromResult(!b.Errors.IsEmpty));
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(UserStatus.Online, (await ReadAsync(a, user)).Status);

        link.Heal();
        await EventuallyAsync(async () => await ReadAsync(a, user) == new UserPresence(user, UserStatus.Offline, leftAt));
    }

    [Fact]
    public async Task Dispose_LeavesCleanly_UsersOfflineAtOnceAndLeaseGone()
    {
        var a = await StartAsync();
        var b = await StartAsync();
        var user = Guid.NewGuid();
        await a.Registry.WatchAsync([user], CancellationToken.None);
        b.Registry.MarkPresent(user);
        await EventuallyAsync(() => Task.FromResult(a.Observer.ChangesOf(user).Length == 1));

        await b.DisposeAsync();

        // The default lease is 15 s: going offline sooner than that is the clean leave, not the lease.
        await EventuallyAsync(() => Task.FromResult(a.Observer.ChangesOf(user).Length == 2), TimeSpan.FromSeconds(5));
        Assert.Equal(UserStatus.Offline, a.Observer.ChangesOf(user)[1].Status);
        Assert.Null(await a.Database.SortedSetScoreAsync(_prefix + "leases", b.Registry.NodeId));
    }

    // Short, so that a dead node's users go offline within a test, but not shorter than a loaded test machine
    // may leave a live node without CPU: the tests that say a live node's users stay online through another's
    // death need the live node's own lease never to lapse, and a lapse is what a lease is for (with 1 s, a
    // 0.7 s stall of the test process was enough to expire the survivor too).
    private static RedisPresenceOptions ShortLease() => new()
    {
        LeaseTtl = TimeSpan.FromSeconds(4),
        LeaseRefresh = TimeSpan.FromMilliseconds(250),
    };

    private static async Task<UserPresence> ReadAsync(Node node, Guid user) =>
        (await node.Registry.ReadAsync([user], CancellationToken.None))[user];

    private async Task<bool> IsHeldByAsync(Node node, Guid user) =>
        await node.Database.SetContainsAsync(_prefix + "node:" + node.Registry.NodeId, user.ToString("D"));

    private async Task<long> SubscribersAsync(Node node, Guid user)
    {
        var result = await node.Database.ExecuteAsync("PUBSUB", "NUMSUB", _prefix + user.ToString("D"));
        return (long)((RedisResult[])result!)[1];
    }

    private static async Task EventuallyAsync(
        Func<Task<bool>> condition, TimeSpan? within = null, [CallerArgumentExpression(nameof(condition))] string? what = null)
    {
        var deadline = DateTime.UtcNow + (within ?? Patience);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Not within {within ?? Patience}: {what}");
            await Task.Delay(50);
        }
    }

    private async Task<Node> StartAsync(RedisPresenceOptions? options = null, string? configuration = null)
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration ?? BackingServices.Redis);
        var errors = new ConcurrentQueue<Exception>();
        var registry = new RedisPresenceRegistry(
            multiplexer,
            $"test-{Guid.NewGuid():N}",
            (options ?? new RedisPresenceOptions()) with { KeyPrefix = _prefix, OnError = errors.Enqueue });
        var node = new Node(multiplexer, registry, new Recorder(), errors);
        registry.Observe(node.Observer);
        _nodes.Add(node);
        return node;
    }

    private sealed class Node(ConnectionMultiplexer multiplexer, RedisPresenceRegistry registry, Recorder observer, ConcurrentQueue<Exception> errors) : IAsyncDisposable
    {
        /// <summary>What the registry reported through <see cref="RedisPresenceOptions.OnError"/>.</summary>
        public ConcurrentQueue<Exception> Errors { get; } = errors;

        public ConnectionMultiplexer Multiplexer { get; } = multiplexer;

        public RedisPresenceRegistry Registry { get; } = registry;

        public Recorder Observer { get; } = observer;

        public IDatabase Database => Multiplexer.GetDatabase();

        public void Kill() => Multiplexer.Dispose();

        public async ValueTask DisposeAsync()
        {
            await Registry.DisposeAsync();
            await Multiplexer.DisposeAsync();
        }
    }

    private sealed class Recorder : IPresenceObserver
    {
        private readonly ConcurrentQueue<UserPresence> _changes = new();

        public ConcurrentQueue<(Guid UserId, long LastSeenUnixMs)> Offline { get; } = new();

        public UserPresence[] ChangesOf(Guid user) => [.. _changes.Where(c => c.UserId == user)];

        public void PresenceChanged(UserPresence presence) => _changes.Enqueue(presence);

        public void WentOffline(Guid userId, long lastSeenUnixMs) => Offline.Enqueue((userId, lastSeenUnixMs));
    }
}
