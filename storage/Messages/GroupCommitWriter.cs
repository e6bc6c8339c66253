using System.Collections.Immutable;

namespace ChatWire.Storage.Messages;

/// <summary>
/// The group-commit skeleton every message-store adapter shares: one thread takes the first queued append plus
/// whatever else is already waiting (up to the batch's count and bytes, one sending user at a time in turn:
/// <see cref="FairAppendQueue"/>) and hands the batch to <see cref="StoreBatch"/>, which stores it durably in
/// one transaction. Once that returns, the commit observers are told of the batch (in commit order, so each
/// conversation's events reach them in seq order), then the waiters complete, then the writer waits for any
/// observer that has fallen behind before it takes the next batch. Nothing is acknowledged before it is
/// durable.
/// </summary>
internal abstract class GroupCommitWriter : IAsyncDisposable
{
    private readonly FairAppendQueue _queue;
    private readonly int _maxBatchSize;
    private readonly long _maxBatchBytes;
    private readonly string _threadName;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ImmutableArray<ICommitObserver> _observers = [];
    private long _batchesStarted;
    private long _batchesCommitted;
    private long _messagesCommitted;
    private int _disposed;

    protected GroupCommitWriter(string threadName, int maxBatchSize, long maxBatchBytes, int queueCapacity, long queueByteCapacity)
    {
        _threadName = threadName;
        _maxBatchSize = maxBatchSize;
        _maxBatchBytes = maxBatchBytes;
        _queue = new FairAppendQueue(queueCapacity, queueByteCapacity);
    }

    public long BatchesCommitted => Interlocked.Read(ref _batchesCommitted);

    public long MessagesCommitted => Interlocked.Read(ref _messagesCommitted);

    /// <summary>Batches the writer has closed (taken from the queue) and begun to commit.</summary>
    public long BatchesStarted => Interlocked.Read(ref _batchesStarted);

    /// <summary>Starts the writer thread; called once, when the adapter's connection is ready.</summary>
    public void Start()
    {
        // A thread of its own rather than a pool task: the writer blocks on the queue, on each commit's flush
        // to disk (and, for a server, on row locks and round trips), and must not park pool threads there.
        var thread = new Thread(Run)
        {
            IsBackground = true,
            Name = _threadName,
        };
        thread.Start();
    }

    /// <summary>Queues the append; the returned task completes once queued and yields the commit's task.</summary>
    public ValueTask<Task<AppendResult>> EnqueueAsync(NewEvent newEvent, CancellationToken cancellationToken)
    {
        var pending = new PendingAppend(newEvent);
        var queued = _queue.EnqueueAsync(pending, cancellationToken);
        if (!queued.IsCompletedSuccessfully)
        {
            return EnqueueSlowAsync(queued, pending, cancellationToken);
        }

        return new ValueTask<Task<AppendResult>>(Committed(pending, cancellationToken));
    }

    /// <summary>Tells <paramref name="observer"/> of every batch this writer commits from now on, until disposed.</summary>
    public IDisposable Observe(ICommitObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        ImmutableInterlocked.Update(ref _observers, static (list, o) => list.Add(o), observer);
        return new Observation(this, observer);
    }

    /// <summary>
    /// Stops accepting appends, commits everything already queued, then releases the adapter's resources
    /// (<see cref="CloseAsync"/>).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await _stopped.Task;
            return;
        }

        _queue.Complete();
        try
        {
            await _stopped.Task;
        }
        finally
        {
            await CloseAsync();
        }
    }

    /// <summary>
    /// On the writer thread: stores <paramref name="batch"/> durably, setting each append's
    /// <see cref="PendingAppend.Result"/>, and returns once it is committed. Throws when the batch is not
    /// committed (or its commit's outcome is unknown), after undoing what the adapter can: every waiter of the
    /// batch then fails with that exception, and the writer goes on with the next batch. Retrying a batch is
    /// the adapter's decision, inside this call.
    /// </summary>
    protected abstract void StoreBatch(List<PendingAppend> batch);

    /// <summary>Once the writer thread has stopped: releases the connection and whatever else the adapter holds.</summary>
    protected abstract ValueTask CloseAsync();

    private static async ValueTask<Task<AppendResult>> EnqueueSlowAsync(ValueTask queued, PendingAppend pending, CancellationToken cancellationToken)
    {
        // The queue is full: waiting here is the backpressure, and the caller does not queue its next
        // append before this one is in (which keeps its order).
        await queued;
        return Committed(pending, cancellationToken);
    }

    // Cancelling stops the wait, not the write: an event already queued may still be stored, and a resend
    // with the same id then answers Duplicate.
    private static Task<AppendResult> Committed(PendingAppend pending, CancellationToken cancellationToken) =>
        cancellationToken.CanBeCanceled ? pending.Task.WaitAsync(cancellationToken) : pending.Task;

    private void Run()
    {
        var batch = new List<PendingAppend>(_maxBatchSize);
        try
        {
            // Blocking is right here: this thread exists only to wait for and write appends.
            while (_queue.TakeBatch(batch, _maxBatchSize, _maxBatchBytes))
            {
                Interlocked.Increment(ref _batchesStarted);
                CommitBatch(batch);
                batch.Clear();
            }

            _stopped.TrySetResult();
        }
#pragma warning disable CA1031 // The writer must not die silently: whatever stops it fails every waiter.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            _queue.Complete(exception);
            foreach (var pending in batch.Concat(_queue.DrainQueued()))
            {
                pending.TrySetException(exception);
            }

            _stopped.TrySetException(exception);
        }
    }

    private void CommitBatch(List<PendingAppend> batch)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            StoreBatch(batch);
        }
#pragma warning disable CA1031 // Any failure fails the batch's waiters; the writer goes on with the next batch.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            ReportBatch(batch.Count, started, committed: false);
            foreach (var pending in batch)
            {
                pending.TrySetException(exception);
            }

            return;
        }

        Interlocked.Increment(ref _batchesCommitted);
        Interlocked.Add(ref _messagesCommitted, batch.Count);
        ReportBatch(batch.Count, started, committed: true);
        NotifyObservers(batch);
        foreach (var pending in batch)
        {
            pending.TrySetResult(pending.Result!);
        }

        // The backpressure comes after the acknowledgements: a publisher that has fallen behind holds the next
        // commit, not the SEND_ACKs of a batch that is already durable.
        WaitForObservers();
    }

    private void WaitForObservers()
    {
        var observers = _observers;
        if (observers.IsEmpty)
        {
            return;
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        TellEach(observers, 0, static (observer, _) => observer.WaitForRoom());
        TellEach(observers, System.Diagnostics.Stopwatch.GetElapsedTime(started), static (observer, waited) => observer.OnWaitedForRoom(waited));
    }

    private void ReportBatch(int appends, long started, bool committed)
    {
        var duration = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        foreach (var observer in _observers)
        {
            observer.OnBatchWritten(appends, duration, committed);
        }
    }

    // Before the waiters complete: an event is in the observers' hands before its sender can learn it is stored.
    private void NotifyObservers(List<PendingAppend> batch)
    {
        var observers = _observers;
        if (observers.IsEmpty)
        {
            return;
        }

        var stored = new List<StoredEvent>(batch.Count);
        foreach (var pending in batch)
        {
            if (pending.Result is { Outcome: AppendOutcome.Stored, Event: { } e })
            {
                stored.Add(e);
            }
        }

        if (stored.Count == 0)
        {
            return;
        }

        TellEach(observers, stored, static (observer, events) => observer.OnCommitted(events));
    }

    // Calls every observer in turn. An observer's failure must not fail a committed batch or stop the writer.
    private static void TellEach<T>(ImmutableArray<ICommitObserver> observers, T argument, Action<ICommitObserver, T> call)
    {
        foreach (var observer in observers)
        {
            try
            {
                call(observer, argument);
            }
#pragma warning disable CA1031 // See above: whatever an observer throws stays with it.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }

    private sealed class Observation(GroupCommitWriter writer, ICommitObserver observer) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                ImmutableInterlocked.Update(ref writer._observers, static (list, o) => list.Remove(o), observer);
            }
        }
    }
}
