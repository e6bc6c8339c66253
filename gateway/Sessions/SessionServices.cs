using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Delivery;
using ChatWire.Gateway.Hosting;
using ChatWire.Gateway.Observability;
using ChatWire.Protocol;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Sessions;

/// <summary>What every session shares; one instance per host, so a session holds one reference, not ten.</summary>
internal sealed class SessionServices(
    IOptions<GatewayOptions> options,
    SessionAuthenticator authenticator,
    MessagePipeline pipeline,
    DeliveryFanout fanout,
    SessionRegistry registry,
    GatewayMetrics metrics,
    TimeProvider time,
    ILogger<Session> logger)
{
    public GatewayOptions Options { get; } = options.Value;

    public ProtocolLimits Limits { get; } = options.Value.ToProtocolLimits();

    public SessionAuthenticator Authenticator { get; } = authenticator;

    public MessagePipeline Pipeline { get; } = pipeline;

    public DeliveryFanout Fanout { get; } = fanout;

    public SessionRegistry Registry { get; } = registry;

    public GatewayMetrics Metrics { get; } = metrics;

    public TimeProvider Time { get; } = time;

    public ILogger<Session> Logger { get; } = logger;
}
