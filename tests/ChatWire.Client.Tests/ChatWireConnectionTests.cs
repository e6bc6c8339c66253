using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client.Tests;

// The SDK's connection state machine against a scripted peer on a real loopback socket.
public sealed class ChatWireConnectionTests
{
    private static readonly Guid Conversation = Guid.Parse("0190a0b2-0000-7000-8000-0000000000c1");

    [Fact]
    public async Task ConnectAsync_Handshake_SendsHelloAndAuth_ExposesIdentity()
    {
        await using var peer = ScriptedPeer.Start();
        var connecting = ChatWireConnection.ConnectAsync(peer.Options());
        await using var link = await peer.AcceptAsync();

        var (hello, auth) = await link.HandshakeAsync(heartbeatMs: 15_000);
        await using var connection = await connecting.WaitAsync(ScriptedPeer.Patience);

        Assert.Equal(ProtocolLimits.CurrentVersion, hello.ProtocolVersion);
        Assert.Equal("client-tests", hello.ClientName);
        Assert.NotEqual(0u, hello.RequestId);
        Assert.NotEqual(hello.RequestId, auth.RequestId);
        Assert.Equal("token-1", auth.SessionToken);
        Assert.Equal(PeerLink.DeviceId, auth.DeviceId);
        Assert.Equal(PeerLink.UserId, connection.UserId);
        Assert.Equal(PeerLink.DeviceId, connection.DeviceId);
        Assert.Equal(ConnectionState.Connected, connection.State);
        Assert.Equal(258_048, connection.Limits.MaxContentLength);
    }

    [Fact]
    public async Task ConnectAsync_AuthRefused_ThrowsWithTheCode()
    {
        await using var peer = ScriptedPeer.Start();
        var connecting = ChatWireConnection.ConnectAsync(peer.Options());
        await using var link = await peer.AcceptAsync();
        var hello = await link.ReadAsync<Hello>();
        await link.WriteAsync(new Welcome(hello.RequestId, 1, 262_144, 258_048, 30_000, 10_000, 0));
        var auth = await link.ReadAsync<Auth>();

        await link.WriteAsync(new ErrorFrame(auth.RequestId, ErrorCode.InvalidToken, "Unknown token."));

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => connecting.WaitAsync(ScriptedPeer.Patience));
        Assert.Equal(ErrorCode.InvalidToken, ex.Code);
        Assert.Equal("INVALID_TOKEN", ex.Name);
        Assert.Null(ex.HttpStatus);
    }

    [Fact]
    public async Task SendTextAsync_Acked_ReturnsSeqAndGeneratesUuidV7()
    {
        await using var peer = ScriptedPeer.Start();
        var (connection, link) = await ConnectAsync(peer);
        await using (connection)
        await using (link)
        {
            var sending = connection.SendTextAsync(Conversation, "hello");
            var send = await link.ReadAsync<Send>();
            await link.WriteAsync(new SendAck(send.RequestId, send.ConversationId, send.MessageId, 17, 1_700_000_000_123));
            var result = await sending.WaitAsync(ScriptedPeer.Patience);

            Assert.Equal(7, send.MessageId.Version);
            Assert.Equal("text/plain", send.ContentType);
            Assert.Equal("hello"u8.ToArray(), send.Content.ToArray());
            Assert.Equal(send.MessageId, result.MessageId);
            Assert.Equal(17UL, result.Seq);
            Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123), result.ServerTime);
        }
    }

    [Fact]
    public async Task SendAsync_ErrorReply_FailsThatRequestOnly()
    {
        await using var peer = ScriptedPeer.Start();
        var (connection, link) = await ConnectAsync(peer);
        await using (connection)
        await using (link)
        {
            var refused = connection.SendTextAsync(Conversation, "nope");
            var send = await link.ReadAsync<Send>();
            await link.WriteAsync(new ErrorFrame(send.RequestId, ErrorCode.NotAMember, "Not a member."));

            var ex = await Assert.ThrowsAsync<ChatWireException>(() => refused.WaitAsync(ScriptedPeer.Patience));
            Assert.Equal(ErrorCode.NotAMember, ex.Code);

            var givenId = Guid.CreateVersion7();
            var accepted = connection.SendTextAsync(Conversation, "yes", givenId);
            var second = await link.ReadAsync<Send>();
            await link.WriteAsync(new SendAck(second.RequestId, second.ConversationId, second.MessageId, 1, 0));
            Assert.Equal(givenId, (await accepted.WaitAsync(ScriptedPeer.Patience)).MessageId);
            Assert.Equal(ConnectionState.Connected, connection.State);
        }
    }

    [Fact]
    public async Task SendAsync_ContentOverTheLimit_FailsWithoutSending()
    {
        await using var peer = ScriptedPeer.Start();
        var (connection, link) = await ConnectAsync(peer);
        await using (connection)
        await using (link)
        {
            var ex = await Assert.ThrowsAsync<ChatWireException>(() => connection.SendAsync(Conversation, new byte[258_049]));

            Assert.Equal(ErrorCode.ContentTooLarge, ex.Code);
        }
    }

    [Fact]
    public async Task ServerPing_IsAnsweredWithPongOfTheSameId()
    {
        await using var peer = ScriptedPeer.Start();
        var (connection, link) = await ConnectAsync(peer);
        await using (connection)
        await using (link)
        {
            await link.WriteAsync(new Ping(4242));

            var pong = await link.ReadAsync<Pong>();

            Assert.Equal(4242u, pong.RequestId);
        }
    }

    [Fact]
    public async Task Heartbeat_AfterSilence_ClientSendsPing()
    {
        await using var peer = ScriptedPeer.Start();
        var (connection, link) = await ConnectAsync(peer, heartbeat: TimeSpan.FromMilliseconds(50));
        await using (connection)
        await using (link)
        {
            var ping = await link.ReadAsync<Ping>();

            Assert.NotEqual(0u, ping.RequestId);
        }
    }

    [Fact]
    public async Task GetHistoryAsync_ReturnsThePage()
    {
        await using var peer = ScriptedPeer.Start();
        var (connection, link) = await ConnectAsync(peer);
        await using (connection)
        await using (link)
        {
            var paging = connection.GetHistoryAsync(Conversation, 0, HistoryDirection.Before, 2);
            var history = await link.ReadAsync<History>();
            await link.WriteAsync(new HistoryPage(history.RequestId, Conversation, [PeerLink.Message(Conversation, 8), PeerLink.Message(Conversation, 9)], true));
            var page = await paging.WaitAsync(ScriptedPeer.Patience);

            Assert.Equal((0UL, HistoryDirection.Before, 2u), (history.FromSeq, history.Direction, history.Limit));
            Assert.Equal([8UL, 9], page.Messages.Select(message => message.Seq));
            Assert.True(page.HasMore);
        }
    }

    [Fact]
    public async Task Drop_PendingRequestFailsWithIOException_AndWithoutReconnectTheStreamEnds()
    {
        await using var peer = ScriptedPeer.Start();
        var (connection, link) = await ConnectAsync(peer, ReconnectPolicy.Disabled);
        await using (connection)
        {
            var sending = connection.SendTextAsync(Conversation, "lost");
            _ = await link.ReadAsync<Send>();
            await link.DisposeAsync();

            await Assert.ThrowsAsync<IOException>(() => sending.WaitAsync(ScriptedPeer.Patience));
            await Assert.ThrowsAnyAsync<Exception>(() => DrainAsync(connection));
            Assert.Equal(ConnectionState.Closed, connection.State);
        }
    }

    [Fact]
    public async Task SessionRevoked_IsTerminal_StreamEndsWithChatWireException_NoReconnect()
    {
        await using var peer = ScriptedPeer.Start();
        var (connection, link) = await ConnectAsync(peer);
        await using (connection)
        await using (link)
        {
            await link.WriteAsync(new ErrorFrame(0, ErrorCode.SessionRevoked, "Revoked."));

            var events = new List<ChatWireEvent>();
            var ex = await Assert.ThrowsAsync<ChatWireException>(() => DrainAsync(connection, events));

            Assert.Equal(ErrorCode.SessionRevoked, ex.Code);
            Assert.Equal(ErrorCode.SessionRevoked, connection.CloseCode);
            Assert.Equal(ConnectionState.Closed, connection.State);
            Assert.Equal(ConnectionState.Closed, Assert.IsType<ConnectionStateChanged>(events[^1]).State);
            await Assert.ThrowsAnyAsync<Exception>(() => peer.AcceptAsync(TimeSpan.FromMilliseconds(500)));
            var afterClose = await Assert.ThrowsAsync<ChatWireException>(() => connection.SendTextAsync(Conversation, "x"));
            Assert.Equal(ErrorCode.SessionRevoked, afterClose.Code);
        }
    }

    [Fact]
    public async Task Reconnect_EmitsMissedMessagesBeforeLiveOnes_AndDropsDuplicates()
    {
        await using var peer = ScriptedPeer.Start();
        var (connection, first) = await ConnectAsync(peer);
        await using (connection)
        {
            var events = connection.ReadEventsAsync().GetAsyncEnumerator();
            await first.WriteAsync(new MessageEvent(PeerLink.Message(Conversation, 1)));
            Assert.Equal(ConnectionState.Connected, (await NextAsync<ConnectionStateChanged>(events)).State);
            Assert.Equal(1UL, (await NextAsync<MessageReceived>(events)).Message.Seq);

            await first.DisposeAsync();
            Assert.Equal(ConnectionState.Reconnecting, (await NextAsync<ConnectionStateChanged>(events)).State);

            await using var second = await peer.AcceptAsync();
            await second.HandshakeAsync();
            var four = PeerLink.Message(Conversation, 4);
            await second.WriteAsync(new MessageEvent(four));

            var history = await second.ReadAsync<History>();
            Assert.Equal((Conversation, 1UL, HistoryDirection.After), (history.ConversationId, history.FromSeq, history.Direction));
            await second.WriteAsync(new HistoryPage(history.RequestId, Conversation, [PeerLink.Message(Conversation, 2), PeerLink.Message(Conversation, 3)], true));
            var more = await second.ReadAsync<History>();
            Assert.Equal(3UL, more.FromSeq);
            await second.WriteAsync(new HistoryPage(more.RequestId, Conversation, [four], false));
            await second.WriteAsync(new MessageEvent(PeerLink.Message(Conversation, 5)));

            Assert.Equal(ConnectionState.Connected, (await NextAsync<ConnectionStateChanged>(events)).State);
            var seqs = new List<ulong>();
            for (var i = 0; i < 4; i++)
            {
                seqs.Add((await NextAsync<MessageReceived>(events)).Message.Seq);
            }

            Assert.Equal([2UL, 3, 4, 5], seqs);
            await events.DisposeAsync();
        }
    }

    [Fact]
    public async Task Reconnect_RequestMadeWhileReconnecting_WaitsForTheNextLink()
    {
        await using var peer = ScriptedPeer.Start();
        var (connection, first) = await ConnectAsync(peer);
        await using (connection)
        {
            await first.DisposeAsync();
            await using var second = await peer.AcceptAsync();

            var sending = connection.SendTextAsync(Conversation, "after");
            await second.HandshakeAsync();
            var send = await second.ReadAsync<Send>();
            await second.WriteAsync(new SendAck(send.RequestId, send.ConversationId, send.MessageId, 3, 0));

            Assert.Equal(3UL, (await sending.WaitAsync(ScriptedPeer.Patience)).Seq);
        }
    }

    [Fact]
    public async Task DisposeAsync_EndsTheEventStreamNormally()
    {
        await using var peer = ScriptedPeer.Start();
        var (connection, link) = await ConnectAsync(peer);
        await using (link)
        {
            var draining = DrainAsync(connection);
            await connection.DisposeAsync();

            await draining.WaitAsync(ScriptedPeer.Patience);
            Assert.Equal(ConnectionState.Closed, connection.State);
            Assert.True(await link.ClientClosedAsync());
        }
    }

    private static async Task<(ChatWireConnection Connection, PeerLink Link)> ConnectAsync(ScriptedPeer peer, ReconnectPolicy? reconnect = null, TimeSpan? heartbeat = null)
    {
        var connecting = ChatWireConnection.ConnectAsync(peer.Options(reconnect, heartbeat));
        var link = await peer.AcceptAsync();
        await link.HandshakeAsync();
        return (await connecting.WaitAsync(ScriptedPeer.Patience), link);
    }

    private static async Task<T> NextAsync<T>(IAsyncEnumerator<ChatWireEvent> events)
        where T : ChatWireEvent
    {
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(ScriptedPeer.Patience));
        return Assert.IsType<T>(events.Current);
    }

    private static async Task DrainAsync(ChatWireConnection connection, List<ChatWireEvent>? into = null)
    {
        using var timeout = new CancellationTokenSource(ScriptedPeer.Patience);
        await foreach (var item in connection.ReadEventsAsync(timeout.Token))
        {
            into?.Add(item);
        }
    }
}
