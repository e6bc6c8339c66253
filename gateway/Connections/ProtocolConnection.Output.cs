using System.Buffers;
using System.IO.Pipelines;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Connections;

// The outbound side: every frame, reply or fanned-out event, goes through one lock. At most one flush of
// the transport's PipeWriter is outstanding, and nothing touches that writer while it is: over TLS the
// writer is a StreamPipeWriter, whose buffers a pending flush still owns. Frames written meanwhile go to a
// connection-owned backlog (allocated only under backpressure, dropped once drained, so an idle connection
// holds none). Bytes not yet flushed, backlog included, may pass MaxOutboundBytes for a burst (a few large
// messages at once) but must be back under it within SlowConsumerGraceMs, and may never pass
// MaxOutboundBurstBytes; otherwise the connection is a slow consumer: closed, to catch up later by seq
// (docs/protocol.md §3.2). The grace is checked by the shared sweep (CheckDeadlines).
internal sealed partial class ProtocolConnection
{
    private PipeWriter Output => _connection.Transport.Output;

    // The output's lock is the session itself (no lock object per connection; an idle session carries enough).
    // Nothing outside this class locks on a session.
    private object WriteLock => this;
    private ArrayBufferWriter<byte>? _backlog;
    private ArrayBufferWriter<byte>? _held;
    private bool _holding;
    private Task? _pendingFlush;
    private long _outboundBytes;
    private long _overOutboundSince;
    private bool _flushing;
    private bool _deliveriesUnflushed;
    private bool _closing;
    private bool _closed;

    private bool IsClosing => Volatile.Read(ref _closing);

    /// <summary>Bytes written and not yet flushed to the socket (read without the lock, for metrics).</summary>
    public long OutboundBytes => Volatile.Read(ref _outboundBytes);

    public void Send<T>(in T frame)
        where T : struct, IFrame<T>
    {
        lock (WriteLock)
        {
            if (_closing || _closed)
            {
                return;
            }

            WriteLocked(frame);
        }
    }

    /// <summary>Writes an already-encoded frame (an event serialized once for every recipient).</summary>
    public void SendEncoded(ReadOnlySpan<byte> frame, Opcode opcode)
    {
        lock (WriteLock)
        {
            if (_closing || _closed)
            {
                return;
            }

            Target(frame.Length).Write(frame);
            _services.Metrics.FrameOut(opcode);
            AfterWrite(frame.Length);
        }
    }

    /// <summary>
    /// Writes an already-encoded frame for the fan-out without flushing it (see <see cref="Delivery.IDeliveryTarget.DeliverUnflushed"/>):
    /// the frame waits in the transport's writer, its bytes counted like any other, until <see cref="FlushDeliveries"/>
    /// or any other write's flush takes it. The caller counts the frame in <c>chatwire_frames_sent_total</c>: the
    /// lanes add one figure per event, since a counter shared by every lane, moved once per recipient, costs more
    /// than the write.
    /// </summary>
    public Delivery.DeliveryWrite DeliverUnflushed(ReadOnlySpan<byte> frame)
    {
        lock (WriteLock)
        {
            return DeliverLocked(frame);
        }
    }

    /// <summary>
    /// Writes a run of encoded frames for the fan-out under one acquisition of the lock (see
    /// <see cref="Delivery.IDeliveryTarget.DeliverRunUnflushed"/>); each frame is treated as by <see cref="DeliverUnflushed"/>,
    /// and a joined run (no ephemeral frame in it) is copied in one piece and counted against the outbound limits
    /// once: a connection the run takes past the burst limit is closed as a slow consumer, as by the frame that
    /// would have crossed it.
    /// </summary>
    public Delivery.DeliveryWrite DeliverRunUnflushed(ReadOnlySpan<byte[]> frames, ReadOnlySpan<byte> joined, Span<int> written)
    {
        var result = Delivery.DeliveryWrite.Dropped;
        lock (WriteLock)
        {
            if (_closing || _closed)
            {
                return result;
            }

            if (!joined.IsEmpty)
            {
                for (var i = 0; i < written.Length; i++)
                {
                    written[i]++;
                }

                return AppendDeliveryLocked(joined);
            }

            for (var i = 0; i < frames.Length; i++)
            {
                var write = DeliverLocked(frames[i]);
                if (write != Delivery.DeliveryWrite.Dropped)
                {
                    written[i]++;
                    result = write > result ? write : result;
                }
            }
        }

        return result;
    }

    // Called under WriteLock: one fan-out frame, unflushed.
    private Delivery.DeliveryWrite DeliverLocked(ReadOnlySpan<byte> frame)
    {
        if (_closing || _closed)
        {
            return Delivery.DeliveryWrite.Dropped;
        }

        if (Delivery.DeliveryFrames.IsEphemeral(FrameCodec.PeekOpcode(frame)) && DropsEphemeralLocked())
        {
            return Delivery.DeliveryWrite.Dropped;
        }

        return AppendDeliveryLocked(frame);
    }

    // Called under WriteLock for an open connection: appends fan-out bytes (one frame or a joined run), unflushed,
    // and counts them against the outbound limits.
    private Delivery.DeliveryWrite AppendDeliveryLocked(ReadOnlySpan<byte> bytes)
    {
        Target(bytes.Length).Write(bytes);
        if (!Count(bytes.Length) || _deliveriesUnflushed)
        {
            return Delivery.DeliveryWrite.Written;
        }

        _deliveriesUnflushed = true;
        return Delivery.DeliveryWrite.WrittenFlushOwed;
    }

    /// <summary>Flushes what <see cref="DeliverUnflushed"/> left in the writer (unless a flush under way will take it).</summary>
    public void FlushDeliveries()
    {
        lock (WriteLock)
        {
            _deliveriesUnflushed = false;
            if (!_closed && !_flushing && !_holding)
            {
                StartFlush();
            }
        }
    }

    /// <summary>
    /// Writes an ephemeral frame (typing, presence) unless the connection is behind: with output held (AUTH),
    /// a flush outstanding or anything queued past <see cref="EphemeralBacklogBytes"/>, it is dropped, since a
    /// late "is typing" is worse than none and pressure must not grow from frames nobody will miss.
    /// </summary>
    public void SendEphemeral(ReadOnlySpan<byte> frame, Opcode opcode)
    {
        lock (WriteLock)
        {
            if (_closing || _closed || DropsEphemeralLocked())
            {
                return;
            }

            Target(frame.Length).Write(frame);
            _services.Metrics.FrameOut(opcode);
            AfterWrite(frame.Length);
        }
    }

    /// <summary>Unflushed bytes past which ephemeral frames are dropped for a connection.</summary>
    public const long EphemeralBacklogBytes = 64 * 1024;

    // Called under WriteLock, for an ephemeral frame of an open connection: true (and counted) when it is dropped
    // because the connection is behind (see SendEphemeral).
    private bool DropsEphemeralLocked()
    {
        if (!_holding && !_flushing && _outboundBytes <= EphemeralBacklogBytes)
        {
            return false;
        }

        _services.Metrics.EphemeralDropped();
        return true;
    }

    public void SendError(uint requestId, ErrorCode code, string message, uint retryAfterMs = 0)
    {
        _services.Metrics.Error(code);
        Send(new ErrorFrame(requestId, code, message, retryAfterMs));
    }

    /// <summary>
    /// Asks an authenticated client to move to another node (GO_AWAY, the drain); false for a connection that
    /// has not authenticated, which has nothing to resume and is closed instead.
    /// </summary>
    public bool GoAway(uint reconnectWindowMs, string message)
    {
        if (_state != ProtocolState.Authenticated)
        {
            return false;
        }

        Send(new GoAway(reconnectWindowMs, message));
        return true;
    }

    /// <summary>
    /// Sends ERROR (request id as given, 0 for server-initiated closes; <paramref name="retryAfterMs"/> when not 0),
    /// then closes the connection.
    /// </summary>
    public void CloseWithError(ErrorCode code, string message, uint requestId = 0, uint retryAfterMs = 0)
    {
        lock (WriteLock)
        {
            if (_closing || _closed)
            {
                return;
            }

            _services.Metrics.Error(code);
            _holding = false;
            _held = null;
            WriteLocked(new ErrorFrame(requestId, code, message, retryAfterMs));
            _closing = true;
        }

        GatewayLog.ConnectionClosed(_services.Logger, ConnectionId, ErrorCodes.Name(code), message);
        Input.CancelPendingRead();
    }

    private void WriteLocked<T>(in T frame)
        where T : struct, IFrame<T>
    {
        var written = FrameCodec.Write(Target(256), frame);
        _services.Metrics.FrameOut(T.Opcode);
        AfterWrite(written);
    }

    // Called under WriteLock. Where the next frame goes: held back during AUTH, the backlog while a flush
    // is outstanding (the transport's writer is not to be touched then), else the transport's writer.
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1859", Justification = "Returns an ArrayBufferWriter or the PipeWriter; no single concrete type fits.")]
    private IBufferWriter<byte> Target(int sizeHint)
    {
        if (_holding)
        {
            return _held ??= new ArrayBufferWriter<byte>(sizeHint);
        }

        if (_flushing)
        {
            return _backlog ??= new ArrayBufferWriter<byte>(sizeHint);
        }

        return Output;
    }

    /// <summary>From now on frames are held back (counted, not sent) until <see cref="ReleaseHeld"/>.</summary>
    private void HoldOutput()
    {
        lock (WriteLock)
        {
            _holding = true;
        }
    }

    /// <summary>Sends <paramref name="first"/>, then whatever was held, in that order.</summary>
    private void ReleaseHeld<T>(in T first)
        where T : struct, IFrame<T>
    {
        lock (WriteLock)
        {
            _holding = false;
            var held = _held;
            _held = null;
            if (_closing || _closed)
            {
                return;
            }

            var target = Target(256);
            _outboundBytes += FrameCodec.Write(target, first);
            _services.Metrics.FrameOut(T.Opcode);
            if (held is { WrittenCount: > 0 })
            {
                // Already counted in _outboundBytes when it was held; now it joins the output, in order.
                target.Write(held.WrittenSpan);
            }

            AfterWrite(0);
        }
    }

    // Called under WriteLock.
    private void AfterWrite(int written)
    {
        if (Count(written) && !_flushing && !_holding)
        {
            StartFlush();
        }
    }

    // Called under WriteLock: counts written bytes against the outbound limits; false when that closed the
    // connection as a slow consumer.
    private bool Count(int written)
    {
        _outboundBytes += written;
        if (_outboundBytes > _services.Options.MaxOutboundBurstBytes)
        {
            CloseAsSlowConsumerLocked();
            return false;
        }

        if (_outboundBytes > _services.Options.MaxOutboundBytes && _overOutboundSince == 0)
        {
            _overOutboundSince = Math.Max(1, Environment.TickCount64);
        }

        return true;
    }

    /// <summary>
    /// From the sweep: a connection above MaxOutboundBytes for longer than the grace is a slow consumer (true
    /// when closed now). An idle connection's check is one read, without the lock; a stale read is caught by
    /// the next sweep.
    /// </summary>
    private bool CheckOutboundGrace(long now)
    {
        var since = Volatile.Read(ref _overOutboundSince);
        if (since == 0 || now - since <= _services.Options.SlowConsumerGraceMs)
        {
            return false;
        }

        lock (WriteLock)
        {
            if (_overOutboundSince == 0 || _closing || now - _overOutboundSince <= _services.Options.SlowConsumerGraceMs)
            {
                return false;
            }

            CloseAsSlowConsumerLocked();
            return true;
        }
    }

    // Called under WriteLock. No ERROR: the queue ahead of it is what the peer is not reading.
    private void CloseAsSlowConsumerLocked()
    {
        _closing = true;
        _backlog = null;
        _held = null;
        _services.Metrics.Error(ErrorCode.SlowConsumer);
        _services.Metrics.SlowConsumerDisconnects.Inc();
        GatewayLog.ConnectionClosed(_services.Logger, ConnectionId, ErrorCodes.Name(ErrorCode.SlowConsumer), $"{_outboundBytes} bytes queued");
        Input.CancelPendingRead();
        Abort("slow consumer");
    }

    // Called under WriteLock with no flush outstanding.
    private void StartFlush()
    {
        while (_outboundBytes > 0 && !_closed)
        {
            var bytes = _outboundBytes;
            try
            {
                var flush = Output.FlushAsync();
                if (!flush.IsCompleted)
                {
                    _flushing = true;

                    // The flush may complete between the check above and AwaitFlushAsync's await: then that ran to its
                    // end here, on this thread (the lock is re-entered), and cleared the flag, or started the next
                    // flush and made that the pending one. A completed task kept as pending would be waited on
                    // forever by a half-closed connection's last wait.
                    var pending = AwaitFlushAsync(flush, bytes);
                    if (!pending.IsCompleted)
                    {
                        _pendingFlush = pending;
                    }

                    return;
                }

                _outboundBytes -= bytes;
                ClearOutboundGraceIfDrained();
                if (flush.Result.IsCompleted)
                {
                    _closed = true;
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The transport failed (reset, timeout, TLS error): this connection is done, no one else is.
                FailOutput();
            }
        }
    }

    private async Task AwaitFlushAsync(ValueTask<FlushResult> flush, long bytes)
    {
        bool completed;
        try
        {
            completed = (await flush).IsCompleted;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            completed = true;
        }

        lock (WriteLock)
        {
            _flushing = false;
            _pendingFlush = null;
            _outboundBytes -= bytes;
            ClearOutboundGraceIfDrained();
            if (completed)
            {
                FailOutput();
                return;
            }

            if (_backlog is { WrittenCount: > 0 } backlog)
            {
                try
                {
                    Output.Write(backlog.WrittenSpan);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    FailOutput();
                    return;
                }
            }

            _backlog = null;
            StartFlush();
        }
    }

    // Called under WriteLock.
    private void ClearOutboundGraceIfDrained()
    {
        if (_outboundBytes <= _services.Options.MaxOutboundBytes)
        {
            _overOutboundSince = 0;
        }
    }

    // Called under WriteLock.
    private void FailOutput()
    {
        _closed = true;
        _closing = true;
        _backlog = null;
        Input.CancelPendingRead();
    }

    /// <summary>
    /// The read loop has ended: returns the flush still outstanding, if any, so the caller can bound its wait. A
    /// connection the peer left is closed for output at once. One the server is closing keeps its backlog (its last
    /// ERROR may be there, behind a flush still under way) until <see cref="FinishClose"/>.
    /// </summary>
    private Task? MarkClosed()
    {
        lock (WriteLock)
        {
            _held = null;
            if (!_closing)
            {
                _closed = true;
                _backlog = null;
            }

            return _pendingFlush;
        }
    }

    /// <summary>The flush outstanding now (the backlog's, once the one before it completed), or null.</summary>
    private Task? PendingFlush()
    {
        lock (WriteLock)
        {
            return _closed ? null : _pendingFlush;
        }
    }

    /// <summary>Nothing more goes out.</summary>
    private void FinishClose()
    {
        lock (WriteLock)
        {
            _closed = true;
            _backlog = null;
        }
    }
}
