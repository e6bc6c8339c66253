namespace ChatWire.Routing.Presence;

/// <summary>
/// The embedded mode's presence: one node holds every connection, so the cluster is this process. Changes are
/// reported on the caller's thread, inside the call that made them (the gateway calls under its lock, so its
/// watchers hear one user's changes in order); every user's changes are reported, watched or not, and
/// watching costs nothing.
/// </summary>
public sealed class InProcessPresenceRegistry : IPresenceRegistry
{
    // Last-seen times kept in memory for users who went offline here; past this many the oldest knowledge
    // is dropped (the directory keeps every one).
    private const int MaxRememberedLastSeen = 100_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, UserStatus> _online = [];
    private readonly Dictionary<Guid, long> _lastSeen = [];
    private IPresenceObserver? _observer;

    public void Observe(IPresenceObserver observer) => _observer = observer;

    public void MarkPresent(Guid userId)
    {
        lock (_lock)
        {
            if (_online.TryAdd(userId, UserStatus.Online))
            {
                _lastSeen.Remove(userId);
                _observer?.PresenceChanged(new UserPresence(userId, UserStatus.Online, 0));
            }
        }
    }

    public void MarkAbsent(Guid userId, long atUnixMs)
    {
        lock (_lock)
        {
            if (!_online.Remove(userId))
            {
                return;
            }

            if (_lastSeen.Count >= MaxRememberedLastSeen)
            {
                _lastSeen.Clear();
            }

            _lastSeen[userId] = atUnixMs;
            _observer?.PresenceChanged(new UserPresence(userId, UserStatus.Offline, atUnixMs));
            _observer?.WentOffline(userId, atUnixMs);
        }
    }

    public void SetStatus(Guid userId, UserStatus status)
    {
        ArgumentOutOfRangeException.ThrowIfEqual(status, UserStatus.Offline);
        lock (_lock)
        {
            if (_online.TryGetValue(userId, out var current) && current != status)
            {
                _online[userId] = status;
                _observer?.PresenceChanged(new UserPresence(userId, status, 0));
            }
        }
    }

    public ValueTask<IReadOnlyDictionary<Guid, UserPresence>> ReadAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken)
    {
        var entries = new Dictionary<Guid, UserPresence>(userIds.Count);
        lock (_lock)
        {
            foreach (var user in userIds)
            {
                entries[user] = _online.TryGetValue(user, out var status)
                    ? new UserPresence(user, status, 0)
                    : new UserPresence(user, UserStatus.Offline, _lastSeen.GetValueOrDefault(user));
            }
        }

        return ValueTask.FromResult<IReadOnlyDictionary<Guid, UserPresence>>(entries);
    }

    public ValueTask WatchAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public void Unwatch(IReadOnlyCollection<Guid> userIds)
    {
    }
}
