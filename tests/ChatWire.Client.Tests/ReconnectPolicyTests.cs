namespace ChatWire.Client.Tests;

public sealed class ReconnectPolicyTests
{
    [Fact]
    public void GetCeiling_Doubles_FromBaseUpToCap()
    {
        var policy = ReconnectPolicy.Default;

        Assert.Equal(TimeSpan.FromMilliseconds(250), policy.GetCeiling(0));
        Assert.Equal(TimeSpan.FromMilliseconds(500), policy.GetCeiling(1));
        Assert.Equal(TimeSpan.FromMilliseconds(16_000), policy.GetCeiling(6));
        Assert.Equal(TimeSpan.FromSeconds(30), policy.GetCeiling(7));
        Assert.Equal(TimeSpan.FromSeconds(30), policy.GetCeiling(1_000));
    }

    [Fact]
    public void GetDelay_SeededRandom_StaysWithinFullJitterBounds()
    {
        var policy = ReconnectPolicy.Default;
        var random = new Random(12345);

        for (var attempt = 0; attempt < 40; attempt++)
        {
            for (var sample = 0; sample < 50; sample++)
            {
                var delay = policy.GetDelay(attempt, random);
                Assert.InRange(delay, TimeSpan.Zero, policy.GetCeiling(attempt));
            }
        }
    }

    [Fact]
    public void GetDelay_SameSeed_SameDelays()
    {
        var policy = ReconnectPolicy.Default;
        var first = new Random(7);
        var second = new Random(7);

        var a = Enumerable.Range(0, 20).Select(attempt => policy.GetDelay(attempt, first)).ToList();
        var b = Enumerable.Range(0, 20).Select(attempt => policy.GetDelay(attempt, second)).ToList();

        Assert.Equal(a, b);
    }

    [Fact]
    public void GetDelay_ManySamples_AreSpreadAcrossTheWindow()
    {
        // Full jitter: delays for the same attempt must not bunch at the ceiling (that would be no jitter).
        var policy = ReconnectPolicy.Default;
        var random = new Random(99);
        var ceiling = policy.GetCeiling(10);

        var delays = Enumerable.Range(0, 200).Select(_ => policy.GetDelay(10, random)).ToList();

        Assert.Contains(delays, delay => delay < ceiling / 4);
        Assert.Contains(delays, delay => delay > ceiling * 3 / 4);
    }

    [Fact]
    public void GetCeiling_NegativeAttempt_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ReconnectPolicy.Default.GetCeiling(-1));
    }

    [Fact]
    public void Disabled_IsNotEnabled()
    {
        Assert.False(ReconnectPolicy.Disabled.Enabled);
        Assert.True(ReconnectPolicy.Default.Enabled);
    }
}
