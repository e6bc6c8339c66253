using ChatWire.Client.Internal;

namespace ChatWire.Client;

// State transitions: which link is current, what waiting requests learn when it changes, and closing for good.
public sealed partial class ChatWireConnection
{
    // Makes a freshly authenticated link the current one and tells the event stream.
    private void Publish(FrameLink link)
    {
        lock (_stateLock)
        {
            _link = link;
            _state = ConnectionState.Connected;
            UserId = link.UserId;
            DeviceId = link.DeviceId;
            Limits = link.Limits;
            HeartbeatInterval = link.HeartbeatInterval;
            NoisePattern = link.NoisePattern;
            NoiseServerKey = link.NoiseServerKey;
            _events.Write(new ConnectionStateChanged(ConnectionState.Connected, null));
            if (link.NoiseRotatedFrom is { } previous && link.NoiseServerKey is { } current)
            {
                var endpoint = CurrentEndpoint;
                _events.Write(new NoiseServerKeyRotated(NoiseKeys.PinName(endpoint.Host, endpoint.Port), NoiseKeys.ToHex(previous), NoiseKeys.ToHex(current.Span)));
            }
            _linkReady.TrySetResult(link);
        }

        // A change to this user's keys may have passed while no link was up.
        SignalOwnKeys();
    }

    // Completes the current signal of NextOwnKeysChangeAsync and starts the next; once closed, the faulted one stays.
    private void SignalOwnKeys()
    {
        TaskCompletionSource current;
        lock (_stateLock)
        {
            if (_state == ConnectionState.Closed)
            {
                return;
            }

            current = _ownKeys;
            _ownKeys = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        current.TrySetResult();
    }

    // Takes the link out of service; requests made from now on wait for the next one.
    private void Unpublish(FrameLink link, Exception reason)
    {
        lock (_stateLock)
        {
            if (ReferenceEquals(_link, link))
            {
                _link = null;
            }

            if (_linkReady.Task.IsCompleted && _state != ConnectionState.Closed)
            {
                _linkReady = NewLinkSignal();
            }

            if (link.CloseCode is { } code)
            {
                _closeCode = code;
            }
        }

        link.Abort(reason);
        FailPending(LinkLost(reason));
    }

    private void FailPending(Exception error)
    {
        foreach (var pair in _pending)
        {
            if (_pending.TryRemove(pair.Key, out var reply))
            {
                reply.TrySetException(error);
            }
        }
    }

    private void SetReconnecting(Exception reason)
    {
        lock (_stateLock)
        {
            if (_state == ConnectionState.Closed)
            {
                return;
            }

            _state = ConnectionState.Reconnecting;
            _events.Write(new ConnectionStateChanged(ConnectionState.Reconnecting, reason));
        }
    }

    // Closes for good; error null means the caller disposed the connection.
    private void Close(Exception? error)
    {
        lock (_stateLock)
        {
            if (_state == ConnectionState.Closed)
            {
                return;
            }

            _state = ConnectionState.Closed;
            _closeError = error;
            _link = null;
            var closed = error is null ? new ObjectDisposedException(nameof(ChatWireConnection)) : ClosedException(error);
            if (!_linkReady.TrySetException(closed))
            {
                _linkReady = NewLinkSignal();
                _linkReady.TrySetException(closed);
            }

            // Nobody may be waiting; mark the fault observed.
            _ = _linkReady.Task.Exception;

            // Waiters for a key change learn it as requests do; the faulted signal stays, for later callers too.
            _ownKeys.TrySetException(closed);
            _ = _ownKeys.Task.Exception;

            _events.Write(new ConnectionStateChanged(ConnectionState.Closed, error));
            _events.Complete(error);
        }
    }

    private static Exception ClosedException(Exception? error) => error switch
    {
        ChatWireException server => new ChatWireException(server.Code, "The connection is closed: " + server.Message, server.Name, null, null, server),
        null => new ObjectDisposedException(nameof(ChatWireConnection)),
        _ => new IOException("The connection is closed.", error),
    };

    private static IOException LinkLost(Exception? reason) =>
        new("The connection was lost before the server answered; the request may or may not have taken effect "
            + "(a SEND retried with the same message id is safe).", reason);
}
