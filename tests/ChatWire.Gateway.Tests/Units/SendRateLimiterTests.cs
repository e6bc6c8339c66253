using System.Diagnostics;
using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Tests.Units;

// docs/security.md, "Sending": token buckets per user and per device, in messages and in bytes, on a
// clock the test moves by hand.
public sealed class SendRateLimiterTests : IDisposable
{
    private static readonly long Second = Stopwatch.Frequency;
    private readonly Guid _user = Guid.NewGuid();
    private readonly Guid _phone = Guid.NewGuid();
    private readonly Guid _laptop = Guid.NewGuid();
    private readonly SendRateLimiter _limiter = new(Options.Create(new LimitsOptions
    {
        SendMessagesPerSecondPerUser = 4,
        SendMessageBurstPerUser = 6,
        SendBytesPerSecondPerUser = 1000,
        SendByteBurstPerUser = 5000,
        SendMessagesPerSecondPerDevice = 2,
        SendMessageBurstPerDevice = 4,
        SendBytesPerSecondPerDevice = 0,
        SendByteBurstPerDevice = 0,
    }));

    public void Dispose() => _limiter.Dispose();

    [Fact]
    public void ADevice_GetsItsBurst_ThenWaitsForItsRate()
    {
        var now = 100 * Second;
        for (var i = 0; i < 4; i++)
        {
            Assert.Null(_limiter.TryTake(_user, _phone, 10, now));
        }

        // Empty: one message refills in half a second at 2/s.
        Assert.Equal(500u, _limiter.TryTake(_user, _phone, 10, now));
        Assert.Equal(250u, _limiter.TryTake(_user, _phone, 10, now + (Second / 4)));
        Assert.Null(_limiter.TryTake(_user, _phone, 10, now + (Second / 2)));
    }

    [Fact]
    public void TheUsersBucket_IsSharedByTheirDevices()
    {
        var now = 100 * Second;
        for (var i = 0; i < 4; i++)
        {
            Assert.Null(_limiter.TryTake(_user, _phone, 10, now));
        }

        Assert.Null(_limiter.TryTake(_user, _laptop, 10, now));
        Assert.Null(_limiter.TryTake(_user, _laptop, 10, now));

        // The laptop has room of its own, but the user's burst of 6 is spent: 1/4 s at 4/s.
        Assert.Equal(250u, _limiter.TryTake(_user, _laptop, 10, now));

        // A refusal takes nothing: after the wait, the laptop passes.
        Assert.Null(_limiter.TryTake(_user, _laptop, 10, now + (Second / 4)));
    }

    [Fact]
    public void Bytes_AreLimitedLikeMessages()
    {
        var now = 100 * Second;
        Assert.Null(_limiter.TryTake(_user, _phone, 4000, now));

        // 1000 left of 5000; 3000 more need 2 s at 1000 bytes/s.
        Assert.Equal(2000u, _limiter.TryTake(_user, _laptop, 3000, now));
        Assert.Null(_limiter.TryTake(_user, _laptop, 1000, now));
    }

    [Fact]
    public void IdleBuckets_AreForgotten_AndComeBackFull()
    {
        var now = 100 * Second;
        for (var i = 0; i < 4; i++)
        {
            _limiter.TryTake(_user, _phone, 10, now);
        }

        Assert.Equal(2, _limiter.Tracked);
        _limiter.Sweep(now + (30 * Second));
        Assert.Equal(2, _limiter.Tracked);
        _limiter.Sweep(now + (61 * Second));
        Assert.Equal(0, _limiter.Tracked);
        Assert.Null(_limiter.TryTake(_user, _phone, 10, now + (61 * Second)));
    }

    [Fact]
    public void AConversation_GetsItsBurst_ThenWaitsForItsRate_OverEveryMember_AndOthersAreUntouched()
    {
        using var limiter = new SendRateLimiter(Options.Create(new LimitsOptions
        {
            SendMessagesPerSecondPerConversation = 4,
            SendMessageBurstPerConversation = 3,
        }));
        var busy = Guid.NewGuid();
        var now = 100 * Second;
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(limiter.TryTakeConversation(busy, now));
        }

        // Empty: one more in a quarter of a second at 4/s; another conversation has its own bucket.
        Assert.Equal(250u, limiter.TryTakeConversation(busy, now));
        Assert.Null(limiter.TryTakeConversation(Guid.NewGuid(), now));
        Assert.Null(limiter.TryTakeConversation(busy, now + (Second / 4)));

        // Forgotten once full again (a minute at least), like the others.
        limiter.Sweep(now + (61 * Second));
        Assert.Equal(0, limiter.Tracked);
    }

    [Fact]
    public void AConversation_GetsBackWhatStoredNothing_NeverPastItsBurst()
    {
        using var limiter = new SendRateLimiter(Options.Create(new LimitsOptions
        {
            SendMessagesPerSecondPerConversation = 4,
            SendMessageBurstPerConversation = 2,
        }));
        var busy = Guid.NewGuid();
        var now = 100 * Second;
        Assert.Null(limiter.TryTakeConversation(busy, now));
        Assert.Null(limiter.TryTakeConversation(busy, now));
        Assert.Equal(250u, limiter.TryTakeConversation(busy, now));

        // One of the two changed nothing: the next one passes, the one after it waits again.
        limiter.ReturnConversation(busy, now);
        var afterReturn = limiter.TryTakeConversation(busy, now);
        var thenEmpty = limiter.TryTakeConversation(busy, now);

        // Returns to a full bucket are lost, and a conversation never asked keeps no bucket.
        limiter.ReturnConversation(busy, now + (10 * Second));
        limiter.ReturnConversation(busy, now + (10 * Second));
        limiter.ReturnConversation(busy, now + (10 * Second));
        var taken = Enumerable.Range(0, 3).Select(_ => limiter.TryTakeConversation(busy, now + (10 * Second))).ToArray();
        limiter.ReturnConversation(Guid.NewGuid(), now);

        Assert.Null(afterReturn);
        Assert.Equal(250u, thenEmpty);
        Assert.Equal([null, null, 250u], taken);
        Assert.Equal(1, limiter.Tracked);
    }

    [Fact]
    public void AConversationLimitOfZero_KeepsNoBucket()
    {
        using var limiter = new SendRateLimiter(Options.Create(new LimitsOptions { SendMessagesPerSecondPerConversation = 0 }));
        for (var i = 0; i < 1000; i++)
        {
            Assert.Null(limiter.TryTakeConversation(Guid.NewGuid(), Second));
        }

        Assert.Equal(0, limiter.Tracked);
    }
}
