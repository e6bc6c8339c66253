using ChatWire.Protocol;
using ChatWire.Routing.Redis;
using Prometheus;

namespace ChatWire.Gateway.Observability;

/// <summary>
/// The gateway's Prometheus metrics, in a registry of its own (one per host, so in-process test hosts do
/// not share counters). Labelled children are created once up front: the hot path does an array index,
/// not a label lookup.
/// </summary>
internal sealed class GatewayMetrics
{
    private readonly Counter.Child?[] _framesIn = new Counter.Child?[256];
    private readonly Counter.Child?[] _framesOut = new Counter.Child?[256];
    private readonly Dictionary<ErrorCode, Counter.Child> _errors = [];
    private readonly Counter.Child _unknownOpcodeIn;

    public GatewayMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        var connections = factory.CreateGauge("chatwire_connections", "Open protocol connections.", "state");
        Authenticated = connections.WithLabels("authenticated");
        Unauthenticated = connections.WithLabels("unauthenticated");
        var framesIn = factory.CreateCounter("chatwire_frames_received_total", "Frames received, by opcode.", "opcode");
        var framesOut = factory.CreateCounter("chatwire_frames_sent_total", "Frames sent, by opcode.", "opcode");
        foreach (var opcode in Enum.GetValues<Opcode>())
        {
            var name = Opcodes.Name(opcode);
            _framesIn[(byte)opcode] = framesIn.WithLabels(name);
            _framesOut[(byte)opcode] = framesOut.WithLabels(name);
        }

        _unknownOpcodeIn = framesIn.WithLabels("UNKNOWN");
        var errors = factory.CreateCounter("chatwire_errors_total", "Error replies and closes, by code.", "code", "name");
        foreach (var code in ErrorCodes.All)
        {
            _errors[code] = errors.WithLabels(((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture), ErrorCodes.Name(code));
        }

        SendDuration = factory.CreateHistogram(
            "chatwire_send_duration_seconds",
            "SEND received to SEND_ACK written (durable store included).",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0005, 2, 14) });
        Rejected = factory.CreateCounter("chatwire_connections_rejected_total", "Connections refused at accept, by reason.", "reason");
        Draining = factory.CreateGauge("chatwire_draining", "1 while this node drains (told to stop: GO_AWAY sent, /ready answers 503), else 0.");
        _backendUp = factory.CreateGauge("chatwire_backend_up", "1 when the backend answered the last readiness check, 0 when it did not.", "backend");
        _backendCheck = factory.CreateHistogram(
            "chatwire_backend_check_duration_seconds",
            "Round trip of a readiness check to a backend (directory and message stores, Redis), answered or not.",
            new HistogramConfiguration { LabelNames = ["backend"], Buckets = Histogram.ExponentialBuckets(0.0005, 2, 14) });
        _ephemeralDropped = factory.CreateCounter(
            "chatwire_ephemeral_dropped_total", "Typing and presence frames not written to a connection that was behind (or typing over its rate).");
    }

    private readonly Counter _ephemeralDropped;
    private readonly Gauge _backendUp;
    private readonly Histogram _backendCheck;

    public Gauge Draining { get; }

    /// <summary>A readiness check's outcome; <paramref name="backend"/> is one of a fixed few names.</summary>
    public void BackendChecked(string backend, bool ok, double seconds)
    {
        _backendUp.WithLabels(backend).Set(ok ? 1 : 0);
        _backendCheck.WithLabels(backend).Observe(seconds);
    }

    public void EphemeralDropped() => _ephemeralDropped.Inc();

    public CollectorRegistry Registry { get; }

    public Gauge.Child Authenticated { get; }

    public Gauge.Child Unauthenticated { get; }

    public Histogram SendDuration { get; }

    public Counter Rejected { get; }

    public void FrameIn(in FrameHeader header) =>
        (header.IsKnown ? _framesIn[header.OpcodeValue] : null)?.Inc();

    public void UnknownFrameIn() => _unknownOpcodeIn.Inc();

    public void FrameOut(Opcode opcode, int count = 1) => _framesOut[(byte)opcode]?.Inc(count);

    /// <summary>
    /// Exports the Redis bus's counters (distributed mode only). They are read when /metrics is collected,
    /// so the publish path keeps its one Interlocked increment and pays nothing for the export.
    /// </summary>
    public void ObserveBus(RedisMessageBus bus)
    {
        ArgumentNullException.ThrowIfNull(bus);
        var factory = Metrics.WithCustomRegistry(Registry);
        var published = factory.CreateCounter(
            "chatwire_bus_published_total", "PUBLISH commands sent to Redis by the bus: one per event or frame published, whatever the number of nodes or recipients.");
        var received = factory.CreateCounter("chatwire_bus_received_total", "Bus payloads received from other nodes through Redis (this node's own echoes not counted).");
        var failures = factory.CreateCounter("chatwire_bus_publish_failures_total", "Bus publishes that could not be sent (Redis unreachable).");
        var topics = factory.CreateGauge("chatwire_bus_subscribed_topics", "Topics (conversations and users) this node has local subscribers for, each subscribed in Redis or waiting for Redis to come back.");
        var replayed = factory.CreateCounter("chatwire_bus_replayed_total", "Bus payloads published again after a Redis outage, for the nodes that may have missed them.");
        Registry.AddBeforeCollectCallback(() =>
        {
            published.IncTo(bus.Published);
            received.IncTo(bus.Received);
            failures.IncTo(bus.PublishFailures);
            topics.Set(bus.SubscribedTopics);
            replayed.IncTo(bus.Replayed);
        });
    }

    public void Error(ErrorCode code)
    {
        if (_errors.TryGetValue(code, out var counter))
        {
            counter.Inc();
        }
    }
}
