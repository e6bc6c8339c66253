using System.Buffers;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Storage.Directory;

namespace ChatWire.Gateway.Delivery;

/// <summary>
/// Who is online, and who wants to know (docs/protocol.md §4.22–§4.24). A user is online while any of their
/// devices is connected, with the status they chose (online, away, do not disturb; back to online when
/// their last device goes); when the last device goes the user is offline and "last seen" is recorded, in
/// memory and in the directory. A connection watches the presence of a bounded set of users (at most 200,
/// never a whole team) and is pushed a PRESENCE frame, encoded once per change, when one of them changes.
/// </summary>
/// <remarks>
/// This is the embedded mode's presence: one process knows every connection. The distributed mode keeps
/// the same rules with each node's connections counted in Redis under a lease (docs/architecture.md).
/// Watches are allowed for users who share a team with the watcher; others read as offline.
/// </remarks>
internal sealed class PresenceService(IDirectoryStore directory, TimeProvider time, ILogger<PresenceService> logger)
{
    // Last-seen times kept in memory for users who went offline here; past this many the oldest knowledge
    // is dropped (the directory keeps every one).
    private const int MaxRememberedLastSeen = 100_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, UserState> _online = [];
    private readonly Dictionary<Guid, long> _lastSeen = [];
    private readonly Dictionary<Guid, HashSet<IDeliveryTarget>> _watchers = [];
    private readonly Dictionary<IDeliveryTarget, Guid[]> _watching = new(ReferenceEqualityComparer.Instance);

    /// <summary>Users with at least one device connected here.</summary>
    public int OnlineUsers
    {
        get
        {
            lock (_lock)
            {
                return _online.Count;
            }
        }
    }

    /// <summary>A device of the user connected (after AUTH).</summary>
    public void Connected(IDeliveryTarget target)
    {
        lock (_lock)
        {
            if (_online.TryGetValue(target.UserId, out var state))
            {
                state.Connections++;
            }
            else
            {
                _lastSeen.Remove(target.UserId);
                _online[target.UserId] = new UserState { Connections = 1 };
                NotifyLocked(new PresenceEntry(target.UserId, PresenceStatus.Online, 0));
            }
        }
    }

    /// <summary>A device's connection closed: its watches end, and the user goes offline with their last device.</summary>
    public void Disconnected(IDeliveryTarget target)
    {
        var now = time.GetUtcNow();
        var wentOffline = false;
        lock (_lock)
        {
            Unwatch(target);
            if (_online.TryGetValue(target.UserId, out var state) && --state.Connections == 0)
            {
                _online.Remove(target.UserId);
                if (_lastSeen.Count >= MaxRememberedLastSeen)
                {
                    _lastSeen.Clear();
                }

                _lastSeen[target.UserId] = now.ToUnixTimeMilliseconds();
                NotifyLocked(new PresenceEntry(target.UserId, PresenceStatus.Offline, now.ToUnixTimeMilliseconds()));
                wentOffline = true;
            }
        }

        if (wentOffline)
        {
            _ = RecordLastSeenAsync(target.UserId, now);
        }
    }

    /// <summary>SET_STATUS: the user's chosen status, for all their devices, while any is connected.</summary>
    public void SetStatus(Guid userId, PresenceStatus status)
    {
        lock (_lock)
        {
            if (_online.TryGetValue(userId, out var state) && state.Status != status)
            {
                state.Status = status;
                NotifyLocked(new PresenceEntry(userId, status, 0));
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
        var allowed = wanted.Length == 0 ? new HashSet<Guid>() : await directory.FilterTeammatesAsync(target.UserId, wanted, ct);
        var watched = wanted.Where(allowed.Contains).ToArray();
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
                        _watchers[user] = set = new HashSet<IDeliveryTarget>(ReferenceEqualityComparer.Instance);
                    }

                    set.Add(target);
                }
            }
        }

        var entries = await GetAsync(watched, ct);
        return [.. wanted.Select(user => allowed.Contains(user) ? entries[user] : new PresenceEntry(user, PresenceStatus.Offline, 0))];
    }

    /// <summary>The presence of each user now; last seen from memory, else from the directory.</summary>
    public async Task<IReadOnlyDictionary<Guid, PresenceEntry>> GetAsync(IReadOnlyCollection<Guid> userIds, CancellationToken ct)
    {
        var entries = new Dictionary<Guid, PresenceEntry>(userIds.Count);
        var unknown = new List<Guid>();
        lock (_lock)
        {
            foreach (var user in userIds)
            {
                if (_online.TryGetValue(user, out var state))
                {
                    entries[user] = new PresenceEntry(user, state.Status, 0);
                }
                else if (_lastSeen.TryGetValue(user, out var seen))
                {
                    entries[user] = new PresenceEntry(user, PresenceStatus.Offline, seen);
                }
                else
                {
                    unknown.Add(user);
                }
            }
        }

        var stored = unknown.Count == 0 ? null : await directory.GetLastSeenAsync(unknown, ct);
        foreach (var user in unknown)
        {
            entries[user] = new PresenceEntry(user, PresenceStatus.Offline, stored!.TryGetValue(user, out var seen) ? seen.ToUnixTimeMilliseconds() : 0);
        }

        return entries;
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
    }

    // Called under _lock, so a user's changes reach every watcher in the order they happened (a device
    // leaving while another connects must not read as offline last). One PRESENCE frame per change, the same
    // bytes to every watcher; Deliver only copies into the connection's buffer, it never waits.
    private void NotifyLocked(PresenceEntry entry)
    {
        if (!_watchers.TryGetValue(entry.UserId, out var set) || set.Count == 0)
        {
            return;
        }

        var encoded = new ArrayBufferWriter<byte>(64);
        FrameCodec.Write(encoded, new PresenceFrame(0, [entry]));
        foreach (var target in set)
        {
            target.Deliver(encoded.WrittenSpan);
        }
    }

    private async Task RecordLastSeenAsync(Guid userId, DateTimeOffset at)
    {
        try
        {
            await directory.SetLastSeenAsync(userId, at);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Memory still has it; the directory's copy is for after a restart.
            GatewayLog.StoreFailed(logger, ex);
        }
    }

    private sealed class UserState
    {
        public int Connections { get; set; }

        public PresenceStatus Status { get; set; } = PresenceStatus.Online;
    }
}
