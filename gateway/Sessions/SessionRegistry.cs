using System.Collections.Concurrent;
using System.Net;
using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Sessions;

/// <summary>Every open protocol connection of this process, with the per-process and per-address caps.</summary>
internal sealed class SessionRegistry
{
    private readonly ConcurrentDictionary<Guid, Session> _sessions = new();
    private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new();
    private readonly ConcurrentDictionary<Session, long> _retiring = new();
    private readonly int _maxPerAddress;
    private int _count;
    private bool _shuttingDown;

    public SessionRegistry(IOptions<GatewayOptions> options)
    {
        var o = options.Value;
        MaxConnections = o.MaxConnections > 0 ? o.MaxConnections : DefaultMaxConnections();
        _maxPerAddress = o.MaxConnectionsPerIp;
    }

    public int MaxConnections { get; }

    /// <summary>Set when the host starts stopping: connections accepted from then on are told so and closed.</summary>
    public bool IsShuttingDown => Volatile.Read(ref _shuttingDown);

    public int Count => Volatile.Read(ref _count);

    /// <summary>Open sessions, enumerated without locking the dictionary (Values would take every bucket lock and copy).</summary>
    public IEnumerable<Session> Sessions
    {
        get
        {
            foreach (var pair in _sessions)
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

    public void Add(Session session) => _sessions[session.ConnectionId] = session;

    /// <summary>
    /// Stops taking connections in and closes every open one. A connection added concurrently either is
    /// in the walk below or sees the flag afterwards (the handler checks it after <see cref="Add"/>).
    /// </summary>
    public void BeginShutdown()
    {
        Volatile.Write(ref _shuttingDown, true);
        foreach (var session in Sessions)
        {
            session.CloseWithError(Protocol.ErrorCode.ShuttingDown, "The server is shutting down; reconnect later.");
        }
    }

    /// <summary>
    /// The session's read loop has ended. A connection its peer closed frees its slot now; one the server
    /// closed keeps its slot until <see cref="SweepRetiring"/> has made sure the transport is gone, so a
    /// peer that stops reading cannot keep sockets open outside the caps.
    /// </summary>
    public void Retire(Session session, bool closedByPeer)
    {
        if (!_sessions.TryRemove(session.ConnectionId, out _))
        {
            return;
        }

        if (closedByPeer)
        {
            Release(session.RemoteAddress);
        }
        else
        {
            _retiring[session] = Environment.TickCount64;
        }
    }

    /// <summary>Aborts server-closed connections still open after the grace period, and frees their slots.</summary>
    public void SweepRetiring(long now)
    {
        foreach (var (session, since) in _retiring)
        {
            if (now - since > Session.CloseGraceMs && _retiring.TryRemove(session, out _))
            {
                session.AbortIfOpen();
                Release(session.RemoteAddress);
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

    // One process may hold only so many open files (DESIGN; 20,000 on these machines): keep 1,024 spare for
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
