using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Tasks.Sources;

namespace ChatWire.Gateway.Transport;

/// <summary>
/// The input of a lean connection, a <see cref="PipeReader"/> straight over the socket. While the consumer
/// waits and nothing is buffered, the connection's only outstanding work is its socket armed in the
/// <see cref="LeanPoller"/>'s epoll set on Linux (elsewhere, one zero-byte receive); no block is taken. When the
/// socket is readable, the bytes the kernel holds are read synchronously into blocks from the pool;
/// blocks go back as soon as <see cref="AdvanceTo(SequencePosition, SequencePosition)"/> consumes past them.
/// </summary>
internal sealed partial class LeanReader : PipeReader, IValueTaskSource<ReadResult>, IValueTaskSource<bool>, IThreadPoolWorkItem, IDisposable
{
    /// <summary>Bytes read from the kernel per wake-up at most; the rest waits for the next read.</summary>
    private const int MaxBytesPerRead = 64 * 1024;

    private readonly LeanConnection _connection;
    private readonly LeanReceiver? _receiver;
    private ulong _pollKey;
    // The completed read's flags only (ReadCanceled, ReadCompleted): GetResult makes the ReadResult from the
    // buffer, which cannot change until the next read, so an idle reader does not carry a ReadResult's 32 bytes.
    private ManualResetValueTaskSourceCore<byte> _source = new() { RunContinuationsAsynchronously = true };
    // A boxed CancellationTokenRegistration, only while a read given a cancellable token waits (the session's
    // reads take none, so an idle session's reader carries no registration).
    private object? _cancellation;
    private LeanSegment? _head;
    private int _headStart;
    private LeanSegment? _tail;
    private Exception? _error;

    // Guarded by lock (Gate): the reader itself, no extra allocation for it.
    private bool _examinedAll;
    private bool _readPending;
    private bool _receivePending;
    private bool _filling;
    private bool _dataSignalled;
    private bool _cancelRequested;
    private bool _ended;
    private bool _completed;

    // The flags of the read ReadReadyAsync completed, for TakeResult.
    private byte _readyFlags;

    public LeanReader(LeanConnection connection)
    {
        _connection = connection;
        if (Poller is null)
        {
            _receiver = new LeanReceiver(this);
        }
    }

    // The process's epoll set (Linux x64/arm64), or null where the reader keeps a zero-byte receive instead.
    private static LeanPoller? Poller => LeanPoller.Shared;

    // The lock for the reader's state. Only this class locks on it.
    private object Gate => this;

    /// <summary>True while the reader holds any block (for tests and the idle-memory check).</summary>
    internal bool HoldsBuffer => Volatile.Read(ref _head) is not null;

    private ReadOnlySequence<byte> Buffer => _head is null ? default : new ReadOnlySequence<byte>(_head, _headStart, _tail!, _tail!.End);

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        return StartRead(cancellationToken, out var ready) switch
        {
            ReadReady => new ValueTask<ReadResult>(ready),
            ReadNotStarted => ValueTask.FromCanceled<ReadResult>(cancellationToken),
            _ => new ValueTask<ReadResult>(this, _source.Version),
        };
    }

    /// <summary>
    /// A read in two steps, for a consumer that waits long (the session's read loop): true when what
    /// <see cref="ReadAsync"/> would have returned is ready, which <see cref="TakeResult"/> then gives. An async
    /// method suspended on it keeps a <c>ValueTask&lt;bool&gt;</c> (16 bytes) where one suspended on
    /// <see cref="ReadAsync"/> keeps a <c>ValueTask&lt;ReadResult&gt;</c> (48 bytes) for the whole wait.
    /// </summary>
    public ValueTask<bool> ReadReadyAsync()
    {
        if (StartRead(CancellationToken.None, out var ready) == ReadReady)
        {
            _readyFlags = ResultFlags(ready.IsCanceled, ready.IsCompleted);
            return new ValueTask<bool>(true);
        }

        return new ValueTask<bool>(this, _source.Version);
    }

    /// <summary>The result of the read <see cref="ReadReadyAsync"/> completed.</summary>
    public ReadResult TakeResult()
    {
        lock (Gate)
        {
            return new ReadResult(Buffer, (_readyFlags & ReadCanceled) != 0, (_readyFlags & ReadCompleted) != 0);
        }
    }

    private const int ReadPending = 0;
    private const int ReadReady = 1;
    private const int ReadNotStarted = 2;

    // ReadReady with the result when one is ready at once; ReadPending when a read now waits on _source;
    // ReadNotStarted when the token was already cancelled.
    private int StartRead(CancellationToken cancellationToken, out ReadResult ready)
    {
        bool startReceive;
        bool fillNow;
        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(_completed, this);
            if (_readPending)
            {
                throw new InvalidOperationException("A read is already pending.");
            }

            if (TryTakeResultLocked(out ready))
            {
                return ReadReady;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return ReadNotStarted;
            }

            _readPending = true;
            _source.Reset();
            fillNow = _dataSignalled;
            _dataSignalled = false;
            startReceive = !fillNow && !_receivePending;
            if (startReceive)
            {
                _receivePending = true;
            }

            _filling = fillNow;
        }

        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((LeanReader)state!).CancelRead(token), this);
        }

        if (fillNow)
        {
            // A receive completed while no read was pending (after CancelPendingRead): the data is waiting.
            FillAndComplete();
        }
        else if (startReceive)
        {
            StartReceive();
        }

        return ReadPending;
    }

    public override bool TryRead(out ReadResult result)
    {
        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(_completed, this);
            return TryTakeResultLocked(out result);
        }
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        lock (Gate)
        {
            if (_head is null)
            {
                return;
            }

            var consumedSegment = consumed.GetObject() as LeanSegment ?? _head;
            var consumedIndex = consumed.GetObject() is null ? _headStart : consumed.GetInteger();
            _examinedAll = ReferenceEquals(examined.GetObject(), _tail) && examined.GetInteger() == _tail!.End;

            // Blocks wholly before the consumed position go back to the pool now.
            while (!ReferenceEquals(_head, consumedSegment) && _head is not null)
            {
                var next = _head.NextSegment;
                _connection.Pool.Return(_head);
                _head = next;
            }

            _headStart = consumedIndex;
            if (_head is not null && _headStart == _head.End)
            {
                var next = _head.NextSegment;
                if (next is null)
                {
                    // Everything consumed: the connection holds no block until bytes arrive again.
                    _connection.Pool.Return(_head);
                    _head = _tail = null;
                    _headStart = 0;
                    _examinedAll = true;
                }
                else
                {
                    _connection.Pool.Return(_head);
                    _head = next;
                    _headStart = 0;
                }
            }
        }
    }

    private const byte ReadCanceled = 1;
    private const byte ReadCompleted = 2;

    public override void CancelPendingRead()
    {
        byte result;
        lock (Gate)
        {
            _cancelRequested = true;
            if (!_readPending || _filling)
            {
                // The next read (or the fill under way) reports the cancellation.
                return;
            }

            _readPending = false;
            _cancelRequested = false;
            result = ResultFlags(canceled: true, _ended);
        }

        DisposeCancellation();
        _source.SetResult(result);
    }

    public override void Complete(Exception? exception = null)
    {
        lock (Gate)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            _connection.Pool.ReturnChain(_head);
            _head = _tail = null;
        }
    }

    /// <summary>Takes the socket out of the epoll set, or frees the zero-byte receive's native state.</summary>
    public void Dispose()
    {
        if (Poller is not null)
        {
            var key = Volatile.Read(ref _pollKey);
            if (key != 0)
            {
                Poller.Release(_connection.Handle, key);
            }
        }
        else
        {
            _receiver!.Dispose();
        }
    }

    // The socket became readable (the poller's wake-up, run on the thread pool).
    void IThreadPoolWorkItem.Execute() => OnReceiveCallback();

    /// <summary>The receiving side has ended: FIN (<paramref name="error"/> null), a reset, or an abort.</summary>
    internal void End(Exception? error)
    {
        lock (Gate)
        {
            _ended = true;
            _error ??= error;
        }
    }

    // Called under the lock. A result is ready when something was cancelled, something failed, the peer
    // finished, or bytes the consumer has not examined are buffered.
    private bool TryTakeResultLocked(out ReadResult result)
    {
        if (_cancelRequested)
        {
            _cancelRequested = false;
            result = new ReadResult(Buffer, isCanceled: true, isCompleted: _ended);
            return true;
        }

        if (_error is not null)
        {
            throw _error;
        }

        if (_ended || (_head is not null && !_examinedAll))
        {
            result = new ReadResult(Buffer, isCanceled: false, isCompleted: _ended);
            return true;
        }

        result = default;
        return false;
    }

    private void CompletePendingRead()
    {
        byte result;
        Exception? error;
        lock (Gate)
        {
            _filling = false;
            if (!_readPending)
            {
                return;
            }

            _readPending = false;
            error = _error;
            var canceled = _cancelRequested;
            _cancelRequested = false;
            result = ResultFlags(canceled, _ended);
        }

        DisposeCancellation();
        if (error is not null)
        {
            _source.SetException(error);
        }
        else
        {
            _source.SetResult(result);
        }
    }

    private void CancelRead(CancellationToken token)
    {
        lock (Gate)
        {
            if (!_readPending || _filling)
            {
                return;
            }

            _readPending = false;
        }

        _source.SetException(new OperationCanceledException(token));
    }

    private void DisposeCancellation()
    {
        if (Interlocked.Exchange(ref _cancellation, null) is CancellationTokenRegistration registration)
        {
            registration.Dispose();
        }
    }

    private static byte ResultFlags(bool canceled, bool completed) => (byte)((canceled ? ReadCanceled : 0) | (completed ? ReadCompleted : 0));

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token)
    {
        var flags = _source.GetResult(token);
        lock (Gate)
        {
            return new ReadResult(Buffer, (flags & ReadCanceled) != 0, (flags & ReadCompleted) != 0);
        }
    }

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        _readyFlags = _source.GetResult(token);
        return true;
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);
}
