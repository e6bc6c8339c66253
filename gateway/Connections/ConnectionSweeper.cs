using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Connections;

/// <summary>
/// The one timer for all connections: AUTH deadline, frame deadline, heartbeat PING and dead-peer close.
/// A million idle connections cost one walk per interval, not a million timers.
/// </summary>
internal sealed class ConnectionSweeper(ConnectionRegistry registry, IOptions<GatewayOptions> options, ILogger<ConnectionSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.Value.SweepIntervalMs));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = Environment.TickCount64;
                foreach (var connection in registry.Connections)
                {
                    // One connection's failure must not stop the sweep, let alone the host.
                    try
                    {
                        connection.CheckDeadlines(now);
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        GatewayLog.ConnectionFault(logger, connection.ConnectionId, ex);
                    }
                }

                try
                {
                    registry.SweepRetiring(now);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // The sweep must outlive anything one connection does: if it stopped, so would every deadline.
                    GatewayLog.SweepFault(logger, ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
