using ChatWire.Gateway.Observability;
using ChatWire.Storage.Push;
using Prometheus;

namespace ChatWire.Gateway.Push;

/// <summary>
/// Push outcomes, in the gateway's registry. Labels are bounded: the provider (apns, fcm, webhook) and the
/// outcome; never a user, device or conversation.
/// </summary>
internal sealed class PushMetrics
{
    /// <summary>The outcomes of <c>chatwire_push_notifications_total</c> (docs/operations.md, push notifications).</summary>
    public static readonly string[] Outcomes = ["delivered", "retried", "failed", "token_removed", "duplicate", "timed_out", "suspended"];

    /// <summary>Why a due notification was not sent (<c>chatwire_push_skipped_total</c>).</summary>
    public static readonly string[] SkipReasons = ["received", "read", "do_not_disturb", "no_device", "not_member"];

    private readonly Counter _notifications;
    private readonly Histogram _delivery;
    private readonly Counter _skipped;
    private readonly Counter _planned;

    public PushMetrics(GatewayMetrics metrics)
    {
        var factory = Metrics.WithCustomRegistry(metrics.Registry);
        _notifications = factory.CreateCounter(
            "chatwire_push_notifications_total", "Push notification sends to a device, by provider and outcome.", "provider", "outcome");
        _delivery = factory.CreateHistogram(
            "chatwire_push_delivery_seconds",
            "First attempt to the provider's acceptance of a notification, retries included, by provider.",
            new HistogramConfiguration { LabelNames = ["provider"], Buckets = Histogram.ExponentialBuckets(0.01, 2, 14) });
        _skipped = factory.CreateCounter("chatwire_push_skipped_total", "Due notifications not sent, by reason.", "reason");
        _planned = factory.CreateCounter("chatwire_push_queued_total", "Notifications queued (before folding a burst into one).");

        // Every series exists from the start, so a dashboard or an alert over it never sees "no data".
        foreach (var provider in Enum.GetValues<PushProvider>())
        {
            foreach (var outcome in Outcomes)
            {
                _notifications.WithLabels(Name(provider), outcome);
            }

            _delivery.WithLabels(Name(provider));
        }

        foreach (var reason in SkipReasons)
        {
            _skipped.WithLabels(reason);
        }
    }

    public static string Name(PushProvider provider) => provider switch
    {
        PushProvider.Apns => "apns",
        PushProvider.Fcm => "fcm",
        PushProvider.Webhook => "webhook",
        _ => "unknown",
    };

    public void Count(PushProvider provider, string outcome) => _notifications.WithLabels(Name(provider), outcome).Inc();

    public void Delivered(PushProvider provider, TimeSpan elapsed) => _delivery.WithLabels(Name(provider)).Observe(elapsed.TotalSeconds);

    public void Skipped(string reason) => _skipped.WithLabels(reason).Inc();

    public void Queued(int count) => _planned.Inc(count);
}
