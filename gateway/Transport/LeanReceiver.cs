using System.Net.Sockets;

namespace ChatWire.Gateway.Transport;

/// <summary>The one zero-byte receive a lean connection keeps outstanding while idle.</summary>
internal sealed class LeanReceiver : SocketAsyncEventArgs
{
    private readonly LeanReader _reader;

    public LeanReceiver(LeanReader reader)
        : base(unsafeSuppressExecutionContextFlow: true)
    {
        _reader = reader;
        SetBuffer(Memory<byte>.Empty);
    }

    protected override void OnCompleted(SocketAsyncEventArgs e) => _reader.OnReceiveCallback();
}

/// <summary>
/// An asynchronous send for a lean connection whose socket would block: borrowed from <see cref="LeanSenderPool"/>
/// for the duration of one backed-up flush, so idle connections (and those whose sends complete at once) hold none.
/// </summary>
internal sealed class LeanSender : SocketAsyncEventArgs
{
    private LeanWriter? _writer;

    public LeanSender()
        : base(unsafeSuppressExecutionContextFlow: true)
    {
    }

    public void Start(LeanWriter writer, Memory<byte> bytes)
    {
        _writer = writer;
        SetBuffer(bytes);
    }

    public void Clear()
    {
        _writer = null;
        SetBuffer(Memory<byte>.Empty);
    }

    protected override void OnCompleted(SocketAsyncEventArgs e) => _writer!.OnSent(SocketError, BytesTransferred);
}

/// <summary>The shared senders of a lean listener; at most a few are kept, more are made under a burst and dropped.</summary>
internal sealed class LeanSenderPool
{
    private const int MaxRetained = 256;

    /// <summary>The process's senders: only connections whose kernel send buffer is full hold one, briefly.</summary>
    public static readonly LeanSenderPool Shared = new();

    private readonly System.Collections.Concurrent.ConcurrentQueue<LeanSender> _free = new();
    private int _retained;

    public LeanSender Take()
    {
        if (_free.TryDequeue(out var sender))
        {
            Interlocked.Decrement(ref _retained);
            return sender;
        }

        return new LeanSender();
    }

    public void Return(LeanSender sender)
    {
        sender.Clear();
        if (Interlocked.Increment(ref _retained) <= MaxRetained)
        {
            _free.Enqueue(sender);
        }
        else
        {
            Interlocked.Decrement(ref _retained);
            sender.Dispose();
        }
    }
}
