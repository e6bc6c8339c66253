using System.Net;
using ChatWire.Gateway.Observability;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Admission;

/// <summary>
/// Kestrel's socket transport with two guards on every listener's accept loop: a connection over the
/// process budget is closed right after accept, before it is queued anywhere (so a flood cannot run the
/// process out of file descriptors), and an accept that fails is reported to <see cref="ListenerHealth"/>
/// instead of silently ending the listener. Registered after Kestrel's own factory, so Kestrel binds with it.
/// </summary>
internal sealed class GuardedListenerFactory(
    IOptions<SocketTransportOptions> socketOptions,
    ILoggerFactory loggerFactory,
    ConnectionBudget budget,
    ListenerHealth health,
    GatewayMetrics metrics) : IConnectionListenerFactory
{
    private readonly SocketTransportFactory _sockets = new(socketOptions, loggerFactory);

    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        new GuardedListener(await _sockets.BindAsync(endpoint, cancellationToken), budget, health, metrics);
}

/// <summary>One listener of <see cref="GuardedListenerFactory"/>: the budget at accept, and accept failures reported.</summary>
internal sealed class GuardedListener(IConnectionListener inner, ConnectionBudget budget, ListenerHealth health, GatewayMetrics metrics) : IConnectionListener
{
    public EndPoint EndPoint => inner.EndPoint;

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            ConnectionContext? connection;
            try
            {
                connection = await inner.AcceptAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex)
            {
                health.ListenerFailed(EndPoint, ex);
                throw;
            }

            if (connection is null || budget.TryTakeSlot())
            {
                // Admitted to the budget; the listener's admission middleware gives the slot back.
                return connection;
            }

            // The process is full: close now, before anything is spent on it.
            metrics.Rejected.WithLabels("process budget").Inc();
            connection.Abort();
            await connection.DisposeAsync();
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => inner.UnbindAsync(cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
