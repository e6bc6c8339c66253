using System.Diagnostics;
using System.Runtime.CompilerServices;
using ChatWire.Gateway.Conversations;
using ChatWire.Tests.Shared;
using StackExchange.Redis;

namespace ChatWire.Gateway.Tests.Units;

// Slow mode's turns: one per member and channel, for the channel's period; given back only by the turn that took it.
// In process (the embedded mode), and in the real Redis the suite started, as two gateway nodes share it.
public sealed class SlowModeGateTests : IDisposable
{
    private static readonly long Second = Stopwatch.Frequency;

    private readonly InProcessSlowModeGate _gate = new();
    private readonly Guid _channel = Guid.CreateVersion7();
    private readonly Guid _bob = Guid.CreateVersion7();

    public void Dispose() => _gate.Dispose();

    [Fact]
    public void InProcess_ATurnLastsItsPeriod_PerMemberAndChannel_AndTheWaitIsRoundedUp()
    {
        var taken = Stored(_gate.TryTake(_channel, _bob, 10, 0));
        var soon = _gate.TryTake(_channel, _bob, 10, (3 * Second) + 1);
        var carol = _gate.TryTake(_channel, Guid.CreateVersion7(), 10, 1);
        var otherChannel = _gate.TryTake(Guid.CreateVersion7(), _bob, 10, 1);
        var ended = Stored(_gate.TryTake(_channel, _bob, 10, 10 * Second));
        var next = _gate.TryTake(_channel, _bob, 10, 11 * Second);

        Assert.True(taken.Taken);
        Assert.Equal(7_000u, soon.WaitMs);
        Assert.True(carol.Taken && otherChannel.Taken && ended.Taken);
        Assert.Equal(9_000u, next.WaitMs);
        Assert.NotEqual(taken.Turn.Token, ended.Turn.Token);
    }

    [Fact]
    public void InProcess_AShortenedPeriod_FreesAtOnce_ALongerOneHoldsFromTheNextMessage()
    {
        Stored(_gate.TryTake(_channel, _bob, 10, 0));

        var longer = _gate.TryTake(_channel, _bob, 60, 4 * Second);
        var shorter = _gate.TryTake(_channel, _bob, 5, 4 * Second);
        var shortenedOut = Stored(_gate.TryTake(_channel, _bob, 3, 4 * Second));
        var nextUnderTheLonger = Stored(_gate.TryTake(_channel, _bob, 60, 8 * Second));
        var heldLonger = _gate.TryTake(_channel, _bob, 60, 30 * Second);

        Assert.Equal(6_000u, longer.WaitMs);
        Assert.Equal(1_000u, shorter.WaitMs);
        Assert.True(shortenedOut.Taken);
        Assert.True(nextUnderTheLonger.Taken);
        Assert.Equal(38_000u, heldLonger.WaitMs);
    }

    // A turn whose message is still being stored may yet be given back (the store refuses the message): a SEND meeting
    // it is told to retry within a second, not after the whole period; once the message is stored, the whole period.
    [Fact]
    public void InProcess_APendingTurn_AnswersASecondAtMost_ThenItsPeriodOnceStored_AndAGiveBackFreesIt()
    {
        var taken = _gate.TryTake(_channel, _bob, 600, 0);
        var whileStoring = _gate.TryTake(_channel, _bob, 600, Second);
        _gate.Confirm(taken.Turn);
        var onceStored = _gate.TryTake(_channel, _bob, 600, Second);

        var refusedByTheStore = _gate.TryTake(Guid.CreateVersion7(), Guid.CreateVersion7(), 600, 0);
        _gate.GiveBack(refusedByTheStore.Turn);
        var retried = _gate.TryTake(refusedByTheStore.Turn.ConversationId, refusedByTheStore.Turn.UserId, 600, Second);

        Assert.True(taken.Taken);
        Assert.Equal(1_000u, whileStoring.WaitMs);
        Assert.Equal(599_000u, onceStored.WaitMs);
        Assert.True(retried.Taken);
    }

    [Fact]
    public void InProcess_GiveBack_FreesOnlyTheTurnThatWasTaken()
    {
        var old = _gate.TryTake(_channel, _bob, 10, 0);
        var current = _gate.TryTake(_channel, _bob, 10, 10 * Second);

        // A late give-back of the ended turn leaves the current one held.
        _gate.GiveBack(old.Turn);
        var stillHeld = _gate.TryTake(_channel, _bob, 10, 11 * Second);
        _gate.GiveBack(current.Turn);
        var freed = _gate.TryTake(_channel, _bob, 10, 11 * Second);

        Assert.False(stillHeld.Taken);
        Assert.True(freed.Taken);
    }

    [Fact]
    public void InProcess_TheSweep_ForgetsEndedTurnsOnly()
    {
        _gate.TryTake(_channel, _bob, 10, 0);
        _gate.TryTake(_channel, Guid.CreateVersion7(), 60, 0);

        _gate.Sweep(30 * Second);

        Assert.Equal(1, _gate.Tracked);
    }

    [Fact]
    public void MemberAccess_WithTheSlowMode_StillTakes24Bytes()
    {
        // One cached answer per member and conversation in use: the slow mode fits in what the struct's padding left.
        Assert.Equal(24, Unsafe.SizeOf<MemberAccess>());
    }

    [Fact]
    public async Task Redis_TwoNodesShareEachTurn_TheWaitComesFromRedis_AndAGiveBackFreesIt()
    {
        await using var first = await ConnectionMultiplexer.ConnectAsync(BackingServices.Redis);
        await using var second = await ConnectionMultiplexer.ConnectAsync(BackingServices.Redis);
        var one = new RedisSlowModeGate(first, _gate);
        using var fallback = new InProcessSlowModeGate();
        var two = new RedisSlowModeGate(second, fallback);

        var taken = await one.TryTakeAsync(_channel, _bob, 30);
        await one.ConfirmAsync(taken.Turn);
        var onTheOtherNode = await two.TryTakeAsync(_channel, _bob, 30);
        var carol = await two.TryTakeAsync(_channel, Guid.CreateVersion7(), 30);

        // A give-back with another token (a turn that ended and was taken again since) leaves the key as it is.
        two.GiveBack(taken.Turn with { Token = taken.Turn.Token + 1 });
        var stillHeld = await two.TryTakeAsync(_channel, _bob, 30);
        var shortened = await two.TryTakeAsync(_channel, _bob, 5);
        one.GiveBack(taken.Turn);
        var freed = await WaitTakenAsync(two, _channel, _bob);

        Assert.True(taken.Taken);
        Assert.False(taken.Turn.Local);
        Assert.InRange(onTheOtherNode.WaitMs, 25_000u, 30_000u);
        Assert.True(carol.Taken);
        Assert.InRange(stillHeld.WaitMs, 25_000u, 30_000u);
        Assert.InRange(shortened.WaitMs, 1u, 5_000u);
        Assert.True(freed);
        Assert.Equal(0, _gate.Tracked + fallback.Tracked);
    }

    [Fact]
    public async Task Redis_APendingTurn_AnswersASecondAtMostOnEveryNode_ThenItsPeriodOnceConfirmed()
    {
        await using var first = await ConnectionMultiplexer.ConnectAsync(BackingServices.Redis);
        await using var second = await ConnectionMultiplexer.ConnectAsync(BackingServices.Redis);
        var one = new RedisSlowModeGate(first, _gate);
        using var fallback = new InProcessSlowModeGate();
        var two = new RedisSlowModeGate(second, fallback);

        var taken = await one.TryTakeAsync(_channel, _bob, 600);
        var whileStoring = await two.TryTakeAsync(_channel, _bob, 600);
        await one.ConfirmAsync(taken.Turn with { Token = taken.Turn.Token + 1 });
        var otherTokenConfirmed = await two.TryTakeAsync(_channel, _bob, 600);
        await one.ConfirmAsync(taken.Turn);
        var onceStored = await two.TryTakeAsync(_channel, _bob, 600);
        var shortened = await two.TryTakeAsync(_channel, _bob, 5);

        Assert.True(taken.Taken);
        Assert.InRange(whileStoring.WaitMs, 1u, 1_000u);
        Assert.InRange(otherTokenConfirmed.WaitMs, 1u, 1_000u);
        Assert.InRange(onceStored.WaitMs, 590_000u, 600_000u);
        Assert.InRange(shortened.WaitMs, 1u, 5_000u);
    }

    [Fact]
    public async Task Redis_Unreachable_EachNodeKeepsTurnsOfItsOwn()
    {
        // A port nothing listens on, connected as the gateway connects (ConnectRoutingAsync): kept trying, and each
        // command fails at once meanwhile.
        var options = ConfigurationOptions.Parse("127.0.0.1:1");
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ConnectTimeout = 200;
        await using var unreachable = await ConnectionMultiplexer.ConnectAsync(options);
        var gate = new RedisSlowModeGate(unreachable, _gate);

        var taken = await gate.TryTakeAsync(_channel, _bob, 30);
        await gate.ConfirmAsync(taken.Turn);
        var again = await gate.TryTakeAsync(_channel, _bob, 30);
        gate.GiveBack(taken.Turn);
        var afterGiveBack = await gate.TryTakeAsync(_channel, _bob, 30);

        Assert.True(taken.Taken);
        Assert.True(taken.Turn.Local);
        Assert.InRange(again.WaitMs, 25_000u, 30_000u);
        Assert.True(afterGiveBack.Taken);
    }

    // A turn taken and its message stored.
    private SlowModeAnswer Stored(SlowModeAnswer answer)
    {
        _gate.Confirm(answer.Turn);
        return answer;
    }

    // The give-back is sent without waiting for Redis's answer: the next take may reach Redis before it.
    private static async Task<bool> WaitTakenAsync(RedisSlowModeGate gate, Guid channel, Guid user)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if ((await gate.TryTakeAsync(channel, user, 30)).Taken)
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }
}
