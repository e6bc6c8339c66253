using System.Threading.RateLimiting;
using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Keys;

/// <summary>
/// Limits one-time prekey claims per calling user (a minute's allowance that refills smoothly,
/// <c>Limits:PrekeyClaimsPerMinutePerUser</c>). A one-time prekey is handed out once; without a limit one
/// team-mate could drain every device's prekeys and push everyone onto the signed-prekey-only fallback, which
/// gives up the one-time key's forward secrecy. Partitions idle out on their own.
/// </summary>
internal sealed class PrekeyClaimThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<Guid> _perUser;

    public PrekeyClaimThrottle(IOptions<LimitsOptions> options)
    {
        _perUser = PerMinuteBuckets.Create<Guid>(options.Value.PrekeyClaimsPerMinutePerUser);
    }

    /// <summary>Takes one claim for <paramref name="userId"/>, or throws RATE_LIMITED with the seconds until the next.</summary>
    public void Take(Guid userId) => PerMinuteBuckets.Take(_perUser, userId, "Too many prekey claims; retry later.");

    public void Dispose() => _perUser.Dispose();
}
