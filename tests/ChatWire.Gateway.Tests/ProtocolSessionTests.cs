using System.Buffers.Binary;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// The TCP protocol over real loopback sockets, driven by a raw frame client (docs/protocol.md §4–§5).
public sealed class ProtocolSessionTests
{
    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Handshake_ValidToken_AnswersWelcomeThenAuthOk(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAsync(server);

        var welcome = await client.HelloAsync();
        await client.SendAsync(new Auth(client.NextRequestId(), alice.Token, alice.DeviceId));
        var ok = await client.ExpectAsync<AuthOk>();

        Assert.Equal(1u, welcome.ProtocolVersion);
        Assert.Equal(ProtocolLimits.DefaultMaxFrameLength, welcome.MaxFrameLength);
        Assert.Equal((uint)ProtocolLimits.DefaultMaxContentLength, welcome.MaxContentLength);
        Assert.True(welcome.ServerTimeUnixMs > 0);
        Assert.Equal(alice.UserId, ok.UserId);
        Assert.Equal(alice.DeviceId, ok.DeviceId);
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Ping_BeforeAndAfterAuth_AnsweredWithPongSameId(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAsync(server);

        await client.SendAsync(new Ping(41));
        Assert.Equal(41u, (await client.ExpectAsync<Pong>()).RequestId);
        await client.HandshakeAsync(alice.Token, alice.DeviceId);
        await client.SendAsync(new Ping(42));
        Assert.Equal(42u, (await client.ExpectAsync<Pong>()).RequestId);
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Send_BeforeAuth_NotAuthenticatedAndClosed(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        await using var client = await RawClient.ConnectAsync(server);
        await client.HelloAsync();

        await client.SendAsync(new Send(5, Guid.CreateVersion7(), Guid.CreateVersion7(), "text/plain", new byte[] { 1 }));

        var error = await client.ExpectErrorAsync();
        Assert.Equal(ErrorCode.NotAuthenticated, error.Code);
        Assert.Equal(5u, error.RequestId);
        Assert.Equal("SEND before AUTH: HELLO and AUTH must come first.", error.Message);
        await client.ExpectClosedAsync();
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Auth_BeforeHello_NotAuthenticatedAndClosed(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAsync(server);

        await client.SendAsync(new Auth(1, alice.Token, alice.DeviceId));

        var error = await client.ExpectErrorAsync();
        Assert.Equal(ErrorCode.NotAuthenticated, error.Code);
        Assert.Equal("AUTH before HELLO: HELLO, then AUTH, must come first.", error.Message);
        await client.ExpectClosedAsync();
    }

    [Theory]
    [InlineData("not-a-token")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task Auth_BadToken_InvalidTokenAndClosed(string token)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAsync(server);
        await client.HelloAsync();

        await client.SendAsync(new Auth(9, token, alice.DeviceId));

        var error = await client.ExpectErrorAsync();
        Assert.Equal(ErrorCode.InvalidToken, error.Code);
        Assert.Equal(9u, error.RequestId);
        await client.ExpectClosedAsync();
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Auth_TokenOfAnotherDevice_InvalidToken(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAsync(server);
        await client.HelloAsync();

        await client.SendAsync(new Auth(2, alice.Token, Guid.CreateVersion7()));

        Assert.Equal(ErrorCode.InvalidToken, (await client.ExpectErrorAsync()).Code);
        await client.ExpectClosedAsync();
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Hello_VersionZero_UnsupportedVersionAndClosed(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        await using var client = await RawClient.ConnectAsync(server);

        await client.SendAsync(new Hello(3, 0, "old", []));

        Assert.Equal(ErrorCode.UnsupportedVersion, (await client.ExpectErrorAsync()).Code);
        await client.ExpectClosedAsync();
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Connection_NoAuthWithinDeadline_AuthTimeoutAndClosed(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport, new Dictionary<string, string?> { ["Gateway:AuthDeadlineMs"] = "1500" });
        await using var client = await RawClient.ConnectAsync(server);
        await client.HelloAsync();

        var error = await client.ExpectErrorAsync();

        Assert.Equal(ErrorCode.AuthTimeout, error.Code);
        Assert.Equal(0u, error.RequestId);
        await client.ExpectClosedAsync();
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Connection_SilentPeer_PingedThenClosedWithHeartbeatTimeout(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport, new Dictionary<string, string?> { ["Gateway:HeartbeatIntervalMs"] = "1000" });
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        var ping = await client.ReadFrameAsync();
        Assert.Equal((uint)Opcode.Ping, ping!.Value.Header.OpcodeValue);
        var error = await client.ExpectErrorAsync();

        Assert.Equal(ErrorCode.HeartbeatTimeout, error.Code);
        Assert.Equal("Nothing received for 2 s.", error.Message);
        await client.ExpectClosedAsync();
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Connection_PartialFrameStalls_FrameTimeoutAndClosed(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport, new Dictionary<string, string?> { ["Gateway:FrameTimeoutMs"] = "300" });
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        await client.SendRawAsync(new byte[] { 0, 0, 0, 50, 0x92 });

        Assert.Equal(ErrorCode.FrameTimeout, (await client.ExpectErrorAsync()).Code);
        await client.ExpectClosedAsync();
    }

    [Theory]
    [InlineData(262_145u)]
    [InlineData(0x8000_0000u)]
    [InlineData(uint.MaxValue)]
    public async Task Frame_LengthOverLimit_FrameTooLargeAndClosedWithoutBody(uint length)
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);
        var prefix = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, length);

        await client.SendRawAsync(prefix);

        Assert.Equal(ErrorCode.FrameTooLarge, (await client.ExpectErrorAsync()).Code);
        await client.ExpectClosedAsync();
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Frame_OverPreAuthLimitBeforeAuth_FrameTooLarge(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        await using var client = await RawClient.ConnectAsync(server);

        await client.SendRawAsync(new byte[] { 0, 0, 0x10, 0x01 });

        Assert.Equal(ErrorCode.FrameTooLarge, (await client.ExpectErrorAsync()).Code);
        await client.ExpectClosedAsync();
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task UnknownOpcode_AfterAuth_ErrorAndConnectionStaysUsable(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        await client.SendRawAsync(new byte[] { 0, 0, 0, 3, 0x92, 0x7f, 0x11 });
        var error = await client.ExpectErrorAsync();
        await client.SendAsync(new Ping(77));

        Assert.Equal(ErrorCode.UnknownOpcode, error.Code);
        Assert.Equal(0x11u, error.RequestId);
        Assert.Equal(77u, (await client.ExpectAsync<Pong>()).RequestId);
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task SecondHello_BeforeAuth_NotAuthenticatedAndClosed(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        await using var client = await RawClient.ConnectAsync(server);
        await client.HelloAsync();

        await client.SendAsync(new Hello(7, 1, "again", []));

        var error = await client.ExpectErrorAsync();
        Assert.Equal((7u, ErrorCode.NotAuthenticated), (error.RequestId, error.Code));
        Assert.Equal("A second HELLO: AUTH must come next.", error.Message);
        await client.ExpectClosedAsync();
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task SecondHello_AfterAuth_InvalidStateAndConnectionStays(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        await client.SendAsync(new Hello(12, 1, "again", []));
        var error = await client.ExpectErrorAsync();
        await client.SendAsync(new Ping(13));

        Assert.Equal(ErrorCode.InvalidState, error.Code);
        Assert.Equal(13u, (await client.ExpectAsync<Pong>()).RequestId);
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task ServerOnlyOpcode_FromClient_InvalidState(string transport)
    {
        await using var server = await TransportCases.StartAsync(transport);
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        await client.SendAsync(new SendAck(4, Guid.CreateVersion7(), Guid.CreateVersion7(), 1, 1));

        Assert.Equal(ErrorCode.InvalidState, (await client.ExpectErrorAsync()).Code);
    }

    [Fact]
    public async Task Connection_OverPerAddressCap_TooManyConnectionsAndClosed_SlotFreedOnClose()
    {
        // From 127.0.0.9: the cap counts every listener, and the test's HTTP calls come from 127.0.0.1.
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:MaxConnectionsPerIp"] = "2" });
        var alice = await server.SignupAsync();
        await using var first = await RawClient.ConnectAuthenticatedAsync(alice, Elsewhere);
        var second = await RawClient.ConnectAuthenticatedAsync(alice, Elsewhere);
        await using var refused = await RawClient.ConnectAsync(server, Elsewhere);

        var error = await refused.ExpectErrorAsync();
        await refused.ExpectClosedAsync();
        await second.DisposeAsync();
        await first.SendAsync(new Ping(1));
        await first.ExpectAsync<Pong>();
        await using var third = await ConnectWhenFreedAsync(alice);

        Assert.Equal(ErrorCode.TooManyConnections, error.Code);
        Assert.NotNull(third);
    }

    [Fact]
    public async Task Auth_OverPerUserCap_TooManyConnectionsToThatAuth_OthersUntouched_FreedOnClose()
    {
        // Two devices of one account hold its two connections; a third AUTH, of either device, is refused.
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:MaxConnectionsPerUser"] = "2" });
        var alice = await server.SignupAsync();
        var laptop = await server.LoginAsync(alice);
        var bob = await server.SignupAsync();
        var (teamId, _) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        var dm = await alice.OpenDmAsync(bob.Username);
        await using var phone = await RawClient.ConnectAuthenticatedAsync(alice);
        var desk = await RawClient.ConnectAuthenticatedAsync(laptop);
        await using var bobs = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var refused = await RawClient.ConnectAsync(server);
        await refused.HelloAsync();

        await refused.SendAsync(new Auth(41, laptop.Token, laptop.DeviceId));
        var error = await refused.ExpectErrorAsync();
        await refused.ExpectClosedAsync();
        await bobs.SendTextAsync(dm, "still here");
        var onPhone = await phone.ExpectMessageAsync();
        var onDesk = await desk.ExpectMessageAsync();
        var rejected = await server.ReadMetricAsync("chatwire_connections_rejected_total", "reason=\"per-user connection cap\"");
        await desk.DisposeAsync();
        await using var again = await AuthWhenFreedAsync(laptop);

        Assert.Equal((41u, ErrorCode.TooManyConnections), (error.RequestId, error.Code));
        Assert.Contains("Gateway:MaxConnectionsPerUser", error.Message, StringComparison.Ordinal);
        Assert.Equal((dm, dm), (onPhone.ConversationId, onDesk.ConversationId));
        Assert.Equal(1, rejected);
    }

    // The cap's slot is given back when the server notices the close, which is asynchronous to our dispose.
    private static async Task<RawClient> AuthWhenFreedAsync(TestUser user)
    {
        for (var attempt = 0; ; attempt++)
        {
            var client = await RawClient.ConnectAsync(user.Server);
            await client.HelloAsync();
            await client.SendAsync(new Auth(client.NextRequestId(), user.Token, user.DeviceId));
            var (header, _) = await client.ReadFrameAsync() ?? throw new Xunit.Sdk.XunitException("Closed without an answer to AUTH.");
            if (header.Opcode == Opcode.AuthOk)
            {
                return client;
            }

            await client.DisposeAsync();
            Assert.True(attempt < 50, "The per-user slot of a closed connection was never given back.");
            await Task.Delay(100);
        }
    }

    private static readonly System.Net.IPAddress Elsewhere = System.Net.IPAddress.Parse("127.0.0.9");

    // The freed slot is returned when the server notices the close, which is asynchronous to our dispose. A refused
    // connection is answered TOO_MANY_CONNECTIONS at accept and closed; an admitted one answers HELLO: the first frame
    // after HELLO tells which, however slow the machine.
    private static async Task<RawClient> ConnectWhenFreedAsync(TestUser user)
    {
        for (var attempt = 0; ; attempt++)
        {
            var client = await RawClient.ConnectAsync(user.Server, Elsewhere);
            (FrameHeader Header, byte[] Body)? first;
            try
            {
                await client.SendAsync(new Hello(client.NextRequestId(), ProtocolLimits.CurrentVersion, "raw-test", []));
                first = await client.ReadFrameAsync();
            }
            catch (IOException)
            {
                first = null;
            }

            if (first is { } frame && frame.Header.OpcodeValue == (uint)Opcode.Welcome)
            {
                await client.SendAsync(new Auth(client.NextRequestId(), user.Token, user.DeviceId));
                await client.ExpectAsync<AuthOk>();
                return client;
            }

            await client.DisposeAsync();
            Assert.True(attempt < 50, "The slot of a closed connection was never freed.");
            await Task.Delay(100);
        }
    }

    [Theory]
    [MemberData(nameof(TransportCases.All), MemberType = typeof(TransportCases))]
    public async Task Shutdown_OpenConnection_ToldShuttingDown(string transport)
    {
        var server = await TransportCases.StartAsync(transport);
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        var stopping = server.DisposeAsync();
        var error = await client.ExpectErrorAsync();
        await stopping;

        Assert.Equal(ErrorCode.ShuttingDown, error.Code);
    }
}
