using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ChatWire.Gateway.Tests;

// Every opcode a client may send, against every way it must be refused: generated from the opcode table, so
// an opcode added without its place here fails Every_Opcode_IsClassified.
public sealed class AuthorizationMatrixTests(AuthorizationMatrixTests.World world) : IClassFixture<AuthorizationMatrixTests.World>
{
    // Requests about one conversation (and, for some, one message in it): each is refused for outsiders.
    private static readonly Dictionary<Opcode, Func<uint, Guid, Guid, byte[]>> ConversationRequests = new()
    {
        [Opcode.Send] = (rid, c, _) => FrameCodec.ToArray(new Send(rid, c, Guid.CreateVersion7(), "text/plain", "hi"u8.ToArray())),
        [Opcode.History] = (rid, c, _) => FrameCodec.ToArray(new History(rid, c, 0, HistoryDirection.Before, 10)),
        [Opcode.Edit] = (rid, c, m) => FrameCodec.ToArray(new Edit(rid, c, m, "text/plain", "edited"u8.ToArray())),
        [Opcode.Delete] = (rid, c, m) => FrameCodec.ToArray(new Delete(rid, c, m)),
        [Opcode.React] = (rid, c, m) => FrameCodec.ToArray(new React(rid, c, m, "👍", false)),
        [Opcode.Read] = (rid, c, _) => FrameCodec.ToArray(new MarkRead(rid, c, 1)),
        [Opcode.Typing] = (rid, c, _) => FrameCodec.ToArray(new Typing(rid, c)),
    };

    // Requests about a message that only its author may make (a team admin may also delete).
    private static readonly HashSet<Opcode> AuthorOnly = [Opcode.Edit, Opcode.Delete];

    // Client opcodes that name no conversation, and why they need no negative case here.
    private static readonly Dictionary<Opcode, string> NotAboutAConversation = new()
    {
        [Opcode.Hello] = "handshake (ProtocolSessionTests)",
        [Opcode.Auth] = "handshake (ProtocolSessionTests)",
        [Opcode.Ping] = "liveness, any state",
        [Opcode.Pong] = "liveness, any state",
        [Opcode.Sync] = "lists the caller's own conversations only",
        [Opcode.SetStatus] = "sets the caller's own status",
        [Opcode.PresenceWatch] = "watches team-mates only; anyone else reads as offline (PresenceTests)",
        [Opcode.Received] = "cursors of conversations the caller is not in are passed over, not stored",
    };

    // Server-to-client opcodes: a client sending one gets INVALID_STATE (checked below).
    private static readonly HashSet<Opcode> ServerOnly =
        [Opcode.Welcome, Opcode.AuthOk, Opcode.Error, Opcode.SendAck, Opcode.Event, Opcode.HistoryPage, Opcode.SyncPage, Opcode.Ok, Opcode.ReadState, Opcode.UserTyping, Opcode.Presence, Opcode.GoAway, Opcode.KeysChanged];

    public static TheoryData<string, string> Cases()
    {
        var cases = new TheoryData<string, string>();
        foreach (var opcode in ConversationRequests.Keys)
        {
            cases.Add(Opcodes.Name(opcode), "not-a-member");
            cases.Add(Opcodes.Name(opcode), "another-team");
            cases.Add(Opcodes.Name(opcode), "removed-member");
            cases.Add(Opcodes.Name(opcode), "no-such-conversation");
            if (AuthorOnly.Contains(opcode))
            {
                cases.Add(Opcodes.Name(opcode), "someone-elses-message");
            }
        }

        return cases;
    }

    [Fact]
    public void Every_Opcode_IsClassified()
    {
        foreach (var opcode in Enum.GetValues<Opcode>())
        {
            var places = (ConversationRequests.ContainsKey(opcode) ? 1 : 0) + (NotAboutAConversation.ContainsKey(opcode) ? 1 : 0) + (ServerOnly.Contains(opcode) ? 1 : 0);
            Assert.True(places == 1, $"{Opcodes.Name(opcode)} must be in exactly one list of {nameof(AuthorizationMatrixTests)}, with its negative cases.");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Request_FromSomeoneWithoutTheRight_IsRefused_AndChangesNothing(string opcodeName, string situation)
    {
        var opcode = Enum.GetValues<Opcode>().Single(o => Opcodes.Name(o) == opcodeName);
        var (user, conversation, message, expected) = situation switch
        {
            "not-a-member" => (world.Bob, world.PrivateChannel, world.PrivateMessage, ErrorCode.NotAMember),
            "another-team" => (world.Bob, world.OtherTeamChannel, world.OtherTeamMessage, ErrorCode.NotAMember),
            "removed-member" => (world.Removed, world.General, world.AlicesMessage, ErrorCode.NotAMember),
            "no-such-conversation" => (world.Bob, Guid.CreateVersion7(), world.AlicesMessage, ErrorCode.NotAMember),
            "someone-elses-message" => (world.Bob, world.General, world.AlicesMessage, ErrorCode.Forbidden),
            _ => throw new ArgumentOutOfRangeException(nameof(situation)),
        };
        var before = await world.LatestSeqsAsync();

        await using var client = await RawClient.ConnectAuthenticatedAsync(user);
        var rid = client.NextRequestId();
        await client.SendRawAsync(ConversationRequests[opcode](rid, conversation, message));
        var error = await client.ExpectErrorAsync();

        Assert.Equal((rid, expected), (error.RequestId, error.Code));
        Assert.Equal(before, await world.LatestSeqsAsync());

        // The connection stays usable.
        await client.SendAsync(new Ping(client.NextRequestId()));
        await client.ExpectAsync<Pong>();
    }

    [Fact]
    public async Task ServerOpcodes_SentByAClient_InvalidState_ConnectionStays()
    {
        await using var client = await RawClient.ConnectAuthenticatedAsync(world.Bob);
        foreach (var opcode in ServerOnly)
        {
            var rid = client.NextRequestId();
            await client.SendRawAsync(WithOpcode(FrameCodec.ToArray(new Ping(rid)), opcode));
            var error = await client.ExpectErrorAsync();
            Assert.Equal((rid, ErrorCode.InvalidState), (error.RequestId, error.Code));
        }
    }

    // A PING frame [0x05, rid] with its opcode byte replaced: the smallest frame of any opcode.
    private static byte[] WithOpcode(byte[] ping, Opcode opcode)
    {
        ping[ProtocolLimits.LengthPrefixSize + 1] = (byte)opcode;
        return ping;
    }

    /// <summary>
    /// One server and the cast: alice owns a team with bob and a member who was removed; alice has a private
    /// channel without bob; carol has a team of her own. Each place holds a message.
    /// </summary>
    public sealed class World : IAsyncLifetime
    {
        private TestServer? _server;

        public TestUser Bob { get; private set; } = null!;

        public TestUser Removed { get; private set; } = null!;

        public Guid General { get; private set; }

        public Guid AlicesMessage { get; private set; }

        public Guid PrivateChannel { get; private set; }

        public Guid PrivateMessage { get; private set; }

        public Guid OtherTeamChannel { get; private set; }

        public Guid OtherTeamMessage { get; private set; }

        private TestUser Alice { get; set; } = null!;

        public async Task InitializeAsync()
        {
            _server = await TestServer.StartAsync();
            Alice = await _server.SignupAsync();
            Bob = await _server.SignupAsync();
            Removed = await _server.SignupAsync();
            var carol = await _server.SignupAsync();
            var (teamId, general) = await Alice.CreateTeamAsync();
            General = general;
            await Bob.JoinAsync(await Alice.InviteAsync(teamId));
            await Removed.JoinAsync(await Alice.InviteAsync(teamId));
            PrivateChannel = (await Alice.CallAsync(HttpMethod.Post, $"v1/teams/{teamId}/channels", new { name = "secret", @private = true })).GetProperty("conversation_id").GetGuid();
            (_, OtherTeamChannel) = await carol.CreateTeamAsync("Elsewhere");

            await using (var alice = await RawClient.ConnectAuthenticatedAsync(Alice))
            {
                AlicesMessage = (await alice.SendTextAsync(General, "alice's")).MessageId;
                PrivateMessage = (await alice.SendTextAsync(PrivateChannel, "private")).MessageId;
            }

            await using (var carolClient = await RawClient.ConnectAuthenticatedAsync(carol))
            {
                OtherTeamMessage = (await carolClient.SendTextAsync(OtherTeamChannel, "carol's")).MessageId;
            }

            await Alice.CallAsync(HttpMethod.Delete, $"v1/teams/{teamId}/members/{Removed.UserId}");
        }

        /// <summary>The newest seq of each place, read as alice and carol would: a refused request must not move them.</summary>
        public async Task<(ulong, ulong, ulong)> LatestSeqsAsync()
        {
            var store = _server!.Server.App.Services.GetRequiredService<ChatWire.Storage.Messages.IMessageStore>();
            var latest = await store.GetLatestSeqsAsync([General, PrivateChannel, OtherTeamChannel]);
            return (latest[General], latest[PrivateChannel], latest[OtherTeamChannel]);
        }

        public async Task DisposeAsync()
        {
            if (_server is not null)
            {
                await _server.DisposeAsync();
            }
        }
    }
}
