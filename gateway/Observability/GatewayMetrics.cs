using ChatWire.Protocol;
using Prometheus;

namespace ChatWire.Gateway.Observability;

/// <summary>
/// The gateway's Prometheus metrics, in a registry of its own (one per host, so in-process test hosts do
/// not share counters). Labelled children are created once up front: the hot path does an array index,
/// not a label lookup, and allocates nothing. Names follow Prometheus conventions (base units in the name,
/// <c>_total</c> on counters); labels take a fixed, small set of values (an opcode, an error code, a route
/// template, a backend), never a user, device or conversation id. docs/operations.md lists every metric.
/// </summary>
/// <remarks>
/// One partial per area: this file the protocol, <c>GatewayMetrics.Storage.cs</c> the stores and Redis,
/// <c>GatewayMetrics.Http.cs</c> the HTTP API, <c>GatewayMetrics.Runtime.cs</c> the process. Push
/// notifications define their <c>chatwire_push_*</c> metrics in <c>Push.PushMetrics</c>, on this registry.
/// </remarks>
internal sealed partial class GatewayMetrics
{
    private static readonly double[] LatencyBuckets = Histogram.ExponentialBuckets(0.0005, 2, 14);

    private readonly Counter.Child?[] _framesIn = new Counter.Child?[256];
    private readonly Counter.Child?[] _framesOut = new Counter.Child?[256];
    private readonly Dictionary<ErrorCode, Counter.Child> _errors = [];
    private readonly Dictionary<ErrorCode, Counter.Child> _httpErrors = [];
    private readonly Counter.Child _unknownOpcodeIn;
    private readonly Counter _noiseHandshakes;
    private readonly Counter _ephemeralDropped;

    public GatewayMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        var connections = factory.CreateGauge("chatwire_connections", "Open protocol connections, by state (unauthenticated: before AUTH_OK).", "state");
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
        var errors = factory.CreateCounter(
            "chatwire_errors_total",
            "Errors answered, by code: ERROR frames and closes on the protocol listeners (transport tcp), problem+json answers of the HTTP API (transport http).",
            "code",
            "name",
            "transport");
        foreach (var code in ErrorCodes.All)
        {
            var number = ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture);
            _errors[code] = errors.WithLabels(number, ErrorCodes.Name(code), "tcp");
            _httpErrors[code] = errors.WithLabels(number, ErrorCodes.Name(code), "http");
        }

        SendDuration = factory.CreateHistogram(
            "chatwire_send_duration_seconds",
            "SEND received to SEND_ACK written (durable store included).",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        DeliveryLatency = factory.CreateHistogram(
            "chatwire_delivery_latency_seconds",
            "An event's server time (when it was stored) to its hand-off to this node's recipient connections; through another node it includes the Redis hop and the clocks' skew.",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        SlowConsumerDisconnects = factory.CreateCounter(
            "chatwire_slow_consumer_disconnects_total", "Connections closed because their outbound queue stayed over its bound (SLOW_CONSUMER).");
        Rejected = factory.CreateCounter("chatwire_connections_rejected_total", "Connections refused by a cap, by reason: at accept (process budget, listener cap, per-address connection cap) or at AUTH (per-user connection cap).", "reason");
        Draining = factory.CreateGauge("chatwire_draining", "1 while this node drains (told to stop: GO_AWAY sent, /ready answers 503), else 0.");
        GoAwaySent = factory.CreateCounter("chatwire_goaway_sent_total", "GO_AWAY frames sent: connections asked to move to another node by a drain.");
        _noiseHandshakes = factory.CreateCounter(
            "chatwire_noise_handshakes_total",
            "Noise handshakes on the Noise listener, by pattern (xx, ik, ik_previous: a key rotated out but still accepted, ik_next: the staged next key, unknown: no valid selector) and result (ok, failed).",
            "pattern",
            "result");
        _ephemeralDropped = factory.CreateCounter(
            "chatwire_ephemeral_dropped_total", "Typing and presence frames not written to a connection that was behind (or typing over its rate).");
        CreateStorageMetrics(factory);
        CreateHttpMetrics(factory);
    }

    public CollectorRegistry Registry { get; }

    public Gauge.Child Authenticated { get; }

    public Gauge.Child Unauthenticated { get; }

    public Histogram SendDuration { get; }

    public Histogram DeliveryLatency { get; }

    public Counter SlowConsumerDisconnects { get; }

    public Counter Rejected { get; }

    public Gauge Draining { get; }

    public Counter GoAwaySent { get; }

    public void EphemeralDropped() => _ephemeralDropped.Inc();

    public void NoiseHandshake(string pattern, string result) => _noiseHandshakes.WithLabels(pattern, result).Inc();

    public void FrameIn(in FrameHeader header) =>
        (header.IsKnown ? _framesIn[header.OpcodeValue] : null)?.Inc();

    public void UnknownFrameIn() => _unknownOpcodeIn.Inc();

    public void FrameOut(Opcode opcode, int count = 1) => _framesOut[(byte)opcode]?.Inc(count);

    /// <summary>An ERROR frame or close on a protocol connection.</summary>
    public void Error(ErrorCode code)
    {
        if (_errors.TryGetValue(code, out var counter))
        {
            counter.Inc();
        }
    }

    /// <summary>A problem+json answer of the HTTP API.</summary>
    public void HttpError(ErrorCode code)
    {
        if (_httpErrors.TryGetValue(code, out var counter))
        {
            counter.Inc();
        }
    }
}
