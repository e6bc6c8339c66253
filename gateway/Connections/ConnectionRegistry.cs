using System.Collections.Concurrent;
using System.Net;
using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Connections;

/// <summary>Every open protocol connection of this process, with the per-process and per-address caps.</summary>
internal sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<Guid, ProtocolConnection> _connections = new();
    private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new();
    private readonly ConcurrentDictionary<ProtocolConnection, long> _retiring = new();
    private readonly int _maxPerAddress;
    private int _count;
    private bool _shuttingDown;

    public ConnectionRegistry(IOptions<GatewayOptions> options)
    {
        var o = options.Value;
        MaxConnections = o.MaxConnections > 0 ? o.MaxConnections : DefaultMaxConnections();
        _maxPerAddress = o.MaxConnectionsPerIp;
    }

    public int MaxConnections { get; }

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

    /// <summary>Reserves a slot for a new connection; the reason when refused.</summary>
    public string? TryAdmit(IPAddress? address)
    {
        if (Interlocked.Increment(ref _count) > MaxConnections)
        {
            Interlocked.Decrement(ref _count);
            return "process connection cap";
        }

        if (address is not null && _perAddress.AddOrUpdate(address, 1, static (_, n) => n + 1) > _maxPerAddress)
        {
            Release(address);
            return "per-address connection cap";
        }

        return null;
    }

    public void Add(ProtocolConnection connection) => _connections[connection.ConnectionId] = connection;

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
    /// The connection's read loop has ended. A connection its peer closed frees its slot now; one the server
    /// closed keeps its slot until <see cref="SweepRetiring"/> has made sure the transport is gone, so a
    /// peer that stops reading cannot keep sockets open outside the caps.
    /// </summary>
    public void Retire(ProtocolConnection connection, bool closedByPeer)
    {
        if (!_connections.TryRemove(connection.ConnectionId, out _))
        {
            return;
        }

        if (closedByPeer)
        {
            Release(connection.RemoteAddress);
        }
        else
        {
            _retiring[connection] = Environment.TickCount64;
        }
    }

    /// <summary>Aborts server-closed connections still open after the grace period, and frees their slots.</summary>
    public void SweepRetiring(long now)
    {
        foreach (var (connection, since) in _retiring)
        {
            if (now - since > ProtocolConnection.CloseGraceMs && _retiring.TryRemove(connection, out _))
            {
                connection.AbortIfOpen();
                Release(connection.RemoteAddress);
            }
        }
    }

    private void Release(IPAddress? address)
    {
        Interlocked.Decrement(ref _count);
        if (address is null)
        {
            return;
        }

        while (_perAddress.TryGetValue(address, out var n))
        {
            if (n <= 1 ? _perAddress.TryRemove(new KeyValuePair<IPAddress, int>(address, n)) : _perAddress.TryUpdate(address, n - 1, n))
            {
                return;
            }
        }
    }

    // One process may hold only so many open files (20,000 on the machines this was built on): keep 1,024 spare for
    // the store, logs and the listeners themselves so the cap, not an EMFILE, refuses the next connection.
    private static int DefaultMaxConnections()
    {
        const int Fallback = 10_000;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return int.TryParse(parts[3], out var soft) ? Math.Max(64, soft - 1024) : Fallback;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return Fallback;
    }
}
