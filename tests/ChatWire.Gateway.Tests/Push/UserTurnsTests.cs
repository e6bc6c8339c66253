using ChatWire.Gateway.Push;

namespace ChatWire.Gateway.Tests.Push;

public sealed class UserTurnsTests
{
    // A user's second waits for the first's turn to end; another user's does not wait; a waiter given up leaves no
    // trace; ending a turn twice ends it once; nobody waiting, no entry.
    [Fact]
    public async Task EnterAsync_SameUserWaits_OtherUserDoesNot_NothingLeftOver()
    {
        var turns = new UserTurns();
        var bob = Guid.NewGuid();

        var first = await turns.EnterAsync(bob, CancellationToken.None);
        var second = turns.EnterAsync(bob, CancellationToken.None);
        using var gaveUp = new CancellationTokenSource();
        var third = turns.EnterAsync(bob, gaveUp.Token);
        using (await turns.EnterAsync(Guid.NewGuid(), CancellationToken.None))
        {
            Assert.Equal(2, turns.Count);
        }

        Assert.False(second.IsCompleted);
        await gaveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => third);
        first.Dispose();
        first.Dispose();
        var secondTurn = await second.WaitAsync(TimeSpan.FromSeconds(10));
        var fourth = turns.EnterAsync(bob, CancellationToken.None);
        Assert.False(fourth.IsCompleted);
        secondTurn.Dispose();
        (await fourth.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();

        Assert.Equal(0, turns.Count);
    }
}
