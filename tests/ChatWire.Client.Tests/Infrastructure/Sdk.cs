using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Client.Tests.Infrastructure;

// The SDK pointed at a real TestServer: connection options for a signed-up user, and bounded reads of the
// connection's event stream.
internal static class Sdk
{
    // Short delays so a reconnect happens soon after the server is back; the jitter still applies.
    public static readonly ReconnectPolicy FastReconnect = new() { BaseDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(200) };

    // For tests that stop a server under a connected client: a first attempt seldom lands in the moment a stopping
    // gateway still accepts connections (see the skipped ServerShutdown test), and the next server is found within 0.5 s.
    public static readonly ReconnectPolicy RestartReconnect = new() { BaseDelay = TimeSpan.FromMilliseconds(250), MaxDelay = TimeSpan.FromMilliseconds(500) };

    // port: the plain TCP listener to use; the user's server's by default.
    public static ChatWireConnectionOptions Options(TestUser user, ReconnectPolicy? reconnect = null, TimeSpan? heartbeat = null, int? port = null) => new()
    {
        Host = "127.0.0.1",
        Port = port ?? user.Server.TcpEndPoint.Port,
        SessionToken = user.Token,
        DeviceId = user.DeviceId,
        ClientName = "client-tests",
        Reconnect = reconnect ?? FastReconnect,
        HeartbeatInterval = heartbeat,
        ConnectTimeout = Patience.Default,
    };

    public static async Task<ChatWireConnection> ConnectAsync(TestUser user, ReconnectPolicy? reconnect = null, TimeSpan? heartbeat = null, int? port = null) =>
        await ChatWireConnection.ConnectAsync(Options(user, reconnect, heartbeat, port)).WaitAsync(Patience.Default);

    // Reads the stream to its end (bounded); the stream's own exception, if it ends with one, propagates.
    public static async Task DrainAsync(ChatWireConnection connection, List<ChatWireEvent>? into = null)
    {
        using var timeout = new CancellationTokenSource(Patience.Default);
        await foreach (var item in connection.ReadEventsAsync(timeout.Token))
        {
            into?.Add(item);
        }
    }

    public static string Text(ConversationEvent message) => System.Text.Encoding.UTF8.GetString(message.Content.Span);

    /// <summary>The messages of a page, without the other kinds of event (membership changes).</summary>
    public static IReadOnlyList<ConversationEvent> Messages(HistoryPageResult page) => [.. page.Events.Where(e => e.Kind == EventKind.Message)];
}

// Two team-mates in one team, both in its general channel: the smallest cast for sending and receiving. The
// channel starts with their two MEMBER_JOINED events, so its first message is seq 3.
internal sealed record Crew(TestUser Alice, TestUser Bob, Guid TeamId, Guid GeneralId)
{
    public const ulong FirstMessageSeq = 3;

    public static async Task<Crew> CreateAsync(TestServer server, string teamName = "Team")
    {
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, generalId) = await alice.CreateTeamAsync(teamName);
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        return new Crew(alice, bob, teamId, generalId);
    }
}
