using System.Net;
using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Admission;

/// <summary>
/// Session tokens refused per client address (IPv6 by /64), over the HTTP API and the protocol's AUTH alike: a
/// minute's allowance (<c>Limits:RefusedTokensPerMinutePerAddress</c>) at once, then one every 60/N seconds. Each
/// refused token costs the directory a lookup, so once an address has spent its allowance, its next token is refused
/// before it is looked up (HTTP <c>429 RATE_LIMITED</c>, AUTH <c>RATE_LIMITED</c> with <c>retry_after_ms</c>), valid
/// or not, until the bucket has room again: a fail2ban-style block that clients whose tokens are valid never cause.
/// Counted on each node. Trusted proxies' own connections are not counted on the protocol listeners; behind one, the
/// HTTP API counts the forwarded client address.
/// </summary>
internal sealed class RefusedTokenBudget : IDisposable
{
    private readonly ConnectionBudget _connections;

    public RefusedTokenBudget(IOptions<LimitsOptions> limits, ConnectionBudget connections, TimeProvider time)
    {
        var perMinute = limits.Value.RefusedTokensPerMinutePerAddress;
        Budget = perMinute > 0 ? new KeyBudget("refused-token", perMinute, time) : null;
        _connections = connections;
    }

    /// <summary>The budget, or null when it is off (0).</summary>
    public KeyBudget? Budget { get; }

    /// <summary>
    /// The key a protocol connection from <paramref name="remote"/> is counted under: its address's group, or null
    /// when it is unknown or a trusted proxy (whose connections carry many clients).
    /// </summary>
    public string? KeyOf(EndPoint? remote) =>
        Budget is not null && (remote as IPEndPoint)?.Address is { } address && !_connections.IsTrustedProxy(address)
            ? ClientAddress.Key(address)
            : null;

    /// <summary>
    /// Whether a token from <paramref name="key"/> may be looked up now; a charge that was not allowed when it may not.
    /// A peek, not a charge: AUTHs from one address racing each other may all pass it and each be charged once
    /// refused, so the store may see up to the address's open connections' worth more than the budget at its edge.
    /// </summary>
    public BudgetCharge? RefusedBeforeLookup(string? key) =>
        key is not null && Budget?.Peek(key) is { Allowed: false } spent ? spent : null;

    /// <summary>Counts a refused token against <paramref name="key"/>.</summary>
    public BudgetCharge? Charge(string? key) => key is null ? null : Budget?.Take(key);

    public void Dispose() => Budget?.Dispose();
}
