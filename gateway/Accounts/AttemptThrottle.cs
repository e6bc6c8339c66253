using System.Threading.RateLimiting;
using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Accounts;

/// <summary>
/// Throttles guessing: login, sign-up, password-change and invite-join attempts, as token buckets of a
/// minute's allowance that refill smoothly (<see cref="PerMinuteBuckets"/>), on three keys:
/// <list type="bullet">
/// <item>the client address (IPv6 by /64), whatever the account: one source cannot try many accounts;</item>
/// <item>the account from that address: one source cannot guess one password for long, and an attacker
/// guessing alice's password from one network locks out only that network, never alice elsewhere;</item>
/// <item>the account from everywhere, with a much higher ceiling: many sources together cannot guess fast.</item>
/// </list>
/// Session tokens are never throttled here, so a device that is signed in keeps working whatever is tried
/// against its account. Partitions idle out on their own, so memory follows active keys.
/// </summary>
internal sealed class AttemptThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _perIp;
    private readonly PartitionedRateLimiter<string> _perAccountAndIp;
    private readonly PartitionedRateLimiter<string> _perAccount;

    public AttemptThrottle(IOptions<AuthOptions> options)
    {
        var o = options.Value;
        _perIp = PerMinuteBuckets.Create<string>(o.AttemptsPerIpPerMinute);
        _perAccountAndIp = PerMinuteBuckets.Create<string>(o.AttemptsPerAccountPerMinute);
        _perAccount = PerMinuteBuckets.Create<string>(o.AttemptsPerAccountFromAllAddressesPerMinute);
    }

    /// <summary>Throws RATE_LIMITED when the address, or the account from it or from everywhere, has used up its attempts.</summary>
    public void Check(string action, string? clientAddress, string account)
    {
        CheckAddress(action, clientAddress);
        CheckAccount(action, clientAddress, account);
    }

    /// <summary>The account's buckets alone, when the address's was paid before the body was read (AccountRequestGate).</summary>
    public void CheckAccount(string action, string? clientAddress, string account)
    {
        var key = account.ToUpperInvariant();
        Acquire(_perAccountAndIp, $"{action}|{key}|{clientAddress ?? "?"}");
        Acquire(_perAccount, $"{action}|{key}");
    }

    /// <summary>The address's bucket alone: before a request's body is read (AccountRequestGate).</summary>
    public void CheckAddress(string action, string? clientAddress) =>
        Acquire(_perIp, $"{action}|{clientAddress ?? "?"}");

    public void Dispose()
    {
        _perIp.Dispose();
        _perAccountAndIp.Dispose();
        _perAccount.Dispose();
    }

    private static void Acquire(PartitionedRateLimiter<string> limiter, string key) =>
        PerMinuteBuckets.Take(limiter, key, "Too many attempts; retry later.");
}
