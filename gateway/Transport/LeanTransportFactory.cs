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

/// <summary>One listening socket of the lean transport; its accepted sockets become <see cref="LeanConnection"/>s.</summary>
internal sealed class LeanListener : IConnectionListener
{
    private const int Backlog = 512;

    private const int AcceptRetryDelayMs = 10;

    private readonly Socket _socket;
    private readonly LeanBufferPool _pool;

    private LeanListener(Socket socket, LeanBufferPool pool)
    {
        _socket = socket;
        _pool = pool;
        EndPoint = new LeanEndPoint((IPEndPoint)socket.LocalEndPoint!);
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
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(cancellationToken);
            }
            catch (ObjectDisposedException)
            {
                return null;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.OperationAborted)
            {
                // Unbound.
                return null;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                // The peer gave up before it was accepted: take the next one.
                continue;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                // Out of descriptors or memory for a moment (the process budget keeps a margin, but sockets being
                // closed still hold theirs): the listener is fine, so wait a little and accept again, as Kestrel's
                // socket transport does, rather than fail the listener and stop the process.
                await Task.Delay(AcceptRetryDelayMs, cancellationToken);
                continue;
            }

            try
            {
                accepted.NoDelay = true;

                // The transport never waits in a send or receive: on Linux its calls ask for that one by one
                // (LeanPoller.Receive and Send; making the socket non-blocking would give it the runtime's
                // asynchronous state, ~0.15 KB for the connection's life); elsewhere the socket is non-blocking.
                if (LeanPoller.Shared is null)
                {
                    accepted.Blocking = false;
                }
                return new LeanConnection(accepted, _pool);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Reset between accept and set-up.
                accepted.Dispose();
            }
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _socket.Dispose();
        return default;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return default;
    }
}
