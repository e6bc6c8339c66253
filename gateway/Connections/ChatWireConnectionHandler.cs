using System.Net;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using Microsoft.AspNetCore.Connections;

namespace ChatWire.Gateway.Connections;

/// <summary>The protocol endpoint on the TCP and TLS listeners: admission caps, then one <see cref="ProtocolConnection"/>.</summary>
internal sealed class ChatWireConnectionHandler(ConnectionServices services) : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection)
    {
        var address = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        var refused = services.Registry.TryAdmit(address);
        if (refused is not null)
        {
            return RefuseAsync(connection, address, refused);
        }

        // Not awaited here: the connection's own RunAsync is the only state machine an idle connection keeps.
        var protocol = new ProtocolConnection(connection, services, address);
        services.Registry.Add(protocol);
        if (services.Registry.IsShuttingDown)
        {
            protocol.CloseWithError(ErrorCode.ShuttingDown, "The server is shutting down; reconnect later.");
        }

        return protocol.RunAsync();
    }

    private async Task RefuseAsync(ConnectionContext connection, IPAddress? address, string reason)
    {
        services.Metrics.Rejected.WithLabels(reason).Inc();
        services.Metrics.Error(ErrorCode.TooManyConnections);
        GatewayLog.ConnectionRefused(services.Logger, address?.ToString(), reason);
        FrameCodec.Write(connection.Transport.Output, new ErrorFrame(0, ErrorCode.TooManyConnections, $"Connection refused: {reason}."));
        await connection.Transport.Output.FlushAsync();
    }
}
