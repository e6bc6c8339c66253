using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace ChatWire.Gateway.Transport;

/// <summary>
/// The output of a lean connection, a <see cref="PipeWriter"/> straight over the socket. Blocks are taken
/// when the writer asks for memory; <see cref="FlushAsync"/> sends them without waiting where the socket
/// takes them at once (the usual case) and gives them back. Only when the kernel's send buffer is full does
/// a send go asynchronous, through a sender borrowed from a shared pool; the flush then completes when the
/// socket has taken the last byte, never earlier, so a caller that keeps one flush outstanding (the
/// protocol's slow-consumer accounting) sees the peer's real pace.
/// </summary>
internal sealed class LeanWriter : PipeWriter
{
    private readonly LeanConnection _connection;

    // Made at the first flush that has to wait, so a connection whose sends complete at once carries none;
    // it doubles as the lock of the sending state (no lock object per connection otherwise).
    private FlushWaiter? _waiter;
    private LeanSegment? _head;
    private LeanSegment? _tail;
    private long _unflushed;

    // Guarded by Sync.
    private LeanSegment? _sending;
    private int _sendingOffset;
    private LeanSegment? _queued;
    private LeanSender? _sender;
    private bool _waiting;
    private bool _cancelNext;
    private bool _failed;
    private bool _completed;

    public LeanWriter(LeanConnection connection) => _connection = connection;

    // The lock for the sending state: the connection's writer itself. Only this class locks on it.
    private object Sync => this;

    private FlushWaiter Waiter => _waiter ??= new FlushWaiter();

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
        var chain = _head;
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
                _queued = Append(_queued, chain);
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: true, isCompleted: false));
            }

            if (_sending is not null)
            {
                // The previous send is still under way (its flush was cancelled): this one follows it.
                _queued = Append(_queued, chain);
                return Wait();
            }

            chain = Append(_queued, chain);
            _queued = null;
        }

        if (chain is null)
        {
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false));
        }

        // No send under way: the send is scheduled, not made here, and the flush completes when the socket has
        // taken the bytes. The writer (a fan-out writing one event to thousands of connections) goes on at once;
        // the session writes what comes meanwhile to its backlog and flushes it in one piece when this flush
        // completes, so a busy connection's events leave together in few system calls, as on Kestrel's own
        // transport.
        ValueTask<FlushResult> flush;
        lock (Sync)
        {
            _sending = chain;
            _sendingOffset = 0;
            _sender = _connection.Senders.Take();
            flush = Wait();
        }

        ThreadPool.UnsafeQueueUserWorkItem(static writer => writer.SendScheduled(), this, preferLocal: false);
        return flush;
    }

    // On the thread pool: sends what the scheduling flush left, with whatever was queued since.
    private void SendScheduled()
    {
        lock (Sync)
        {
            if (_failed)
            {
                // Fail() woke the flush already; only the blocks and the sender are left to give back.
                _connection.Senders.Return(_sender!);
                _sender = null;
                _connection.Pool.ReturnChain(_sending);
                _sending = null;
                return;
            }

            if (_queued is not null)
            {
                _sending = Append(_sending, _queued);
                _queued = null;
            }

            SendPending();
        }
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

    /// <summary>The socket is gone: nothing more can be sent, and blocks still queued go back to the pool.</summary>
    internal void Fail(SocketError error)
    {
        bool wake;
        lock (Sync)
        {
            _failed = true;
            wake = _waiting;
            _waiting = false;
            if (_sender is null)
            {
                _connection.Pool.ReturnChain(_sending);
                _sending = null;
            }

            _connection.Pool.ReturnChain(_queued);
            _queued = null;
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

    // Called under Sync with _sending set and a sender taken: sends until the socket would block, then starts
    // asynchronous sends until one is pending.
    private void SendPending()
    {
        while (true)
        {
            var segment = _sending!;
            var bytes = segment.Array.AsMemory(_sendingOffset, segment.End - _sendingOffset);

            // First without waiting: a socket with room in its kernel buffer takes the bytes at once. A connection
            // that never backs up so never makes an asynchronous socket call, which would give its socket the
            // runtime's asynchronous state (about 0.15 KB, kept for the connection's life). On Linux the call is the
            // poller's (see LeanPoller.Send), which leaves the socket in the runtime's blocking mode for the same reason.
            int sent;
            SocketError error;
            try
            {
                sent = LeanPoller.Shared is not null
                    ? LeanPoller.Send(_connection.Socket, bytes.Span, out error)
                    : _connection.Socket.Send(bytes.Span, SocketFlags.None, out error);
            }
            catch (ObjectDisposedException)
            {
                sent = 0;
                error = SocketError.OperationAborted;
            }

            if (error != SocketError.WouldBlock)
            {
                if (!Advanced(error, sent))
                {
                    return;
                }

                continue;
            }

            _sender!.Start(this, bytes);
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

            if (pending || !Advanced(_sender.SocketError, _sender.BytesTransferred))
            {
                return;
            }
        }
    }

    /// <summary>The sender's completion callback.</summary>
    internal void OnSent(SocketError error, int bytes)
    {
        lock (Sync)
        {
            if (Advanced(error, bytes))
            {
                SendPending();
            }
        }
    }

    // Called under Sync after a send completed: true when more is to be sent. Finishing or failing wakes
    // the waiting flush (outside the lock, through the thread pool: the source runs continuations so).
    private bool Advanced(SocketError error, int bytes)
    {
        if (error != SocketError.Success || _failed)
        {
            _connection.Senders.Return(_sender!);
            _sender = null;
            _connection.Pool.ReturnChain(_sending);
            _sending = null;
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.writer.Fail(s.error), (writer: this, error), preferLocal: false);
            return false;
        }

        _sendingOffset += bytes;
        while (_sending is not null && _sendingOffset == _sending.End)
        {
            var next = _sending.NextSegment;
            _connection.Pool.Return(_sending);
            _sending = next;
            _sendingOffset = 0;
            if (_sending is null && _queued is not null)
            {
                _sending = _queued;
                _queued = null;
            }
        }

        if (_sending is not null)
        {
            return true;
        }

        _connection.Senders.Return(_sender!);
        _sender = null;
        if (_waiting)
        {
            _waiting = false;
            Waiter.Source.SetResult(new FlushResult(isCanceled: false, isCompleted: false));
        }

        return false;
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
