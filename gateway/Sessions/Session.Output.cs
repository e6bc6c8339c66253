using System.Buffers;
using System.IO.Pipelines;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Sessions;

// The outbound side: every frame, reply or fanned-out event, goes through one lock into the transport's
// PipeWriter. At most one flush is outstanding; bytes written meanwhile are counted, and a connection
// whose count passes MaxOutboundBytes is a slow consumer: closed, to catch up later by seq (DESIGN §4).
internal sealed partial class Session
{
    private readonly PipeWriter _output;
    private readonly Lock _writeLock = new();
    private long _outboundBytes;
    private bool _flushing;
    private bool _closing;
    private bool _closed;

    private bool IsClosing => Volatile.Read(ref _closing);

    public void Send<T>(in T frame)
        where T : struct, IFrame<T>
    {
        lock (_writeLock)
        {
            if (_closing || _closed)
            {
                return;
            }

            var written = FrameCodec.Write(_output, frame);
            _services.Metrics.FrameOut(T.Opcode);
            AfterWrite(written);
        }
    }

    /// <summary>Writes an already-encoded frame (an event serialized once for every recipient).</summary>
    public void SendEncoded(ReadOnlySpan<byte> frame, Opcode opcode)
    {
        lock (_writeLock)
        {
            if (_closing || _closed)
            {
                return;
            }

            _output.Write(frame);
            _services.Metrics.FrameOut(opcode);
            AfterWrite(frame.Length);
        }
    }

    public void SendError(uint requestId, ErrorCode code, string message)
    {
        _services.Metrics.Error(code);
        Send(new ErrorFrame(requestId, code, message));
    }

    /// <summary>Sends ERROR (request id as given, 0 for server-initiated closes), then closes the connection.</summary>
    public void CloseWithError(ErrorCode code, string message, uint requestId = 0)
    {
        lock (_writeLock)
        {
            if (_closing || _closed)
            {
                return;
            }

            _services.Metrics.Error(code);
            var written = FrameCodec.Write(_output, new ErrorFrame(requestId, code, message));
            _services.Metrics.FrameOut(Opcode.Error);
            _closing = true;
            AfterWrite(written);
        }

        GatewayLog.SessionClosed(_services.Logger, ConnectionId, ErrorCodes.Name(code), message);
        _input.CancelPendingRead();
    }

    private void AfterWrite(int written)
    {
        _outboundBytes += written;
        if (_outboundBytes > _services.Options.MaxOutboundBytes)
        {
            _closing = true;
            _services.Metrics.Error(ErrorCode.SlowConsumer);
            GatewayLog.SessionClosed(_services.Logger, ConnectionId, ErrorCodes.Name(ErrorCode.SlowConsumer), $"{_outboundBytes} bytes queued");
            _input.CancelPendingRead();
            Abort("slow consumer");
            return;
        }

        if (!_flushing)
        {
            StartFlush();
        }
    }

    // Called under _writeLock.
    private void StartFlush()
    {
        while (_outboundBytes > 0 && !_closed)
        {
            var bytes = _outboundBytes;
            ValueTask<FlushResult> flush;
            try
            {
                flush = _output.FlushAsync();
            }
            catch (InvalidOperationException)
            {
                _closed = true;
                return;
            }

            if (!flush.IsCompleted)
            {
                _flushing = true;
                _ = AwaitFlushAsync(flush, bytes);
                return;
            }

            _outboundBytes -= bytes;
            if (flush.Result.IsCompleted)
            {
                _closed = true;
            }
        }
    }

    private async Task AwaitFlushAsync(ValueTask<FlushResult> flush, long bytes)
    {
        var completed = false;
        try
        {
            completed = (await flush).IsCompleted;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException)
        {
            completed = true;
        }

        lock (_writeLock)
        {
            _flushing = false;
            _outboundBytes -= bytes;
            if (completed)
            {
                _closed = true;
                return;
            }

            StartFlush();
        }
    }

    private void MarkClosed()
    {
        lock (_writeLock)
        {
            _closed = true;
        }
    }
}
