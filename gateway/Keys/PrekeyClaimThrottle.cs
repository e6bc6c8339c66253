using System.Threading.RateLimiting;
using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Keys;

/// <summary>
/// Limits one-time prekey claims per calling user (a token bucket refilled each minute,
/// <c>Limits:PrekeyClaimsPerMinutePerUser</c>). A one-time prekey is handed out once; without a limit one
/// team-mate could drain every device's prekeys and push everyone onto the signed-prekey-only fallback, which
/// gives up the one-time key's forward secrecy. Partitions idle out on their own.
/// </summary>
internal sealed class PrekeyClaimThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<Guid> _perUser;

    public PrekeyClaimThrottle(IOptions<LimitsOptions> options)
    {
        var perMinute = options.Value.PrekeyClaimsPerMinutePerUser;
        _perUser = PartitionedRateLimiter.Create<Guid, Guid>(user => RateLimitPartition.GetTokenBucketLimiter(user, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = perMinute,
            TokensPerPeriod = perMinute,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    /// <summary>Takes one claim for <paramref name="userId"/>, or throws RATE_LIMITED with the seconds until the next.</summary>
    public void Take(Guid userId)
    {
        using var lease = _perUser.AttemptAcquire(userId);
        if (!lease.IsAcquired)
        {
            var retry = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)) : 60;
            throw new RequestRefusedException(ErrorCode.RateLimited, "Too many prekey claims; retry later.", retryAfterSeconds: retry);
        }
    }

    public void Dispose() => _perUser.Dispose();
}
