using System.Net;
using System.Net.Sockets;
using ChatWire.Gateway.Admission;
using ChatWire.Gateway.Observability;
using Microsoft.AspNetCore.Connections;

namespace ChatWire.Gateway.Transport;

/// <summary>
/// An endpoint the lean transport binds: the protocol listeners are declared with it when
/// <c>Gateway:ProtocolTransport</c> is <c>lean</c>. Every other endpoint (HTTP API, management, and the
/// protocol listeners under <c>sockets</c>) is a plain <see cref="IPEndPoint"/> and goes to Kestrel's own
/// socket transport, which Kestrel picks when this factory declines (<see cref="IConnectionListenerFactorySelector"/>).
/// </summary>
internal sealed class LeanEndPoint(IPAddress address, int port) : IPEndPoint(address, port)
{
    public LeanEndPoint(IPEndPoint endpoint)
        : this(endpoint.Address, endpoint.Port)
    {
    }
}

/// <summary>
/// The lean transport (docs/architecture.md, "Lean transport"): binds <see cref="LeanEndPoint"/>s only, with
/// the same process-budget and accept-failure guards as the socket transport (<see cref="GuardedListener"/>).
/// </summary>
internal sealed class LeanTransportFactory(LeanBufferPool pool, ConnectionBudget budget, ListenerHealth health, GatewayMetrics metrics)
    : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public LeanBufferPool Pool => pool;

    public bool CanBind(EndPoint endpoint) => endpoint is LeanEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var listener = LeanListener.Bind((IPEndPoint)endpoint, pool);
        return new ValueTask<IConnectionListener>(new GuardedListener(listener, budget, health, metrics));
    }
}

/// <summary>
/// One listening socket of the lean transport; its accepted sockets become <see cref="LeanConnection"/>s. On Linux
/// (where the <see cref="LeanPoller"/> runs) the listener waits for connections in the poller's epoll set and
/// accepts them with <c>accept4</c> itself, so a connection is its socket handle with no runtime
/// <see cref="Socket"/> object; elsewhere the runtime accepts.
/// </summary>
internal sealed class LeanListener : IConnectionListener, IThreadPoolWorkItem
{
    private const int Backlog = 512;

    private const int AcceptRetryDelayMs = 10;

    private readonly Socket _socket;
    private readonly SafeSocketHandle _handle;
    private readonly LeanBufferPool _pool;
    private readonly LeanPoller? _poller;
    private readonly ulong _pollKey;
    private readonly Lock _lock = new();
    private TaskCompletionSource? _readable;
    private bool _armed;
    private bool _unbound;

    private LeanListener(Socket socket, LeanBufferPool pool)
    {
        _socket = socket;
        _handle = socket.SafeHandle;
        _pool = pool;
        EndPoint = new LeanEndPoint((IPEndPoint)socket.LocalEndPoint!);
        _poller = LeanPoller.Shared;
        if (_poller is not null)
        {
            // accept4 must not wait: the poller says when a connection is there.
            socket.Blocking = false;
            _pollKey = _poller.Register(this);
        }
    }

    public EndPoint EndPoint { get; }

    public static LeanListener Bind(IPEndPoint endpoint, LeanBufferPool pool)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (endpoint.Address.Equals(IPAddress.IPv6Any))
        {
            socket.DualMode = true;
        }

        try
        {
            socket.Bind(new IPEndPoint(endpoint.Address, endpoint.Port));
            socket.Listen(Backlog);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException(ex.Message, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new LeanListener(socket, pool);
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            SafeSocketHandle? handle = null;
            Socket? accepted = null;
            EndPoint? remote = null;
            SocketError error;
            if (_poller is not null)
            {
                handle = LeanPoller.Accept(_handle, out remote, out error);
                if (error == SocketError.WouldBlock)
                {
                    if (!await WaitForConnectionAsync(cancellationToken))
                    {
                        return null;
                    }

                    continue;
                }
            }
            else
            {
                try
                {
                    accepted = await _socket.AcceptAsync(cancellationToken);
                    error = SocketError.Success;
                }
                catch (ObjectDisposedException)
                {
                    error = SocketError.OperationAborted;
                }
                catch (SocketException ex)
                {
                    error = ex.SocketErrorCode;
                }
            }

            switch (error)
            {
                case SocketError.Success:
                    break;
                case SocketError.OperationAborted:
                    // Unbound.
                    return null;
                case SocketError.ConnectionReset or SocketError.ConnectionAborted:
                    // The peer gave up before it was accepted: take the next one.
                    continue;
                case SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable:
                    // Out of descriptors or memory for a moment (the process budget keeps a margin, but sockets being
                    // closed still hold theirs): the listener is fine, so wait a little and accept again, as Kestrel's
                    // socket transport does, rather than fail the listener and stop the process.
                    await Task.Delay(AcceptRetryDelayMs, cancellationToken);
                    continue;
                default:
                    throw new SocketException((int)error);
            }

            if (handle is not null)
            {
                return new LeanConnection(handle, remote, _pool);
            }

            try
            {
                accepted!.NoDelay = true;

                // The transport never waits in a send or receive: elsewhere than Linux the socket is non-blocking.
                accepted.Blocking = false;
                return new LeanConnection(accepted, _pool);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Reset between accept and set-up.
                accepted!.Dispose();
            }
        }
    }

    // Until the listening socket is readable (a connection waits in its backlog): false once unbound.
    private async ValueTask<bool> WaitForConnectionAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource readable;
        lock (_lock)
        {
            if (_unbound)
            {
                return false;
            }

            readable = _readable = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var first = !_armed;
            _armed = true;
            if (!_poller!.Arm(_handle, _pollKey, first))
            {
                return false;
            }
        }

        await readable.Task.WaitAsync(cancellationToken);
        lock (_lock)
        {
            return !_unbound;
        }
    }

    // The poller's wake-up: the listening socket is readable.
    void IThreadPoolWorkItem.Execute()
    {
        lock (_lock)
        {
            _readable?.TrySetResult();
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        Close();
        return default;
    }

    public ValueTask DisposeAsync()
    {
        Close();
        return default;
    }

    private void Close()
    {
        lock (_lock)
        {
            if (_unbound)
            {
                return;
            }

            _unbound = true;

            // Closing a socket takes it out of the epoll set without a word: the waiting accept is woken here.
            _readable?.TrySetResult();
        }

        if (_poller is not null)
        {
            _poller.Release(_handle, _pollKey);
        }

        _socket.Dispose();
    }
}
