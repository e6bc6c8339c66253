using System.Net;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using Microsoft.AspNetCore.Connections;

namespace ChatWire.Gateway.Sessions;

/// <summary>The protocol endpoint on the TCP and TLS listeners: admission caps, then one <see cref="Session"/>.</summary>
internal sealed class ChatWireConnectionHandler(SessionServices services) : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var address = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        var refused = services.Registry.TryAdmit(address);
        if (refused is not null)
        {
            services.Metrics.Rejected.WithLabels(refused).Inc();
            services.Metrics.Error(ErrorCode.TooManyConnections);
            GatewayLog.ConnectionRefused(services.Logger, address?.ToString(), refused);
            FrameCodec.Write(connection.Transport.Output, new ErrorFrame(0, ErrorCode.TooManyConnections, $"Connection refused: {refused}."));
            await connection.Transport.Output.FlushAsync();
            return;
        }

        var session = new Session(connection, services, address);
        services.Registry.Add(session);
        try
        {
            await session.RunAsync();
        }
        catch (Exception ex)
        {
            GatewayLog.SessionFault(services.Logger, session.ConnectionId, ex);
        }
        finally
        {
            services.Registry.Remove(session);
        }
    }
}
