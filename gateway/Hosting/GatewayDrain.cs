using ChatWire.Gateway.Connections;
using ChatWire.Gateway.Observability;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Hosting;

/// <summary>
/// The graceful drain of a node told to stop (SIGTERM, Ctrl+C): from the first moment <c>/ready</c> answers
/// 503 and new protocol connections, sign-ups and logins are refused with <c>SHUTTING_DOWN</c>; every
/// authenticated connection is sent GO_AWAY (docs/protocol.md §4.27) and keeps being served while its client
/// moves to another node; when the last one has gone, or <see cref="GatewayOptions.DrainTimeoutMs"/> has
/// passed, the rest are closed and the host stops. The group-commit writer then commits what is queued
/// before the stores close (<see cref="ChatWireServer.DisposeAsync"/>), so every SEND_ACK sent stands.
/// </summary>
/// <remarks>
/// It waits in <see cref="IHostedLifecycleService.StoppingAsync"/>, which the host runs before it stops any
/// hosted service: Kestrel, the event publisher and the connection sweep all still run during the drain.
/// A host stopped in process (<see cref="ChatWireServer.DisposeAsync"/>, the tests' servers) skips the wait
/// unless <see cref="Enabled"/> was set, and closes every connection at once as before.
/// </remarks>
internal sealed class GatewayDrain(
    IOptions<GatewayOptions> options,
    ConnectionRegistry registry,
    GatewayMetrics metrics,
    TimeProvider time,
    ILogger<GatewayDrain> logger) : IHostedLifecycleService
{
    private readonly Lock _beginLock = new();
    private int _draining;
    private int _waited;

    /// <summary>Whether to wait for clients to leave when the host stops; set by <see cref="ChatWireServer.RunAsync"/>.</summary>
    public bool Enabled { get; set; }

    /// <summary>Set from the moment the host starts stopping; <c>/ready</c> answers 503 from then on.</summary>
    public bool IsDraining => Volatile.Read(ref _draining) != 0;

    /// <summary>The window GO_AWAY announces: half the drain, so stragglers still have the other half.</summary>
    public uint ReconnectWindowMs => (uint)(options.Value.DrainTimeoutMs / 2);

    /// <summary>Marks the node as draining and refuses new connections; called from ApplicationStopping (synchronous, so it is immediate).</summary>
    public void Begin()
    {
        // Under a lock, so that a second caller (StoppingAsync, racing ApplicationStopping) returns only once the
        // drain has begun and been logged: "Drained" can never be logged before "Draining".
        lock (_beginLock)
        {
            if (Volatile.Read(ref _draining) != 0)
            {
                return;
            }

            Volatile.Write(ref _draining, 1);
            metrics.Draining.Set(1);
            if (!Enabled || options.Value.DrainTimeoutMs == 0)
            {
                registry.BeginShutdown();
                return;
            }

            var sent = registry.BeginDrain(ReconnectWindowMs, "This node is restarting; reconnect to another node.");
            metrics.GoAwaySent.Inc(sent);
            GatewayLog.DrainStarted(logger, sent, options.Value.DrainTimeoutMs);
        }
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        Begin();

        // The host is stopped twice on the way out (RunAsync, then DisposeAsync): the drain runs once.
        if (!Enabled || options.Value.DrainTimeoutMs == 0 || Interlocked.Exchange(ref _waited, 1) != 0)
        {
            return;
        }

        var started = time.GetTimestamp();
        var deadline = TimeSpan.FromMilliseconds(options.Value.DrainTimeoutMs);
        try
        {
            while (registry.Count > 0 && time.GetElapsedTime(started) < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // The host's own shutdown timeout ran out first: close what is left now.
        }

        var left = registry.Count;
        registry.BeginShutdown();
        GatewayLog.DrainFinished(logger, (long)time.GetElapsedTime(started).TotalMilliseconds, left);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
