using System.Net;
using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Api;

internal static class ServerInfoEndpoints
{
    /// <summary>What <c>server</c> always says: this is a ChatWire server.</summary>
    public const string ServerName = "chatwire";

    public static void Map(RouteGroupBuilder anonymous) =>
        anonymous.MapGet("/server-info", GetServerInfo)
            .Describe("getServerInfo", "Everything a client needs to connect: endpoints, protocol versions, limits, the Noise static key, the push providers", "Server",
                "No authentication. An endpoint is null when that listener is disabled, and its host is the configured public host "
                + "(Gateway:PublicHost), else the host this request was addressed to. Trust noise_static_public_key (null when the Noise listener is "
                + "off) only from an HTTPS or same-host loopback answer; otherwise pin it out of band, or on first contact through the Noise XX "
                + "handshake.")
            .Returns<ServerInfoResponse>();

    private static ServerInfoResponse GetServerInfo(HttpContext http, ListenerEndpoints listeners, IOptions<GatewayOptions> options, IServiceProvider services)
    {
        var o = options.Value;
        var host = !string.IsNullOrEmpty(o.PublicHost) ? o.PublicHost
            : !string.IsNullOrEmpty(http.Request.Host.Host) ? http.Request.Host.Host
            : LocalAddress(http);
        var limits = o.ToProtocolLimits();
        return new ServerInfoResponse(
            ServerName,
            typeof(ServerInfoEndpoints).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
            [ProtocolLimits.CurrentVersion],
            new ServerEndpoints(Endpoint(host, listeners.TcpEndPoint), Endpoint(host, listeners.TlsEndPoint), Endpoint(host, listeners.NoiseEndPoint)),
            listeners.NoiseEndPoint is null ? null : services.GetService<Noise.NoiseServerKeys>()?.CurrentPublicKeyHex,
            new ServerLimits(limits.MaxFrameLength, limits.MaxContentLength, limits.MaxHistoryLimit, o.HeartbeatIntervalMs, o.AuthDeadlineMs),
            PushProviders(services.GetService<Push.PushDelivery>()));
    }

    // The providers a registration may name: those whose sender the operator configured, in a fixed order.
    private static string[] PushProviders(Push.PushDelivery? delivery) =>
        delivery is null
            ? []
            : [.. Enum.GetValues<ChatWire.Storage.Push.PushProvider>().Where(p => delivery.SenderFor(p) is { IsConfigured: true }).Select(Push.PushMetrics.Name)];

    // An HTTP/1.0 request may carry no Host header: the address the connection reached is the next best answer.
    private static string LocalAddress(HttpContext http) =>
        http.Connection.LocalIpAddress is { } address
            ? (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString()
            : "127.0.0.1";

    private static EndpointInfo? Endpoint(string host, IPEndPoint? endPoint) => endPoint is null ? null : new EndpointInfo(host, endPoint.Port);
}
