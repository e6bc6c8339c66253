using System.Net.Sockets;

namespace ChatWire.Gateway.Transport;

// The receiving side of LeanReader: waiting for the socket to be readable (armed in the epoll set, or a
// zero-byte receive), and reading what the kernel holds once it is.
internal sealed partial class LeanReader
{
    private void StartReceive()
    {
        if (Poller is not null)
        {
            var first = _pollKey == 0;
            if (first)
            {
                Volatile.Write(ref _pollKey, Poller.Register(this));
            }

            if (!Poller.Arm(_connection.Handle, _pollKey, first))
            {
                lock (Gate)
                {
                    _receivePending = false;
                }

                _connection.ReceiveEnded(SocketError.OperationAborted);
                CompletePendingRead();
            }

            return;
        }

        while (true)
        {
            bool pending;
            try
            {
                pending = _connection.Socket.ReceiveAsync(_receiver!);
            }
            catch (ObjectDisposedException)
            {
                lock (Gate)
                {
                    _receivePending = false;
                }

                _connection.ReceiveEnded(SocketError.OperationAborted);
                CompletePendingRead();
                return;
            }

            if (pending)
            {
                return;
            }

            // Completed at once (bytes were already there): no callback comes.
            if (!OnReceived())
            {
                return;
            }
        }
    }

    // The socket is readable (the poller's wake-up) or the zero-byte receive completed (from the socket's
    // callback or at once). True when another wait must be started by the caller (a spurious wake-up with a
    // read still waiting).
    internal bool OnReceived()
    {
        // Readiness carries no error: a reset or an abort shows in the receive that follows.
        var error = _receiver?.SocketError ?? SocketError.Success;
        lock (Gate)
        {
            if (!_receivePending)
            {
                // A second wake-up for one wait (the socket's own and the one SocketClosed adds): already handled.
                return false;
            }

            _receivePending = false;
            if (error == SocketError.Success && !_readPending)
            {
                // Nobody is reading (the read was cancelled): leave the bytes in the kernel until asked.
                _dataSignalled = true;
                return false;
            }

            _filling = true;
        }

        if (error != SocketError.Success)
        {
            _connection.ReceiveEnded(error);
            CompletePendingRead();
            return false;
        }

        var gotData = Fill();
        lock (Gate)
        {
            if (!gotData && !_ended && _error is null && !_cancelRequested)
            {
                // Woken without data: wait again.
                _filling = false;
                _receivePending = true;
                return true;
            }
        }

        CompletePendingRead();
        return false;
    }

    /// <summary>
    /// The socket was closed. Closing a descriptor takes it out of the epoll set without a wake-up, so a wait in the
    /// set is ended here (the receive that follows finds the socket closed); a zero-byte receive ends by itself.
    /// </summary>
    internal void SocketClosed()
    {
        if (Poller is null)
        {
            return;
        }

        bool waiting;
        lock (Gate)
        {
            waiting = _receivePending;
        }

        if (waiting)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    internal void OnReceiveCallback()
    {
        if (OnReceived())
        {
            StartReceive();
        }
    }

    private void FillAndComplete()
    {
        var gotData = Fill();
        lock (Gate)
        {
            if (!gotData && !_ended && _error is null && !_cancelRequested)
            {
                _filling = false;
                _receivePending = true;
            }
            else
            {
                gotData = true;
            }
        }

        if (gotData)
        {
            CompletePendingRead();
        }
        else
        {
            StartReceive();
        }
    }

    // Reads what the kernel holds, without waiting; true when bytes arrived or the stream ended. Runs only
    // while a read is pending and marked as filling, so the consumer is not looking at the blocks.
    private bool Fill()
    {
        var total = 0;
        while (total < MaxBytesPerRead)
        {
            var segment = _tail;
            var fresh = segment is null || segment.Free == 0;
            if (fresh)
            {
                segment = _connection.Pool.Take();
            }

            int received;
            SocketError error;
            try
            {
                received = Poller is not null
                    ? LeanPoller.Receive(_connection.Handle, segment!.FreeMemory.Span, out error)
                    : _connection.Socket.Receive(segment!.FreeMemory.Span, SocketFlags.None, out error);
            }
            catch (ObjectDisposedException)
            {
                received = 0;
                error = SocketError.OperationAborted;
            }

            if (error != SocketError.Success || received == 0)
            {
                if (fresh)
                {
                    _connection.Pool.Return(segment!);
                }

                if (error == SocketError.WouldBlock)
                {
                    return total > 0;
                }

                // 0 bytes with success is the peer's FIN.
                _connection.ReceiveEnded(error);
                return true;
            }

            lock (Gate)
            {
                if (fresh)
                {
                    if (_tail is null)
                    {
                        _head = _tail = segment;
                        _headStart = 0;
                    }
                    else
                    {
                        _tail.Link(segment!);
                        _tail = segment;
                    }
                }

                segment!.Grow(received);
                _examinedAll = false;
            }

            total += received;
            if (segment.Free > 0)
            {
                // The kernel had less than the block's room: it is drained.
                return true;
            }
        }

        return true;
    }
}
