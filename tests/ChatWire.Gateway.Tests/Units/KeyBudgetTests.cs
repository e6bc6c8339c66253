using ChatWire.Gateway.Admission;

namespace ChatWire.Gateway.Tests.Units;

// docs/http-api.md, "Rate limits": a minute's allowance at once, then one request back every 60/N seconds; what
// remains and when the budget is whole again, as the RateLimit header reports them.
public sealed class KeyBudgetTests
{
    [Fact]
    public void Burst_OfTheMinutesAllowance_ThenRefused_UntilOneIntervalHasPassed()
    {
        var clock = new SteppingClock();
        using var budget = new KeyBudget("account", 60, clock);

        for (var i = 59; i >= 0; i--)
        {
            var charge = budget.Take("alice");
            Assert.True(charge.Allowed);
            Assert.Equal(i, charge.Remaining);
            Assert.Equal(60 - i, charge.SecondsUntilWhole);
        }

        var refused = budget.Take("alice");
        Assert.False(refused.Allowed);
        Assert.Equal(0, refused.Remaining);
        Assert.Equal(1, refused.RetryAfterSeconds);
        Assert.Equal(1000u, refused.RetryAfterMilliseconds);
        Assert.Equal(60, refused.SecondsUntilWhole);
        Assert.True(budget.Take("bob").Allowed);

        clock.Advance(TimeSpan.FromMilliseconds(999));
        var almost = budget.Take("alice");
        Assert.False(almost.Allowed);
        Assert.Equal((1, 1u), (almost.RetryAfterSeconds, almost.RetryAfterMilliseconds));
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(budget.Take("alice").Allowed);
        Assert.False(budget.Take("alice").Allowed);
    }

    [Theory]
    [InlineData(1200, 1)]
    [InlineData(10, 6)]
    [InlineData(7, 9)]   // 8.57 s, rounded up
    public void Refusal_RetryAfter_IsOneIntervalRoundedUp(int perMinute, int retryAfterSeconds)
    {
        using var budget = new KeyBudget("address", perMinute, new SteppingClock());
        for (var i = 0; i < perMinute; i++)
        {
            Assert.True(budget.Take("203.0.113.7").Allowed);
        }

        Assert.Equal(retryAfterSeconds, budget.Take("203.0.113.7").RetryAfterSeconds);
    }

    [Fact]
    public void QuietKey_RefillsToTheAllowance_NeverBeyondIt()
    {
        var clock = new SteppingClock();
        using var budget = new KeyBudget("account", 10, clock);
        for (var i = 0; i < 10; i++)
        {
            budget.Take("carol");
        }

        clock.Advance(TimeSpan.FromMinutes(5));
        var charge = budget.Take("carol");
        Assert.Equal(9, charge.Remaining);
        Assert.Equal(6, charge.SecondsUntilWhole);
    }

    [Fact]
    public void Sweep_DropsOnlyKeysWhoseBudgetIsWhole()
    {
        var clock = new SteppingClock();
        using var budget = new KeyBudget("account", 60, clock);
        budget.Take("dave");
        for (var i = 0; i < 30; i++)
        {
            budget.Take("erin");
        }

        clock.Advance(TimeSpan.FromSeconds(2));
        budget.Sweep();
        Assert.Equal(1, budget.Count);

        clock.Advance(TimeSpan.FromSeconds(30));
        budget.Sweep();
        Assert.Equal(0, budget.Count);
        Assert.Equal(59, budget.Take("erin").Remaining);
    }

    [Fact]
    public async Task ConcurrentCharges_OfOneKey_AllowExactlyTheAllowance()
    {
        using var budget = new KeyBudget("account", 1000, new SteppingClock());
        var allowed = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 500; i++)
            {
                if (budget.Take("frank").Allowed)
                {
                    Interlocked.Increment(ref allowed);
                }
            }
        })));

        Assert.Equal(1000, allowed);
    }
}
