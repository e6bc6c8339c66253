using System.Net.Sockets;
using System.Security.Authentication;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Routing.Presence;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ChatWire.Gateway.Tests;

// Regression tests for review findings: TLS output under backpressure, the TLS handshake deadline, and
// AUTH with tokens that were revoked or expired.
public sealed class GatewayRobustnessTests
{
    // Rule: a fault no handler expected fails that request with INTERNAL_ERROR; the connection goes on, and
    // nobody else notices. No configuration makes a component throw like that, so the presence registry is
    // replaced by one whose SET_STATUS Away throws.
    [Fact]
    public async Task UnexpectedFault_InAHandler_AnsweredInternalError_TheConnectionAndOthersGoOn()
    {
        await using var server = await TestServer.StartAsync(replaceServices: services =>
            services.AddSingleton<IPresenceRegistry>(_ => new AwayThrows(new InProcessPresenceRegistry())));
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);
        await using var other = await RawClient.ConnectAuthenticatedAsync(bob);

        var faulting = client.NextRequestId();
        await client.SendAsync(new SetStatus(faulting, PresenceStatus.Away));
        var error = await client.ExpectErrorAsync();
        await client.SendAsync(new SetStatus(client.NextRequestId(), PresenceStatus.DoNotDisturb));
        await client.ExpectAsync<Ok>();
        var sent = await client.SendTextAsync(dm, "still here");
        var otherSent = await other.SendTextAsync(dm, "did not notice");

        Assert.Equal((faulting, ErrorCode.InternalError), (error.RequestId, error.Code));
        Assert.True(sent.Seq > 0 && otherSent.Seq == sent.Seq + 1);
    }

    // A client that half-closes after its last SENDs still reads their SEND_ACKs before the server closes
    // (docs/protocol.md §5): the SENDs were pipelined, waiting for their commit, when the end of stream came.
    [Theory]
    [InlineData(WireTransport.Tcp)]
    [InlineData(WireTransport.Noise)]
    [InlineData(WireTransport.Tls)]
    public async Task Sends_ThenHalfClose_EveryAckArrives_ThenClosed(WireTransport transport)
    {
        await using var server = await TestServer.StartAsync();
        var (alice, _, dm) = await DeliveryTests.DmPairAsync(server);
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice, transport);
        var requests = new List<uint>();
        for (var i = 0; i < 3; i++)
        {
            var requestId = client.NextRequestId();
            requests.Add(requestId);
            await client.SendAsync(new Send(requestId, dm, Guid.CreateVersion7(), "text/plain", "last words"u8.ToArray()));
        }

        client.ShutdownSend();

        // SEND_ACKs of SENDs committed together may come in any order; the sender's own EVENTs may come too.
        var acked = new List<uint>();
        while (await client.ReadFrameAsync() is { } frame)
        {
            if (frame.Header.Opcode != Opcode.Event)
            {
                Assert.Equal(Opcode.SendAck, frame.Header.Opcode);
                acked.Add(frame.Header.RequestId);
            }
        }

        Assert.Equal(requests, acked.Order());
    }

    [Fact]
    public async Task Tls_LargeHistoryPageWhileEventsArrive_EveryFrameIntact()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, bob, dm) = await DeliveryTests.DmPairAsync(server);
        await using (var seeder = await RawClient.ConnectAuthenticatedAsync(alice))
        {
            var bulk = new byte[1500];
            for (var i = 0; i < 160; i++)
            {
                await seeder.SendAsync(new Send(seeder.NextRequestId(), dm, Guid.CreateVersion7(), "application/octet-stream", bulk));
                await seeder.ExpectAsync<SendAck>();
            }
        }

        await using var reader = await RawClient.ConnectTlsAsync(server, SslProtocols.Tls13);
        await reader.HandshakeAsync(bob.Token, bob.DeviceId);
        await using var sender = await RawClient.ConnectAuthenticatedAsync(alice);

        // Ask for ~240 KB of history (past the transport's 64 KiB pause point, so its flush goes async)
        // several times while live events keep arriving for the same connection.
        const int Pages = 4;
        const int Live = 40;

        // The DM's two MEMBER_JOINED events and the 160 seeded messages.
        const int Seeded = 162;
        for (var i = 0; i < Pages; i++)
        {
            await reader.SendAsync(new History((uint)(100 + i), dm, 0, HistoryDirection.After, 200));
        }

        for (var i = 0; i < Live; i++)
        {
            await sender.SendTextAsync(dm, $"live {i}");
        }

        var pages = 0;
        var live = new HashSet<ulong>();
        while (pages < Pages || live.Count < Live)
        {
            var frame = await reader.ReadFrameAsync() ?? throw new Xunit.Sdk.XunitException("TLS connection closed.");
            var body = new System.Buffers.ReadOnlySequence<byte>(frame.Body);
            var limits = ProtocolLimits.Default;
            switch (frame.Header.Opcode)
            {
                case Opcode.HistoryPage:
                    var page = FrameCodec.Decode<HistoryPage>(body, limits);
                    Assert.True(page.Events.Count >= 160);
                    pages++;
                    break;
                case Opcode.Event:
                    var message = FrameCodec.Decode<EventFrame>(body, limits);
                    if (message.Event.Seq <= Seeded)
                    {
                        // A seeded event's delivery (a message's follows its SEND_ACK) may reach this connection once
                        // it is authenticated: a live copy of an event the pages hold too (delivery is at least once).
                        Assert.True(message.Event.Kind != EventKind.Message || message.Event.ContentType == "application/octet-stream");
                        break;
                    }

                    Assert.Equal("text/plain", message.Event.ContentType);
                    live.Add(message.Event.Seq);
                    break;
                case Opcode.Ping:
                    break;
                default:
                    throw new Xunit.Sdk.XunitException($"Unexpected opcode {frame.Header.OpcodeValue}.");
            }
        }

        Assert.Equal(Enumerable.Range(Seeded + 1, Live).Select(i => (ulong)i), live.Order());
    }

    [Fact]
    public async Task Tls_HandshakeNeverStarted_ClosedAtHandshakeTimeout()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:TlsHandshakeTimeoutMs"] = "300" });
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.TlsEndPoint);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        var read = await ReadOrResetAsync(tcp.GetStream(), timeout.Token);

        Assert.Equal(0, read);
    }

    [Fact]
    public async Task Auth_RevokedToken_SessionRevokedAndClosed()
    {
        await using var server = await TestServer.StartAsync();
        var alice = await server.SignupAsync();
        var phone = await server.LoginAsync(alice);
        await alice.CallAsync(HttpMethod.Delete, $"v1/sessions/{phone.DeviceId}");
        await using var client = await RawClient.ConnectAsync(server);
        await client.HelloAsync();

        await client.SendAsync(new Auth(4, phone.Token, phone.DeviceId));

        var error = await client.ExpectErrorAsync();
        Assert.Equal((ErrorCode.SessionRevoked, 4u), (error.Code, error.RequestId));
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task Auth_IdleExpiredToken_SessionExpiredAndClosed()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:SessionIdleTimeout"] = "00:00:01",
            ["Auth:SessionMaxAge"] = "1.00:00:00",
        });
        var alice = await server.SignupAsync();
        await Task.Delay(1_500);
        await using var client = await RawClient.ConnectAsync(server);
        await client.HelloAsync();

        await client.SendAsync(new Auth(5, alice.Token, alice.DeviceId));

        Assert.Equal(ErrorCode.SessionExpired, (await client.ExpectErrorAsync()).Code);
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task OpenConnection_SessionReachesItsMaximumAge_SessionExpiredAndClosed()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:SessionIdleTimeout"] = "00:00:05",
            ["Auth:SessionMaxAge"] = "00:00:05",
        });
        var alice = await server.SignupAsync();
        await using var client = await RawClient.ConnectAuthenticatedAsync(alice);

        // Connected (within the five seconds, from sign-up, on a busy machine too), then the token's age passes: the
        // sweep closes the connection.
        var error = await client.ExpectErrorAsync(TimeSpan.FromSeconds(30));
        Assert.Equal((ErrorCode.SessionExpired, 0u), (error.Code, error.RequestId));
        await client.ExpectClosedAsync();
    }

    [Fact]
    public async Task PasswordChange_ClosesOtherDevicesConnections()
    {
        await using var server = await TestServer.StartAsync();
        var desk = await server.SignupAsync(password: "first password");
        var phone = await server.LoginAsync(desk);
        await using var phoneClient = await RawClient.ConnectAuthenticatedAsync(phone);

        await desk.CallAsync(HttpMethod.Post, "v1/accounts/password", new { current_password = "first password", new_password = "second password" });

        Assert.Equal(ErrorCode.SessionRevoked, (await phoneClient.ExpectErrorAsync()).Code);
        await phoneClient.ExpectClosedAsync();
    }

    private static async Task<int> ReadOrResetAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        try
        {
            return await stream.ReadAsync(new byte[16], cancellationToken);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private sealed class AwayThrows(IPresenceRegistry inner) : IPresenceRegistry
    {
        public void Observe(IPresenceObserver observer) => inner.Observe(observer);

        public void MarkPresent(Guid userId) => inner.MarkPresent(userId);

        public void MarkAbsent(Guid userId, long atUnixMs) => inner.MarkAbsent(userId, atUnixMs);

        public void SetStatus(Guid userId, UserStatus status)
        {
            if (status == UserStatus.Away)
            {
                throw new InvalidOperationException("A fault no handler expects.");
            }

            inner.SetStatus(userId, status);
        }

        public ValueTask<IReadOnlyDictionary<Guid, UserPresence>> ReadAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken) =>
            inner.ReadAsync(userIds, cancellationToken);

        public ValueTask WatchAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken) => inner.WatchAsync(userIds, cancellationToken);

        public void Unwatch(IReadOnlyCollection<Guid> userIds) => inner.Unwatch(userIds);
    }
}
