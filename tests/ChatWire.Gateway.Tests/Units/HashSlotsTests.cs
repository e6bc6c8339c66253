using ChatWire.Gateway.Accounts;
using ChatWire.Protocol;

namespace ChatWire.Gateway.Tests.Units;

// docs/security.md, "Accounts": password hashes share their slots fairly between client addresses.
public sealed class HashSlotsTests
{
    [Fact]
    public async Task AFreedSlot_GoesToTheNextAddressInTurn_NotToTheBusiestQueue()
    {
        var slots = new HashSlots(concurrency: 1, maxQueued: 100, perClient: 100);
        await slots.AcquireAsync("attacker", CancellationToken.None);
        var attackers = Enumerable.Range(0, 5).Select(_ => slots.AcquireAsync("attacker", CancellationToken.None)).ToList();
        var alice = slots.AcquireAsync("alice", CancellationToken.None);

        slots.Release("attacker");
        await attackers[0].WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(alice.IsCompleted);

        // Alice's turn comes next, ahead of the attacker's four others.
        slots.Release("attacker");
        await alice.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.All(attackers.Skip(1), t => Assert.False(t.IsCompleted));
    }

    [Fact]
    public async Task AnAddressOverItsShare_IsBusy_ButAnAddressWithNothingWaiting_IsLetInPastAFullQueue()
    {
        var slots = new HashSlots(concurrency: 1, maxQueued: 1, perClient: 2);
        await slots.AcquireAsync("attacker", CancellationToken.None);
        _ = slots.AcquireAsync("attacker", CancellationToken.None);

        var overShare = await Assert.ThrowsAsync<RequestRefusedException>(() => slots.AcquireAsync("attacker", CancellationToken.None));
        Assert.Equal(ErrorCode.ServerBusy, overShare.Code);

        // The queue (1) is full, but alice has nothing waiting: she waits, she is not refused.
        var alice = slots.AcquireAsync("alice", CancellationToken.None);
        Assert.Equal(2, slots.Queued);
        Assert.Equal(ErrorCode.ServerBusy, (await Assert.ThrowsAsync<RequestRefusedException>(() => slots.AcquireAsync("alice", CancellationToken.None))).Code);
        slots.Release("attacker");
        slots.Release("attacker");
        await alice.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task AWaitCancelled_GivesBackItsPlace()
    {
        var slots = new HashSlots(concurrency: 1, maxQueued: 10, perClient: 1);
        await slots.AcquireAsync("a", CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiting = slots.AcquireAsync("b", cancel.Token);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, slots.Queued);

        // b's share is free again, and the slot frees when a gives it back (the cancelled waiter is skipped).
        var again = slots.AcquireAsync("b", CancellationToken.None);
        slots.Release("a");
        await again.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, slots.Running);
        slots.Release("b");
        Assert.Equal(0, slots.Running);
    }
}
