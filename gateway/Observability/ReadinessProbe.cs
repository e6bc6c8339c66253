using System.Diagnostics;
using ChatWire.Gateway.Admission;
using ChatWire.Gateway.Hosting;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Messages;
using ChatWire.Storage.MySql;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatWire.Gateway.Observability;

/// <summary>One backend's answer to a readiness check.</summary>
internal sealed record BackendCheck(string Backend, bool Ok, double Seconds, string? Error);

/// <summary>What <c>/ready</c> reports: ready only when not draining, every listener accepts and every backend answered.</summary>
internal sealed record Readiness(bool Ready, bool Draining, bool ListenersOpen, IReadOnlyList<BackendCheck> Backends);

/// <summary>
/// Checks that the node can serve: its listeners accept, the directory and message stores answer a read,
/// Redis answers PING (distributed mode), and it is not draining. Each check is a real round trip with its
/// own timeout (<see cref="GatewayOptions.ReadinessTimeoutMs"/>); the outcome and the duration go to the
/// <c>chatwire_backend_*</c> metrics, which a background sampler keeps fresh between scrapes of <c>/ready</c>.
/// </summary>
internal sealed class ReadinessProbe(
    IDirectoryStore directory,
    IMessageStore messages,
    IServiceProvider services,
    ListenerHealth listeners,
    GatewayDrain drain,
    GatewayMetrics metrics,
    IHostApplicationLifetime lifetime,
    IOptions<GatewayOptions> options,
    ILogger<ReadinessProbe> logger)
{
    // Stores have no ping: each check is the cheapest read the store interface has, for a key that cannot
    // exist (usernames are never empty; no conversation has the empty id), so it reads no data.
    private static readonly Guid[] NoConversation = [Guid.Empty];

    private readonly IConnectionMultiplexer? _redis = services.GetService<IConnectionMultiplexer>();

    private readonly string? _mySqlPrimary = services.GetService<Hosting.ChatWireStorage>()?.MySqlPrimary;

    private SemiSyncState? _semiSync;

    public async Task<Readiness> CheckAsync(CancellationToken cancellationToken)
    {
        var checks = new List<Task<BackendCheck>>
        {
            CheckAsync("directory", t => directory.FindUserByNameAsync(string.Empty, t), cancellationToken),
            CheckAsync("messages", t => messages.GetLatestSeqsAsync(NoConversation, t), cancellationToken),
        };
        if (_redis is not null)
        {
            checks.Add(CheckAsync("redis", t => _redis.GetDatabase().PingAsync().WaitAsync(t), cancellationToken));
        }

        var backends = await Task.WhenAll(checks);
        if (_mySqlPrimary is not null && backends.All(b => b.Ok))
        {
            await SampleSemiSyncAsync(_mySqlPrimary, cancellationToken);
        }

        var listenersOpen = listeners.IsHealthy && lifetime.ApplicationStarted.IsCancellationRequested;
        var draining = drain.IsDraining;
        return new Readiness(!draining && listenersOpen && backends.All(b => b.Ok), draining, listenersOpen, backends);
    }

    /// <summary>
    /// Whether the MySQL primary still waits for a replica on each commit (<c>chatwire_mysql_semi_sync</c>): not a
    /// readiness condition (every node shares the primary, so failing them all would stop the service), but the
    /// durability of what is acknowledged from now on. A fall back to asynchronous replication is logged (event id
    /// 105) and alerted on (deploy/prometheus/alerts.yml); its end is logged too (106).
    /// </summary>
    private async Task SampleSemiSyncAsync(string connectionString, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.ReadinessTimeoutMs);
        SemiSyncState state;
        try
        {
            state = await MySqlSemiSync.ReadAsync(connectionString, timeout.Token);
        }
#pragma warning disable CA1031 // The primary answered the store checks a moment ago; a failed read here keeps the last state.
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
        {
            GatewayLog.ProbeFailed(logger, "mysql-replication", ex.GetType().Name);
            return;
        }

        metrics.SemiSyncSampled((int)state);
        var previous = _semiSync;
        _semiSync = state;
        if (state == SemiSyncState.FellBack && previous != SemiSyncState.FellBack)
        {
            GatewayLog.SemiSyncFellBack(logger);
        }
        else if (previous == SemiSyncState.FellBack && state == SemiSyncState.Active)
        {
            GatewayLog.SemiSyncResumed(logger);
        }
    }

    private async Task<BackendCheck> CheckAsync(string backend, Func<CancellationToken, Task> check, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        string? error = null;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.ReadinessTimeoutMs);
        try
        {
            await check(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            error = $"no answer within {options.Value.ReadinessTimeoutMs} ms";
        }
#pragma warning disable CA1031 // Any failure of the backend is the answer: not ready.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            error = ex.GetType().Name;
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        metrics.BackendChecked(backend, error is null, seconds);
        if (error is not null)
        {
            GatewayLog.ProbeFailed(logger, backend, error);
        }

        return new BackendCheck(backend, error is null, seconds, error);
    }
}

/// <summary>Runs the readiness checks every 15 s, so the backend metrics move even when nothing polls <c>/ready</c>.</summary>
internal sealed class ReadinessSampler(ReadinessProbe probe) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                await probe.CheckAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
