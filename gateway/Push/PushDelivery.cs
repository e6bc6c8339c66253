using System.Diagnostics;
using ChatWire.Storage.Push;

namespace ChatWire.Gateway.Push;

/// <summary>
/// Sends one notification to one device through its provider: at most once per (device, message) (the sent
/// record is checked before and written after), a limited number of requests per provider at once, retries
/// with exponential backoff and jitter (or the provider's Retry-After), and a registration the provider
/// calls dead removed. A webhook receiver whose send the notification's deadline cut short after a request went
/// to it, or that left every attempt unanswered, is passed over for a while (<see cref="SilentReceivers"/>).
/// Every outcome is counted.
/// </summary>
internal sealed class PushDelivery
{
    private readonly Dictionary<PushProvider, (IPushSender Sender, SemaphoreSlim Slots)> _senders;
    private readonly IPushStore _store;
    private readonly SilentReceivers _silent;
    private readonly PushMetrics _metrics;
    private readonly PushOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PushDelivery> _logger;

    public PushDelivery(IEnumerable<IPushSender> senders, IPushStore store, SilentReceivers silent, PushMetrics metrics, Microsoft.Extensions.Options.IOptions<PushOptions> options, TimeProvider time, ILogger<PushDelivery> logger)
    {
        _senders = senders.ToDictionary(s => s.Provider, s => (s, new SemaphoreSlim(Math.Max(1, s.MaxConcurrency))));
        _store = store;
        _silent = silent;
        _metrics = metrics;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    public IPushSender? SenderFor(PushProvider provider) => _senders.TryGetValue(provider, out var entry) ? entry.Sender : null;

    /// <summary>The device registered (again): a pause its receiver earned is over.</summary>
    public void Registered(Guid deviceId) => _silent.Clear(deviceId);

    /// <summary>Sends <paramref name="notification"/> to <paramref name="device"/>; returns once it is delivered or given up.</summary>
    public async Task SendAsync(PushTokenRecord device, PushNotification notification, CancellationToken cancellationToken)
    {
        if (!_senders.TryGetValue(device.Provider, out var entry) || !entry.Sender.IsConfigured)
        {
            _metrics.Count(device.Provider, "failed");
            GatewayLog.PushFailed(_logger, PushMetrics.Name(device.Provider), device.DeviceId, 0, "the provider is not configured on this node");
            return;
        }

        if (await _store.WasPushSentAsync(device.DeviceId, notification.MessageId, cancellationToken))
        {
            _metrics.Count(device.Provider, "duplicate");
            return;
        }

        var webhook = device.Provider == PushProvider.Webhook;
        if (webhook && _silent.IsPaused(device.DeviceId, device.Token))
        {
            _metrics.Count(device.Provider, "suspended");
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var maxAttempts = Math.Max(1, _options.MaxAttempts);
        ProviderAnswer answer = default;
        var requested = false;
        try
        {
            for (var attempt = 1; attempt <= maxAttempts; attempt++)
            {
                await entry.Slots.WaitAsync(cancellationToken);
                try
                {
                    requested = true;
                    answer = await entry.Sender.SendAsync(device, notification, cancellationToken);
                }
                finally
                {
                    entry.Slots.Release();
                }

                // A final answer (accepted, gone, refused) ends a pause's doubling; a retry or a time-out does not.
                if (webhook && answer.Outcome != ProviderOutcome.Retry)
                {
                    _silent.Clear(device.DeviceId);
                }

                switch (answer.Outcome)
                {
                    case ProviderOutcome.Delivered:
                        await _store.RecordPushSentAsync(device.DeviceId, notification.MessageId, _time.GetUtcNow(), CancellationToken.None);
                        _metrics.Count(device.Provider, "delivered");
                        _metrics.Delivered(device.Provider, Stopwatch.GetElapsedTime(started));
                        return;

                    case ProviderOutcome.DeadToken:
                        // Only the token that was refused: the device may have registered a new one meanwhile.
                        await _store.DeletePushTokenIfAsync(device.DeviceId, device.Token, CancellationToken.None);
                        _metrics.Count(device.Provider, "token_removed");
                        GatewayLog.PushTokenRemoved(_logger, PushMetrics.Name(device.Provider), device.DeviceId, answer.Detail);
                        return;

                    case ProviderOutcome.Rejected:
                        attempt = maxAttempts;
                        break;

                    case ProviderOutcome.Retry when attempt < maxAttempts:
                        _metrics.Count(device.Provider, "retried");
                        await Task.Delay(Backoff(attempt, answer.RetryAfter), _time, cancellationToken);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (webhook && requested)
        {
            // Cut short (the notification's deadline) after the receiver was sent a request and before it accepted one:
            // it was silent, or slow, or kept asking to retry. Not when the send never got a slot. A node stopping ends
            // here too; what it records dies with it.
            _silent.Silent(device.DeviceId, device.Token);
            throw;
        }

        if (webhook && answer.Silent)
        {
            // Every attempt's time used up, the last with no answer at all.
            _silent.Silent(device.DeviceId, device.Token);
        }

        _metrics.Count(device.Provider, "failed");
        GatewayLog.PushFailed(_logger, PushMetrics.Name(device.Provider), device.DeviceId, maxAttempts, answer.Detail);
    }

    // base · 2^(attempt-1), plus up to half of that at random so that retries after a provider's outage
    // do not arrive together; a provider's own Retry-After wins when it asks for longer (capped at a minute).
    private TimeSpan Backoff(int attempt, TimeSpan? retryAfter)
    {
        var exponential = _options.RetryBaseMs * Math.Pow(2, attempt - 1);
        var delay = TimeSpan.FromMilliseconds(exponential + (Random.Shared.NextDouble() * exponential / 2));
        if (retryAfter is { } asked && asked > delay)
        {
            delay = asked < TimeSpan.FromMinutes(1) ? asked : TimeSpan.FromMinutes(1);
        }

        return delay;
    }
}
