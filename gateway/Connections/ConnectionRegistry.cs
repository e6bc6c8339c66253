using System.Collections.Concurrent;

namespace ChatWire.Gateway.Connections;

/// <summary>
/// Every open protocol connection of this process: what the sweep walks and shutdown closes. Admission
/// (the process budget and the caps) is <see cref="Admission.ConnectionBudget"/>'s, for every listener.
/// </summary>
internal sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<Guid, ProtocolConnection> _connections = new();
    private readonly ConcurrentDictionary<ProtocolConnection, long> _retiring = new(RetiringComparer.Instance);
    private int _count;
    private bool _shuttingDown;

    /// <summary>Set when the host starts stopping: connections accepted from then on are told so and closed.</summary>
    public bool IsShuttingDown => Volatile.Read(ref _shuttingDown);

    public int Count => Volatile.Read(ref _count);

    /// <summary>Open connections, enumerated without locking the dictionary (Values would take every bucket lock and copy).</summary>
    public IEnumerable<ProtocolConnection> Connections
    {
        get
        {
            foreach (var pair in _connections)
            {
                yield return pair.Value;
            }
        }
    }

    public void Add(ProtocolConnection connection)
    {
        _connections[connection.ConnectionId] = connection;
        Interlocked.Increment(ref _count);
    }

    /// <summary>
    /// Stops taking connections in and asks every authenticated connection to move (GO_AWAY); connections
    /// that have not authenticated are closed with SHUTTING_DOWN. Returns how many were sent GO_AWAY.
    /// </summary>
    public int BeginDrain(uint reconnectWindowMs, string message)
    {
        Volatile.Write(ref _shuttingDown, true);
        var sent = 0;
        foreach (var connection in Connections)
        {
            if (connection.GoAway(reconnectWindowMs, message))
            {
                sent++;
            }
            else
            {
                connection.CloseWithError(Protocol.ErrorCode.ShuttingDown, "The server is shutting down; reconnect later.");
            }
        }

        return sent;
    }

    /// <summary>
    /// Stops taking connections in and closes every open one. A connection added concurrently either is
    /// in the walk below or sees the flag afterwards (the handler checks it after <see cref="Add"/>).
    /// </summary>
    public void BeginShutdown()
    {
        Volatile.Write(ref _shuttingDown, true);
        foreach (var connection in Connections)
        {
            connection.CloseWithError(Protocol.ErrorCode.ShuttingDown, "The server is shutting down; reconnect later.");
        }
    }

    /// <summary>
    /// The connection's read loop has ended. One the server closed is kept until <see cref="SweepRetiring"/>
    /// has made sure its transport is gone, so a peer that stops reading cannot keep its socket open.
    /// </summary>
    public void Retire(ProtocolConnection connection, bool closedByPeer)
    {
        if (!_connections.TryRemove(connection.ConnectionId, out _))
        {
            return;
        }

        Interlocked.Decrement(ref _count);
        if (!closedByPeer)
        {
            _retiring[connection] = Environment.TickCount64;
        }
    }

    /// <summary>Aborts server-closed connections still open after the grace period.</summary>
    public void SweepRetiring(long now)
    {
        foreach (var (connection, since) in _retiring)
        {
            if (now - since > ProtocolConnection.CloseGraceMs && _retiring.TryRemove(connection, out _))
            {
                connection.AbortIfOpen();
            }
        }
    }
}

/// <summary>Retiring sessions by reference, hashed by connection id (not the identity hash: see DeliveryTargetComparer).</summary>
internal sealed class RetiringComparer : IEqualityComparer<ProtocolConnection>
{
    public static readonly RetiringComparer Instance = new();

    public bool Equals(ProtocolConnection? x, ProtocolConnection? y) => ReferenceEquals(x, y);

    public int GetHashCode(ProtocolConnection obj) => obj.ConnectionId.GetHashCode();
}
