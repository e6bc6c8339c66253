using ChatWire.Gateway.Api;
using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Tests.Units;

// Limits:ApiRequestsInProgressPerUser: the limit's worth in, one more refused, each account on its own, and an
// account with nothing in progress forgotten, also when many threads come and go at once.
public sealed class AccountRequestsInProgressTests
{
    [Fact]
    public void AtTheLimit_OneMoreRefused_OtherAccountsNot_ThenAdmittedOnceOneLeaves()
    {
        var gate = Gate(2);
        var alice = Guid.NewGuid();

        Assert.True(gate.TryEnter(alice));
        Assert.True(gate.TryEnter(alice));
        Assert.False(gate.TryEnter(alice));
        Assert.True(gate.TryEnter(Guid.NewGuid()));
        gate.Exit(alice);
        Assert.True(gate.TryEnter(alice));
        Assert.Equal(2, gate.Count(alice));
    }

    [Fact]
    public void ManyThreadsEnteringAndLeaving_NeverPastTheLimit_NothingLeftBehind()
    {
        var gate = Gate(3);
        var accounts = Enumerable.Range(0, 4).Select(_ => Guid.NewGuid()).ToArray();
        var highest = 0;

        Parallel.For(0, 40_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var account = accounts[i % accounts.Length];
            if (gate.TryEnter(account))
            {
                InterlockedMax(ref highest, gate.Count(account));
                gate.Exit(account);
            }
        });

        Assert.InRange(highest, 1, 3);
        Assert.Equal(0, gate.Tracked);
    }

    [Fact]
    public void Zero_NoLimit_NothingTracked()
    {
        var gate = Gate(0);
        var alice = Guid.NewGuid();

        Assert.All(Enumerable.Range(0, 100), _ => Assert.True(gate.TryEnter(alice)));
        gate.Exit(alice);
        Assert.Equal(0, gate.Tracked);
    }

    private static AccountRequestsInProgress Gate(int limit) =>
        new(Options.Create(new LimitsOptions { ApiRequestsInProgressPerUser = limit }));

    private static void InterlockedMax(ref int target, int value)
    {
        for (var seen = Volatile.Read(ref target); value > seen; seen = Volatile.Read(ref target))
        {
            if (Interlocked.CompareExchange(ref target, value, seen) == seen)
            {
                return;
            }
        }
    }
}
