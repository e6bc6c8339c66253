namespace ChatWire.Routing.Redis;

/// <summary>The Redis presence adapter's settings (<see cref="RedisPresenceRegistry"/>).</summary>
public sealed record RedisPresenceOptions
{
    /// <summary>Prefix of every key and channel; a test takes a fresh one to be alone.</summary>
    public string KeyPrefix { get; init; } = "chatwire:presence:";

    /// <summary>How long a node's lease lasts past its last refresh: how long a dead node's users stay online.</summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How often a node refreshes its lease and reaps expired ones; well under <see cref="LeaseTtl"/>.</summary>
    public TimeSpan LeaseRefresh { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long an offline user's hash (last seen) stays in Redis; the directory keeps last seen for good.</summary>
    public TimeSpan OfflineRetention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Told of each failed Redis call (the adapter repairs what it can at the next refresh); e.g. a log line.</summary>
    public Action<Exception>? OnError { get; init; }
}
