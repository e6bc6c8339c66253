using Microsoft.AspNetCore.SignalR;

// The minimal ASP.NET Core SignalR hub scripts/peers.sh measures beside ChatWire: one hub, join a group, send
// to a group, everything else at its defaults (JSON hub protocol, server GC, Kestrel's socket
// transport). usage: ChatWire.SignalRPeer --urls http://127.0.0.1:PORT
var builder = WebApplication.CreateBuilder(args);
// Information would log every WebSocket request, thousands per run.
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSignalR();
var app = builder.Build();
app.MapHub<GroupHub>("/hub");
app.Run();

/// <summary>Join a group; send a string to every connection in a group (serialized once per protocol by SignalR).</summary>
internal sealed class GroupHub : Hub
{
    public Task Join(string group) => Groups.AddToGroupAsync(Context.ConnectionId, group);

    public Task Send(string group, string body) => Clients.Group(group).SendAsync("m", body);
}
