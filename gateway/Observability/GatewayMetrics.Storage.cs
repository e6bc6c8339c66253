using ChatWire.Routing.Redis;
using ChatWire.Storage.Messages;
using Prometheus;

namespace ChatWire.Gateway.Observability;

// The stores and Redis: the group-commit writer, message store reads, failures, backend checks, the bus.
internal sealed partial class GatewayMetrics : ICommitObserver
{
    private Histogram _commitBatchSize = null!;
    private Histogram _commitDuration = null!;
    private Counter _commitFailures = null!;
    private Counter _commitWait = null!;
    private Histogram _storeOperation = null!;
    private Counter _storeErrors = null!;
    private Counter _storeFailures = null!;
    private Gauge _backendUp = null!;
    private Histogram _backendCheck = null!;
    private Gauge _semiSync = null!;

    private void CreateStorageMetrics(MetricFactory factory)
    {
        _commitBatchSize = factory.CreateHistogram(
            "chatwire_commit_batch_size",
            "Appends (messages and other events) per group-commit batch of the message store's writer.",
            new HistogramConfiguration { Buckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] });
        _commitDuration = factory.CreateHistogram(
            "chatwire_commit_duration_seconds",
            "How long the message store took to make one group-commit batch durable (the flush before any SEND_ACK of the batch).",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        _commitFailures = factory.CreateCounter(
            "chatwire_commit_failures_total", "Group-commit batches the message store could not make durable (every SEND of the batch answered STORAGE_UNAVAILABLE).");
        _commitWait = factory.CreateCounter(
            "chatwire_commit_wait_seconds_total",
            "Time the message store's writer waited, after a batch's SEND_ACKs and before its next commit, for the event publisher to catch up (delivery falling behind).");
        _storeOperation = factory.CreateHistogram(
            "chatwire_store_operation_duration_seconds",
            "Message store reads and updates (history pages, sync states, read positions, cursors), by operation.",
            new HistogramConfiguration { LabelNames = ["operation"], Buckets = LatencyBuckets });
        _storeErrors = factory.CreateCounter("chatwire_store_errors_total", "Message store operations that failed, by operation.", "operation");
        _storeFailures = factory.CreateCounter(
            "chatwire_store_failures_total", "Requests refused because the message store or the directory failed (STORAGE_UNAVAILABLE answered).");
        _backendUp = factory.CreateGauge("chatwire_backend_up", "1 when the backend answered the last readiness check, 0 when it did not.", "backend");
        _backendCheck = factory.CreateHistogram(
            "chatwire_backend_check_duration_seconds",
            "Round trip of a readiness check to a backend (directory and message stores, Redis), answered or not.",
            new HistogramConfiguration { LabelNames = ["backend"], Buckets = LatencyBuckets });
        _semiSync = factory.CreateGauge(
            "chatwire_mysql_semi_sync",
            "The MySQL primary's replication at the last readiness check: 1 semi-synchronous (each commit waits for a replica), "
            + "0 enabled but fallen back to asynchronous (acknowledged sends are on the primary alone), -1 not enabled or no MySQL store.");
        _semiSync.Set(-1);
    }

    /// <summary>The timer of one message store operation; <paramref name="operation"/> is one of a fixed few names.</summary>
    public Histogram.Child StoreOperation(string operation) => _storeOperation.WithLabels(operation);

    public Counter.Child StoreErrors(string operation) => _storeErrors.WithLabels(operation);

    /// <summary>A request refused with STORAGE_UNAVAILABLE because a store failed.</summary>
    public void StoreFailed() => _storeFailures.Inc();

    /// <summary>The MySQL primary's replication state (<c>Storage.MySql.SemiSyncState</c>: 1, 0 or -1).</summary>
    public void SemiSyncSampled(int state) => _semiSync.Set(state);

    /// <summary>A readiness check's outcome; <paramref name="backend"/> is one of a fixed few names.</summary>
    public void BackendChecked(string backend, bool ok, double seconds)
    {
        _backendUp.WithLabels(backend).Set(ok ? 1 : 0);
        _backendCheck.WithLabels(backend).Observe(seconds);
    }

    void ICommitObserver.OnCommitted(IReadOnlyList<StoredEvent> events)
    {
    }

    void ICommitObserver.OnWaitedForRoom(TimeSpan waited)
    {
        if (waited > TimeSpan.Zero)
        {
            _commitWait.Inc(waited.TotalSeconds);
        }
    }

    void ICommitObserver.OnBatchWritten(int appends, TimeSpan duration, bool committed)
    {
        _commitBatchSize.Observe(appends);
        _commitDuration.Observe(duration.TotalSeconds);
        if (!committed)
        {
            _commitFailures.Inc();
        }
    }

    /// <summary>
    /// Exports the Redis bus's counters (distributed mode only). They are read when /metrics is collected,
    /// so the publish path keeps its one Interlocked increment and pays nothing for the export.
    /// </summary>
    public void ObserveBus(RedisMessageBus bus, StackExchange.Redis.IConnectionMultiplexer redis)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(redis);
        var factory = Metrics.WithCustomRegistry(Registry);
        var published = factory.CreateCounter(
            "chatwire_bus_published_total", "PUBLISH commands sent to Redis by the bus: one per event or frame published, whatever the number of nodes or recipients.");
        var received = factory.CreateCounter("chatwire_bus_received_total", "Bus payloads received from other nodes through Redis (this node's own echoes not counted).");
        var failures = factory.CreateCounter("chatwire_bus_publish_failures_total", "Bus publishes that could not be sent (Redis unreachable).");
        var topics = factory.CreateGauge("chatwire_bus_subscribed_topics", "Topics (conversations and users) this node is subscribed to in Redis, or waiting for Redis to come back: those with local subscribers, and those kept for Gateway:TopicLingerMs after their last one left.");
        var replayed = factory.CreateCounter("chatwire_bus_replayed_total", "Bus payloads published again after a Redis outage, for the nodes that may have missed them.");
        var connected = factory.CreateGauge("chatwire_redis_connected", "1 while the connection to Redis is up, 0 while it is being re-established.");
        Registry.AddBeforeCollectCallback(() =>
        {
            published.IncTo(bus.Published);
            received.IncTo(bus.Received);
            failures.IncTo(bus.PublishFailures);
            topics.Set(bus.SubscribedTopics);
            replayed.IncTo(bus.Replayed);
            connected.Set(redis.IsConnected ? 1 : 0);
        });
    }
}
