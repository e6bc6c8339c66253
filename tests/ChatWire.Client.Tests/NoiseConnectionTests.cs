using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Gateway.Hosting;
using ChatWire.Protocol.Noise;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// The SDK over the Noise listener of a real gateway: trust on first use, IK once the key is known, refusal of a
// changed key, explicit pins, rotation, and reconnects that stay on Noise.
public sealed class NoiseConnectionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private TestServer Server => fixture.Server;

    private static ChatWireConnectionOptions NoiseOptions(TestUser user, INoiseKeyPins? pins = null, ReconnectPolicy? reconnect = null) =>
        Sdk.Options(user, reconnect) with
        {
            Port = user.Server.NoiseEndPoint.Port,
            Transport = ChatWireTransport.Noise,
            NoiseKeyPins = pins,
        };

    [Fact]
    public async Task ConnectAsync_Noise_PinsOnFirstUse_ThenRunsIk_AndCarriesMessages()
    {
        var crew = await Crew.CreateAsync(Server);
        var pins = new InMemoryNoiseKeyPins();

        await using var bob = await ChatWireConnection.ConnectAsync(NoiseOptions(crew.Bob, pins)).WaitAsync(Patience.Default);
        var pinned = pins.Find("127.0.0.1", Server.NoiseEndPoint.Port);
        await using var alice = await ChatWireConnection.ConnectAsync(NoiseOptions(crew.Alice, pins)).WaitAsync(Patience.Default);
        var events = new EventLog(bob);
        await events.NextAsync<ConnectionStateChanged>();
        await alice.SendTextAsync(crew.GeneralId, "over noise").WaitAsync(Patience.Default);

        Assert.Equal((ChatWireTransport.Noise, NoisePattern.XX), (bob.Transport, bob.NoisePattern));
        Assert.Equal(Server.NoisePublicKey, pinned);
        Assert.Equal(NoisePattern.IK, alice.NoisePattern);
        Assert.Equal(Server.NoisePublicKey, alice.NoiseServerKey!.Value.ToArray());
        Assert.Equal("over noise", Sdk.Text(await events.NextMessageAsync()));
    }

    [Fact]
    public async Task ConnectAsync_ExplicitNoiseKey_RunsIkWhenRight_RefusesWhenWrong()
    {
        var user = await Server.SignupAsync();
        var wrong = new byte[NoiseKeys.KeyLength];
        wrong[0] = 9;

        await using (var right = await ChatWireConnection.ConnectAsync(NoiseOptions(user) with { NoiseServerKey = Server.NoisePublicKey }).WaitAsync(Patience.Default))
        {
            Assert.Equal(NoisePattern.IK, right.NoisePattern);
        }

        var refused = await Assert.ThrowsAsync<NoiseServerKeyChangedException>(() =>
            ChatWireConnection.ConnectAsync(NoiseOptions(user) with { NoiseServerKey = wrong, AcceptChangedNoiseKey = true }).WaitAsync(Patience.Default));

        Assert.True(refused.IsExplicitPin);
        Assert.Equal((NoiseKeys.ToHex(wrong), NoiseKeys.ToHex(Server.NoisePublicKey)), (refused.TrustedKey, refused.PresentedKey));
        Assert.Contains(NoiseKeys.ToHex(wrong), refused.Message, StringComparison.Ordinal);
        Assert.Contains(NoiseKeys.ToHex(Server.NoisePublicKey), refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromServerInfo_NoiseKeyBelievedOnlyOverHttpsOrOnLoopback()
    {
        var key = NoiseKeys.ToHex(Server.NoisePublicKey);
        var remote = new ServerInfo("chatwire", "0.1.0", [1], new ServerEndpoints(null, new ServerEndpoint("chat.example.com", 7443), new ServerEndpoint("chat.example.com", 7401)), key, null!);
        var local = remote with { Endpoints = new ServerEndpoints(null, null, new ServerEndpoint("127.0.0.1", 7401)) };

        var plainHttp = ChatWireConnectionOptions.FromServerInfo(remote, "t", Guid.CreateVersion7());
        var https = ChatWireConnectionOptions.FromServerInfo(remote with { ReceivedOverHttps = true }, "t", Guid.CreateVersion7());
        var loopback = ChatWireConnectionOptions.FromServerInfo(local, "t", Guid.CreateVersion7());
        var tlsAsked = ChatWireConnectionOptions.FromServerInfo(remote, "t", Guid.CreateVersion7(), preferTls: true);

        Assert.Equal((ChatWireTransport.Noise, 7401, false), (plainHttp.Transport, plainHttp.Port, plainHttp.NoiseServerKey.HasValue));
        Assert.Equal(Server.NoisePublicKey, https.NoiseServerKey!.Value.ToArray());
        Assert.Equal(Server.NoisePublicKey, loopback.NoiseServerKey!.Value.ToArray());
        Assert.Equal((ChatWireTransport.Tls, true), (tlsAsked.Transport, tlsAsked.UseTls));
        Assert.Throws<InvalidOperationException>(() => ChatWireConnectionOptions.FromServerInfo(local, "t", Guid.CreateVersion7(), transport: ChatWireTransport.Tcp));
    }

    [Fact]
    public void UseTls_IsTheTlsTransport_AndFalseLeavesNoiseAlone()
    {
        var options = new ChatWireConnectionOptions { Host = "h", SessionToken = "t", DeviceId = Guid.CreateVersion7() };

        Assert.Equal(ChatWireTransport.Tls, (options with { UseTls = true }).Transport);
        Assert.Equal(ChatWireTransport.Tcp, (options with { Transport = ChatWireTransport.Tls, UseTls = false }).Transport);
        Assert.Equal(ChatWireTransport.Noise, (options with { Transport = ChatWireTransport.Noise, UseTls = false }).Transport);
        Assert.Throws<ArgumentException>(() => NoiseKeys.Parse("abcd"));
        Assert.Equal(NoiseKeys.ToHex(Server.NoisePublicKey), NoiseKeys.ToHex(NoiseKeys.Parse(NoiseKeys.ToHex(Server.NoisePublicKey).ToUpperInvariant())));
    }

    // A restart on the same data directory keeps the key: the connection comes back over Noise, under IK.
    [Fact]
    public async Task Reconnect_AfterServerRestart_StaysOnNoiseUnderIk()
    {
        var dataDirectory = TestServer.NewDataDirectory();
        var ports = TestServer.FixedPortOverrides();
        ChatWireConnection? listener = null;
        TestServer? second = null;
        try
        {
            Crew crew;
            EventLog events;
            await using (var first = await TestServer.StartAsync(ports, dataDirectory))
            {
                crew = await Crew.CreateAsync(first);
                listener = await ChatWireConnection.ConnectAsync(NoiseOptions(crew.Bob, reconnect: Sdk.RestartReconnect)).WaitAsync(Patience.Default);
                events = new EventLog(listener);
                Assert.Equal(ConnectionState.Connected, (await events.NextAsync<ConnectionStateChanged>()).State);
            }

            Assert.Equal(ConnectionState.Reconnecting, (await events.NextStateAsync()).State);
            second = await TestServer.StartAsync(ports, dataDirectory);
            Assert.Equal(ConnectionState.Connected, (await events.NextStateAsync()).State);
            await using (var sender = await ChatWireConnection.ConnectAsync(NoiseOptions(crew.Alice with { Server = second })).WaitAsync(Patience.Default))
            {
                await sender.SendTextAsync(crew.GeneralId, "after the restart").WaitAsync(Patience.Default);
            }

            Assert.Equal("after the restart", Sdk.Text(await events.NextMessageSkippingStatesAsync()));
            Assert.Equal((ChatWireTransport.Noise, NoisePattern.IK), (listener.Transport, listener.NoisePattern));
        }
        finally
        {
            if (listener is not null)
            {
                await listener.DisposeAsync();
            }

            if (second is not null)
            {
                await second.DisposeAsync();
            }

            TestServer.DeleteDirectory(dataDirectory);
        }
    }

    // A server back on the same ports with another key (a fresh data directory): the reconnect is refused and the
    // connection closes with the documented exception; a new connection too, unless the change is accepted.
    [Fact]
    public async Task Reconnect_ServerKeyChanged_ClosesWithNoiseServerKeyChanged_UnlessAccepted()
    {
        var ports = TestServer.FixedPortOverrides();
        var pins = new InMemoryNoiseKeyPins();
        ChatWireConnection? listener = null;
        TestServer? second = null;
        try
        {
            byte[] oldKey;
            TestUser bob;
            EventLog events;
            await using (var first = await TestServer.StartAsync(ports))
            {
                bob = await first.SignupAsync();
                oldKey = first.NoisePublicKey;
                listener = await ChatWireConnection.ConnectAsync(NoiseOptions(bob, pins, Sdk.RestartReconnect)).WaitAsync(Patience.Default);
                events = new EventLog(listener);
                Assert.Equal(ConnectionState.Connected, (await events.NextAsync<ConnectionStateChanged>()).State);
            }

            Assert.Equal(ConnectionState.Reconnecting, (await events.NextStateAsync()).State);
            second = await TestServer.StartAsync(ports);
            var closed = await events.NextStateAsync();
            while (closed.State == ConnectionState.Reconnecting)
            {
                closed = await events.NextStateAsync();
            }

            var fresh = await Assert.ThrowsAsync<NoiseServerKeyChangedException>(() =>
                ChatWireConnection.ConnectAsync(NoiseOptions(bob with { Server = second }, pins)).WaitAsync(Patience.Default));
            var pinStayed = pins.Find("127.0.0.1", second.NoiseEndPoint.Port);

            // Accepted: the pin moves, and the connection goes on to AUTH (which this server, knowing no Bob, refuses).
            var accepted = await Record.ExceptionAsync(() =>
                ChatWireConnection.ConnectAsync(NoiseOptions(bob with { Server = second }, pins) with { AcceptChangedNoiseKey = true }).WaitAsync(Patience.Default));

            Assert.Equal(ConnectionState.Closed, closed.State);
            var change = Assert.IsType<NoiseServerKeyChangedException>(closed.Error);
            Assert.False(change.IsExplicitPin);
            Assert.Equal((NoiseKeys.ToHex(oldKey), NoiseKeys.ToHex(second.NoisePublicKey)), (change.TrustedKey, change.PresentedKey));
            Assert.Equal(NoiseKeys.ToHex(second.NoisePublicKey), fresh.PresentedKey);
            Assert.Equal(oldKey, pinStayed);
            Assert.Equal(Protocol.ErrorCode.InvalidToken, Assert.IsType<ChatWireException>(accepted).Code);
            Assert.Equal(second.NoisePublicKey, pins.Find("127.0.0.1", second.NoiseEndPoint.Port));
        }
        finally
        {
            if (listener is not null)
            {
                await listener.DisposeAsync();
            }

            if (second is not null)
            {
                await second.DisposeAsync();
            }
        }
    }

    // --rotate-noise-key while the client holds the old key: the IK handshake under it announces the new key, and
    // the pin moves without a warning; the next connection runs IK under the new key.
    [Fact]
    public async Task ConnectAsync_AfterKeyRotation_MovesThePinSilently()
    {
        var dataDirectory = TestServer.NewDataDirectory();
        var ports = TestServer.FixedPortOverrides();
        var pins = new InMemoryNoiseKeyPins();
        try
        {
            TestUser user;
            byte[] oldKey;
            await using (var first = await TestServer.StartAsync(ports, dataDirectory))
            {
                user = await first.SignupAsync();
                oldKey = first.NoisePublicKey;
                await using var pinning = await ChatWireConnection.ConnectAsync(NoiseOptions(user, pins)).WaitAsync(Patience.Default);
            }

            var (_, rotatedHex, _) = ChatWireServer.RotateNoiseKey(["--Gateway:DataDirectory=" + dataDirectory]);
            await using var second = await TestServer.StartAsync(ports, dataDirectory);
            await using var moved = await ChatWireConnection.ConnectAsync(NoiseOptions(user with { Server = second }, pins)).WaitAsync(Patience.Default);
            var events = new EventLog(moved);
            var connected = await events.NextAsync<ConnectionStateChanged>();
            var rotated = await events.NextAsync<NoiseServerKeyRotated>();
            await using var next = await ChatWireConnection.ConnectAsync(NoiseOptions(user with { Server = second }, pins)).WaitAsync(Patience.Default);

            Assert.Equal(rotatedHex, NoiseKeys.ToHex(second.NoisePublicKey));
            Assert.NotEqual(oldKey, second.NoisePublicKey);
            Assert.Equal(ConnectionState.Connected, connected.State);
            Assert.Equal((NoiseKeys.ToHex(oldKey), rotatedHex), (rotated.PreviousKey, rotated.CurrentKey));
            Assert.Equal((NoisePattern.IK, rotatedHex), (moved.NoisePattern, NoiseKeys.ToHex(moved.NoiseServerKey!.Value.Span)));
            Assert.Equal(second.NoisePublicKey, pins.Find("127.0.0.1", second.NoiseEndPoint.Port));
            Assert.Equal((NoisePattern.IK, rotatedHex), (next.NoisePattern, NoiseKeys.ToHex(next.NoiseServerKey!.Value.Span)));
        }
        finally
        {
            TestServer.DeleteDirectory(dataDirectory);
        }
    }
}
