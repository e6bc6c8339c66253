using System.Threading.RateLimiting;
using ChatWire.Protocol;

namespace ChatWire.Gateway.Accounts;

/// <summary>
/// Token buckets that allow a burst of N and then refill smoothly at N a minute, one token every 60/N seconds,
/// so that a refusal's Retry-After can say how long until the next attempt is free: the time one token takes to
/// come back, plus the partitioned limiter's 100 ms replenishment tick, rounded up to whole seconds. (A bucket
/// declared as "N tokens per minute" fills at the same rate, but the runtime's limiter then answers every refusal
/// with a whole minute.)
/// </summary>
internal static class PerMinuteBuckets
{
    // The partitioned limiter replenishes its buckets on a 100 ms timer; a token due now may arrive that much later.
    private static readonly TimeSpan ReplenishTick = TimeSpan.FromMilliseconds(100);

    public static PartitionedRateLimiter<TKey> Create<TKey>(int perMinute)
        where TKey : notnull
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perMinute, 1);

        // At most 600 refills a minute, one per tick: a larger allowance refills several tokens at a time.
        var tokensPerPeriod = (perMinute + 599) / 600;
        var period = TimeSpan.FromMinutes(1) * tokensPerPeriod / perMinute;
        return PartitionedRateLimiter.Create<TKey, TKey>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = perMinute,
            TokensPerPeriod = tokensPerPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    /// <summary>Takes one token for <paramref name="key"/>, or throws RATE_LIMITED with the seconds until one is free.</summary>
    public static void Take<TKey>(PartitionedRateLimiter<TKey> limiter, TKey key, string refusal)
        where TKey : notnull
    {
        using var lease = limiter.AttemptAcquire(key);
        if (!lease.IsAcquired)
        {
            var wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after + ReplenishTick : TimeSpan.FromMinutes(1);
            throw new RequestRefusedException(ErrorCode.RateLimited, refusal, retryAfterSeconds: Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)));
        }
    }
}
