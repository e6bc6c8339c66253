using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Admission;

/// <summary>The listeners a connection can arrive on.</summary>
internal enum ListenerKind
{
    Tcp = 0,
    Tls = 1,
    Http = 2,
    Management = 3,
    Noise = 4,
}

/// <summary>
/// One budget of open connections for every listener, kept below the process's open-file limit so that a
/// flood is refused by ChatWire, never by the kernel (an accept that fails for lack of file descriptors can
/// stop a listener for good). Three checks, in order:
/// <list type="number">
/// <item>the process budget, taken at accept time, before anything else runs for the connection
/// (<see cref="GuardedListenerFactory"/>); a connection over it is closed at once;</item>
/// <item>the listener's own cap, so a flood of one listener (say, idle HTTP keep-alives) cannot take the
/// slots of the others;</item>
/// <item>the client address's cap (IPv6 by /64), across every listener, and its rate of new connections
/// (<see cref="GatewayOptions.ConnectionsPerMinutePerIp"/>, a token bucket per address: a reconnect loop or a
/// handshake flood from one address cannot spend the server's CPU faster than that); trusted proxies are exempt.</item>
/// </list>
/// The last two run as the first connection middleware of each listener, before the TLS handshake, and a
/// connection's slots are released when it ends.
/// </summary>
internal sealed class ConnectionBudget : IDisposable
{
    private readonly int[] _perListener = new int[5];
    private readonly int[] _listenerCaps = new int[5];
    private readonly ConcurrentDictionary<IPAddress, int> _perAddress = new();
    private readonly HashSet<IPAddress> _exempt;
    private readonly string[] _listenerCapReasons;
    private readonly int _perAddressCap;
    private readonly KeyBudget? _perAddressRate;
    private int _open;

    public ConnectionBudget(IOptions<GatewayOptions> options, TimeProvider time)
    {
        var o = options.Value;
        OpenFileLimit = ReadOpenFileLimit();
        // The reserve covers what is open now (assemblies, stores, logs: a few hundred) plus what opens later
        // (TLS libraries on the first handshake, store files, accepts in flight), and never less than a quarter
        // of a small limit.
        Reserve = OpenFileLimit is { } limit
            ? Math.Max(Math.Clamp(limit / 4, 64, 1024), CountOpenFiles() + LateOpenFiles)
            : 1024;
        var derived = OpenFileLimit is { } l ? Math.Max(64, l - Reserve) : 10_000;
        Total = o.MaxConnections > 0 ? Math.Min(o.MaxConnections, derived) : derived;
        _listenerCaps[(int)ListenerKind.Tcp] = Total;
        _listenerCaps[(int)ListenerKind.Tls] = Total;
        _listenerCaps[(int)ListenerKind.Noise] = Total;
        _listenerCaps[(int)ListenerKind.Http] = Math.Min(Total, o.MaxHttpConnections > 0 ? o.MaxHttpConnections : Math.Max(16, Total / 4));
        _listenerCaps[(int)ListenerKind.Management] = Math.Min(Total, o.MaxManagementConnections);
        _perAddressCap = o.MaxConnectionsPerIp;
        PerAddressRate = o.ConnectionsPerMinutePerIp
            ?? (int)Math.Min((long)o.MaxConnectionsPerIp * 4, GatewayOptionsValidation.MaxConnectionsPerMinutePerIp);
        _perAddressRate = PerAddressRate > 0 ? new KeyBudget("connections", PerAddressRate, time) : null;
        _exempt = [.. o.TrustedProxies.Select(p => ClientAddress.Unmapped(IPAddress.Parse(p)))];
        _listenerCapReasons = [.. Enum.GetValues<ListenerKind>().Select(l => l.ToString().ToLowerInvariant() + " listener cap")];
    }

    /// <summary>The process's open-file limit (soft, which .NET raises to the hard limit at start); null where unknown.</summary>
    public int? OpenFileLimit { get; }

    /// <summary>File descriptors kept out of the budget for the stores, logs, listeners and accepts in flight.</summary>
    public int Reserve { get; }

    /// <summary>Connections the process holds at most, over every listener.</summary>
    public int Total { get; }

    /// <summary>New connections per minute one client address may open (0 = no limit).</summary>
    public int PerAddressRate { get; }

    public int Open => Volatile.Read(ref _open);

    public int OpenOn(ListenerKind listener) => Volatile.Read(ref _perListener[(int)listener]);

    /// <summary>At accept time: a slot of the process budget, or false (close the connection at once).</summary>
    public bool TryTakeSlot()
    {
        if (Interlocked.Increment(ref _open) <= Total)
        {
            return true;
        }

        Interlocked.Decrement(ref _open);
        return false;
    }

    /// <summary>Gives back a slot <see cref="TryTakeSlot"/> took.</summary>
    public void ReleaseSlot() => Interlocked.Decrement(ref _open);

    /// <summary>The listener's and the address's checks; null when admitted, else the reason.</summary>
    public string? TryAdmit(ListenerKind listener, IPAddress? address) => TryAdmit(listener, address, out _);

    /// <summary>
    /// The listener's and the address's checks; null when admitted, else the reason, with the milliseconds after which
    /// the address may connect again when the reason is its rate (0 otherwise).
    /// </summary>
    public string? TryAdmit(ListenerKind listener, IPAddress? address, out uint retryAfterMs)
    {
        retryAfterMs = 0;
        if (Interlocked.Increment(ref _perListener[(int)listener]) > _listenerCaps[(int)listener])
        {
            Interlocked.Decrement(ref _perListener[(int)listener]);
            return _listenerCapReasons[(int)listener];
        }

        if (CountedGroup(listener, address) is not { } group)
        {
            return null;
        }

        string? reason = null;
        if (_perAddress.AddOrUpdate(group, 1, static (_, n) => n + 1) > _perAddressCap)
        {
            reason = PerAddressCapReason;
        }
        else if (_perAddressRate?.Take(ClientAddress.GroupKey(group)) is { Allowed: false } spent)
        {
            retryAfterMs = spent.RetryAfterMilliseconds;
            reason = PerAddressRateReason;
        }

        if (reason is not null)
        {
            ReleaseAddress(group);
            Interlocked.Decrement(ref _perListener[(int)listener]);
        }

        return reason;
    }

    /// <summary>Whether <paramref name="address"/> is one of Gateway:TrustedProxies: that exact address, not its /64.</summary>
    public bool IsTrustedProxy(IPAddress address) => _exempt.Contains(ClientAddress.Unmapped(address));

    /// <summary>The reason (and metric label) of a connection refused for its address's rate of new connections.</summary>
    public const string PerAddressRateReason = "per-address connection rate";

    private const string PerAddressCapReason = "per-address connection cap";

    public void Dispose() => _perAddressRate?.Dispose();

    /// <summary>Gives back what <see cref="TryAdmit(ListenerKind, IPAddress?, out uint)"/> took.</summary>
    public void Release(ListenerKind listener, IPAddress? address)
    {
        Interlocked.Decrement(ref _perListener[(int)listener]);
        if (CountedGroup(listener, address) is { } group)
        {
            ReleaseAddress(group);
        }
    }

    // The group an address counts under, or null when it is not counted: unknown, a trusted proxy (that
    // exact address, not its /64), or on the management listener, which its own small cap bounds: a client
    // address at its cap (a load generator on the monitoring host, say) must not make /health fail.
    private IPAddress? CountedGroup(ListenerKind listener, IPAddress? address) =>
        listener == ListenerKind.Management || address is null || IsTrustedProxy(address) ? null : ClientAddress.Group(address);

    private void ReleaseAddress(IPAddress group)
    {
        while (_perAddress.TryGetValue(group, out var n))
        {
            if (n <= 1 ? _perAddress.TryRemove(new KeyValuePair<IPAddress, int>(group, n)) : _perAddress.TryUpdate(group, n - 1, n))
            {
                return;
            }
        }
    }

    /// <summary>Files a running gateway opens after start-up (libraries loaded on first use, store files).</summary>
    private const int LateOpenFiles = 256;

    private static int CountOpenFiles()
    {
        try
        {
            return Directory.GetFiles("/proc/self/fd").Length;
        }
        catch (IOException)
        {
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static int? ReadOpenFileLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return int.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var soft) ? soft : null;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }
}
