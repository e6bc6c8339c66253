using ChatWire.Storage.Messages;

namespace ChatWire.Storage.Tests.Common;

// The cork a connection takes while it handles one read's frames: the writer is woken once, when the cork
// is released, and takes everything the cork held in one batch. The waits below are bounds on something
// that must not happen while the cork holds, not speed checks.
public sealed class AppendCorkTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    [Fact]
    public void CorkedAppends_WakeTheWriterOnlyAtUncork_AndGoInOneBatch()
    {
        var queue = new FairAppendQueue(capacity: 1000, byteCapacity: long.MaxValue);
        using var writer = new Taker(queue);

        bool wokeWhileCorked;
        using (AppendCork.Cork())
        {
            for (var i = 0; i < 5; i++)
            {
                Enqueue(queue, i);
            }

            wokeWhileCorked = writer.Taken.Wait(Quiet);
        }

        Assert.False(wokeWhileCorked);
        Assert.True(writer.Taken.Wait(TimeSpan.FromSeconds(30)));
        Assert.Equal(5, writer.Batch.Count);
    }

    [Fact]
    public void AnAppendFromAnUncorkedThread_WakesTheWriter_ForTheHeldOnesToo()
    {
        var queue = new FairAppendQueue(1000, long.MaxValue);
        using var writer = new Taker(queue);

        using (AppendCork.Cork())
        {
            Enqueue(queue, 0);
            var other = new Thread(() => Enqueue(queue, 1));
            other.Start();
            other.Join();

            Assert.True(writer.Taken.Wait(TimeSpan.FromSeconds(30)));
        }

        Assert.Equal(2, writer.Batch.Count);
    }

    [Fact]
    public void ACorkInsideACork_LeavesTheWakeUpToTheOuterOne()
    {
        var queue = new FairAppendQueue(1000, long.MaxValue);
        using var writer = new Taker(queue);

        bool wokeAtInner;
        using (AppendCork.Cork())
        {
            using (AppendCork.Cork())
            {
                Enqueue(queue, 0);
            }

            wokeAtInner = writer.Taken.Wait(Quiet);
        }

        Assert.False(wokeAtInner);
        Assert.True(writer.Taken.Wait(TimeSpan.FromSeconds(30)));
    }

    // The cork belongs to the thread that took it: released anywhere else, that is refused and the cork stays
    // (the gateway's read loop drops its scope before it may resume on another thread, so this is a guard).
    [Fact]
    public void ReleasedOnAnotherThread_IsRefused_AndTheCorkHolds()
    {
        var queue = new FairAppendQueue(1000, long.MaxValue);
        using var writer = new Taker(queue);

        Exception? refused = null;
        bool wokeFromElsewhere;
        using (var cork = AppendCork.Cork())
        {
            Enqueue(queue, 0);
            var other = new Thread(() => refused = Record.Exception(() => cork.Dispose()));
            other.Start();
            other.Join();
            wokeFromElsewhere = writer.Taken.Wait(Quiet);
        }

        Assert.IsType<InvalidOperationException>(refused);
        Assert.False(wokeFromElsewhere);
        Assert.True(writer.Taken.Wait(TimeSpan.FromSeconds(30)));
    }

    // A scope released twice does nothing the second time, even when the thread has taken a new cork since.
    [Fact]
    public void AScopeReleasedAgain_LeavesANewerCorkAlone()
    {
        var queue = new FairAppendQueue(1000, long.MaxValue);
        using var writer = new Taker(queue);

        var first = AppendCork.Cork();
        first.Dispose();
        bool wokeAtStaleRelease;
        using (var second = AppendCork.Cork())
        {
            Enqueue(queue, 0);
            first.Dispose();
            wokeAtStaleRelease = writer.Taken.Wait(Quiet);
            Assert.True(second.IsHeld);
        }

        Assert.False(first.IsHeld);
        Assert.False(wokeAtStaleRelease);
        Assert.True(writer.Taken.Wait(TimeSpan.FromSeconds(30)));
    }

    // No cork: the first append wakes the writer at once, as before.
    [Fact]
    public void WithoutACork_TheFirstAppendWakesTheWriter()
    {
        var queue = new FairAppendQueue(1000, long.MaxValue);
        using var writer = new Taker(queue);

        Enqueue(queue, 0);

        Assert.True(writer.Taken.Wait(TimeSpan.FromSeconds(30)));
        Assert.Single(writer.Batch);
    }

    private static void Enqueue(FairAppendQueue queue, int n)
    {
        var pending = new PendingAppend(NewEvent.Message(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "text/plain", new[] { (byte)n }));

        // Queued at once (the queue has room), on this thread: that is what the cork is about.
        Assert.True(queue.EnqueueAsync(pending, CancellationToken.None).AsTask().IsCompletedSuccessfully);
    }

    // The writer thread's part: blocks in TakeBatch on an empty queue and records the first batch it takes.
    private sealed class Taker : IDisposable
    {
        private readonly FairAppendQueue _queue;
        private readonly Thread _thread;

        public Taker(FairAppendQueue queue)
        {
            _queue = queue;
            _thread = new Thread(() =>
            {
                if (_queue.TakeBatch(Batch, 1000, long.MaxValue))
                {
                    Taken.Set();
                }
            })
            { IsBackground = true };
            _thread.Start();

            // Waiting inside the queue's monitor before the test queues anything.
            while ((_thread.ThreadState & ThreadState.WaitSleepJoin) == 0)
            {
                Thread.Sleep(1);
            }
        }

        public List<PendingAppend> Batch { get; } = [];

        public ManualResetEventSlim Taken { get; } = new();

        public void Dispose()
        {
            _queue.Complete();
            _thread.Join();
            Taken.Dispose();
        }
    }
}
