namespace ChatWire.Routing.Presence;

/// <summary>A user's presence as the cluster sees it; the values are the protocol's (docs/protocol.md §4.25).</summary>
public enum UserStatus : byte
{
    Offline = 0,
    Online = 1,
    Away = 2,
    DoNotDisturb = 3,
}

/// <summary>
/// One user's presence: <see cref="LastSeenUnixMs"/> is when their last device left, for an offline user whose
/// registry remembers it; 0 when online or not known here (the gateway then asks the directory).
/// </summary>
public readonly record struct UserPresence(Guid UserId, UserStatus Status, long LastSeenUnixMs);

/// <summary>What a registry tells the gateway. Calls for one user come one at a time, in the order the changes happened.</summary>
public interface IPresenceObserver
{
    /// <summary>A user's cluster-wide presence changed: at least every watched user's changes, possibly others'.</summary>
    void PresenceChanged(UserPresence presence);

    /// <summary>
    /// This node made the user go offline, by removing their last device in the cluster or by reaping a dead
    /// node that held them: the node records the last-seen time in the directory (once per going offline).
    /// </summary>
    void WentOffline(Guid userId, long lastSeenUnixMs);
}

/// <summary>
/// The presence port between gateway nodes (docs/protocol.md §4.23–§4.25). The gateway counts its own
/// connections per user and tells the registry only when a user's first device here arrives
/// (<see cref="MarkPresent"/>) and their last device here leaves (<see cref="MarkAbsent"/>); the registry
/// combines every node's view: a user is online while any live node holds them, with one status for all
/// their devices (SET_STATUS is the user's, not a device's or a node's, §4.23), back to online once they
/// have been offline. Changes reach the <see cref="IPresenceObserver"/> for the users this node watches.
/// </summary>
/// <remarks>
/// <see cref="MarkPresent"/>, <see cref="MarkAbsent"/> and <see cref="SetStatus"/> never wait on the network:
/// an adapter takes them in call order (the gateway calls them under its lock, so one user's changes keep
/// their order) and applies them in that order. Presence is best effort: a change lost to a network fault is
/// repaired by the adapter's next re-synchronisation, and watchers may miss an intermediate state, never the
/// final one. Adapters: <see cref="InProcessPresenceRegistry"/> (embedded, one node) and
/// <see cref="Redis.RedisPresenceRegistry"/> (distributed, a lease per node).
/// </remarks>
public interface IPresenceRegistry
{
    /// <summary>Sets the one observer (the gateway's presence service); changes before this are not reported.</summary>
    void Observe(IPresenceObserver observer);

    /// <summary>The user's first device on this node connected.</summary>
    void MarkPresent(Guid userId);

    /// <summary>The user's last device on this node left at <paramref name="atUnixMs"/>.</summary>
    void MarkAbsent(Guid userId, long atUnixMs);

    /// <summary>SET_STATUS from a device of the user on this node (ignored unless the user is present here).</summary>
    void SetStatus(Guid userId, UserStatus status);

    /// <summary>The cluster-wide presence of each user now.</summary>
    ValueTask<IReadOnlyDictionary<Guid, UserPresence>> ReadAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken);

    /// <summary>
    /// A local connection watches these users: their changes reach the observer once the returned task
    /// completes. Reference-counted per user; every call is matched by one <see cref="Unwatch"/> with the same
    /// users. The counting happens before this returns, so calls made in order under the caller's lock count
    /// in that order.
    /// </summary>
    ValueTask WatchAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken);

    /// <summary>Ends one <see cref="WatchAsync"/> of these users; a user no local connection watches is no longer listened for.</summary>
    void Unwatch(IReadOnlyCollection<Guid> userIds);
}
