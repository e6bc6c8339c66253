using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace ChatWire.Gateway.Transport;

/// <summary>
/// The output of a lean connection, a <see cref="PipeWriter"/> straight over the socket. Blocks are taken
/// when the writer asks for memory and given back once sent. <see cref="FlushAsync"/> hands the bytes to a send
/// scheduled on the thread pool and completes at once; what is flushed while that send is under way joins it.
/// The send tries the socket without waiting (the usual case); only when the kernel's send buffer is full does
/// it go asynchronous, through a sender borrowed from a shared pool. A flush waits only while more than
/// <see cref="PauseThreshold"/> bytes are queued behind a send, and then until the socket has taken the last
/// byte, so a caller that keeps one flush outstanding (the protocol's slow-consumer accounting) sees the
/// peer's real pace, as through a Pipe with a pause threshold.
/// </summary>
internal sealed class LeanWriter : PipeWriter
{
    /// <summary>Bytes queued behind a send under way above which a flush waits, as a Pipe's pause threshold.</summary>
    internal const int PauseThreshold = 64 * 1024;

    private readonly LeanConnection _connection;

    // Made at the first flush that has to wait, so a connection that never backs up carries none.
    private FlushWaiter? _waiter;
    private LeanSegment? _head;
    private LeanSegment? _tail;
    private int _unflushed;

    // Set and cleared under Sync; while set, its blocks, _sendingOffset and _sender belong to the sending side
    // (the scheduled send, then the socket's completions), which alone touches them.
    private LeanSegment? _sending;
    private int _sendingOffset;
    private LeanSender? _sender;

    // Guarded by Sync. A send is scheduled or under way while _sendScheduled is set; until it starts, all
    // flushed bytes wait in _queued, afterwards what comes meanwhile.
    private bool _sendScheduled;
    private LeanSegment? _queued;
    private LeanSegment? _queuedTail;
    private int _queuedBytes;
    private bool _waiting;
    private bool _cancelNext;
    private bool _failed;
    private bool _completed;

    public LeanWriter(LeanConnection connection) => _connection = connection;

    // The lock for the sending state: the connection's writer itself. Only this class locks on it.
    private object Sync => this;

    private FlushWaiter Waiter => _waiter ??= new FlushWaiter();

    /// <summary>
    /// When set, every flush completes only once the socket has taken its bytes (not at once). For a layer that
    /// makes each flush one encrypted record (the Noise transport): while its flush waits, the session gathers what
    /// comes meanwhile and flushes it as one record, instead of one record (and one AEAD call) per event.
    /// </summary>
    internal bool FlushWaitsForSend { get; set; }

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _unflushed;

    /// <summary>True while the writer holds any block (for tests and the idle-memory check).</summary>
    internal bool HoldsBuffer
    {
        get
        {
            lock (Sync)
            {
                return _head is not null || _sending is not null || _queued is not null;
            }
        }
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        var needed = Math.Max(sizeHint, 1);
        if (_tail is null || _tail.Free < needed)
        {
            var segment = _connection.Pool.Take(needed);
            if (_tail is null)
            {
                _head = segment;
            }
            else
            {
                _tail.Link(segment);
            }

            _tail = segment;
        }

        return _tail.FreeMemory;
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        if (_tail is null || bytes < 0 || bytes > _tail.Free)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes));
        }

        _tail.Grow(bytes);
        _unflushed += bytes;
    }

    // The token is not observed: a waiting flush ends when the socket takes the bytes, when the connection is
    // aborted (IsCompleted), or on CancelPendingFlush; the protocol bounds it by its close grace and abort.
    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        ValueTask<FlushResult> flush;
        var chain = _head;
        var bytes = _unflushed;
        _head = _tail = null;
        _unflushed = 0;
        lock (Sync)
        {
            if (_waiting)
            {
                _connection.Pool.ReturnChain(chain);
                throw new InvalidOperationException("A flush is already pending.");
            }

            if (_failed)
            {
                _connection.Pool.ReturnChain(chain);
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
            }

            if (_cancelNext)
            {
                _cancelNext = false;
                Queue(chain, bytes);
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: true, isCompleted: false));
            }

            if (chain is null && _queued is null)
            {
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false));
            }

            Queue(chain, bytes);
            if (_sendScheduled)
            {
                // A send is scheduled or under way: these bytes go with it, or right after it in one system call
                // with whatever else comes meanwhile. The flush waits only when more than the pause threshold is
                // queued, so a peer that does not read holds back its own writer (the protocol's slow-consumer
                // accounting).
                return FlushWaitsForSend || _queuedBytes > PauseThreshold ? Wait() : default;
            }

            // No send under way: the send is scheduled, not made here, and the flush completes at once. The writer
            // (a fan-out writing one event to thousands of connections) goes on; events written to this connection
            // before the send runs join it, so a busy connection's events leave together in few system calls.
            _sendScheduled = true;
            flush = FlushWaitsForSend ? Wait() : default;
        }

        LeanSendQueue.Schedule(this, _connection.Number);
        return flush;
    }

    /// <summary>From <see cref="LeanSendQueue"/>: sends what was queued when it was scheduled and since.</summary>
    internal void SendScheduled()
    {
        lock (Sync)
        {
            if (_failed)
            {
                // Fail() gave back the queue.
                _sendScheduled = false;
                return;
            }

            _sendingOffset = 0;
            TakeQueued();
        }

        SendPending();
    }

    // Called under Sync. A small flush is copied into the free end of the queue's last block (and its block given
    // back), so a busy connection's events queue up contiguously and leave in few system calls, not a block each.
    private void Queue(LeanSegment? chain, int bytes)
    {
        if (chain is null)
        {
            return;
        }

        _queuedBytes += bytes;
        if (_queuedTail is not null && chain.NextSegment is null && chain.End <= _queuedTail.Free)
        {
            chain.Array.AsSpan(0, chain.End).CopyTo(_queuedTail.FreeMemory.Span);
            _queuedTail.Grow(chain.End);
            _connection.Pool.Return(chain);
            return;
        }

        if (_queuedTail is null)
        {
            _queued = chain;
        }
        else
        {
            _queuedTail.Link(chain);
        }

        _queuedTail = chain;
        while (_queuedTail.NextSegment is not null)
        {
            _queuedTail = _queuedTail.NextSegment;
        }
    }

    // Called under Sync: the queue joins the send under way (or becomes it).
    private void TakeQueued()
    {
        _sending = Append(_sending, _queued);
        _queued = _queuedTail = null;
        _queuedBytes = 0;
    }

    public override void CancelPendingFlush()
    {
        lock (Sync)
        {
            if (!_waiting)
            {
                _cancelNext = true;
                return;
            }

            _waiting = false;
        }

        Waiter.Source.SetResult(new FlushResult(isCanceled: true, isCompleted: false));
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }

        if (_head is not null && exception is null && !_waiting)
        {
            // Bytes written and never flushed still go out, as they would through a Pipe.
            _ = FlushAsync().AsTask();
        }

        lock (Sync)
        {
            _completed = true;
            _connection.Pool.ReturnChain(_head);
            _head = _tail = null;
        }
    }

    /// <summary>
    /// Completes when everything flushed has been sent (or the socket failed): flushes complete before their bytes
    /// leave, so the connection waits here before closing its socket, as Kestrel's transport drains its pipe.
    /// </summary>
    internal ValueTask<FlushResult> DrainAsync()
    {
        lock (Sync)
        {
            if (_failed || _waiting || (!_sendScheduled && _queued is null))
            {
                return default;
            }

            return Wait();
        }
    }

    /// <summary>The socket is gone: nothing more can be sent, and blocks still queued go back to the pool.</summary>
    internal void Fail(SocketError error)
    {
        bool wake;
        lock (Sync)
        {
            _failed = true;
            wake = _waiting;
            _waiting = false;

            // The blocks being sent belong to the send under way, which gives them back when it next looks
            // (a scheduled send, a send returning, or an asynchronous send completing with the socket closed).
            _connection.Pool.ReturnChain(_queued);
            _queued = _queuedTail = null;
            _queuedBytes = 0;
        }

        if (error != SocketError.Success)
        {
            _connection.SendFailed(error);
        }

        if (wake)
        {
            Waiter.Source.SetResult(new FlushResult(isCanceled: false, isCompleted: true));
        }
    }

    // Called by the sending side alone, outside the lock (the fanning writer's flushes only queue behind it while
    // _sending is set): sends until the socket would block, then starts asynchronous sends until one is pending.
    private void SendPending()
    {
        while (true)
        {
            var segment = _sending!;
            var bytes = segment.Array.AsMemory(_sendingOffset, segment.End - _sendingOffset);

            // First without waiting: a socket with room in its kernel buffer takes the bytes at once. A connection
            // that never backs up so never makes an asynchronous socket call, which would give its socket the
            // runtime's asynchronous state (about 0.15 KB, kept for the connection's life). On Linux the call is the
            // poller's gathering send (LeanPoller.SendChain: the whole chain, up to 64 blocks, in one system call),
            // which leaves the socket in the runtime's blocking mode for the same reason and needs no Socket object:
            // the connection makes one (LeanConnection.Socket) only for the send below, of the first block alone.
            int sent;
            SocketError error;
            try
            {
                sent = LeanPoller.Shared is not null
                    ? LeanPoller.SendChain(_connection.Handle, segment, _sendingOffset, out error)
                    : _connection.Socket.Send(bytes.Span, SocketFlags.None, out error);
            }
            catch (ObjectDisposedException)
            {
                sent = 0;
                error = SocketError.OperationAborted;
            }

            if (error == SocketError.WouldBlock)
            {
                // The kernel's buffer is full: an asynchronous send, through a sender borrowed until this flush's
                // bytes are all gone.
                _sender ??= LeanSenderPool.Shared.Take();
                _sender.Start(this, bytes);
                bool pending;
                try
                {
                    pending = _connection.Socket.SendAsync(_sender);
                }
                catch (ObjectDisposedException)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(static w => w.OnSent(SocketError.OperationAborted, 0), this, preferLocal: false);
                    return;
                }

                if (pending)
                {
                    return;
                }

                error = _sender.SocketError;
                sent = _sender.BytesTransferred;
            }

            if (!Advanced(error, sent))
            {
                return;
            }
        }
    }

    /// <summary>The sender's completion callback.</summary>
    internal void OnSent(SocketError error, int bytes)
    {
        if (Advanced(error, bytes))
        {
            SendPending();
        }
    }

    // By the sending side after a send returned: true when more is to be sent. Finishing or failing wakes the
    // waiting flush (the source runs its continuation on the thread pool).
    private bool Advanced(SocketError error, int bytes)
    {
        var remaining = _sending;
        if (error == SocketError.Success)
        {
            // A gathering send may end in any block of the chain: give back every block it finished.
            _sendingOffset += bytes;
            while (remaining is not null && _sendingOffset >= remaining.End)
            {
                var next = remaining.NextSegment;
                _sendingOffset -= remaining.End;
                _connection.Pool.Return(remaining);
                remaining = next;
            }

            if (remaining is null)
            {
                _sendingOffset = 0;
            }
        }

        lock (Sync)
        {
            _sending = remaining;
            if (error != SocketError.Success || _failed)
            {
                ReturnSender();
                _connection.Pool.ReturnChain(_sending);
                _sending = null;
                _sendScheduled = false;
                if (!_failed)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(static s => s.writer.Fail(s.error), (writer: this, error), preferLocal: false);
                }

                return false;
            }

            if (_sending is null && _queued is not null)
            {
                TakeQueued();
            }

            if (_sending is not null)
            {
                return true;
            }

            ReturnSender();
            _sendScheduled = false;
            if (_waiting)
            {
                _waiting = false;
                Waiter.Source.SetResult(new FlushResult(isCanceled: false, isCompleted: false));
            }

            return false;
        }
    }

    // Called under Sync.
    private void ReturnSender()
    {
        if (_sender is not null)
        {
            LeanSenderPool.Shared.Return(_sender);
            _sender = null;
        }
    }

    // Called under Sync.
    private ValueTask<FlushResult> Wait()
    {
        _waiting = true;
        var waiter = Waiter;
        waiter.Source.Reset();
        return new ValueTask<FlushResult>(waiter, waiter.Source.Version);
    }

    private static LeanSegment? Append(LeanSegment? chain, LeanSegment? more)
    {
        if (chain is null)
        {
            return more;
        }

        var last = chain;
        while (last.NextSegment is not null)
        {
            last = last.NextSegment;
        }

        if (more is not null)
        {
            last.Link(more);
        }

        return chain;
    }
}

/// <summary>What a flush that has to wait for the socket awaits.</summary>
internal sealed class FlushWaiter : IValueTaskSource<FlushResult>
{
    public ManualResetValueTaskSourceCore<FlushResult> Source = new() { RunContinuationsAsynchronously = true };

    // The result is taken once; resetting then lets go of the awaiter's continuation (the awaiting method's state),
    // which an idle connection would otherwise keep until its next flush.
    FlushResult IValueTaskSource<FlushResult>.GetResult(short token)
    {
        var result = Source.GetResult(token);
        Source.Reset();
        return result;
    }

    ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token) => Source.GetStatus(token);

    void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        Source.OnCompleted(continuation, state, token, flags);
}
