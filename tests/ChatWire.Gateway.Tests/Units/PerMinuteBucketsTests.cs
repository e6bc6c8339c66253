using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Tests.Units;

// docs/http-api.md, "Throttles": a minute's allowance at once, then one attempt back every 60/N seconds, and a
// refusal's Retry-After that says when the next one is free (not a whole minute).
public sealed class PerMinuteBucketsTests
{
    [Theory]
    [InlineData(30, 3)]   // a token every 2 s, plus the limiter's 100 ms tick
    [InlineData(10, 7)]   // every 6 s
    [InlineData(100, 1)]  // every 0.6 s
    [InlineData(100000, 1)]
    public void Refusal_RetryAfter_IsTheTimeOneAttemptTakesToComeBack(int perMinute, int retryAfterSeconds)
    {
        using var limiter = PerMinuteBuckets.Create<string>(perMinute);
        var refused = Drain(limiter, "203.0.113.7", perMinute);

        Assert.Equal(ErrorCode.RateLimited, refused.Code);
        Assert.Equal(retryAfterSeconds, refused.RetryAfterSeconds);
    }

    [Fact]
    public async Task AfterItsRetryAfter_OneMoreAttemptIsAllowed_OtherKeysNeverWaited()
    {
        using var limiter = PerMinuteBuckets.Create<string>(60);
        var refused = Drain(limiter, "alice", 60);
        Assert.Equal(2, refused.RetryAfterSeconds);
        PerMinuteBuckets.Take(limiter, "bob", "refused");

        await Task.Delay(TimeSpan.FromSeconds(refused.RetryAfterSeconds!.Value));

        PerMinuteBuckets.Take(limiter, "alice", "refused");
    }

    [Fact]
    public void AttemptThrottle_PrekeyThrottle_AnswerWithTheSameShortRetryAfter()
    {
        using var attempts = new AttemptThrottle(Options.Create(new AuthOptions { AttemptsPerIpPerMinute = 30 }));
        for (var i = 0; i < 30; i++)
        {
            attempts.CheckAddress("login", "198.51.100.1");
        }

        var login = Assert.Throws<RequestRefusedException>(() => attempts.CheckAddress("login", "198.51.100.1"));
        Assert.Equal(3, login.RetryAfterSeconds);
        attempts.CheckAddress("signup", "198.51.100.1");

        using var prekeys = new Keys.PrekeyClaimThrottle(Options.Create(new LimitsOptions { PrekeyClaimsPerMinutePerUser = 60 }));
        var user = Guid.NewGuid();
        for (var i = 0; i < 60; i++)
        {
            prekeys.Take(user);
        }

        Assert.Equal(2, Assert.Throws<RequestRefusedException>(() => prekeys.Take(user)).RetryAfterSeconds);
    }

    // Takes the whole allowance, and what came back meanwhile, until an attempt is refused.
    private static RequestRefusedException Drain(System.Threading.RateLimiting.PartitionedRateLimiter<string> limiter, string key, int perMinute)
    {
        for (var taken = 0; taken < perMinute * 2; taken++)
        {
            try
            {
                PerMinuteBuckets.Take(limiter, key, "refused");
            }
            catch (RequestRefusedException refused)
            {
                Assert.True(taken >= perMinute, $"refused after {taken} of a burst of {perMinute}");
                return refused;
            }
        }

        throw new Xunit.Sdk.XunitException($"{perMinute * 2} attempts in a row were allowed");
    }
}
