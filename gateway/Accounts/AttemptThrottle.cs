using System.Threading.RateLimiting;
using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Accounts;

/// <summary>
/// Throttles guessing: login, sign-up and invite-join attempts per client address and per account, as
/// token buckets refilled each minute. Partitions idle out on their own, so memory follows active keys.
/// </summary>
internal sealed class AttemptThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _perIp;
    private readonly PartitionedRateLimiter<string> _perAccount;

    public AttemptThrottle(IOptions<AuthOptions> options)
    {
        var o = options.Value;
        _perIp = Create(o.AttemptsPerIpPerMinute);
        _perAccount = Create(o.AttemptsPerAccountPerMinute);
    }

    /// <summary>Throws RATE_LIMITED when the address or the account has used up its attempts.</summary>
    public void Check(string action, string? clientAddress, string? account)
    {
        using var ipLease = _perIp.AttemptAcquire($"{action}|{clientAddress ?? "?"}");
        if (!ipLease.IsAcquired)
        {
            throw Limited(ipLease);
        }

        if (account is not null)
        {
            using var accountLease = _perAccount.AttemptAcquire($"{action}|{account.ToUpperInvariant()}");
            if (!accountLease.IsAcquired)
            {
                throw Limited(accountLease);
            }
        }
    }

    public void Dispose()
    {
        _perIp.Dispose();
        _perAccount.Dispose();
    }

    private static RequestRefusedException Limited(RateLimitLease lease)
    {
        var retry = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)) : 60;
        return new RequestRefusedException(ErrorCode.RateLimited, "Too many attempts; retry later.", retryAfterSeconds: retry);
    }

    private static PartitionedRateLimiter<string> Create(int perMinute) =>
        PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = perMinute,
            TokensPerPeriod = perMinute,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
}
