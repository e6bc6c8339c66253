namespace ChatWire.Storage.Messages;

/// <summary>
/// The appends waiting for the writer, bounded in count and in content bytes, and handed out fairly: one
/// FIFO per sending user, and each batch takes one append from each user in turn. A user's burst therefore
/// delays another user's append by at most one batch, however long the burst's queue is, and each user's
/// own appends (so each device's) keep their order.
/// <para>
/// When the queue is full, producers wait in arrival order (<see cref="EnqueueAsync"/> completes when the
/// append is in): that wait is the backpressure that reaches the connections. One consumer, the writer
/// thread, blocks in <see cref="TakeBatch"/>.
/// </para>
/// </summary>
internal sealed class FairAppendQueue(int capacity, long byteCapacity)
{
    private readonly object _gate = new();
    private readonly Dictionary<Guid, Queue<PendingAppend>> _bySender = [];
    private readonly Queue<Guid> _turns = new();
    private readonly Queue<Parked> _parked = new();
    private readonly Stack<Queue<PendingAppend>> _spareQueues = new();
    private int _count;
    private long _bytes;
    private bool _wakeHeld;
    private bool _completed;
    private Exception? _failure;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>
    /// Queues <paramref name="pending"/>: at once when there is room and nobody is waiting for it, else after
    /// the appends that were waiting first. Cancelling gives up the wait; an append already queued stays.
    /// </summary>
    public ValueTask EnqueueAsync(PendingAppend pending, CancellationToken cancellationToken)
    {
        Parked parked;
        lock (_gate)
        {
            ThrowIfCompleted();
            if (_parked.Count == 0 && HasRoomFor(pending))
            {
                Add(pending);
                return ValueTask.CompletedTask;
            }

            parked = new Parked(pending);
            _parked.Enqueue(parked);
        }

        if (cancellationToken.CanBeCanceled)
        {
            parked.Registration = cancellationToken.Register(static state => ((Parked)state!).Cancel(), parked);
            if (parked.Task.IsCompleted)
            {
                // Admitted or refused before the registration was in place: nothing left to cancel.
                parked.Registration.Dispose();
            }
        }

        return new ValueTask(parked.Task);
    }

    /// <summary>
    /// Waits for work, then moves up to <paramref name="maxCount"/> appends and about
    /// <paramref name="maxBytes"/> of content into <paramref name="batch"/>, one sender at a time in turn
    /// (the first append always fits). False once the queue is completed and empty.
    /// </summary>
    public bool TakeBatch(List<PendingAppend> batch, int maxCount, long maxBytes)
    {
        List<Parked>? admitted = null;
        lock (_gate)
        {
            while (_count == 0)
            {
                if (_completed)
                {
                    return false;
                }

                Monitor.Wait(_gate);
            }

            // Whatever a cork held back is taken now (or on the next pass, without waiting).
            _wakeHeld = false;
            long bytes = 0;
            while (batch.Count < maxCount && _turns.Count > 0)
            {
                var sender = _turns.Peek();
                var queue = _bySender[sender];
                var size = SizeOf(queue.Peek());
                if (batch.Count > 0 && bytes + size > maxBytes)
                {
                    break;
                }

                _turns.Dequeue();
                var pending = queue.Dequeue();
                batch.Add(pending);
                bytes += size;
                _count--;
                _bytes -= size;
                if (queue.Count > 0)
                {
                    _turns.Enqueue(sender);
                }
                else
                {
                    _bySender.Remove(sender);
                    _spareQueues.Push(queue);
                }
            }

            // Room was made: let in whoever waited for it, in the order they came.
            while (_parked.TryPeek(out var next))
            {
                if (next.Task.IsCompleted)
                {
                    _parked.Dequeue();
                    continue;
                }

                if (!HasRoomFor(next.Pending))
                {
                    break;
                }

                _parked.Dequeue();
                if (next.TryClaim())
                {
                    Add(next.Pending);
                    (admitted ??= []).Add(next);
                }
            }
        }

        // Outside the lock: the producers' continuations may run inline.
        if (admitted is not null)
        {
            foreach (var parked in admitted)
            {
                parked.Admit();
            }
        }

        return true;
    }

    /// <summary>
    /// No more appends: producers still waiting fail with <see cref="ObjectDisposedException"/> (carrying
    /// <paramref name="failure"/> when the writer failed), and <see cref="TakeBatch"/> returns what is queued,
    /// then false. With a failure, what is queued is returned by <see cref="DrainQueued"/> to be failed.
    /// </summary>
    public void Complete(Exception? failure = null)
    {
        List<Parked> waiting;
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            _failure = failure;
            waiting = [.. _parked];
            _parked.Clear();
            Monitor.PulseAll(_gate);
        }

        foreach (var parked in waiting)
        {
            parked.Refuse(Closed(failure));
        }
    }

    /// <summary>Everything still queued, removed: for failing their waiters after the writer failed.</summary>
    public List<PendingAppend> DrainQueued()
    {
        lock (_gate)
        {
            var all = new List<PendingAppend>(_count);
            while (_turns.TryDequeue(out var sender))
            {
                all.AddRange(_bySender[sender]);
                _bySender.Remove(sender);
            }

            _count = 0;
            _bytes = 0;
            return all;
        }
    }

    private static long SizeOf(PendingAppend pending) => pending.Event.Content.Length;

    private static ObjectDisposedException Closed(Exception? failure) => new("The message store is closed.", failure);

    private bool HasRoomFor(PendingAppend pending) =>
        _count == 0 || (_count < capacity && _bytes + SizeOf(pending) <= byteCapacity);

    private void ThrowIfCompleted()
    {
        if (_completed)
        {
            throw Closed(_failure);
        }
    }

    private void Add(PendingAppend pending)
    {
        var sender = pending.Event.SenderUserId;
        if (!_bySender.TryGetValue(sender, out var queue))
        {
            queue = _spareQueues.TryPop(out var spare) ? spare : new Queue<PendingAppend>();
            _bySender.Add(sender, queue);
            _turns.Enqueue(sender);
        }

        queue.Enqueue(pending);
        _count++;
        _bytes += SizeOf(pending);
        if (_count == 1 || _wakeHeld)
        {
            // A corked thread (AppendCork) wakes the writer when it uncorks; anyone else wakes it now, for the
            // held appends too.
            _wakeHeld = AppendCork.TryHold(this);
            if (!_wakeHeld)
            {
                Monitor.Pulse(_gate);
            }
        }
    }

    /// <summary>Wakes the writer for appends a cork held back, unless it has taken them already.</summary>
    internal void WakeIfHeld()
    {
        lock (_gate)
        {
            if (_wakeHeld)
            {
                _wakeHeld = false;
                Monitor.Pulse(_gate);
            }
        }
    }

    /// <summary>A producer waiting for room; exactly one of admit, cancel or refuse wins.</summary>
    private sealed class Parked(PendingAppend pending) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        private int _state;

        public PendingAppend Pending { get; } = pending;

        public CancellationTokenRegistration Registration { get; set; }

        /// <summary>Under the queue's lock: true when neither cancelled nor refused, and now admitted.</summary>
        public bool TryClaim() => Interlocked.CompareExchange(ref _state, 1, 0) == 0;

        public void Admit()
        {
            Registration.Dispose();
            TrySetResult();
        }

        public void Cancel()
        {
            if (Interlocked.CompareExchange(ref _state, 2, 0) == 0)
            {
                TrySetCanceled();
            }
        }

        public void Refuse(Exception exception)
        {
            if (Interlocked.CompareExchange(ref _state, 3, 0) == 0)
            {
                Registration.Dispose();
                TrySetException(exception);
            }
        }
    }
}
