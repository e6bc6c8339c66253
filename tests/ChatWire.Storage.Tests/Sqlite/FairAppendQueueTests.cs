using ChatWire.Storage.Messages;

namespace ChatWire.Storage.Tests.Sqlite;

// The writer's queue: bounded in count and bytes, one FIFO per sending user served in turn, producers
// waiting in arrival order when it is full.
public sealed class FairAppendQueueTests
{
    private static readonly Guid Flooder = Guid.NewGuid();
    private static readonly Guid Victim = Guid.NewGuid();

    [Fact]
    public async Task ABurst_DelaysAnotherSender_ByOneTurnAtMost_AndEachSenderKeepsItsOrder()
    {
        var queue = new FairAppendQueue(capacity: 1000, byteCapacity: long.MaxValue);
        var burst = Enumerable.Range(0, 100).Select(i => Append(Flooder, 10, i)).ToList();
        foreach (var pending in burst)
        {
            await queue.EnqueueAsync(pending, CancellationToken.None);
        }

        var victim = Append(Victim, 10, 0);
        await queue.EnqueueAsync(victim, CancellationToken.None);

        var batch = new List<PendingAppend>();
        Assert.True(queue.TakeBatch(batch, maxCount: 4, maxBytes: long.MaxValue));
        Assert.Equal([burst[0], victim, burst[1], burst[2]], batch);

        var rest = new List<PendingAppend>();
        while (queue.Count > 0)
        {
            batch.Clear();
            queue.TakeBatch(batch, 7, long.MaxValue);
            rest.AddRange(batch);
        }

        Assert.Equal(burst.Skip(3), rest);
    }

    [Fact]
    public async Task ABatch_StopsAtItsByteBudget_ButAlwaysTakesOne()
    {
        var queue = new FairAppendQueue(1000, long.MaxValue);
        var big = Append(Flooder, 1000, 0);
        var small = Append(Victim, 10, 0);
        await queue.EnqueueAsync(big, CancellationToken.None);
        await queue.EnqueueAsync(small, CancellationToken.None);

        var batch = new List<PendingAppend>();
        queue.TakeBatch(batch, maxCount: 100, maxBytes: 100);
        Assert.Equal([big], batch);
        batch.Clear();
        queue.TakeBatch(batch, 100, 100);
        Assert.Equal([small], batch);
    }

    [Fact]
    public async Task WhenFull_ProducersWaitInArrivalOrder_AndAreLetInAsRoomIsMade()
    {
        var queue = new FairAppendQueue(capacity: 100, byteCapacity: 100);
        await queue.EnqueueAsync(Append(Flooder, 60, 0), CancellationToken.None);
        var second = Append(Flooder, 60, 1);
        var third = Append(Victim, 10, 0);
        var secondIn = queue.EnqueueAsync(second, CancellationToken.None).AsTask();

        // Room for the third, but the second came first: it waits too, so nobody overtakes.
        var thirdIn = queue.EnqueueAsync(third, CancellationToken.None).AsTask();
        Assert.False(secondIn.IsCompleted);
        Assert.False(thirdIn.IsCompleted);
        Assert.Equal(1, queue.Count);

        var batch = new List<PendingAppend>();
        queue.TakeBatch(batch, 10, long.MaxValue);
        await secondIn.WaitAsync(TimeSpan.FromSeconds(10));
        await thirdIn.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, queue.Count);
    }

    [Fact]
    public async Task AWaitCancelled_LeavesTheQueue_AndOthersGoOn()
    {
        var queue = new FairAppendQueue(capacity: 1, byteCapacity: long.MaxValue);
        await queue.EnqueueAsync(Append(Flooder, 1, 0), CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var given = queue.EnqueueAsync(Append(Flooder, 1, 1), cancel.Token).AsTask();
        var waiting = Append(Victim, 1, 0);
        var waitingIn = queue.EnqueueAsync(waiting, CancellationToken.None).AsTask();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => given);

        var batch = new List<PendingAppend>();
        queue.TakeBatch(batch, 10, long.MaxValue);
        await waitingIn.WaitAsync(TimeSpan.FromSeconds(10));
        batch.Clear();
        queue.TakeBatch(batch, 10, long.MaxValue);
        Assert.Equal([waiting], batch);
    }

    [Fact]
    public async Task Completed_RefusesWaitersAndNewAppends_ButHandsOutWhatIsQueued()
    {
        var queue = new FairAppendQueue(capacity: 1, byteCapacity: long.MaxValue);
        var queued = Append(Flooder, 1, 0);
        await queue.EnqueueAsync(queued, CancellationToken.None);
        var waiting = queue.EnqueueAsync(Append(Victim, 1, 0), CancellationToken.None).AsTask();

        queue.Complete();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await queue.EnqueueAsync(Append(Victim, 1, 1), CancellationToken.None));
        var batch = new List<PendingAppend>();
        Assert.True(queue.TakeBatch(batch, 10, long.MaxValue));
        Assert.Equal([queued], batch);
        Assert.False(queue.TakeBatch(batch, 10, long.MaxValue));
    }

    [Fact]
    public async Task TheWriterWaits_UntilAnAppendArrives()
    {
        var queue = new FairAppendQueue(10, long.MaxValue);
        var batch = new List<PendingAppend>();
        var taken = Task.Factory.StartNew(() => queue.TakeBatch(batch, 10, long.MaxValue), TaskCreationOptions.LongRunning);
        var append = Append(Victim, 1, 0);
        await queue.EnqueueAsync(append, CancellationToken.None);

        Assert.True(await taken.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal([append], batch);
    }

    private static PendingAppend Append(Guid sender, int bytes, int n) =>
        new(NewEvent.Message(Guid.NewGuid(), Guid.NewGuid(), sender, Guid.NewGuid(), "text/plain", new byte[bytes]) with { ContentType = "text/plain;n=" + n });
}
