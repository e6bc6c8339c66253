using ChatWire.Protocol;
using Microsoft.AspNetCore.Connections;

namespace ChatWire.Gateway.Connections;

/// <summary>
/// The protocol endpoint on the TCP and TLS listeners: one <see cref="ProtocolConnection"/> per connection.
/// Admission happened before (the listener's first middleware, ahead of TLS).
/// </summary>
internal sealed class ChatWireConnectionHandler(ConnectionServices services) : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection)
    {
        // Not awaited here: the connection's own RunAsync is the only state machine an idle connection keeps.
        var protocol = new ProtocolConnection(connection, services);
        services.Registry.Add(protocol);
        if (services.Registry.IsShuttingDown)
        {
            protocol.CloseWithError(ErrorCode.ShuttingDown, "The server is shutting down; reconnect later.");
        }

        return protocol.RunAsync();
    }
}
