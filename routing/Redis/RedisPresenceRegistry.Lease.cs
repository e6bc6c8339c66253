using ChatWire.Routing.Presence;
using StackExchange.Redis;

namespace ChatWire.Routing.Redis;

// The lease loop (refresh this node's lease, re-write the local truth when Redis lost it) and the reaper loop
// (reap dead nodes).
public sealed partial class RedisPresenceRegistry
{
    // The lease and the reaper run apart: reaping a dead node is one round trip per user it held, and a lease
    // refresh that waited behind it would let this node's own lease lapse while it reaps a large node.
    private async Task RunLeaseAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_options.LeaseRefresh);
        do
        {
            try
            {
                await RefreshAsync();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException && !ct.IsCancellationRequested)
            {
                // Redis is away: the lease may lapse and this node's users read as offline meanwhile; the
                // refresh after Redis comes back finds the lease gone and writes them again.
                Volatile.Write(ref _resyncNeeded, 1);
                _options.OnError?.Invoke(ex);
            }
        }
        while (await WaitForTickAsync(timer, ct));
    }

    private async Task RunReaperAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_options.LeaseRefresh);
        while (await WaitForTickAsync(timer, ct))
        {
            try
            {
                await ReapAsync(ct);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException && !ct.IsCancellationRequested)
            {
                // A claim this node could not finish expires and another reaper (or this one) takes it again.
                _options.OnError?.Invoke(ex);
            }
        }
    }

    private static async Task<bool> WaitForTickAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task RefreshAsync()
    {
        var lost = (int)await _db.ScriptEvaluateAsync(RefreshScript, [_leases, _reaping], [_node, (long)_options.LeaseTtl.TotalMilliseconds]) == 1;
        if (Interlocked.Exchange(ref _resyncNeeded, 0) == 1 || lost)
        {
            await ResyncAsync();
        }
    }

    // Writes this node's memory to Redis again: every local user present (with the status last set here, taken
    // only if the user had gone offline meanwhile), and every user Redis holds for this node but memory does
    // not, absent: last seen when they left, if this node saw them leave, else now (Redis held a user this node
    // forgot, as after a restart). Each chunk is sent under the lock, so a concurrent change is sent after, never
    // overtaken.
    private async Task ResyncAsync()
    {
        try
        {
            Guid[] present;
            lock (_lock)
            {
                present = [.. _local.Keys];
            }

            var writes = new List<Task>(present.Length);
            foreach (var chunk in present.Chunk(ResyncChunk))
            {
                lock (_lock)
                {
                    foreach (var user in chunk)
                    {
                        if (_local.TryGetValue(user, out var status))
                        {
                            writes.Add(SendPresentAsync(user, status));
                        }
                    }
                }
            }

            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            foreach (var member in await _db.SetMembersAsync(_nodeUsers))
            {
                if (Guid.TryParse((string?)member, out var user))
                {
                    lock (_lock)
                    {
                        if (!_local.ContainsKey(user))
                        {
                            writes.Add(SendAbsentAsync(user, _leftAt.TryGetValue(user, out var leftAt) ? leftAt : now));
                        }
                    }
                }
            }

            await Task.WhenAll(writes);
            lock (_lock)
            {
                // Whoever left before this re-sync and is not in Redis's list for this node has nothing left to write.
                foreach (var (user, leftAt) in _leftAt.ToArray())
                {
                    if (leftAt <= now)
                    {
                        _leftAt.Remove(user);
                    }
                }
            }
        }
        catch
        {
            Volatile.Write(ref _resyncNeeded, 1);
            throw;
        }
    }

    private async Task ReapAsync(CancellationToken ct)
    {
        var claimMs = (long)_options.LeaseTtl.TotalMilliseconds;
        while (!ct.IsCancellationRequested)
        {
            var claimed = (RedisValue[])(await _db.ScriptEvaluateAsync(ClaimScript, [_leases, _reaping], [claimMs, ClaimBatch, _node]))!;
            if (claimed.Length == 0)
            {
                return;
            }

            foreach (var node in claimed)
            {
                await ReapNodeAsync(node!, ct);
            }
        }
    }

    // Our claim on the dead node is good for a lease length; a reaper that dies mid-way leaves the rest to
    // whoever claims the node after that.
    private async Task ReapNodeAsync(string node, CancellationToken ct)
    {
        var nodeUsers = NodeUsersKey(node);
        foreach (var member in await _db.SetMembersAsync(nodeUsers))
        {
            if (ct.IsCancellationRequested)
            {
                return;
            }

            if (!Guid.TryParse((string?)member, out var user))
            {
                await _db.SetRemoveAsync(nodeUsers, member);
                continue;
            }

            var result = (RedisResult[])(await _db.ScriptEvaluateAsync(
                ReapUserScript,
                [UserKey(user), nodeUsers, _leases],
                [node, user.ToString("D"), ChannelName(user), _retentionMs]))!;
            var status = (int)result[0];
            if (status == -2)
            {
                break;
            }

            if (status == (int)UserStatus.Offline)
            {
                _observer?.WentOffline(user, (long)result[1]);
            }
        }

        await _db.SortedSetRemoveAsync(_reaping, node);
    }
}
