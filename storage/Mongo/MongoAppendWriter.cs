using System.Collections.Immutable;
using System.Security.Cryptography;
using ChatWire.Storage.Messages;
using MongoDB.Driver;

namespace ChatWire.Storage.Mongo;

/// <summary>
/// The batched writer: one thread takes the first queued append plus whatever else is already waiting (up to
/// the batch's count and bytes, one sending user at a time in turn: <see cref="FairAppendQueue"/>) and
/// stores them in one multi-document transaction, committed with write concern majority and j: true. After
/// the commit is acknowledged, the commit observers are told of the batch, then the waiters complete.
/// </summary>
/// <remarks>
/// <para>
/// Seqs, with several gateway processes writing to one conversation at once and no other coordination:
/// each conversation has a <c>conversation_heads</c> document holding the last seq handed out. A batch's
/// transaction reads the heads of its conversations at its snapshot, numbers its stored events from there,
/// inserts them, and ends by <c>$inc</c>-ing each head by the number it used. Snapshot isolation makes the
/// first writer of a head win: a writer whose snapshot predates another's committed (or still open) change
/// to that head gets a write conflict (TransientTransactionError) on its <c>$inc</c> or on the unique
/// (conversation, seq) index, the driver's <see cref="IClientSession.WithTransaction{TResult}"/> aborts and
/// runs the whole batch again from a fresh snapshot, and the seqs it allocated are never seen. The change
/// rules run in the same transaction, so their reads are of the same snapshot and any change that is
/// stored conflicts with a concurrent one through the head as well. Nothing is allocated outside the
/// transaction, so no seq can be lost and no SKIP event is ever written.
/// </para>
/// <para>
/// This needs multi-document transactions, so a replica set or a sharded cluster, which every production
/// MongoDB is; the store refuses a standalone server at start-up. A duplicate key (a racing writer stored the
/// same key first and the server reported that rather than a write conflict) also runs the batch again, at
/// most <see cref="MongoMessageStoreOptions.MaxBatchAttempts"/> times. A commit whose outcome stays unknown
/// after the driver's retries fails the batch's waiters; a client resend then answers Duplicate or stores it.
/// </para>
/// <para>
/// The thread blocks in the driver's synchronous calls rather than parking thread-pool threads for every
/// batch's round trips: this thread exists only to write.
/// </para>
/// </remarks>
internal sealed class MongoAppendWriter : IAsyncDisposable
{
    private readonly IMongoClient _client;
    private readonly MongoCollections _collections;
    private readonly FairAppendQueue _queue;
    private readonly int _maxBatchSize;
    private readonly long _maxBatchBytes;
    private readonly int _maxAttempts;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Reused for every message: the writer is one thread.
    private readonly IncrementalHash _digest = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    private ImmutableArray<ICommitObserver> _observers = [];
    private long _batchesCommitted;
    private long _messagesCommitted;
    private long _batchAttempts;
    private int _disposed;

    public MongoAppendWriter(IMongoClient client, MongoCollections collections, MongoMessageStoreOptions options)
    {
        _client = client;
        _collections = collections;
        _maxBatchSize = options.MaxBatchSize;
        _maxBatchBytes = options.MaxBatchBytes;
        _maxAttempts = options.MaxBatchAttempts;
        _queue = new FairAppendQueue(options.QueueCapacity, options.QueueByteCapacity);
    }

    public long BatchesCommitted => Interlocked.Read(ref _batchesCommitted);

    public long MessagesCommitted => Interlocked.Read(ref _messagesCommitted);

    /// <summary>Transaction attempts this writer started, retries included.</summary>
    public long BatchAttempts => Interlocked.Read(ref _batchAttempts);

    public void Start()
    {
        var thread = new Thread(Run)
        {
            IsBackground = true,
            Name = "ChatWire MongoDB writer",
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

    public IDisposable Observe(ICommitObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        ImmutableInterlocked.Update(ref _observers, static (list, o) => list.Add(o), observer);
        return new Observation(this, observer);
    }

    /// <summary>Stops accepting appends and commits everything already queued.</summary>
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
            _digest.Dispose();
        }
    }

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
            while (_queue.TakeBatch(batch, _maxBatchSize, _maxBatchBytes))
            {
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
        try
        {
            Store(batch);
        }
#pragma warning disable CA1031 // Any failure fails the batch's waiters; the writer goes on with the next batch.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            // The transaction was aborted (or its commit's outcome is unknown): nothing is acknowledged.
            foreach (var pending in batch)
            {
                pending.TrySetException(exception);
            }

            return;
        }

        Interlocked.Increment(ref _batchesCommitted);
        Interlocked.Add(ref _messagesCommitted, batch.Count);
        NotifyObservers(batch);
        foreach (var pending in batch)
        {
            pending.TrySetResult(pending.Result!);
        }
    }

    private void Store(List<PendingAppend> batch)
    {
        // One time for the whole batch, kept across its attempts.
        var storedAt = MongoDocuments.Truncate(DateTimeOffset.UtcNow);
        for (var attempt = 1; ; attempt++)
        {
            using var session = _client.StartSession();
            try
            {
                // WithTransaction runs the callback again on TransientTransactionError (write conflicts among
                // them) and retries the commit on UnknownTransactionCommitResult, within its time limit.
                session.WithTransaction(
                    (s, _) =>
                    {
                        Interlocked.Increment(ref _batchAttempts);
                        new MongoEventBatch(s, _collections, _digest, storedAt).Apply(batch);
                        return true;
                    },
                    MongoCommands.BatchTransaction);
                return;
            }
            catch (MongoException exception) when (attempt < _maxAttempts && MongoCommands.IsDuplicateKey(exception))
            {
                // The transaction is aborted; a fresh one sees the racing writer's key and decides again.
            }
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

        foreach (var observer in observers)
        {
            try
            {
                observer.OnCommitted(stored);
            }
#pragma warning disable CA1031 // An observer's failure must not fail a committed batch or stop the writer.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }

    private sealed class Observation(MongoAppendWriter writer, ICommitObserver observer) : IDisposable
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
