using System.Net;
using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Api;

internal static class ServerInfoEndpoints
{
    public static void Map(RouteGroupBuilder anonymous) =>
        anonymous.MapGet("/server-info", GetServerInfo)
            .Describe("getServerInfo", "Everything a client needs to connect: endpoints, protocol versions, limits, the Noise static key", "Server")
            .Returns<ServerInfoResponse>();

    private static ServerInfoResponse GetServerInfo(HttpContext http, ListenerEndpoints listeners, IOptions<GatewayOptions> options, IServiceProvider services)
    {
        var o = options.Value;
        var host = string.IsNullOrEmpty(o.PublicHost) ? http.Request.Host.Host : o.PublicHost;
        var limits = o.ToProtocolLimits();
        return new ServerInfoResponse(
            "chatwire",
            typeof(ServerInfoEndpoints).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
            [ProtocolLimits.CurrentVersion],
            new ServerEndpoints(Endpoint(host, listeners.TcpEndPoint), Endpoint(host, listeners.TlsEndPoint), Endpoint(host, listeners.NoiseEndPoint)),
            listeners.NoiseEndPoint is null ? null : services.GetService<Noise.NoiseServerKeys>()?.CurrentPublicKeyHex,
            new ServerLimits(limits.MaxFrameLength, limits.MaxContentLength, limits.MaxHistoryLimit, o.HeartbeatIntervalMs, o.AuthDeadlineMs));
    }

    private static EndpointInfo? Endpoint(string host, IPEndPoint? endPoint) => endPoint is null ? null : new EndpointInfo(host, endPoint.Port);
}
