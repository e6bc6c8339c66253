using System.Buffers;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Routing.Presence;
using ChatWire.Storage.Directory;

namespace ChatWire.Gateway.Delivery;

/// <summary>
/// Who is online, and who wants to know (docs/protocol.md §4.22–§4.24). A user is online while any of their
/// devices is connected, on any node, with the status they chose (online, away, do not disturb; back to online
/// when their last device goes); when the last device goes, and none comes back within
/// <see cref="Hosting.GatewayOptions.PresenceOfflineGraceMs"/>, the user is offline and "last seen" (when the last
/// device went) is recorded, in the registry and in the directory. A connection watches the presence of a bounded set of users (at most
/// 200, never a whole team) and is pushed a PRESENCE frame, encoded once per change, when one of them changes.
/// </summary>
/// <remarks>
/// This service counts this node's connections per user and keeps which local connection watches whom; the
/// cluster-wide state is the <see cref="IPresenceRegistry"/>'s: it hears only a user's first device arriving
/// here and last device leaving here, and reports back every change of a watched user, from any node
/// (embedded: <see cref="InProcessPresenceRegistry"/>, inside the call that made the change; distributed:
/// Redis under a lease per node, so a dead node's users go offline when its lease expires). The registry is
/// called under <c>_lock</c>, so one user's changes reach it, and from it the watchers, in the order they
/// happened here. Watches are allowed for users who share a team with the watcher; others read as offline.
/// </remarks>
internal sealed class PresenceService : IPresenceObserver
{
    private readonly IPresenceRegistry _registry;
    private readonly IDirectoryStore _directory;
    private readonly TimeProvider _time;
    private readonly ILogger<PresenceService> _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, int> _connections = [];

    // Users whose last connection here closed, not yet marked absent: when it closed, and which closing it was
    // (a user who comes back and goes again within the grace is marked absent by the later closing's timer only).
    private readonly Dictionary<Guid, (long LastSeenUnixMs, long Closing)> _leaving = [];
    private readonly TimeSpan _offlineGrace;
    private long _closings;
    private readonly Dictionary<Guid, HashSet<IDeliveryTarget>> _watchers = [];
    private readonly Dictionary<IDeliveryTarget, Guid[]> _watching = new(DeliveryTargetComparer.Instance);

    public PresenceService(IPresenceRegistry registry, IDirectoryStore directory, TimeProvider time, ILogger<PresenceService> logger, Microsoft.Extensions.Options.IOptions<Hosting.GatewayOptions>? options = null)
    {
        _offlineGrace = TimeSpan.FromMilliseconds(options?.Value.PresenceOfflineGraceMs ?? 0);
        _registry = registry;
        _directory = directory;
        _time = time;
        _logger = logger;
        registry.Observe(this);
    }

    /// <summary>A device of the user connected (after AUTH).</summary>
    public void Connected(IDeliveryTarget target)
    {
        lock (_lock)
        {
            if (_connections.TryGetValue(target.UserId, out var count))
            {
                // Back within the grace (count 0): still present in the registry, so watchers saw nothing.
                _connections[target.UserId] = count + 1;
                _leaving.Remove(target.UserId);
            }
            else
            {
                _connections[target.UserId] = 1;
                _registry.MarkPresent(target.UserId);
            }
        }
    }

    /// <summary>A device's connection closed: its watches end, and the user leaves this node with their last device here.</summary>
    public void Disconnected(IDeliveryTarget target)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_lock)
        {
            Unwatch(target);
            if (_connections.TryGetValue(target.UserId, out var count))
            {
                if (count > 1)
                {
                    _connections[target.UserId] = count - 1;
                }
                else if (_offlineGrace <= TimeSpan.Zero)
                {
                    _connections.Remove(target.UserId);
                    _registry.MarkAbsent(target.UserId, now);
                }
                else if (count == 1)
                {
                    _connections[target.UserId] = 0;
                    var closing = ++_closings;
                    _leaving[target.UserId] = (now, closing);
                    _ = MarkAbsentAfterGraceAsync(target.UserId, closing);
                }
            }
        }
    }

    /// <summary>SET_STATUS: the user's chosen status, for all their devices, while any is connected.</summary>
    public void SetStatus(Guid userId, PresenceStatus status)
    {
        lock (_lock)
        {
            if (_connections.GetValueOrDefault(userId) > 0)
            {
                _registry.SetStatus(userId, (UserStatus)status);
            }
        }
    }

    /// <summary>
    /// PRESENCE_WATCH: <paramref name="target"/> now watches <paramref name="userIds"/> (replacing what it
    /// watched) and gets their presence now. Users who share no team with the watcher are not watched and read
    /// as offline, never seen, whatever they are.
    /// </summary>
    public async Task<IReadOnlyList<PresenceEntry>> WatchAsync(IDeliveryTarget target, IReadOnlyList<Guid> userIds, CancellationToken ct)
    {
        var wanted = userIds.Distinct().ToArray();
        var allowed = wanted.Length == 0 ? new HashSet<Guid>() : await _directory.FilterTeammatesAsync(target.UserId, wanted, ct);
        var watched = wanted.Where(allowed.Contains).ToArray();
        ValueTask listening;
        lock (_lock)
        {
            Unwatch(target);
            if (watched.Length > 0)
            {
                _watching[target] = watched;
                foreach (var user in watched)
                {
                    if (!_watchers.TryGetValue(user, out var set))
                    {
                        _watchers[user] = set = new HashSet<IDeliveryTarget>(DeliveryTargetComparer.Instance);
                    }

                    set.Add(target);
                }
            }

            // Counted here, in order with the Unwatch above; with Redis, the subscriptions complete below.
            listening = watched.Length > 0 ? _registry.WatchAsync(watched, ct) : ValueTask.CompletedTask;
        }

        // Listening before reading: a change after the read is pushed, none falls between the two.
        await listening;
        var entries = await GetAsync(watched, ct);
        // Every id asked for, in the order asked, a repeated one as often as it was asked: clients may match by position.
        return [.. userIds.Select(user => allowed.Contains(user) ? entries[user] : new PresenceEntry(user, PresenceStatus.Offline, 0))];
    }

    /// <summary>The presence of each user now; last seen from the registry, else from the directory.</summary>
    public async Task<IReadOnlyDictionary<Guid, PresenceEntry>> GetAsync(IReadOnlyCollection<Guid> userIds, CancellationToken ct)
    {
        var entries = new Dictionary<Guid, PresenceEntry>(userIds.Count);
        if (userIds.Count == 0)
        {
            return entries;
        }

        var unknown = new List<Guid>();
        foreach (var (user, presence) in await _registry.ReadAsync(userIds, ct))
        {
            if (presence.Status == UserStatus.Offline && presence.LastSeenUnixMs == 0)
            {
                unknown.Add(user);
            }
            else
            {
                entries[user] = new PresenceEntry(user, (PresenceStatus)presence.Status, presence.LastSeenUnixMs);
            }
        }

        var stored = unknown.Count == 0 ? null : await _directory.GetLastSeenAsync(unknown, ct);
        foreach (var user in unknown)
        {
            entries[user] = new PresenceEntry(user, PresenceStatus.Offline, stored!.TryGetValue(user, out var seen) ? seen.ToUnixTimeMilliseconds() : 0);
        }

        return entries;
    }

    // From the registry, one call at a time per user and in order (embedded: inside the call that made the
    // change, on this thread, under _lock already). One PRESENCE frame per change, the same bytes to every
    // watcher; Deliver only copies into the connection's buffer, it never waits.
    void IPresenceObserver.PresenceChanged(UserPresence presence)
    {
        lock (_lock)
        {
            if (!_watchers.TryGetValue(presence.UserId, out var set) || set.Count == 0)
            {
                return;
            }

            var encoded = new ArrayBufferWriter<byte>(64);
            FrameCodec.Write(encoded, new PresenceFrame(0, [new PresenceEntry(presence.UserId, (PresenceStatus)presence.Status, presence.LastSeenUnixMs)]));
            foreach (var target in set)
            {
                target.Deliver(encoded.WrittenSpan);
            }
        }
    }

    // Off the caller's thread: the embedded registry calls this under _lock, and the directory write may take a while.
    void IPresenceObserver.WentOffline(Guid userId, long lastSeenUnixMs) =>
        _ = Task.Run(() => RecordLastSeenAsync(userId, DateTimeOffset.FromUnixTimeMilliseconds(lastSeenUnixMs)));

    private async Task MarkAbsentAfterGraceAsync(Guid userId, long closing)
    {
        await Task.Delay(_offlineGrace, _time);
        lock (_lock)
        {
            if (_leaving.TryGetValue(userId, out var leaving) && leaving.Closing == closing && _connections.GetValueOrDefault(userId, -1) == 0)
            {
                _leaving.Remove(userId);
                _connections.Remove(userId);
                _registry.MarkAbsent(userId, leaving.LastSeenUnixMs);
            }
        }
    }

    // Called under _lock.
    private void Unwatch(IDeliveryTarget target)
    {
        if (!_watching.Remove(target, out var watched))
        {
            return;
        }

        foreach (var user in watched)
        {
            if (_watchers.TryGetValue(user, out var set) && set.Remove(target) && set.Count == 0)
            {
                _watchers.Remove(user);
            }
        }

        _registry.Unwatch(watched);
    }

    private async Task RecordLastSeenAsync(Guid userId, DateTimeOffset at)
    {
        try
        {
            await _directory.SetLastSeenAsync(userId, at);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The registry still has it; the directory's copy is for after it forgets (restart, retention).
            GatewayLog.StoreFailed(_logger, ex);
        }
    }
}
