using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Admission;
using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Delivery;
using ChatWire.Gateway.Hosting;
using ChatWire.Gateway.Observability;
using ChatWire.Protocol;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Connections;

/// <summary>What every connection shares; one instance per host, so a connection holds one reference, not ten.</summary>
internal sealed class ConnectionServices(
    IOptions<GatewayOptions> options,
    SessionAuthenticator authenticator,
    RefusedTokenBudget refusedTokens,
    ConversationService conversations,
    DeliveryFanout fanout,
    PresenceService presence,
    ConnectionRegistry registry,
    ReadGate reads,
    GatewayMetrics metrics,
    TimeProvider time,
    ILogger<ProtocolConnection> logger)
{
    public GatewayOptions Options { get; } = options.Value;

    public ProtocolLimits Limits { get; } = options.Value.ToProtocolLimits();

    public SessionAuthenticator Authenticator { get; } = authenticator;

    /// <summary>Session tokens refused per client address, shared with the HTTP API.</summary>
    public RefusedTokenBudget RefusedTokens { get; } = refusedTokens;

    public ConversationService Conversations { get; } = conversations;

    public DeliveryFanout Fanout { get; } = fanout;

    public PresenceService Presence { get; } = presence;

    public ConnectionRegistry Registry { get; } = registry;

    public ReadGate Reads { get; } = reads;

    public GatewayMetrics Metrics { get; } = metrics;

    public TimeProvider Time { get; } = time;

    public ILogger<ProtocolConnection> Logger { get; } = logger;
}
